package ai_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/server/store"
)

// draft is a human message as the messages service announces it before
// storing it (no id, seq or time yet).
func draft(roomID, userID int64, user, content string, roleID *int64) api.Message {
	uid := userID
	return api.Message{RoomID: roomID, UserID: &uid, RoleID: roleID, Content: content, MessageType: api.MessageText, User: user}
}

// waitIdle waits until no reply is under way.
func waitIdle(t *testing.T, o *ai.Orchestrator) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for o.Running() > 0 {
		select {
		case <-deadline:
			t.Fatalf("%d replies still running", o.Running())
		case <-time.After(time.Millisecond): // poll: Running has no event to wait on
		}
	}
}

// TestPosting_ProviderCalledBeforeCommitNothingShownUntil: the reply's
// provider call starts while the question commits, and nothing of the
// reply is published before Committed; then ai_start (replying to the
// stored id), the deltas, the stored reply and ai_done follow in order.
func TestPosting_ProviderCalledBeforeCommitNothingShownUntil(t *testing.T) {
	h := newHarness(t)
	h.oa.SetDefault(aitest.Response{Text: "Ship it on Friday."})
	d := draft(h.room.ID, 1, "alice", "When do we ship?", &h.pm.ID)
	p := h.orch.MessagePosting(context.Background(), h.room, d, api.CreateMessageRequest{Content: d.Content, RoleID: d.RoleID}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := h.oa.Next(ctx)
	require.NoError(t, err, "the provider is called before the question is stored")
	require.Equal(t, "alice: When do we ship?", got.Messages[len(got.Messages)-1].Content)
	require.Empty(t, h.rec.all(), "nothing is published before the question is committed")

	q := h.be.human(h.room.ID, 1, "alice", "When do we ship?", &h.pm.ID) // stored and published
	p.Committed(q)
	evs := h.rec.waitFor(t, "ai_done", func(e []wsproto.Event) bool { return ends(e) == 1 })
	var types []string
	for _, e := range evs {
		if e.Type == wsproto.TypeMessage && e.ID == q.ID {
			types = append(types, "question")
			continue
		}
		types = append(types, e.Type)
		if e.Type == wsproto.TypeAIStart {
			require.Equal(t, q.ID, e.ReplyTo)
		}
	}
	require.Equal(t, "question", types[0], describe(evs))
	require.Equal(t, wsproto.TypeAIStart, types[1], describe(evs))
	require.Equal(t, wsproto.TypeAIDone, types[len(types)-1], describe(evs))
	msgs := h.be.messages(h.room.ID)
	require.Len(t, msgs, 2)
	require.Equal(t, "Ship it on Friday.", msgs[1].Content)
}

// TestPosting_DroppedEndsSilently: a question that is not stored (an
// error, a resend) cancels its replies: the slow provider call ends at
// once, nothing is published or stored, and the reply does not count
// against the per-minute limit.
func TestPosting_DroppedEndsSilently(t *testing.T) {
	h := newHarness(t, func(c *ai.Config) { c.Limits.PerUserPerMinute = 1 })
	h.oa.SetDefault(aitest.Response{Text: "Too late.", FirstDelay: time.Minute})
	d := draft(h.room.ID, 1, "alice", "When do we ship?", &h.pm.ID)
	p := h.orch.MessagePosting(context.Background(), h.room, d, api.CreateMessageRequest{Content: d.Content, RoleID: d.RoleID}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := h.oa.Next(ctx)
	require.NoError(t, err)
	p.Dropped()
	waitIdle(t, h.orch) // a minute early: the call was cancelled
	require.Empty(t, h.rec.all())
	require.Empty(t, h.be.messages(h.room.ID))

	// The minute's one reply is still there.
	h.oa.SetDefault(aitest.Response{Text: "Friday."})
	h.send(1, "alice", "And now?", &h.pm.ID, api.CreateMessageRequest{})
	evs := h.rec.waitFor(t, "ai_done", func(e []wsproto.Event) bool { return ends(e) == 1 })
	require.Equal(t, 1, count(evs, wsproto.TypeAIDone), describe(evs))
	require.Zero(t, count(evs, wsproto.TypeAIError), describe(evs))
}

// TestPosting_FailureWaitsForCommit: a reply that fails before its provider
// call (no key) says so only once the question is stored, replying to its
// id; when the question is dropped instead it says nothing.
func TestPosting_FailureWaitsForCommit(t *testing.T) {
	h := newHarness(t, func(c *ai.Config) { c.AllowServerKey = false })
	role := h.be.addRole(store.Role{ID: 12, UserID: 1, Name: "Lawyer", Handle: "lawyer", AIInstructions: "You are a lawyer.",
		Model: "openrouter/anthropic/claude-3.5-sonnet"})

	d := draft(h.room.ID, 1, "alice", "Is this legal?", &role.ID)
	p := h.orch.MessagePosting(context.Background(), h.room, d, api.CreateMessageRequest{Content: d.Content, RoleID: d.RoleID}, nil)
	p.Dropped()
	waitIdle(t, h.orch)
	require.Empty(t, h.rec.all())

	p = h.orch.MessagePosting(context.Background(), h.room, d, api.CreateMessageRequest{Content: d.Content, RoleID: d.RoleID}, nil)
	q := h.be.human(h.room.ID, 1, "alice", "Is this legal?", &role.ID)
	p.Committed(q)
	evs := h.rec.waitFor(t, "ai_error", func(e []wsproto.Event) bool { return count(e, wsproto.TypeAIError) == 1 })
	for _, e := range evs {
		if e.Type == wsproto.TypeAIError {
			require.Equal(t, q.ID, e.ReplyTo)
			require.Equal(t, api.CodeNoAPIKey, e.Code, describe(evs))
		}
	}
	h.rec.waitFor(t, "system message", func(e []wsproto.Event) bool {
		for _, x := range e {
			if x.Type == wsproto.TypeMessage && x.MessageType == api.MessageSystem {
				return true
			}
		}
		return false
	})
	msgs := h.be.messages(h.room.ID)
	require.Equal(t, q.ID, msgs[0].ID, "the question comes first")
}

// TestVCD_ResendNamingRoleAnswersOnce: through a real vcd, a resend of a
// message naming a role (same client_id) returns the stored message and
// starts no second reply, although replies begin before the commit.
func TestVCD_ResendNamingRoleAnswersOnce(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := startEnv(t, nil, opts...)
		ctx := context.Background()
		e.oa.SetDefault(aitest.Response{Text: "Friday."})
		pm, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "PM", AIInstructions: "You are a product manager.",
			Handle: "pm", Model: "openai/gpt-4o-mini"})
		require.NoError(t, err)
		_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-1234"})
		require.NoError(t, err)
		w := e.watch(t, e.bob)

		first, err := e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "When?", RoleID: &pm.ID, ClientID: "c-1"})
		require.NoError(t, err)
		w.until("first reply", doneCount(1))
		again, err := e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "When?", RoleID: &pm.ID, ClientID: "c-1"})
		require.NoError(t, err)
		require.Equal(t, first.ID, again.ID, "a resend returns the stored message")
		next, err := e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "And then?", RoleID: &pm.ID, ClientID: "c-2"})
		require.NoError(t, err)
		evs := w.until("second reply", doneCount(2))

		var replyTo []int64
		for _, ev := range evs {
			if ev.Type == wsproto.TypeAIStart {
				replyTo = append(replyTo, ev.ReplyTo)
			}
		}
		require.Equal(t, []int64{first.ID, next.ID}, replyTo, describe(evs))
		hist, err := e.alice.ListMessages(ctx, e.room.ID, client.MessageQuery{})
		require.NoError(t, err)
		replies := 0
		for _, m := range hist {
			if m.MessageType == api.MessageAIResponse {
				replies++
			}
		}
		require.Equal(t, 2, replies)
	})
}

// TestPosting_CloseMidReplyStoresWhatStreamed: a reply cut by the server
// closing still stores its partial text and says why, although the closing
// also ends the context its question is waited with.
func TestPosting_CloseMidReplyStoresWhatStreamed(t *testing.T) {
	h := newHarness(t)
	h.oa.SetDefault(aitest.Response{Text: "one two three four five six seven eight", TokenDelay: time.Minute})
	q := h.send(1, "alice", "Go on", &h.pm.ID, api.CreateMessageRequest{})
	h.rec.waitFor(t, "first delta", func(e []wsproto.Event) bool { return count(e, wsproto.TypeAIDelta) >= 1 })
	h.orch.Close()
	evs := h.rec.all()
	require.Equal(t, 1, count(evs, wsproto.TypeAIError), describe(evs))
	for _, e := range evs {
		if e.Type == wsproto.TypeAIError {
			require.Equal(t, api.CodeUnavailable, e.Code)
			require.Equal(t, q.ID, e.ReplyTo)
		}
	}
	msgs := h.be.messages(h.room.ID)
	require.Len(t, msgs, 3, "question, truncated reply, system message")
	require.True(t, msgs[1].Truncated)
	require.Equal(t, "one ", msgs[1].Content)
}
