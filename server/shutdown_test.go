package server_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// TestShutdown_DrainsRequestInProgress: a request whose handler is running
// when the shutdown begins gets its whole answer, while the listener
// stops accepting at once; the shutdown then succeeds (servertest's Stop
// fails the test otherwise).
func TestShutdown_DrainsRequestInProgress(t *testing.T) {
	fake := aitest.New(t, aitest.OpenAI)
	entered, release := make(chan struct{}), make(chan struct{})
	fake.SetHandler(func(aitest.Request) aitest.Response {
		close(entered)
		<-release
		return aitest.Response{Text: "finished after the shutdown began"}
	})
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = fake.URL
		c.LLM.OpenAI.APIKey = "sk-server"
	}))
	acct := d.Register("alice")
	c, err := client.New(d.URL, client.WithToken(acct.Token))
	require.NoError(t, err)

	type result struct {
		out api.GenerateResponse
		err error
	}
	answered := make(chan result, 1)
	go func() {
		out, err := c.Generate(context.Background(), api.GenerateRequest{Prompt: "hi", Model: "openai/gpt-4o-mini"})
		answered <- result{out, err}
	}()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the request did not reach the provider")
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); d.Stop() }()

	// New connections are refused while the request is still running.
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err != nil {
			break
		}
		_ = conn.Close()
		require.True(t, time.Now().Before(deadline), "vcd kept accepting connections after the shutdown began")
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-answered:
		t.Fatalf("request ended before its handler did: %+v", r)
	default:
	}

	close(release)
	r := <-answered
	require.NoError(t, r.err)
	require.Equal(t, "finished after the shutdown began", r.out.Content)
	<-stopped
}
