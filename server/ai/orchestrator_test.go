package ai_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/ai/aitest"
	aianthropic "github.com/virtual-company/vc/server/ai/anthropic"
	aiopenai "github.com/virtual-company/vc/server/ai/openai"
	"github.com/virtual-company/vc/server/store"
)

type harness struct {
	oa, an *aitest.Server
	be     *memBackend
	rec    *recorder
	orch   *ai.Orchestrator
	room   api.Room
	pm     store.Role // alice's, openai
	cto    store.Role // alice's, anthropic
}

type harnessOpt func(*ai.Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{oa: aitest.New(t, aitest.OpenAI), an: aitest.New(t, aitest.Anthropic), rec: newRecorder()}
	h.be = newMemBackend(h.rec)
	reg := ai.NewRegistry()
	// Two retries, as the daemon's default llm.max_retries.
	reg.Add(ai.ProviderEntry{Provider: aiopenai.New(aiopenai.Config{BaseURL: h.oa.URL, MaxRetries: 2})})
	reg.Add(ai.ProviderEntry{Provider: aianthropic.New(aianthropic.Config{BaseURL: h.an.URL, MaxRetries: 2})})
	reg.Add(ai.ProviderEntry{Provider: aiopenai.New(aiopenai.Config{ID: ai.ProviderOpenRouter, BaseURL: h.oa.URL, MaxRetries: 2,
		Headers: aiopenai.OpenRouterHeaders("https://vc.test", "Virtual Company")})})
	cfg := ai.Config{Registry: reg, Backend: h.be, Notifier: h.rec, AllowServerKey: true}
	for _, o := range opts {
		o(&cfg)
	}
	h.orch = ai.New(cfg)
	t.Cleanup(h.orch.Close)
	h.room = api.Room{ID: 1, Name: "Launch", CreatedBy: 1}
	h.be.members[1] = []store.Member{{RoomID: 1, UserID: 1, Username: "alice"}, {RoomID: 1, UserID: 2, Username: "bob"}}
	h.pm = h.be.addRole(store.Role{ID: 10, UserID: 1, Name: "PM", Handle: "pm", AIInstructions: "You are a product manager.", Model: "openai/gpt-4o-mini"})
	h.cto = h.be.addRole(store.Role{ID: 11, UserID: 1, Name: "CTO", Handle: "cto", AIInstructions: "You are the CTO.", Model: "anthropic/claude-3-5-haiku-latest"})
	h.be.setKey(1, ai.ProviderOpenAI, "sk-alice-openai")
	h.be.setKey(1, ai.ProviderAnthropic, "sk-alice-anthropic")
	return h
}

// send stores a human message and hands it to the orchestrator.
func (h *harness) send(userID int64, user, content string, roleID *int64, req api.CreateMessageRequest) api.Message {
	m := h.be.human(h.room.ID, userID, user, content, roleID)
	req.Content, req.RoleID = content, roleID
	h.orch.MessageCreated(context.Background(), h.room, m, req, nil)
	return m
}

func ptr[T any](v T) *T { return &v }

func TestOrchestrator_RoleIDReplyStreamsToRoom(t *testing.T) {
	h := newHarness(t)
	h.oa.SetDefault(aitest.Response{Text: "Ship the beta on Friday."})
	h.be.human(1, 2, "bob", "What is the plan?", nil)
	q := h.send(1, "alice", "When do we ship?", &h.pm.ID, api.CreateMessageRequest{})

	evs := h.rec.waitFor(t, "ai_done", func(e []wsproto.Event) bool { return ends(e) == 1 })
	require.Equal(t, 1, count(evs, wsproto.TypeAIDone), describe(evs))
	// Order: ai_start, deltas, message, ai_done.
	var types []string
	var start, done wsproto.Event
	var msg wsproto.Event
	for _, e := range evs {
		switch e.Type {
		case wsproto.TypeAIStart:
			start = e
		case wsproto.TypeAIDone:
			done = e
		case wsproto.TypeMessage:
			if e.MessageType == api.MessageAIResponse {
				msg = e
			}
		}
		if e.Type != wsproto.TypeMessage || e.MessageType == api.MessageAIResponse {
			types = append(types, e.Type)
		}
	}
	require.Equal(t, wsproto.TypeAIStart, types[0])
	require.Equal(t, wsproto.TypeAIDone, types[len(types)-1])
	require.Equal(t, wsproto.TypeMessage, types[len(types)-2])
	for _, ty := range types[1 : len(types)-2] {
		require.Equal(t, wsproto.TypeAIDelta, ty)
	}
	require.Equal(t, q.ID, start.ReplyTo)
	require.Equal(t, h.pm.ID, *start.RoleID)
	require.Equal(t, "Ship the beta on Friday.", streamText(evs, start.StreamID))
	require.Equal(t, "Ship the beta on Friday.", msg.Content)
	require.Equal(t, "PM", msg.User)
	require.Equal(t, h.pm.ID, *msg.RoleID)
	require.False(t, msg.Truncated)
	require.Equal(t, msg.ID, done.MessageID)
	require.NotNil(t, done.Usage)
	require.Equal(t, int64(5), done.Usage.OutputTokens)

	// What the provider received.
	rs := h.oa.Received()
	require.Len(t, rs, 1)
	r := rs[0]
	require.Equal(t, "gpt-4o-mini", r.Model)
	require.Equal(t, "Bearer sk-alice-openai", r.Auth)
	require.True(t, strings.HasPrefix(r.System, "You are a product manager."), r.System)
	require.Contains(t, r.System, `"Launch"`)
	require.Contains(t, r.System, "alice, bob")
	require.Contains(t, r.System, "PM (@pm)")
	require.Equal(t, []aitest.Message{{Role: "user", Content: "bob: What is the plan?\nalice: When do we ship?"}}, r.Messages)

	// Stored and usage recorded.
	stored := h.be.messages(1)
	require.Equal(t, api.MessageAIResponse, stored[len(stored)-1].MessageType)
	require.Len(t, h.be.usage, 1)
	require.Equal(t, "openai/gpt-4o-mini", h.be.usage[0].Model)
	require.Equal(t, int64(1), h.be.usage[0].UserID)
}

func TestOrchestrator_MentionOnlySeatedRoles(t *testing.T) {
	h := newHarness(t)
	h.an.SetDefault(aitest.Response{Text: "Use Postgres."})
	h.be.seat(1, h.cto.ID)
	h.send(2, "bob", "@pm and @cto: which database?", nil, api.CreateMessageRequest{})
	evs := h.rec.waitFor(t, "one reply", func(e []wsproto.Event) bool { return ends(e) >= 1 })
	require.Equal(t, 1, count(evs, wsproto.TypeAIStart), "only the seated CTO answers: %s", describe(evs))
	require.Empty(t, h.oa.Received())
	rs := h.an.Received()
	require.Len(t, rs, 1)
	require.Equal(t, "claude-3-5-haiku-latest", rs[0].Model)
	// bob has no key: the role owner's (alice's) pays.
	require.Equal(t, "sk-alice-anthropic", rs[0].Auth)
	require.Equal(t, "You are the CTO.", strings.SplitN(rs[0].System, "\n\n", 2)[0])
}

func TestOrchestrator_OwnRepliesAreAssistantTurns(t *testing.T) {
	h := newHarness(t)
	h.oa.Enqueue(aitest.Response{Text: "First answer."}, aitest.Response{Text: "Second answer."})
	h.send(1, "alice", "one", &h.pm.ID, api.CreateMessageRequest{})
	h.rec.waitFor(t, "first reply", func(e []wsproto.Event) bool { return ends(e) == 1 })
	h.send(2, "bob", "two", &h.pm.ID, api.CreateMessageRequest{})
	h.rec.waitFor(t, "second reply", func(e []wsproto.Event) bool { return ends(e) == 2 })
	rs := h.oa.Received()
	require.Len(t, rs, 2)
	require.Equal(t, []aitest.Message{
		{Role: "user", Content: "alice: one"},
		{Role: "assistant", Content: "First answer."},
		{Role: "user", Content: "bob: two"},
	}, rs[1].Messages)
}

func TestOrchestrator_RoleToRoleHopLimit(t *testing.T) {
	// One reply at a time per room: a chain frees its slot before handing on.
	h := newHarness(t, func(c *ai.Config) { c.Limits.ConcurrentPerRoom = 1 })
	// PM always hands to the CTO, the CTO always hands back (and mentions itself).
	h.oa.SetDefault(aitest.Response{Text: "Over to you @cto."})
	h.an.SetDefault(aitest.Response{Text: "Back to you @pm, says @cto."})
	h.be.seat(1, h.pm.ID, h.cto.ID)
	h.send(1, "alice", "@pm kick off", nil, api.CreateMessageRequest{})
	// 1 direct reply + 3 hops.
	h.rec.waitFor(t, "4 replies", func(e []wsproto.Event) bool { return count(e, wsproto.TypeAIDone) == 4 })
	h.orch.Close() // wait for anything that would (wrongly) start later
	evs := h.rec.all()
	require.Equal(t, 4, count(evs, wsproto.TypeAIStart), describe(evs))
	require.Len(t, h.oa.Received(), 2)
	require.Len(t, h.an.Received(), 2)
}

func TestOrchestrator_Cancel(t *testing.T) {
	h := newHarness(t)
	h.oa.SetDefault(aitest.Response{TokenCount: 1000, TokenDelay: 10 * time.Millisecond})
	h.send(1, "alice", "long answer please", &h.pm.ID, api.CreateMessageRequest{})
	evs := h.rec.waitFor(t, "some deltas", func(e []wsproto.Event) bool { return count(e, wsproto.TypeAIDelta) >= 3 })
	var sid string
	for _, e := range evs {
		if e.Type == wsproto.TypeAIStart {
			sid = e.StreamID
		}
	}
	require.Error(t, h.orch.Cancel(context.Background(), 2, 99, sid), "wrong room")
	require.NoError(t, h.orch.Cancel(context.Background(), 2, 1, sid))
	evs = h.rec.waitFor(t, "ai_error", func(e []wsproto.Event) bool { return ends(e) == 1 })
	last := evs[len(evs)-1]
	require.Equal(t, wsproto.TypeAIError, last.Type)
	require.Equal(t, "canceled", last.Code)
	msgs := h.be.messages(1)
	reply := msgs[len(msgs)-1]
	require.True(t, reply.Truncated)
	require.Equal(t, api.MessageAIResponse, reply.MessageType)
	require.Equal(t, streamText(evs, sid), reply.Content)
	require.Equal(t, reply.ID, last.MessageID)
	require.Less(t, len(reply.Content), len("t0 ")*1000)
	for _, m := range msgs {
		require.NotEqual(t, api.MessageSystem, m.MessageType, "a cancel is not a failure")
	}
	require.Error(t, h.orch.Cancel(context.Background(), 2, 1, sid), "already finished")
}

// failure runs one reply against a programmed provider and returns the
// stored system message and the ai_error event.
func failure(t *testing.T, h *harness, resp ...aitest.Response) (api.Message, wsproto.Event, []api.Message) {
	t.Helper()
	h.oa.Enqueue(resp...)
	h.send(1, "alice", "hi", &h.pm.ID, api.CreateMessageRequest{})
	evs := h.rec.waitFor(t, "system message", func(e []wsproto.Event) bool {
		for _, ev := range e {
			if ev.Type == wsproto.TypeMessage && ev.MessageType == api.MessageSystem {
				return true
			}
		}
		return false
	})
	var ae wsproto.Event
	for _, e := range evs {
		if e.Type == wsproto.TypeAIError {
			ae = e
		}
	}
	require.Equal(t, wsproto.TypeAIError, ae.Type, describe(evs))
	msgs := h.be.messages(1)
	return msgs[len(msgs)-1], ae, msgs
}

func TestOrchestrator_Failures(t *testing.T) {
	t.Run("401", func(t *testing.T) {
		h := newHarness(t)
		sys, ae, _ := failure(t, h, aitest.Response{Status: 401, ErrorMessage: "Incorrect API key provided: sk-alice-openai"})
		require.Equal(t, api.CodeProviderAuth, ae.Code)
		require.Equal(t, "PM could not answer: OpenAI rejected the key (401): check it, then replace it with `vc keys add openai`.", sys.Content)
		require.NotContains(t, sys.Content, "sk-alice")
	})
	t.Run("429 then success", func(t *testing.T) {
		h := newHarness(t)
		h.oa.Enqueue(aitest.Response{Status: 429}, aitest.Response{Text: "Fine now."})
		h.send(1, "alice", "hi", &h.pm.ID, api.CreateMessageRequest{})
		evs := h.rec.waitFor(t, "done", func(e []wsproto.Event) bool { return ends(e) == 1 })
		require.Equal(t, 1, count(evs, wsproto.TypeAIDone), describe(evs))
		require.Len(t, h.oa.Received(), 2)
	})
	t.Run("429 persistent", func(t *testing.T) {
		h := newHarness(t)
		sys, ae, _ := failure(t, h, aitest.Response{Status: 429}, aitest.Response{Status: 429}, aitest.Response{Status: 429})
		require.Equal(t, api.CodeProviderLimited, ae.Code)
		require.Contains(t, sys.Content, "OpenAI is rate limiting this key (429)")
	})
	t.Run("500", func(t *testing.T) {
		h := newHarness(t)
		sys, ae, _ := failure(t, h, aitest.Response{Status: 500}, aitest.Response{Status: 500}, aitest.Response{Status: 500})
		require.Equal(t, api.CodeProviderError, ae.Code)
		require.Contains(t, sys.Content, "OpenAI is unavailable right now (500)")
	})
	t.Run("cut mid-stream", func(t *testing.T) {
		h := newHarness(t)
		sys, ae, msgs := failure(t, h, aitest.Response{TokenCount: 20, CutAfter: 5})
		require.Contains(t, sys.Content, "cut mid-reply")
		partial := msgs[len(msgs)-2]
		require.Equal(t, api.MessageAIResponse, partial.MessageType)
		require.True(t, partial.Truncated)
		require.Equal(t, "t0 t1 t2 t3 t4 ", partial.Content)
		require.Equal(t, partial.ID, ae.MessageID)
	})
	t.Run("slow tokens timeout", func(t *testing.T) {
		h := newHarness(t, func(c *ai.Config) { c.Limits.ReplyTimeout = 400 * time.Millisecond })
		sys, _, msgs := failure(t, h, aitest.Response{TokenCount: 50, TokenDelay: 150 * time.Millisecond})
		require.Contains(t, sys.Content, "did not finish within 400ms")
		partial := msgs[len(msgs)-2]
		require.True(t, partial.Truncated)
		require.True(t, strings.HasPrefix(partial.Content, "t0 "))
	})
	t.Run("no key", func(t *testing.T) {
		h := newHarness(t)
		h.be.keys = map[string]ai.Credentials{}
		sys, ae, _ := failure(t, h)
		require.Equal(t, api.CodeNoAPIKey, ae.Code)
		require.Equal(t, "PM could not answer: No OpenAI API key: add one with `vc keys add openai`.", sys.Content)
		require.Empty(t, h.oa.Received())
	})
}

func TestOrchestrator_TwoProvidersAtOnce(t *testing.T) {
	h := newHarness(t)
	h.oa.SetDefault(aitest.Response{Text: "PM speaking here.", TokenDelay: 5 * time.Millisecond})
	h.an.SetDefault(aitest.Response{Text: "CTO speaking now.", TokenDelay: 5 * time.Millisecond})
	h.be.seat(1, h.pm.ID, h.cto.ID)
	h.send(1, "alice", "@pm @cto status?", nil, api.CreateMessageRequest{})
	evs := h.rec.waitFor(t, "two replies", func(e []wsproto.Event) bool { return count(e, wsproto.TypeAIDone) == 2 })
	byRole := map[int64]string{}
	for _, e := range evs {
		if e.Type == wsproto.TypeAIStart {
			byRole[*e.RoleID] = streamText(evs, e.StreamID)
		}
	}
	require.Equal(t, "PM speaking here.", byRole[h.pm.ID])
	require.Equal(t, "CTO speaking now.", byRole[h.cto.ID])
	require.Len(t, h.oa.Received(), 1)
	require.Len(t, h.an.Received(), 1)
}

func TestOrchestrator_KeyResolutionOrder(t *testing.T) {
	h := newHarness(t)
	// bob's PM-like role (owned by alice), bob has his own key.
	h.be.setKey(2, ai.ProviderOpenAI, "sk-bob-openai")
	reg := ai.NewRegistry()
	reg.Add(ai.ProviderEntry{Provider: aiopenai.New(aiopenai.Config{BaseURL: h.oa.URL}), ServerKey: ai.Credentials{APIKey: "sk-server"}})
	mk := func(allow bool) *ai.Orchestrator {
		o := ai.New(ai.Config{Registry: reg, Backend: h.be, Notifier: h.rec, AllowServerKey: allow})
		t.Cleanup(o.Close)
		return o
	}
	o := mk(true)
	ctx := context.Background()
	key := func(perMsg string, payer, owner int64) string {
		c, err := o.ResolveCall(ctx, "openai/gpt-4o", perMsg, payer, owner)
		if err != nil {
			return "error: " + err.Error()
		}
		return c.Cred.APIKey
	}
	require.Equal(t, "sk-once", key("sk-once", 2, 1), "per-message key first")
	require.Equal(t, "sk-bob-openai", key("", 2, 1), "then the triggering user's")
	require.Equal(t, "sk-alice-openai", key("", 3, 1), "then the role owner's")
	require.Equal(t, "sk-server", key("", 3, 4), "then the server's")
	o2 := mk(false)
	_, err := o2.ResolveCall(ctx, "openai/gpt-4o", "", 3, 4)
	var nk *ai.NoKeyError
	require.ErrorAs(t, err, &nk, "the server key only when allowed")

	// End to end: a per-message key is used for that one call only.
	h.oa.SetDefault(aitest.Response{Text: "ok"})
	h.send(2, "bob", "q1", &h.pm.ID, api.CreateMessageRequest{APIKey: "sk-one-shot"})
	h.rec.waitFor(t, "reply 1", func(e []wsproto.Event) bool { return ends(e) == 1 })
	h.send(2, "bob", "q2", &h.pm.ID, api.CreateMessageRequest{})
	h.rec.waitFor(t, "reply 2", func(e []wsproto.Event) bool { return ends(e) == 2 })
	rs := h.oa.Received()
	require.Equal(t, "Bearer sk-one-shot", rs[0].Auth)
	require.Equal(t, "Bearer sk-bob-openai", rs[1].Auth)
}

func TestOrchestrator_OpenRouterHeadersAndModelOverride(t *testing.T) {
	h := newHarness(t)
	h.be.setKey(1, ai.ProviderOpenRouter, "sk-or-alice")
	h.oa.SetDefault(aitest.Response{Text: "hi"})
	h.send(1, "alice", "hello", &h.pm.ID, api.CreateMessageRequest{Model: "openrouter/meta-llama/llama-3.1-70b-instruct"})
	h.rec.waitFor(t, "reply", func(e []wsproto.Event) bool { return ends(e) == 1 })
	r := h.oa.Received()[0]
	require.Equal(t, "meta-llama/llama-3.1-70b-instruct", r.Model)
	require.Equal(t, "Bearer sk-or-alice", r.Auth)
	require.Equal(t, "https://vc.test", r.Header.Get("HTTP-Referer"))
	require.Equal(t, "Virtual Company", r.Header.Get("X-Title"))
}

func TestOrchestrator_Limits(t *testing.T) {
	t.Run("concurrent per room", func(t *testing.T) {
		h := newHarness(t, func(c *ai.Config) { c.Limits.ConcurrentPerRoom = 1 })
		release := make(chan struct{})
		h.oa.SetHandler(func(aitest.Request) aitest.Response {
			<-release
			return aitest.Response{Text: "done"}
		})
		h.send(1, "alice", "a", &h.pm.ID, api.CreateMessageRequest{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := h.oa.Next(ctx)
		require.NoError(t, err)
		h.send(2, "bob", "b", &h.pm.ID, api.CreateMessageRequest{})
		evs := h.rec.waitFor(t, "limit error", func(e []wsproto.Event) bool { return count(e, wsproto.TypeAIError) == 1 })
		close(release)
		for _, e := range evs {
			if e.Type == wsproto.TypeAIError {
				require.Equal(t, api.CodeRateLimited, e.Code)
				require.Contains(t, e.Detail, "in this room (limit 1)")
			}
		}
		h.rec.waitFor(t, "first reply done", func(e []wsproto.Event) bool { return count(e, wsproto.TypeAIDone) == 1 })
	})
	t.Run("daily budget", func(t *testing.T) {
		h := newHarness(t, func(c *ai.Config) { c.Limits.DailyTokenBudget = 5 })
		h.oa.SetDefault(aitest.Response{Text: "one two three four five six"})
		h.send(1, "alice", "a", &h.pm.ID, api.CreateMessageRequest{})
		h.rec.waitFor(t, "reply", func(e []wsproto.Event) bool { return ends(e) == 1 })
		h.send(1, "alice", "b", &h.pm.ID, api.CreateMessageRequest{})
		evs := h.rec.waitFor(t, "budget error", func(e []wsproto.Event) bool { return ends(e) == 2 })
		last := evs[len(evs)-1]
		if last.Type != wsproto.TypeAIError {
			last = evs[len(evs)-2]
		}
		require.Equal(t, api.CodeBudgetExceeded, last.Code, describe(evs))
		require.Len(t, h.oa.Received(), 1)
	})
	t.Run("max tokens ceiling", func(t *testing.T) {
		h := newHarness(t, func(c *ai.Config) { c.Limits.MaxTokens = 100 })
		big := h.be.addRole(store.Role{ID: 12, UserID: 1, Name: "Big", Handle: "big", AIInstructions: "x", Model: "openai/gpt-4o", MaxTokens: ptr(5000)})
		h.oa.SetDefault(aitest.Response{Text: "ok"})
		h.send(1, "alice", "a", &big.ID, api.CreateMessageRequest{})
		h.rec.waitFor(t, "reply", func(e []wsproto.Event) bool { return ends(e) == 1 })
		require.Equal(t, 100, h.oa.Received()[0].MaxTokens)
	})
}

func TestMentions(t *testing.T) {
	require.Equal(t, []string{"pm", "cto"}, ai.Mentions("@PM, ask @cto. email a@b.c and @pm again"))
	require.Empty(t, ai.Mentions("no mentions, mail me at x@y.z"))
	require.Equal(t, []string{"dev-ops"}, ai.Mentions("(@dev-ops)"))
}

func TestBuildContext_Budget(t *testing.T) {
	role := store.Role{ID: 1, Name: "PM", Handle: "pm"}
	var hist []api.Message
	for i := range 10 {
		hist = append(hist, api.Message{ID: int64(i + 1), User: "u", Content: strings.Repeat("x", 100), MessageType: api.MessageText})
	}
	_, msgs := ai.BuildContext(ai.ContextInput{Role: role, RoomName: "r", History: hist, HistoryTokens: 60}) // 240 chars
	require.Len(t, msgs, 1)
	require.Equal(t, 2, strings.Count(msgs[0].Content, "u: "), "only the two newest fit")
}
