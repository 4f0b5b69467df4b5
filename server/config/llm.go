package config

import (
	"errors"

	"github.com/spf13/viper"
)

// LLMConfig configures the AI providers (config key llm).
type LLMConfig struct {
	OpenAI     ProviderConfig `mapstructure:"openai"`
	Anthropic  ProviderConfig `mapstructure:"anthropic"`
	OpenRouter ProviderConfig `mapstructure:"openrouter"`
	// DefaultModel is used when a role names no model.
	DefaultModel string `mapstructure:"default_model"`
	// Custom lists named OpenAI-compatible endpoints (Ollama, vLLM, ...).
	Custom []CustomProvider `mapstructure:"custom"`
}

// ProviderConfig is the server-side credential of one provider.
type ProviderConfig struct {
	APIKey  string `mapstructure:"api_key"`
	BaseURL string `mapstructure:"base_url"`
}

// CustomProvider is a named OpenAI-compatible endpoint.
type CustomProvider struct {
	Name    string   `mapstructure:"name"`
	BaseURL string   `mapstructure:"base_url"`
	APIKey  string   `mapstructure:"api_key"`
	Models  []string `mapstructure:"models"`
}

func defaultLLM() LLMConfig { return LLMConfig{} }

func setLLMDefaults(v *viper.Viper, d LLMConfig) {
	for name, p := range map[string]ProviderConfig{"openai": d.OpenAI, "anthropic": d.Anthropic, "openrouter": d.OpenRouter} {
		v.SetDefault("llm."+name+".api_key", p.APIKey)
		v.SetDefault("llm."+name+".base_url", p.BaseURL)
	}
	v.SetDefault("llm.default_model", d.DefaultModel)
}

// bindLLMEnv binds the short provider variables (VCD_OPENAI_API_KEY, ...)
// besides the automatic VCD_LLM_OPENAI_API_KEY form.
func bindLLMEnv(v *viper.Viper) error {
	var errs []error
	for _, p := range []struct{ key, env string }{
		{"openai", "OPENAI"}, {"anthropic", "ANTHROPIC"}, {"openrouter", "OPENROUTER"},
	} {
		errs = append(errs,
			v.BindEnv("llm."+p.key+".api_key", "VCD_"+p.env+"_API_KEY", "VCD_LLM_"+p.env+"_API_KEY"),
			v.BindEnv("llm."+p.key+".base_url", "VCD_"+p.env+"_BASE_URL", "VCD_LLM_"+p.env+"_BASE_URL"),
		)
	}
	return errors.Join(errs...)
}
