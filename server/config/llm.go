package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/viper"
)

// LLMConfig configures the AI providers and the limits of AI replies
// (config key llm).
type LLMConfig struct {
	OpenAI     ProviderConfig `mapstructure:"openai"`
	Anthropic  ProviderConfig `mapstructure:"anthropic"`
	OpenRouter ProviderConfig `mapstructure:"openrouter"`
	// DefaultModel is used when a role names no model.
	DefaultModel string `mapstructure:"default_model"`
	// Custom lists named OpenAI-compatible endpoints (Ollama, vLLM, ...).
	Custom []CustomProvider `mapstructure:"custom"`

	// AllowServerKey lets replies fall back to the keys above when neither
	// the triggering user nor the role's owner stored one.
	AllowServerKey bool `mapstructure:"allow_server_key"`
	// AllowPrivateBaseURLs lets users' keys point at loopback, private and
	// link-local addresses (base_url). Off by default: vcd would otherwise
	// make requests into its own network for anyone who can add a key. The
	// base URLs above and in custom are the operator's and always trusted.
	AllowPrivateBaseURLs bool `mapstructure:"allow_private_base_urls"`
	// PreviousSecretKeys are former secret_key values still needed to read
	// API keys stored before a rotation; they are re-sealed under the
	// current secret at start.
	PreviousSecretKeys []string `mapstructure:"previous_secret_keys"`
	// MaxRetries is how often a provider call is retried on 429/5xx before
	// streaming starts.
	MaxRetries int `mapstructure:"max_retries"`
	// ModelCacheTTL is how long live model lists are cached.
	ModelCacheTTL time.Duration `mapstructure:"model_cache_ttl"`

	// Limits of AI replies.
	MaxHops           int           `mapstructure:"max_hops"`
	ConcurrentPerUser int           `mapstructure:"concurrent_per_user"`
	ConcurrentPerRoom int           `mapstructure:"concurrent_per_room"`
	RepliesPerMinute  int           `mapstructure:"replies_per_minute"`
	MaxTokens         int           `mapstructure:"max_tokens"`
	DefaultMaxTokens  int           `mapstructure:"default_max_tokens"`
	ReplyTimeout      time.Duration `mapstructure:"reply_timeout"`
	DailyTokenBudget  int64         `mapstructure:"daily_token_budget"`
	HistoryTokens     int           `mapstructure:"history_tokens"`
	HistoryMessages   int           `mapstructure:"history_messages"`
}

// ProviderConfig is the server-side credential of one provider.
type ProviderConfig struct {
	APIKey  string `mapstructure:"api_key"`
	BaseURL string `mapstructure:"base_url"`
	// Referer and Title are OpenRouter's attribution headers (HTTP-Referer,
	// X-Title); ignored by the other providers.
	Referer string `mapstructure:"referer"`
	Title   string `mapstructure:"title"`
}

// CustomProvider is a named OpenAI-compatible endpoint.
type CustomProvider struct {
	Name    string   `mapstructure:"name"`
	BaseURL string   `mapstructure:"base_url"`
	APIKey  string   `mapstructure:"api_key"`
	Models  []string `mapstructure:"models"`
}

func defaultLLM() LLMConfig {
	return LLMConfig{
		DefaultModel:      "openai/gpt-4o-mini",
		OpenRouter:        ProviderConfig{Referer: "https://github.com/virtual-company/vc", Title: "Virtual Company"},
		AllowServerKey:    true,
		MaxRetries:        2,
		ModelCacheTTL:     10 * time.Minute,
		MaxHops:           3,
		ConcurrentPerUser: 4,
		ConcurrentPerRoom: 4,
		RepliesPerMinute:  30,
		MaxTokens:         4096,
		DefaultMaxTokens:  1024,
		ReplyTimeout:      2 * time.Minute,
		HistoryTokens:     4000,
		HistoryMessages:   50,
	}
}

func setLLMDefaults(v *viper.Viper, d LLMConfig) {
	for name, p := range map[string]ProviderConfig{"openai": d.OpenAI, "anthropic": d.Anthropic, "openrouter": d.OpenRouter} {
		v.SetDefault("llm."+name+".api_key", p.APIKey)
		v.SetDefault("llm."+name+".base_url", p.BaseURL)
	}
	v.SetDefault("llm.openrouter.referer", d.OpenRouter.Referer)
	v.SetDefault("llm.openrouter.title", d.OpenRouter.Title)
	v.SetDefault("llm.default_model", d.DefaultModel)
	v.SetDefault("llm.custom", d.Custom)
	v.SetDefault("llm.allow_server_key", d.AllowServerKey)
	v.SetDefault("llm.allow_private_base_urls", d.AllowPrivateBaseURLs)
	v.SetDefault("llm.previous_secret_keys", d.PreviousSecretKeys)
	v.SetDefault("llm.max_retries", d.MaxRetries)
	v.SetDefault("llm.model_cache_ttl", d.ModelCacheTTL)
	v.SetDefault("llm.max_hops", d.MaxHops)
	v.SetDefault("llm.concurrent_per_user", d.ConcurrentPerUser)
	v.SetDefault("llm.concurrent_per_room", d.ConcurrentPerRoom)
	v.SetDefault("llm.replies_per_minute", d.RepliesPerMinute)
	v.SetDefault("llm.max_tokens", d.MaxTokens)
	v.SetDefault("llm.default_max_tokens", d.DefaultMaxTokens)
	v.SetDefault("llm.reply_timeout", d.ReplyTimeout)
	v.SetDefault("llm.daily_token_budget", d.DailyTokenBudget)
	v.SetDefault("llm.history_tokens", d.HistoryTokens)
	v.SetDefault("llm.history_messages", d.HistoryMessages)
}

// bindLLMEnv binds the short provider variables (VCD_OPENAI_API_KEY, ...)
// besides the automatic VCD_LLM_OPENAI_API_KEY form.
func bindLLMEnv(v *viper.Viper) error {
	var errs []error
	for key, names := range llmEnvAliases() {
		errs = append(errs, v.BindEnv(append([]string{key}, names...)...))
	}
	return errors.Join(errs...)
}

// llmEnvAliases maps the provider keys to the variables bound for them (the
// short form first, so it wins over the automatic one).
func llmEnvAliases() map[string][]string {
	m := map[string][]string{}
	for _, p := range []struct{ key, env string }{
		{"openai", "OPENAI"}, {"anthropic", "ANTHROPIC"}, {"openrouter", "OPENROUTER"},
	} {
		m["llm."+p.key+".api_key"] = []string{"VCD_" + p.env + "_API_KEY", "VCD_LLM_" + p.env + "_API_KEY"}
		m["llm."+p.key+".base_url"] = []string{"VCD_" + p.env + "_BASE_URL", "VCD_LLM_" + p.env + "_BASE_URL"}
	}
	return m
}

// ValidateLLM reports llm values that cannot work.
func ValidateLLM(l LLMConfig) error {
	var errs []error
	// 0 is never "the default" (the defaults are applied when the config
	// is loaded): it is "none" where the key says so, else refused, so that
	// the AI layer, whose zero fields take defaults, never sees a 0 that
	// meant something else.
	if l.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("llm.max_retries %d: must not be negative (0: none)", l.MaxRetries))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max_hops", l.MaxHops}, {"max_tokens", l.MaxTokens}, {"default_max_tokens", l.DefaultMaxTokens},
		{"history_tokens", l.HistoryTokens}, {"history_messages", l.HistoryMessages}} {
		if n.v < 1 {
			errs = append(errs, fmt.Errorf("llm.%s %d: must be at least 1", n.name, n.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"concurrent_per_user", l.ConcurrentPerUser}, {"concurrent_per_room", l.ConcurrentPerRoom},
		{"replies_per_minute", l.RepliesPerMinute}} {
		if n.v == 0 || n.v < -1 {
			errs = append(errs, fmt.Errorf("llm.%s %d: must be at least 1, or -1 for no limit", n.name, n.v))
		}
	}
	if l.ReplyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("llm.reply_timeout %s: must be positive", l.ReplyTimeout))
	}
	if l.DailyTokenBudget < 0 {
		errs = append(errs, errors.New("llm.daily_token_budget: must not be negative"))
	}
	names := map[string]bool{"openai": true, "anthropic": true, "openrouter": true}
	for i, c := range l.Custom {
		switch {
		case c.Name == "":
			errs = append(errs, fmt.Errorf("llm.custom[%d]: name is required", i))
		case names[c.Name]:
			errs = append(errs, fmt.Errorf("llm.custom[%d]: name %q is taken", i, c.Name))
		case c.BaseURL == "":
			errs = append(errs, fmt.Errorf("llm.custom[%d] (%s): base_url is required", i, c.Name))
		}
		names[c.Name] = true
	}
	return errors.Join(errs...)
}
