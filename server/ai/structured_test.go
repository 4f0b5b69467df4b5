package ai_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/ai/aitest"
)

// TestProviders_Structured checks both wire formats of a structured call
// against the fakes: the tool (Anthropic) or json_schema response format
// (OpenAI) is sent with the schema, the object comes back, and a malformed
// answer is an error.
func TestProviders_Structured(t *testing.T) {
	schema := map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"next": map[string]any{"type": "string"}, "done": map[string]any{"type": "boolean"}},
		"required":             []any{"next", "done"},
		"additionalProperties": false,
	}
	for _, pc := range providerCases() {
		t.Run(pc.name, func(t *testing.T) {
			fake := aitest.New(t, pc.flavor)
			fake.Enqueue(aitest.Response{JSON: `{"next":"cto","done":false}`}, aitest.Response{Text: "I think the CTO should speak."})
			p := pc.make(fake.URL).(ai.StructuredProvider)
			req := ai.StructuredRequest{ChatRequest: ai.ChatRequest{Model: "m1", System: "You chair.",
				Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "who next?"}}}, Name: "next_speaker", Schema: schema}
			raw, usage, err := p.Structured(context.Background(), ai.Credentials{APIKey: "sk-test-1234"}, req)
			require.NoError(t, err)
			var got struct {
				Next string `json:"next"`
				Done bool   `json:"done"`
			}
			require.NoError(t, json.Unmarshal(raw, &got))
			require.Equal(t, "cto", got.Next)
			require.Positive(t, usage.InputTokens)
			r := fake.Received()[0]
			require.Equal(t, "next_speaker", r.Tool)
			require.False(t, r.Stream)
			require.Equal(t, "You chair.", r.System)
			var sent map[string]any
			require.NoError(t, json.Unmarshal(r.Schema, &sent))
			require.Contains(t, sent["properties"], "next")
			require.ElementsMatch(t, []any{"next", "done"}, sent["required"])

			_, _, err = p.Structured(context.Background(), ai.Credentials{APIKey: "sk-test-1234"}, req)
			require.Error(t, err, "an answer without the tool / not JSON is malformed")
		})
	}
}
