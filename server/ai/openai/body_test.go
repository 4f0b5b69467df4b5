package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/virtual-company/vc/server/ai"
)

// TestRequestBodyMatchesSDK checks that the body StreamChat encodes itself
// is the one the SDK would encode from the equivalent params.
func TestRequestBodyMatchesSDK(t *testing.T) {
	temp := 0.3
	for _, req := range []ai.ChatRequest{
		{Model: "gpt-4o-mini", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "hi <b> & \"you\""}}},
		{Model: "m", System: "be brief", MaxTokens: 512, Temperature: &temp, Messages: []ai.ChatMessage{
			{Role: ai.TurnUser, Content: "alice: @pm what now?"}, {Role: ai.TurnAssistant, Content: "ship it"}, {Role: ai.TurnUser, Content: "ünïcode ✓"}}},
	} {
		params := sdk.ChatCompletionNewParams{Model: req.Model, StreamOptions: sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)}}
		if req.System != "" {
			params.Messages = append(params.Messages, sdk.SystemMessage(req.System))
		}
		for _, m := range req.Messages {
			if m.Role == ai.TurnAssistant {
				params.Messages = append(params.Messages, sdk.AssistantMessage(m.Content))
			} else {
				params.Messages = append(params.Messages, sdk.UserMessage(m.Content))
			}
		}
		if req.MaxTokens > 0 {
			params.MaxTokens = sdk.Int(int64(req.MaxTokens))
		}
		if req.Temperature != nil {
			params.Temperature = sdk.Float(*req.Temperature)
		}
		want, err := json.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		got, err := requestBody(req)
		if err != nil {
			t.Fatal(err)
		}
		var w, g any
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("body differs from the SDK's:\n got %s\nwant %s", got, want)
		}
	}
}
