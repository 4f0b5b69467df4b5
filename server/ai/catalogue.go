package ai

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/virtual-company/vc/pkg/api"
)

// BuiltinModels is the fixed catalogue shown even without keys. IDs are
// provider-qualified ("provider/model").
func BuiltinModels() []api.Model {
	return []api.Model{
		{ID: "openai/gpt-4o", Name: "GPT-4o", Provider: ProviderOpenAI, Description: "OpenAI's flagship multimodal model", ContextLength: 128000},
		{ID: "openai/gpt-4o-mini", Name: "GPT-4o mini", Provider: ProviderOpenAI, Description: "Small, fast and cheap OpenAI model", ContextLength: 128000},
		{ID: "openai/gpt-4.1", Name: "GPT-4.1", Provider: ProviderOpenAI, Description: "OpenAI model with a 1M-token context", ContextLength: 1047576},
		{ID: "openai/gpt-4-turbo", Name: "GPT-4 Turbo", Provider: ProviderOpenAI, Description: "GPT-4 Turbo with a 128k context", ContextLength: 128000},
		{ID: "openai/gpt-3.5-turbo", Name: "GPT-3.5 Turbo", Provider: ProviderOpenAI, Description: "Fast, inexpensive OpenAI model", ContextLength: 16385},
		{ID: "anthropic/claude-sonnet-4-5", Name: "Claude Sonnet 4.5", Provider: ProviderAnthropic, Description: "Anthropic's balanced model", ContextLength: 200000},
		{ID: "anthropic/claude-3-5-sonnet-latest", Name: "Claude 3.5 Sonnet", Provider: ProviderAnthropic, Description: "Anthropic's balanced Claude 3.5 model", ContextLength: 200000},
		{ID: "anthropic/claude-3-5-haiku-latest", Name: "Claude 3.5 Haiku", Provider: ProviderAnthropic, Description: "Anthropic's fastest model", ContextLength: 200000},
		{ID: "anthropic/claude-3-opus-latest", Name: "Claude 3 Opus", Provider: ProviderAnthropic, Description: "Anthropic's most capable Claude 3 model", ContextLength: 200000},
		{ID: "openrouter/meta-llama/llama-3.1-70b-instruct", Name: "Llama 3.1 70B Instruct", Provider: ProviderOpenRouter, Description: "Meta's open model through OpenRouter", ContextLength: 131072},
		{ID: "openrouter/mistralai/mistral-large", Name: "Mistral Large", Provider: ProviderOpenRouter, Description: "Mistral's flagship model through OpenRouter", ContextLength: 128000},
		{ID: "openrouter/google/gemini-pro-1.5", Name: "Gemini Pro 1.5", Provider: ProviderOpenRouter, Description: "Google's Gemini through OpenRouter", ContextLength: 2000000},
	}
}

// ProviderEntry is one configured provider.
type ProviderEntry struct {
	Provider Provider
	// Name is how users read it ("OpenAI", "Anthropic", ...).
	Name string
	// ServerKey is the operator's credential ("" when none).
	ServerKey Credentials
	// NoKey marks a provider that needs no API key (a local server).
	NoKey bool
	// Models are fixed models to list for this provider (custom endpoints).
	Models []string
}

// Registry holds the configured providers and resolves model names.
type Registry struct {
	entries map[string]ProviderEntry
	order   []string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{entries: map[string]ProviderEntry{}} }

// Add registers a provider under its ID (replacing one with the same ID).
func (r *Registry) Add(e ProviderEntry) {
	id := e.Provider.ID()
	if e.Name == "" {
		e.Name = DisplayName(id)
	}
	if _, ok := r.entries[id]; !ok {
		r.order = append(r.order, id)
	}
	r.entries[id] = e
}

// Get returns the provider registered under id.
func (r *Registry) Get(id string) (ProviderEntry, bool) {
	e, ok := r.entries[id]
	return e, ok
}

// IDs lists the registered provider ids in registration order.
func (r *Registry) IDs() []string { return slices.Clone(r.order) }

// DisplayName is how a provider id reads in messages to users.
func DisplayName(id string) string {
	switch id {
	case ProviderOpenAI:
		return "OpenAI"
	case ProviderAnthropic:
		return "Anthropic"
	case ProviderOpenRouter:
		return "OpenRouter"
	}
	return id
}

// Resolve maps a model name to (provider id, provider's model id). Names are
// provider-qualified ("anthropic/claude-3-5-haiku-latest",
// "openrouter/meta-llama/llama-3-70b", "ollama/llama3"); bare names are
// looked up in the built-in catalogue, then guessed from well-known
// prefixes (gpt-, o1, o3, o4, chatgpt -> OpenAI; claude -> Anthropic;
// vendor/model -> OpenRouter).
func (r *Registry) Resolve(model string) (provider, id string, err error) {
	model = strings.TrimSpace(model)
	if model == "" {
		return "", "", fmt.Errorf("%w: no model", ErrBadRequest)
	}
	if i := strings.IndexByte(model, '/'); i > 0 {
		if _, ok := r.entries[model[:i]]; ok {
			return model[:i], model[i+1:], nil
		}
		switch model[:i] {
		case ProviderOpenAI, ProviderAnthropic, ProviderOpenRouter:
			return model[:i], model[i+1:], nil
		}
	}
	for _, m := range BuiltinModels() {
		if strings.TrimPrefix(m.ID, m.Provider+"/") == model {
			return m.Provider, model, nil
		}
	}
	for id, e := range r.entries {
		if slices.Contains(e.Models, model) {
			return id, model, nil
		}
	}
	lm := strings.ToLower(model)
	switch {
	case strings.HasPrefix(lm, "gpt-"), strings.HasPrefix(lm, "o1"), strings.HasPrefix(lm, "o3"),
		strings.HasPrefix(lm, "o4"), strings.HasPrefix(lm, "chatgpt"):
		return ProviderOpenAI, model, nil
	case strings.HasPrefix(lm, "claude"):
		return ProviderAnthropic, model, nil
	case strings.Contains(model, "/"):
		return ProviderOpenRouter, model, nil
	}
	return "", "", fmt.Errorf("%w: unknown model %q (use provider/model, e.g. openai/gpt-4o-mini)", ErrBadRequest, model)
}

// KeyLookup finds a user's stored credential for a provider.
type KeyLookup func(ctx context.Context, provider string) (Credentials, bool)

// Catalogue is GET /api/llm/models: the built-in models plus, for providers
// that have a key, their live lists, cached.
type Catalogue struct {
	reg    *Registry
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu    sync.Mutex
	cache map[string]cachedList // key: provider + "\x00" + credential fingerprint
}

type cachedList struct {
	at     time.Time
	models []api.Model
}

// NewCatalogue returns a catalogue over reg whose live lists live for ttl.
func NewCatalogue(reg *Registry, ttl time.Duration, now func() time.Time, logger *slog.Logger) *Catalogue {
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Catalogue{reg: reg, ttl: ttl, now: now, logger: logger, cache: map[string]cachedList{}}
}

// Models lists the built-in catalogue, the configured custom models, and
// the live list of every provider for which cred (the caller's key, else
// the server's) has a key. refresh refetches the live lists. A provider
// that fails is skipped (and logged); the rest still answer.
func (c *Catalogue) Models(ctx context.Context, refresh bool, userKey KeyLookup) []api.Model {
	out := BuiltinModels()
	seen := map[string]bool{}
	for _, m := range out {
		seen[m.ID] = true
	}
	add := func(ms []api.Model) {
		for _, m := range ms {
			if !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, m)
			}
		}
	}
	for _, id := range c.reg.IDs() {
		e, _ := c.reg.Get(id)
		for _, m := range e.Models {
			add([]api.Model{{ID: id + "/" + m, Name: m, Provider: id, Description: e.Name + " (custom endpoint)"}})
		}
		cred, ok := Credentials{}, false
		if userKey != nil {
			cred, ok = userKey(ctx, id)
		}
		if !ok && (e.ServerKey.APIKey != "" || e.NoKey) {
			cred, ok = e.ServerKey, true
		}
		if !ok {
			continue
		}
		ms, err := c.live(ctx, e.Provider, cred, refresh)
		if err != nil {
			c.logger.Warn("list provider models", "provider", id, "err", err)
			continue
		}
		add(ms)
	}
	return out
}

func (c *Catalogue) live(ctx context.Context, p Provider, cred Credentials, refresh bool) ([]api.Model, error) {
	key := p.ID() + "\x00" + fingerprint(cred)
	c.mu.Lock()
	cl, ok := c.cache[key]
	c.mu.Unlock()
	if ok && !refresh && c.now().Sub(cl.at) < c.ttl {
		return cl.models, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ms, err := p.ListModels(lctx, cred)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cache[key] = cachedList{at: c.now(), models: ms}
	c.mu.Unlock()
	return ms, nil
}
