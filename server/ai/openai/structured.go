package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/virtual-company/vc/server/ai"
)

// structuredBody is the JSON body of a non-streamed chat completion with a
// json_schema response format (strict: the answer follows the schema).
type structuredBody struct {
	Model          string         `json:"model"`
	Messages       []chatMessage  `json:"messages"`
	MaxTokens      int            `json:"max_tokens,omitempty"`
	Temperature    *float64       `json:"temperature,omitempty"`
	ResponseFormat responseFormat `json:"response_format"`
}

type responseFormat struct {
	Type       string     `json:"type"`
	JSONSchema jsonSchema `json:"json_schema"`
}

type jsonSchema struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Schema      map[string]any `json:"schema"`
	Strict      bool           `json:"strict"`
}

// Structured implements ai.StructuredProvider with response_format
// json_schema.
func (p *Provider) Structured(ctx context.Context, cred ai.Credentials, req ai.StructuredRequest) (json.RawMessage, ai.Usage, error) {
	b := structuredBody{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature,
		ResponseFormat: responseFormat{Type: "json_schema", JSONSchema: jsonSchema{Name: req.Name, Description: req.Description, Schema: req.Schema, Strict: true}}}
	b.Messages = chatMessages(b.Messages, req.ChatRequest)
	body, err := encodeJSON(b)
	if err != nil {
		return nil, ai.Usage{}, &ai.Error{Kind: ai.KindBadRequest, Provider: p.id, Message: "the request could not be encoded", Err: err}
	}
	opts := append(p.callOptions(cred), option.WithRequestBody("application/json", body))
	res, err := p.client.Chat.Completions.New(ctx, sdk.ChatCompletionNewParams{}, opts...)
	if err != nil {
		return nil, ai.Usage{}, p.mapError(ctx, err)
	}
	usage := ai.Usage{InputTokens: res.Usage.PromptTokens, OutputTokens: res.Usage.CompletionTokens}
	if len(res.Choices) == 0 {
		return nil, usage, &ai.Error{Kind: ai.KindUnavailable, Provider: p.id, Message: "the answer had no choices", Err: fmt.Errorf("no choices")}
	}
	msg := res.Choices[0].Message
	if msg.Refusal != "" {
		return nil, usage, &ai.Error{Kind: ai.KindBadRequest, Provider: p.id, Message: "the model refused: " + msg.Refusal, Err: fmt.Errorf("refusal")}
	}
	content := strings.TrimSpace(msg.Content)
	if !json.Valid([]byte(content)) {
		return nil, usage, &ai.Error{Kind: ai.KindUnavailable, Provider: p.id, Message: "the answer is not JSON", Err: fmt.Errorf("invalid JSON: %.80q", content)}
	}
	return json.RawMessage(content), usage, nil
}

var _ ai.StructuredProvider = (*Provider)(nil)
