package service

import (
	"context"

	"github.com/virtual-company/vc/pkg/api"
)

// ModelCatalog lists the models GET /api/llm/models shows. server/ai
// provides the live one; BuiltinModels is the fallback.
type ModelCatalog interface {
	Models(ctx context.Context, refresh bool) ([]api.Model, error)
}

// BuiltinModels is a fixed catalogue of well-known models.
type BuiltinModels struct{}

// Models implements ModelCatalog.
func (BuiltinModels) Models(context.Context, bool) ([]api.Model, error) {
	return []api.Model{
		{ID: "openai/gpt-4o", Name: "GPT-4o", Provider: "openai", Description: "OpenAI's flagship multimodal model", ContextLength: 128000},
		{ID: "openai/gpt-4o-mini", Name: "GPT-4o mini", Provider: "openai", Description: "Small, fast and cheap OpenAI model", ContextLength: 128000},
		{ID: "openai/gpt-4-turbo", Name: "GPT-4 Turbo", Provider: "openai", Description: "GPT-4 Turbo with a 128k context", ContextLength: 128000},
		{ID: "openai/gpt-3.5-turbo", Name: "GPT-3.5 Turbo", Provider: "openai", Description: "Fast, inexpensive OpenAI model", ContextLength: 16385},
		{ID: "anthropic/claude-3-5-sonnet-latest", Name: "Claude 3.5 Sonnet", Provider: "anthropic", Description: "Anthropic's balanced model", ContextLength: 200000},
		{ID: "anthropic/claude-3-5-haiku-latest", Name: "Claude 3.5 Haiku", Provider: "anthropic", Description: "Anthropic's fastest model", ContextLength: 200000},
		{ID: "anthropic/claude-3-opus-latest", Name: "Claude 3 Opus", Provider: "anthropic", Description: "Anthropic's most capable Claude 3 model", ContextLength: 200000},
		{ID: "openrouter/meta-llama/llama-3.1-70b-instruct", Name: "Llama 3.1 70B Instruct", Provider: "openrouter", Description: "Meta's open model through OpenRouter", ContextLength: 131072},
		{ID: "openrouter/mistralai/mistral-large", Name: "Mistral Large", Provider: "openrouter", Description: "Mistral's flagship model through OpenRouter", ContextLength: 128000},
		{ID: "openrouter/google/gemini-pro-1.5", Name: "Gemini Pro 1.5", Provider: "openrouter", Description: "Google's Gemini through OpenRouter", ContextLength: 2000000},
	}, nil
}
