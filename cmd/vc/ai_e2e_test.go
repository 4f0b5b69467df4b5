package main_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// aiDaemon starts vcd with its OpenAI provider pointed at a fake.
func aiDaemon(t *testing.T) (*servertest.Daemon, *aitest.Server) {
	t.Helper()
	fake := aitest.New(t, aitest.OpenAI)
	fake.SetDefault(aitest.Response{Text: "Looks good to me.", TokenDelay: time.Millisecond})
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI = config.ProviderConfig{APIKey: "sk-fake-server-key", BaseURL: fake.URL}
		c.LLM.DefaultModel = "openai/gpt-4o-mini"
	}))
	return d, fake
}

// served reports whether the daemon serves method path (not a 404/405 from
// the router), for endpoints other issues are still adding.
func served(d *servertest.Daemon, method, path, token string, body any) bool {
	status, _ := d.Do(method, path, token, body)
	return status != http.StatusNotFound && status != http.StatusMethodNotAllowed
}

// lastRequest returns the newest chat request the fake received.
func lastRequest(t *testing.T, fake *aitest.Server) aitest.Request {
	t.Helper()
	rs := fake.Received()
	require.NotEmpty(t, rs, "the provider received nothing")
	return rs[len(rs)-1]
}

// userText concatenates the user turns of a request.
func userText(r aitest.Request) string {
	var sb strings.Builder
	for _, m := range r.Messages {
		if m.Role == "user" {
			sb.WriteString(m.Content)
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func TestAsk_OneShotStreamsFromFakeProvider(t *testing.T) {
	t.Parallel()
	d, fake := aiDaemon(t)
	probe := d.Register("probe")
	if !served(d, "POST", "/api/llm/generate", probe.Token, api.GenerateRequest{Prompt: "x", Stream: true}) {
		t.Skip("vcd does not serve POST /api/llm/generate yet")
	}
	c := newCLI(t, d.URL)
	c.register("alice")

	// --raw prints exactly the streamed answer.
	require.Equal(t, "Looks good to me.", c.ok("", "ask", "--raw", "what is a mutex?"))
	require.Contains(t, userText(lastRequest(t, fake)), "what is a mutex?")

	// Piped stdin is appended to the prompt as context; --role sets the
	// system prompt; without --raw the answer ends with a newline.
	c.ok("", "roles", "create", "--name", "Reviewer", "--handle", "reviewer", "--instructions", "You review code.")
	out := c.ok("diff --git a/x b/x\n+new line\n", "ask", "--role", "reviewer", "review this")
	require.Equal(t, "Looks good to me.\n", out)
	req := lastRequest(t, fake)
	require.Contains(t, req.System, "You review code.")
	txt := userText(req)
	require.Contains(t, txt, "review this")
	require.Contains(t, txt, "+new line")
	require.Less(t, strings.Index(txt, "review this"), strings.Index(txt, "+new line"), "stdin comes after the prompt")

	// -m picks the model; --json reports the answer.
	var res struct {
		Content string `json:"content"`
		Model   string `json:"model"`
	}
	c.jsonOut(&res, "", "ask", "-m", "openai/gpt-4o", "hi", "--json")
	require.Equal(t, "Looks good to me.", res.Content)
	require.Equal(t, "gpt-4o", strings.TrimPrefix(lastRequest(t, fake).Model, "openai/"))

	// A provider failure is an error with the server's words, exit 1.
	fake.Enqueue(aitest.Response{Status: 401, ErrorMessage: "invalid api key"})
	r := c.run("", "ask", "again")
	require.Equal(t, 1, r.code, r.String())
	require.NotEmpty(t, strings.TrimSpace(r.stderr))
}

func TestAsk_ConversationsInPrivateRooms(t *testing.T) {
	t.Parallel()
	d, fake := aiDaemon(t)
	probe := d.Register("probe")
	var room api.Room
	status, _ := d.Do("POST", "/api/rooms/", probe.Token, api.CreateRoomRequest{Name: "probe"})
	require.Equal(t, 201, status)
	_ = room
	if !served(d, "GET", "/api/rooms/1/roles", probe.Token, nil) {
		t.Skip("vcd does not serve /api/rooms/{id}/roles yet")
	}
	c := newCLI(t, d.URL)
	c.register("alice")
	c.ok("", "roles", "create", "--name", "Architect", "--handle", "architect", "--instructions", "You design systems.")

	fake.Enqueue(aitest.Response{Text: "Shard by room id."})
	out := c.ok("", "ask", "--room", "design", "--role", "architect", "how should we shard rooms?")
	require.Equal(t, "Shard by room id.\n", out)
	fake.Enqueue(aitest.Response{Text: "Migrate one shard at a time."})
	out = c.ok("", "ask", "-c", "and how would we migrate?")
	require.Equal(t, "Migrate one shard at a time.\n", out)

	// The second question saw the first exchange as context.
	req := lastRequest(t, fake)
	require.Contains(t, req.System, "You design systems.")
	var all strings.Builder
	for _, m := range req.Messages {
		all.WriteString(m.Role + ": " + m.Content + "\n")
	}
	require.Contains(t, all.String(), "how should we shard rooms?")
	require.Contains(t, all.String(), "Shard by room id.")

	// The conversation is a private room with the role seated.
	var hist []api.Message
	c.jsonOut(&hist, "", "history", "design", "--json")
	require.Len(t, hist, 4, "%+v", hist)
	require.Equal(t, []string{api.MessageText, api.MessageAIResponse, api.MessageText, api.MessageAIResponse},
		[]string{hist[0].MessageType, hist[1].MessageType, hist[2].MessageType, hist[3].MessageType})
	require.Equal(t, "Migrate one shard at a time.", hist[3].Content)
	var members []api.Member
	c.jsonOut(&members, "", "rooms", "members", "design", "--json")
	require.Len(t, members, 1)

	// send --wait prints a role's reply to a message addressed to it (the
	// conversation seated the role).
	r := c.run("", "roles", "seat", "design", "architect")
	require.Equal(t, 1, r.code, "seated twice: %s", r)
	fake.Enqueue(aitest.Response{Text: "Yes, with consistent hashing."})
	out = c.ok("", "send", "design", "--role", "architect", "--wait", "any hashing?")
	require.Equal(t, "Yes, with consistent hashing.\n", out)
}

func TestKeys_AddListRemove(t *testing.T) {
	t.Parallel()
	d, fake := aiDaemon(t)
	probe := d.Register("probe")
	if !served(d, "GET", "/api/keys", probe.Token, nil) {
		t.Skip("vcd does not serve /api/keys yet")
	}
	c := newCLI(t, d.URL)
	c.register("alice")
	var k api.APIKey
	c.jsonOut(&k, "sk-user-key-abcd9876\n", "keys", "add", "openai", "--json")
	require.Equal(t, "openai", k.Provider)
	require.Equal(t, "9876", k.LastFour)
	list := c.ok("", "keys", "list")
	require.Contains(t, list, "openai")
	require.NotContains(t, list, "sk-user-key", "the key is never shown")

	// The user's key pays for the user's asks.
	if served(d, "POST", "/api/llm/generate", probe.Token, api.GenerateRequest{Prompt: "x"}) {
		c.ok("", "ask", "hello")
		require.Contains(t, lastRequest(t, fake).Auth, "sk-user-key-abcd9876")
	}
	c.ok("", "keys", "rm", fmt.Sprint(k.ID), "--yes")
	require.Equal(t, "[]\n", c.ok("", "keys", "list", "--json"))
}

func TestAsk_CtrlCStopsTheStream(t *testing.T) {
	t.Parallel()
	d, fake := aiDaemon(t)
	probe := d.Register("probe")
	if !served(d, "POST", "/api/llm/generate", probe.Token, api.GenerateRequest{Prompt: "x", Stream: true}) {
		t.Skip("vcd does not serve POST /api/llm/generate yet")
	}
	c := newCLI(t, d.URL)
	c.register("alice")
	// A slow answer: 1000 tokens, 50 ms apart.
	fake.Enqueue(aitest.Response{TokenCount: 1000, TokenDelay: 50 * time.Millisecond})
	before := len(fake.Received())
	ask := c.start("ask", "--raw", "tell me everything")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, err := fake.Next(ctx)
		require.NoError(t, err, "the provider never got the request")
		if len(fake.Received()) > before {
			break
		}
	}
	require.NoError(t, ask.cmd.Process.Signal(syscall.SIGINT))
	require.Equal(t, 2, ask.exitCode(t), "stderr: %s", ask.stderr)
	require.Contains(t, ask.stderr.String(), "cancelled")
}
