package ai

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
)

// Service is the AI part of the REST API beside the replies in rooms: the
// model list, one-shot generation (/api/llm/generate) and the model check
// of role edits. It also tells the keys service which providers exist
// (service.KeyProviders). Its errors are service errors or *apierr.Error.
type Service struct {
	services *service.Services
	orch     *Orchestrator
	cat      *Catalogue
	// allowPrivate lets users' keys point at non-public addresses.
	allowPrivate bool
}

// ServiceDeps are the collaborators of a Service.
type ServiceDeps struct {
	Services     *service.Services
	Orchestrator *Orchestrator
	Catalogue    *Catalogue
	// AllowPrivateBaseURLs lets the base_url of users' keys be a
	// loopback, private or link-local address (llm.allow_private_base_urls).
	AllowPrivateBaseURLs bool
}

// NewService returns the service.
func NewService(d ServiceDeps) *Service {
	return &Service{services: d.Services, orch: d.Orchestrator, cat: d.Catalogue, allowPrivate: d.AllowPrivateBaseURLs}
}

var _ service.KeyProviders = (*Service)(nil)

// ProviderIDs implements service.KeyProviders: the configured providers,
// then the built-in ones not configured.
func (s *Service) ProviderIDs() []string {
	ids := s.orch.reg.IDs()
	for _, p := range []string{ProviderOpenAI, ProviderAnthropic, ProviderOpenRouter} {
		if !slices.Contains(ids, p) {
			ids = append(ids, p)
		}
	}
	return ids
}

// CheckBaseURL implements service.KeyProviders (see CheckUserBaseURL).
func (s *Service) CheckBaseURL(raw string) error { return CheckUserBaseURL(raw, s.allowPrivate) }

// publicPrompt is the system prompt of a role for someone who does not own
// it: what its public name and description say, never its instructions.
func publicPrompt(r store.Role) string {
	p := fmt.Sprintf("You are %s (@%s).", r.Name, r.Handle)
	if d := strings.TrimSpace(r.Description); d != "" {
		p += fmt.Sprintf(" Your role: %s.", strings.TrimRight(d, "."))
	}
	return p
}

// Models lists the catalogue with the live lists of the providers userID
// (or the server) has a key for.
func (s *Service) Models(ctx context.Context, userID int64, refresh bool) []api.Model {
	return s.cat.Models(ctx, refresh, func(ctx context.Context, provider string) (Credentials, bool) {
		c, ok, err := s.orch.be.UserKey(ctx, userID, provider)
		if err != nil {
			return Credentials{}, false
		}
		return c, ok
	})
}

// Generation is a prepared one-shot call holding its limit slot; Run it
// once, then Close it.
type Generation struct {
	s       *Service
	userID  int64
	roleID  *int64
	call    Call
	req     ChatRequest
	release func()
}

// Model is the provider-qualified model the generation uses.
func (g *Generation) Model() string { return g.call.Provider + "/" + g.call.Model }

// Close releases the generation's limit slot.
func (g *Generation) Close() {
	if g.release != nil {
		g.release()
		g.release = nil
	}
}

// PrepareGenerate validates a one-shot request, resolves model and key and
// takes a limit slot. Failures are service errors or *StatusError.
func (s *Service) PrepareGenerate(ctx context.Context, userID int64, req api.GenerateRequest) (*Generation, error) {
	prompt := req.Prompt
	if strings.TrimSpace(prompt) == "" {
		return nil, service.Invalid("prompt", "is required")
	}
	if len(prompt) > 256<<10 {
		return nil, service.Invalid("prompt", "is longer than 256 KiB")
	}
	system, model := req.System, req.Model
	var maxTokens *int
	var temp *float64
	foreign, override := false, false
	if req.RoleID != nil {
		r, err := s.services.Roles.Stored(ctx, userID, *req.RoleID)
		if err != nil {
			if errors.Is(err, service.ErrNotFound) {
				return nil, service.Invalid("role_id", "no such role")
			}
			return nil, err
		}
		system = r.AIInstructions
		if r.UserID != userID {
			// A role seen through a shared room: its instructions are its
			// owner's, and its owner's key pays only for replies in rooms.
			foreign, system = true, publicPrompt(r)
		}
		if model == "" {
			model = r.Model
		}
		override = model != r.Model
		maxTokens, temp = r.MaxTokens, r.Temperature
	}
	o := s.orch
	// Only the caller's own key (sent or stored) or the server's pays.
	call, err := o.ResolveCall(ctx, model, req.APIKey, userID, userID)
	if err != nil {
		if foreign && override && errors.As(err, new(*NoKeyError)) {
			return nil, service.Forbidden("A role you do not own answers here only with your own key: its owner's key pays only for its replies in rooms, on its own model. Add a key with `vc keys add`.")
		}
		return nil, replyError(err, "", o.limits.ReplyTimeout)
	}
	if err := o.checkBudget(ctx, userID); err != nil {
		return nil, replyError(err, call.Provider, o.limits.ReplyTimeout)
	}
	slot, err := o.lim.acquire(newStreamID(), userID, 0)
	if err != nil {
		return nil, replyError(err, call.Provider, o.limits.ReplyTimeout)
	}
	return &Generation{s: s, userID: userID, roleID: req.RoleID, call: call, release: slot.release, req: ChatRequest{
		Model: call.Model, System: system, Messages: []ChatMessage{{Role: TurnUser, Content: prompt}},
		MaxTokens: o.limits.clampTokens(maxTokens), Temperature: temp,
	}}, nil
}

// Run calls the provider, passing deltas to onDelta (nil: collect only).
// It records the usage and returns the whole reply.
func (g *Generation) Run(ctx context.Context, onDelta func(string) error) (api.GenerateResponse, error) {
	o := g.s.orch
	rctx, cancel := context.WithTimeoutCause(ctx, o.limits.ReplyTimeout, ErrTimeout)
	defer cancel()
	var sb strings.Builder
	deltas := int64(0)
	res, err := g.call.Entry.Provider.StreamChat(rctx, g.call.Cred, g.req, func(d string) error {
		sb.WriteString(d)
		deltas++
		if onDelta != nil {
			return onDelta(d)
		}
		return nil
	})
	if merr := maskEndpointError(err, g.call.Cred, deltas > 0); merr != err {
		o.logger.Info("user endpoint unreachable", "user_id", g.userID, "provider", g.call.Provider, "err", err)
		err = merr
	}
	u := res.Usage
	if u.OutputTokens == 0 {
		u.OutputTokens = deltas
	}
	if u.InputTokens > 0 || u.OutputTokens > 0 {
		rerr := o.be.RecordUsage(context.WithoutCancel(ctx), UsageRecord{UserID: g.userID, RoleID: g.roleID, KeyOwnerID: keyOwner(g.call), Provider: g.call.Provider,
			Model: g.Model(), InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, At: o.now().UTC()})
		if rerr != nil {
			o.logger.Error("record usage", "user_id", g.userID, "err", rerr)
		}
	}
	out := api.GenerateResponse{Content: sb.String(), Model: g.Model(), Usage: &api.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens}}
	if err != nil {
		return out, replyError(err, g.call.Provider, o.limits.ReplyTimeout)
	}
	return out, nil
}

// replyError turns a failed one-shot reply into what its caller is told:
// service errors as they are, anything else an *apierr.Error of the kind
// explain gives it (a failure on the server's side is a gateway error here,
// as every failed reply is), with the provider's Retry-After.
func replyError(err error, provider string, timeout time.Duration) error {
	var se *service.Error
	var ve *service.ValidationError
	if errors.As(err, &se) || errors.As(err, &ve) {
		return err
	}
	kind, detail := explain(err, provider, timeout)
	out := &apierr.Error{Kind: kind, Detail: detail, Err: err}
	var le *LimitError
	var pe *Error
	switch {
	case kind == apierr.Internal:
		out.Kind = apierr.ReplyFailed
	case errors.As(err, &le):
		out.RetryAfter = le.RetryAfter
	case errors.As(err, &pe):
		if pe.Kind == KindRateLimit {
			out.RetryAfter = pe.RetryAfter
		}
	case errors.Is(err, ErrBadRequest):
		out.Detail, out.Field = err.Error(), "model"
	}
	return out
}
