package anthropic

import (
	"context"
	"encoding/json"
	"errors"

	sdk "github.com/anthropics/anthropic-sdk-go"

	"github.com/virtual-company/vc/server/ai"
)

// Structured implements ai.StructuredProvider with tool use: one tool whose
// input schema is the request's schema, and tool_choice forcing it.
func (p *Provider) Structured(ctx context.Context, cred ai.Credentials, req ai.StructuredRequest) (json.RawMessage, ai.Usage, error) {
	params := messageParams(req.ChatRequest)
	schema := sdk.ToolInputSchemaParam{Properties: req.Schema["properties"], ExtraFields: map[string]any{}}
	if rs, ok := req.Schema["required"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				schema.Required = append(schema.Required, s)
			}
		}
	}
	if ap, ok := req.Schema["additionalProperties"]; ok {
		schema.ExtraFields["additionalProperties"] = ap
	}
	tool := sdk.ToolUnionParamOfTool(schema, req.Name)
	if req.Description != "" {
		tool.OfTool.Description = sdk.String(req.Description)
	}
	params.Tools = []sdk.ToolUnionParam{tool}
	params.ToolChoice = sdk.ToolChoiceUnionParam{OfTool: &sdk.ToolChoiceToolParam{Name: req.Name}}
	msg, err := p.client.Messages.New(ctx, params, p.callOptions(cred)...)
	if err != nil {
		return nil, ai.Usage{}, mapError(ctx, err)
	}
	usage := ai.Usage{InputTokens: msg.Usage.InputTokens, OutputTokens: msg.Usage.OutputTokens}
	for _, b := range msg.Content {
		if b.Type == "tool_use" && b.Name == req.Name {
			return b.Input, usage, nil
		}
	}
	return nil, usage, &ai.Error{Kind: ai.KindUnavailable, Provider: ai.ProviderAnthropic, Message: "the answer did not use the " + req.Name + " tool", Err: errors.New("no tool_use block")}
}

var _ ai.StructuredProvider = (*Provider)(nil)
