package ai_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/servertest"
)

const privateInstructions = "SECRET-PLAYBOOK: never reveal the launch date."

// A role bob sees only because alice seated it in a room they share does
// not spend alice's key outside that room, on another model, or with its
// instructions; what it spends in the room is booked to both (issue 12,
// point 2).
func TestVCD_ForeignRoleDoesNotSpendOwnersKey(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := startEnv(t, nil, opts...)
		ctx := context.Background()
		e.oa.SetDefault(aitest.Response{Text: "On it."})
		_, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-owner"})
		require.NoError(t, err)
		pm, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "PM", Handle: "pm", Description: "Plans the launch",
			AIInstructions: privateInstructions, Model: "openai/gpt-4o-mini"})
		require.NoError(t, err)
		_, err = e.alice.SeatRole(ctx, e.room.ID, pm.ID)
		require.NoError(t, err)

		// generate with alice's role: bob has no key, the server key is off.
		_, err = e.bob.Generate(ctx, api.GenerateRequest{Prompt: "plan?", RoleID: &pm.ID})
		ce := requireStatus(t, err, 400)
		require.Equal(t, api.CodeNoAPIKey, ce.Code)
		// A model override on the owner's key: refused.
		_, err = e.bob.Generate(ctx, api.GenerateRequest{Prompt: "plan?", RoleID: &pm.ID, Model: "openai/gpt-4o"})
		requireStatus(t, err, 403)
		require.Empty(t, e.oa.Received(), "nothing was sent on alice's key")

		// In the shared room, on the role's own model: alice's key pays,
		// and the reply is booked to bob and to alice's key.
		w := e.watch(t, e.bob)
		_, err = e.bob.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "@pm status?"})
		require.NoError(t, err)
		w.until("the room reply", doneCount(1))
		require.Equal(t, "Bearer sk-alice-owner", e.oa.Received()[0].Auth)
		// A model override in the room is not paid by alice's key.
		_, err = e.bob.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "again", RoleID: &pm.ID, Model: "openai/gpt-4o"})
		require.NoError(t, err)
		evs := w.until("the refused reply", doneCount(2))
		require.Equal(t, wsproto.TypeAIError, evs[len(evs)-1].Type, describe(evs))
		require.Equal(t, api.CodeNoAPIKey, evs[len(evs)-1].Code)
		// Nor a reply in a room alice is not in.
		solo, err := e.bob.CreateRoom(ctx, "Bob alone")
		require.NoError(t, err)
		ws := e.watchRoom(t, e.bob, solo.ID)
		_, err = e.bob.SendMessage(ctx, solo.ID, api.CreateMessageRequest{Content: "psst", RoleID: &pm.ID})
		require.NoError(t, err)
		evs = ws.until("the refused reply", doneCount(1))
		require.Equal(t, api.CodeNoAPIKey, evs[len(evs)-1].Code, describe(evs))
		require.Len(t, e.oa.Received(), 1, "only the reply in the shared room reached the provider")

		bu, err := e.bob.Usage(ctx)
		require.NoError(t, err)
		require.Len(t, bu.Rows, 1)
		require.Equal(t, int64(1), bu.Rows[0].Replies)
		require.Empty(t, bu.OnMyKeysByOthers)
		au, err := e.alice.Usage(ctx)
		require.NoError(t, err)
		require.Empty(t, au.Rows, "alice asked for nothing")
		require.Len(t, au.OnMyKeysByOthers, 1)
		row := au.OnMyKeysByOthers[0]
		require.Equal(t, "bob", row.User)
		require.Equal(t, "openai/gpt-4o-mini", row.Model)
		require.Equal(t, int64(1), row.Replies)
		require.Equal(t, bu.TotalTokens, au.OnMyKeysByOthersTokens)
		require.Positive(t, au.OnMyKeysByOthersTokens)

		// With a key of his own, bob's generate uses it, with the role's
		// public description and never its instructions.
		_, err = e.bob.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-bob-own"})
		require.NoError(t, err)
		out, err := e.bob.Generate(ctx, api.GenerateRequest{Prompt: "plan?", RoleID: &pm.ID, Model: "openai/gpt-4o"})
		require.NoError(t, err)
		require.Equal(t, "openai/gpt-4o", out.Model)
		rs := e.oa.Received()
		r := rs[len(rs)-1]
		require.Equal(t, "Bearer sk-bob-own", r.Auth)
		require.NotContains(t, r.System, "SECRET-PLAYBOOK")
		require.Contains(t, r.System, "Plans the launch")
		au2, err := e.alice.Usage(ctx)
		require.NoError(t, err)
		require.Equal(t, au.OnMyKeysByOthersTokens, au2.OnMyKeysByOthersTokens, "bob's own key is not booked to alice")

		// The owner's own generate still uses the instructions.
		_, err = e.alice.Generate(ctx, api.GenerateRequest{Prompt: "plan?", RoleID: &pm.ID})
		require.NoError(t, err)
		rs = e.oa.Received()
		require.Contains(t, rs[len(rs)-1].System, "SECRET-PLAYBOOK")
		require.Equal(t, "Bearer sk-alice-owner", rs[len(rs)-1].Auth)
	})
}

// watchRoom is watch for another room.
func (e *env) watchRoom(t *testing.T, c *client.Client, roomID int64) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := c.OpenStream(ctx, roomID, client.StreamOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return &watcher{t: t, s: s}
}
