package ai_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/secrets"
	"github.com/virtual-company/vc/server/servertest"
)

// env is a real vcd wired to fake providers, with two members in a room.
type env struct {
	d          *servertest.Daemon
	oa, an     *aitest.Server
	alice, bob *client.Client
	aliceID    int64
	room       api.Room
}

func startEnv(t *testing.T, mutate func(*config.Config), opts ...servertest.Option) *env {
	t.Helper()
	e := &env{oa: aitest.New(t, aitest.OpenAI), an: aitest.New(t, aitest.Anthropic)}
	opts = append(opts, servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = e.oa.URL
		c.LLM.OpenRouter.BaseURL = e.oa.URL
		c.LLM.Anthropic.BaseURL = e.an.URL
		c.LLM.AllowServerKey = false
		if mutate != nil {
			mutate(c)
		}
	}))
	e.d = servertest.Start(t, opts...)
	ctx := context.Background()
	a := e.d.Register("alice")
	b := e.d.Register("bob")
	e.aliceID = a.User.ID
	var err error
	e.alice, err = client.New(e.d.URL, client.WithToken(a.Token))
	require.NoError(t, err)
	e.bob, err = client.New(e.d.URL, client.WithToken(b.Token))
	require.NoError(t, err)
	e.room, err = e.alice.CreateRoom(ctx, "Launch")
	require.NoError(t, err)
	_, err = e.alice.AddMember(ctx, e.room.ID, "bob")
	require.NoError(t, err)
	return e
}

// watcher collects a member's stream events.
type watcher struct {
	t      *testing.T
	s      *client.Stream
	events []wsproto.Event
}

func (e *env) watch(t *testing.T, c *client.Client) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := c.OpenStream(ctx, e.room.ID, client.StreamOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return &watcher{t: t, s: s}
}

// until reads events until pred holds over all events so far.
func (w *watcher) until(what string, pred func([]wsproto.Event) bool) []wsproto.Event {
	w.t.Helper()
	deadline := time.After(30 * time.Second)
	for !pred(w.events) {
		select {
		case ev, ok := <-w.s.Events():
			if !ok {
				w.t.Fatalf("stream closed while waiting for %s; events: %s", what, describe(w.events))
			}
			w.events = append(w.events, ev)
		case <-deadline:
			w.t.Fatalf("timed out waiting for %s; events: %s", what, describe(w.events))
		}
	}
	return w.events
}

func doneCount(n int) func([]wsproto.Event) bool {
	return func(evs []wsproto.Event) bool { return ends(evs) >= n }
}

func TestVCD_MentionStreamsToEveryMember(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := startEnv(t, nil, opts...)
		ctx := context.Background()
		e.oa.SetDefault(aitest.Response{Text: "We ship on Friday, if QA agrees.", TokenDelay: time.Millisecond})
		temp := 0.2
		pm, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "PM", AIInstructions: "You are a pragmatic product manager.",
			Handle: "pm", Model: "openai/gpt-4o-mini", Temperature: &temp})
		require.NoError(t, err)
		k, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-SECRET-9876"})
		require.NoError(t, err)
		require.Equal(t, "9876", k.LastFour)
		_, err = e.alice.SeatRole(ctx, e.room.ID, pm.ID)
		require.NoError(t, err)
		_, err = e.alice.SeatRole(ctx, e.room.ID, pm.ID)
		var ce *client.Error
		require.True(t, errors.As(err, &ce) && ce.StatusCode == 409, "seating twice: %v", err)

		// Bob sees the seated role without its instructions.
		rs, err := e.bob.ListRoomRoles(ctx, e.room.ID)
		require.NoError(t, err)
		require.Len(t, rs, 1)
		require.Equal(t, "pm", rs[0].Handle)
		require.Empty(t, rs[0].AIInstructions)
		got, err := e.bob.GetRole(ctx, pm.ID)
		require.NoError(t, err, "a seated role is visible to members")
		require.Empty(t, got.AIInstructions)

		wa, wb := e.watch(t, e.alice), e.watch(t, e.bob)
		_, err = e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "Morning all"})
		require.NoError(t, err)
		q, err := e.bob.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "@pm when do we ship?"})
		require.NoError(t, err)

		var stored api.Message
		for _, w := range []*watcher{wa, wb} {
			evs := w.until("ai_done", doneCount(1))
			var sid string
			var deltas []string
			var order []string
			for _, ev := range evs {
				switch ev.Type {
				case wsproto.TypeAIStart:
					sid = ev.StreamID
					require.Equal(t, q.ID, ev.ReplyTo)
					require.Equal(t, pm.ID, *ev.RoleID)
					order = append(order, ev.Type)
				case wsproto.TypeAIDelta:
					require.Equal(t, sid, ev.StreamID)
					deltas = append(deltas, ev.Delta)
					if order[len(order)-1] != wsproto.TypeAIDelta {
						order = append(order, ev.Type)
					}
				case wsproto.TypeMessage:
					if ev.MessageType == api.MessageAIResponse {
						order = append(order, ev.Type)
						stored = api.Message{ID: ev.ID, Content: ev.Content, User: ev.User, RoleID: ev.RoleID, Seq: ev.Seq}
					}
				case wsproto.TypeAIDone:
					order = append(order, ev.Type)
					require.Equal(t, stored.ID, ev.MessageID)
					require.NotNil(t, ev.Usage)
				}
			}
			require.Equal(t, []string{"ai_start", "ai_delta", "message", "ai_done"}, order)
			require.Equal(t, aitest.SplitWords("We ship on Friday, if QA agrees."), deltas, "deltas in order")
			require.Equal(t, strings.Join(deltas, ""), stored.Content)
			require.Equal(t, "PM", stored.User)
		}
		// The stored message through REST.
		msgs, err := e.bob.ListMessages(ctx, e.room.ID, client.MessageQuery{})
		require.NoError(t, err)
		last := msgs[len(msgs)-1]
		require.Equal(t, api.MessageAIResponse, last.MessageType)
		require.Equal(t, "We ship on Friday, if QA agrees.", last.Content)
		require.Equal(t, pm.ID, *last.RoleID)
		require.False(t, last.Truncated)

		// What the provider received: alice's key (the role owner's; bob has
		// none), the model, the instructions and room preamble, the history.
		r := e.oa.Received()[0]
		require.Equal(t, "Bearer sk-alice-SECRET-9876", r.Auth)
		require.Equal(t, "gpt-4o-mini", r.Model)
		require.InDelta(t, 0.2, *r.Temperature, 1e-9)
		require.True(t, strings.HasPrefix(r.System, "You are a pragmatic product manager."))
		require.Contains(t, r.System, `"Launch"`)
		require.Contains(t, r.System, "alice, bob")
		require.Equal(t, []aitest.Message{{Role: "user", Content: "alice: Morning all\nbob: @pm when do we ship?"}}, r.Messages)

		// Usage is recorded against bob, who asked.
		u, err := e.bob.Usage(ctx)
		require.NoError(t, err)
		require.Len(t, u.Rows, 1)
		require.Equal(t, "openai/gpt-4o-mini", u.Rows[0].Model)
		require.Equal(t, int64(1), u.Rows[0].Replies)
		require.Equal(t, int64(7), u.Rows[0].OutputTokens)
		require.Positive(t, u.UsedToday)

		// Keys are listed without the key, and never stored in plain text.
		ks, err := e.alice.ListKeys(ctx)
		require.NoError(t, err)
		require.Len(t, ks, 1)
		require.Equal(t, "openai", ks[0].Provider)
		require.Equal(t, "9876", ks[0].LastFour)
		if !strings.HasPrefix(e.d.Config.DatabaseURL, "postgres") {
			assertNotInFiles(t, e.d.Config.DatabaseURL, "sk-alice-SECRET-9876")
		}
	})
}

// assertNotInFiles checks the SQLite database, its WAL and shared memory.
func assertNotInFiles(t *testing.T, dbPath, secret string) {
	t.Helper()
	seen := 0
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		seen++
		require.False(t, bytes.Contains(b, []byte(secret)), "%s holds the key in plain text", filepath.Base(p))
		require.False(t, bytes.Contains(b, []byte("SECRET-9876")), "%s holds part of the key", filepath.Base(p))
	}
	require.Positive(t, seen, "no database file at %s", dbPath)
}

func TestVCD_FailuresAndCancel(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.LLM.ReplyTimeout = 2 * time.Second })
	ctx := context.Background()
	pm, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "PM", AIInstructions: "PM.", Model: "openai/gpt-4o"})
	require.NoError(t, err)
	w := e.watch(t, e.bob)
	ask := func() {
		_, err := e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "hi", RoleID: &pm.ID})
		require.NoError(t, err)
	}
	systemAfter := func(n int) func([]wsproto.Event) bool {
		return func(evs []wsproto.Event) bool {
			c := 0
			for _, ev := range evs {
				if ev.Type == wsproto.TypeMessage && ev.MessageType == api.MessageSystem {
					c++
				}
			}
			return c >= n
		}
	}
	lastSystem := func(evs []wsproto.Event) string {
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Type == wsproto.TypeMessage && evs[i].MessageType == api.MessageSystem {
				return evs[i].Content
			}
		}
		return ""
	}

	// No key at all (server keys are off).
	ask()
	evs := w.until("no-key system message", systemAfter(1))
	require.Equal(t, "PM could not answer: No OpenAI API key: add one with `vc keys add openai`.", lastSystem(evs))
	require.Empty(t, e.oa.Received())

	// A per-message key works for that one call and is not kept.
	e.oa.Enqueue(aitest.Response{Text: "with a one-shot key"})
	_, err = e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "hi", RoleID: &pm.ID, APIKey: "sk-once-1111"})
	require.NoError(t, err)
	w.until("one-shot reply", func(evs []wsproto.Event) bool { return count(evs, wsproto.TypeAIDone) == 1 })
	require.Equal(t, "Bearer sk-once-1111", e.oa.Received()[0].Auth)
	ks, err := e.alice.ListKeys(ctx)
	require.NoError(t, err)
	require.Empty(t, ks)

	_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-0000"})
	require.NoError(t, err)

	// 401.
	e.oa.Enqueue(aitest.Response{Status: 401, ErrorMessage: "Incorrect API key"})
	ask()
	evs = w.until("401 system message", systemAfter(2))
	require.Equal(t, "PM could not answer: OpenAI rejected the key (401): check it, then replace it with `vc keys add openai`.", lastSystem(evs))

	// A stream cut mid-way keeps the partial text, truncated.
	e.oa.Enqueue(aitest.Response{TokenCount: 10, CutAfter: 3})
	ask()
	evs = w.until("cut system message", systemAfter(3))
	require.Contains(t, lastSystem(evs), "cut mid-reply")
	var partial wsproto.Event
	for _, ev := range evs {
		if ev.Type == wsproto.TypeMessage && ev.MessageType == api.MessageAIResponse && ev.Truncated {
			partial = ev
		}
	}
	require.Equal(t, "t0 t1 t2 ", partial.Content)

	// Slow tokens run into the reply timeout.
	e.oa.Enqueue(aitest.Response{TokenCount: 100, TokenDelay: 500 * time.Millisecond})
	ask()
	evs = w.until("timeout system message", systemAfter(4))
	require.Contains(t, lastSystem(evs), "did not finish within 2s")

	// Cancel from another member's socket.
	e.oa.Enqueue(aitest.Response{TokenCount: 1000, TokenDelay: 20 * time.Millisecond})
	ask()
	before := len(w.events)
	evs = w.until("deltas", func(evs []wsproto.Event) bool { return count(evs[before:], wsproto.TypeAIDelta) >= 2 })
	var sid string
	for _, ev := range evs[before:] {
		if ev.Type == wsproto.TypeAIStart {
			sid = ev.StreamID
		}
	}
	require.NoError(t, w.s.CancelAI(ctx, sid))
	evs = w.until("cancelled", func(evs []wsproto.Event) bool {
		for _, ev := range evs[before:] {
			if ev.Type == wsproto.TypeAIError && ev.StreamID == sid {
				return true
			}
		}
		return false
	})
	var cancelled wsproto.Event
	for _, ev := range evs[before:] {
		if ev.Type == wsproto.TypeAIError {
			cancelled = ev
		}
	}
	require.Equal(t, "canceled", cancelled.Code)
	msgs, err := e.alice.ListMessages(ctx, e.room.ID, client.MessageQuery{})
	require.NoError(t, err)
	last := msgs[len(msgs)-1]
	require.True(t, last.Truncated)
	require.Equal(t, streamText(evs, sid), last.Content)
	require.Equal(t, cancelled.MessageID, last.ID)
}

func TestVCD_GenerateKeysModels(t *testing.T) {
	e := startEnv(t, nil)
	ctx := context.Background()
	e.an.SetModels(aitest.ModelInfo{ID: "claude-live-1", Name: "Claude Live"})
	e.oa.SetModels(aitest.ModelInfo{ID: "gpt-live", ContextLength: 64000})

	// Without keys: the built-in catalogue only.
	ms, err := e.alice.ListModels(ctx, false)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for _, m := range ms {
		require.NotEqual(t, "anthropic/claude-live-1", m.ID)
	}
	// Generate without a key: 400 with the code.
	_, err = e.alice.Generate(ctx, api.GenerateRequest{Prompt: "hi", Model: "anthropic/claude-3-5-haiku-latest"})
	var ce *client.Error
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, 400, ce.StatusCode)
	require.Equal(t, api.CodeNoAPIKey, ce.Code)

	// Bad input.
	for _, body := range []api.CreateKeyRequest{{Provider: "nope", APIKey: "x"}, {Provider: "openai"}, {Provider: "openai", APIKey: "a b"}} {
		_, err = e.alice.AddKey(ctx, body)
		require.True(t, errors.As(err, &ce) && ce.StatusCode == 422, "%+v: %v", body, err)
	}
	_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "anthropic", APIKey: "sk-ant-abcd"})
	require.NoError(t, err)

	// Live list for the provider alice has a key for, cached, refreshable.
	ms, err = e.alice.ListModels(ctx, false)
	require.NoError(t, err)
	var live *api.Model
	for i := range ms {
		if ms[i].ID == "anthropic/claude-live-1" {
			live = &ms[i]
		}
		require.NotEqual(t, "openai/gpt-live", ms[i].ID, "no openai key, no live openai list")
	}
	require.NotNil(t, live)
	require.Equal(t, "Claude Live", live.Name)
	_, err = e.alice.ListModels(ctx, false)
	require.NoError(t, err)
	require.Equal(t, 1, e.an.ModelListCalls(), "cached")
	_, err = e.alice.ListModels(ctx, true)
	require.NoError(t, err)
	require.Equal(t, 2, e.an.ModelListCalls(), "refresh=true refetches")

	// One-shot generate, JSON then stream.
	e.an.SetDefault(aitest.Response{Text: "Forty two."})
	out, err := e.alice.Generate(ctx, api.GenerateRequest{Prompt: "meaning?", Model: "anthropic/claude-3-5-haiku-latest", System: "Be terse."})
	require.NoError(t, err)
	require.Equal(t, "Forty two.", out.Content)
	require.Equal(t, "anthropic/claude-3-5-haiku-latest", out.Model)
	r := e.an.Received()[0]
	require.Equal(t, "sk-ant-abcd", r.Auth)
	require.Equal(t, "Be terse.", r.System)
	require.Equal(t, []aitest.Message{{Role: "user", Content: "meaning?"}}, r.Messages)

	var deltas []string
	var final api.GenerateChunk
	err = e.alice.GenerateStream(ctx, api.GenerateRequest{Prompt: "again", Model: "anthropic/claude-3-5-haiku-latest"}, func(ch api.GenerateChunk) error {
		if ch.Done {
			final = ch
		} else {
			deltas = append(deltas, ch.Delta)
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"Forty ", "two."}, deltas)
	require.True(t, final.Done)
	require.NotNil(t, final.Usage)

	// A provider failure mid-stream ends the stream with an error chunk.
	e.an.Enqueue(aitest.Response{Status: 500}, aitest.Response{Status: 500}, aitest.Response{Status: 500})
	err = e.alice.GenerateStream(ctx, api.GenerateRequest{Prompt: "x", Model: "anthropic/claude-3-5-haiku-latest"}, func(api.GenerateChunk) error { return nil })
	var se *client.StreamError
	require.True(t, errors.As(err, &se), "%v", err)
	require.Contains(t, se.Detail, "Anthropic is unavailable")

	// 429 on the JSON endpoint, with Retry-After.
	e.an.Enqueue(aitest.Response{Status: 429}, aitest.Response{Status: 429}, aitest.Response{Status: 429})
	_, err = e.alice.Generate(ctx, api.GenerateRequest{Prompt: "x", Model: "anthropic/claude-3-5-haiku-latest"})
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, 429, ce.StatusCode)
	require.Equal(t, api.CodeProviderLimited, ce.Code)

	// Delete the key: back to no key.
	ks, err := e.alice.ListKeys(ctx)
	require.NoError(t, err)
	require.NoError(t, e.alice.DeleteKey(ctx, ks[0].ID))
	require.True(t, errors.As(e.bob.DeleteKey(ctx, ks[0].ID), &ce) && ce.StatusCode == 404)
	ks, err = e.alice.ListKeys(ctx)
	require.NoError(t, err)
	require.Empty(t, ks)
}

func TestVCD_SeatingRules(t *testing.T) {
	e := startEnv(t, nil)
	ctx := context.Background()
	bobRole, err := e.bob.CreateRole(ctx, api.CreateRoleRequest{Name: "Lawyer", AIInstructions: "secret sauce"})
	require.NoError(t, err)
	aliceRole, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "CTO", AIInstructions: "x"})
	require.NoError(t, err)
	var ce *client.Error
	// Bob cannot seat alice's role; alice's role is not visible to him.
	_, err = e.bob.SeatRole(ctx, e.room.ID, aliceRole.ID)
	require.True(t, errors.As(err, &ce) && ce.StatusCode == 422, "%v", err)
	// Bob seats his own; alice sees it without instructions.
	_, err = e.bob.SeatRole(ctx, e.room.ID, bobRole.ID)
	require.NoError(t, err)
	rs, err := e.alice.ListRoomRoles(ctx, e.room.ID)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Empty(t, rs[0].AIInstructions)
	rs, err = e.bob.ListRoomRoles(ctx, e.room.ID)
	require.NoError(t, err)
	require.Equal(t, "secret sauce", rs[0].AIInstructions)
	// A stranger sees nothing.
	carol := e.d.Register("carol")
	cc, err := client.New(e.d.URL, client.WithToken(carol.Token))
	require.NoError(t, err)
	_, err = cc.ListRoomRoles(ctx, e.room.ID)
	require.True(t, errors.As(err, &ce) && ce.StatusCode == 404, "%v", err)
	// The room's creator may unseat anyone's role.
	require.NoError(t, e.alice.UnseatRole(ctx, e.room.ID, bobRole.ID))
	err = e.alice.UnseatRole(ctx, e.room.ID, bobRole.ID)
	require.True(t, errors.As(err, &ce) && ce.StatusCode == 404, "%v", err)
}

func TestVCD_OpenRouterCustomEndpointAndOpenAPI(t *testing.T) {
	local := aitest.New(t, aitest.OpenAI)
	local.SetDefault(aitest.Response{Text: "local answer"})
	e := startEnv(t, func(c *config.Config) {
		c.LLM.OpenRouter.Referer, c.LLM.OpenRouter.Title = "https://vc.example", "VC Test"
		c.LLM.Custom = []config.CustomProvider{{Name: "local", BaseURL: local.URL, Models: []string{"llama3"}}}
	})
	ctx := context.Background()
	e.oa.SetDefault(aitest.Response{Text: "routed"})
	_, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openrouter", APIKey: "sk-or-alice"})
	require.NoError(t, err)
	or, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "Router", Handle: "router", AIInstructions: "x", Model: "openrouter/meta-llama/llama-3.1-70b-instruct"})
	require.NoError(t, err)
	loc, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "Local", Handle: "local", AIInstructions: "y", Model: "local/llama3"})
	require.NoError(t, err)
	for _, id := range []int64{or.ID, loc.ID} {
		_, err = e.alice.SeatRole(ctx, e.room.ID, id)
		require.NoError(t, err)
	}
	w := e.watch(t, e.bob)
	_, err = e.bob.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "@router and @local, hello"})
	require.NoError(t, err)
	evs := w.until("two replies", func(evs []wsproto.Event) bool { return count(evs, wsproto.TypeAIDone) == 2 })
	require.Equal(t, 0, count(evs, wsproto.TypeAIError), describe(evs))

	r := e.oa.Received()[0]
	require.Equal(t, "meta-llama/llama-3.1-70b-instruct", r.Model)
	require.Equal(t, "Bearer sk-or-alice", r.Auth)
	require.Equal(t, "https://vc.example", r.Header.Get("HTTP-Referer"))
	require.Equal(t, "VC Test", r.Header.Get("X-Title"))
	lr := local.Received()[0]
	require.Equal(t, "llama3", lr.Model)
	require.Empty(t, lr.Auth, "a custom endpoint without a key gets no Authorization header")

	ms, err := e.alice.ListModels(ctx, false)
	require.NoError(t, err)
	found := false
	for _, m := range ms {
		found = found || m.ID == "local/llama3"
	}
	require.True(t, found, "custom models are listed")

	status, body := e.d.Do("GET", "/openapi.json", "", nil)
	require.Equal(t, 200, status)
	for _, p := range []string{`"/api/keys"`, `"/api/keys/{id}"`, `"/api/usage"`, `"/api/llm/generate"`, `"/api/rooms/{id}/roles"`, `"/api/rooms/{id}/roles/{role_id}"`} {
		require.Contains(t, string(body), p)
	}
}

func TestVCD_SecretRotationReseals(t *testing.T) {
	const oldSecret, newSecret = "old-secret-0123456789abcdef-0123456789", "new-secret-0123456789abcdef-0123456789"
	e := startEnv(t, func(c *config.Config) { c.SecretKey = oldSecret })
	ctx := context.Background()
	e.oa.SetDefault(aitest.Response{Text: "ok"})
	_, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-rotate-1234"})
	require.NoError(t, err)
	pm, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "PM", AIInstructions: "x", Model: "openai/gpt-4o"})
	require.NoError(t, err)

	ask := func(n int) {
		t.Helper()
		tok, err := e.d.Login("alice", "password-alice") // tokens are signed with the secret
		require.NoError(t, err)
		c, err := client.New(e.d.URL, client.WithToken(tok.AccessToken))
		require.NoError(t, err)
		_, err = c.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "hi", RoleID: &pm.ID})
		require.NoError(t, err)
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for len(e.oa.Received()) < n {
			_, err := e.oa.Next(rctx)
			require.NoError(t, err, "reply %d never reached the provider", n)
		}
		require.Equal(t, "Bearer sk-rotate-1234", e.oa.Received()[n-1].Auth)
	}
	ask(1)

	e.d.Config.SecretKey = newSecret
	e.d.Config.LLM.PreviousSecretKeys = []string{oldSecret}
	e.d.Restart()
	ask(2)
	ks, err := e.d.Server().Store().APIKeys(ctx, e.aliceID)
	require.NoError(t, err)
	kr, err := secrets.New([]byte(newSecret))
	require.NoError(t, err)
	require.Equal(t, kr.Version(), ks[0].KeyVersion, "re-sealed under the new secret at start")

	e.d.Config.LLM.PreviousSecretKeys = nil
	e.d.Restart()
	ask(3)
}

func TestVCD_GenerateLimits(t *testing.T) {
	e := startEnv(t, func(c *config.Config) {
		c.LLM.DailyTokenBudget = 5
		c.LLM.AllowServerKey = true
		c.LLM.OpenAI.APIKey = "sk-server-key"
	})
	ctx := context.Background()
	e.oa.SetDefault(aitest.Response{Text: "one two three four five six"})
	out, err := e.alice.Generate(ctx, api.GenerateRequest{Prompt: "count", Model: "openai/gpt-4o-mini"})
	require.NoError(t, err)
	require.Equal(t, "one two three four five six", out.Content)
	require.Equal(t, "Bearer sk-server-key", e.oa.Received()[0].Auth, "the server's key when allowed")
	u, err := e.alice.Usage(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(5), u.DailyBudget)
	require.GreaterOrEqual(t, u.UsedToday, int64(6))

	_, err = e.alice.Generate(ctx, api.GenerateRequest{Prompt: "again", Model: "openai/gpt-4o-mini"})
	var ce *client.Error
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, 429, ce.StatusCode)
	require.Equal(t, api.CodeBudgetExceeded, ce.Code)
	require.Len(t, e.oa.Received(), 1)
	// Bob's budget is his own.
	_, err = e.bob.Generate(ctx, api.GenerateRequest{Prompt: "hi", Model: "openai/gpt-4o-mini"})
	require.NoError(t, err)
	// Validation.
	_, err = e.bob.Generate(ctx, api.GenerateRequest{Prompt: " "})
	require.True(t, errors.As(err, &ce) && ce.StatusCode == 422 && ce.Field == "prompt", "%v", err)
	_, err = e.bob.Generate(ctx, api.GenerateRequest{Prompt: "x", Model: "nonsense-model"})
	require.True(t, errors.As(err, &ce) && ce.StatusCode == 400, "%v", err)
}
