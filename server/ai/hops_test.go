package ai_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
)

// Two roles that always mention each other, both named in one human
// message: the direct replies plus at most llm.max_hops further replies in
// total, however the chain branches (issue 12, point 12).
func TestVCD_MaxHopsPerHumanMessage(t *testing.T) {
	const maxHops = 3
	e := startEnv(t, func(c *config.Config) {
		c.LLM.MaxHops = maxHops
		c.LLM.ConcurrentPerRoom = 32
		c.LLM.ConcurrentPerUser = 32
		c.LLM.RepliesPerMinute = 1000
	})
	ctx := context.Background()
	e.oa.SetDefault(aitest.Response{Text: "Over to you @cto."})
	e.an.SetDefault(aitest.Response{Text: "Back to you @pm."})
	_, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-openai"})
	require.NoError(t, err)
	_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "anthropic", APIKey: "sk-alice-anthropic"})
	require.NoError(t, err)
	for _, r := range []api.CreateRoleRequest{
		{Name: "PM", Handle: "pm", AIInstructions: "PM.", Model: "openai/gpt-4o-mini"},
		{Name: "CTO", Handle: "cto", AIInstructions: "CTO.", Model: "anthropic/claude-3-5-haiku-latest"},
	} {
		role, err := e.alice.CreateRole(ctx, r)
		require.NoError(t, err)
		_, err = e.alice.SeatRole(ctx, e.room.ID, role.ID)
		require.NoError(t, err)
	}
	w := e.watch(t, e.bob)
	_, err = e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "@pm and @cto hi"})
	require.NoError(t, err)

	want := 2 + maxHops
	w.until("the direct replies and the hops", doneCount(want))
	// Stopping the daemon waits for every reply under way: whatever the
	// chain started is at the providers by then.
	e.d.Stop()
	calls := len(e.oa.Received()) + len(e.an.Received())
	require.Equal(t, want, calls, "AI replies to one human message with max_hops %d", maxHops)

	e.d.Restart()
	msgs, err := e.alice.ListMessages(ctx, e.room.ID, client.MessageQuery{Limit: 100})
	require.NoError(t, err)
	replies := 0
	for _, m := range msgs {
		if m.MessageType == api.MessageAIResponse {
			replies++
		}
	}
	require.Equal(t, want, replies)
}
