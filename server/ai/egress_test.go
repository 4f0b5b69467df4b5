package ai_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/config"
)

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		public bool
	}{
		{"8.8.8.8", true}, {"93.184.216.34", true}, {"2606:4700:4700::1111", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"127.0.0.1", false}, {"127.1.2.3", false}, {"::1", false},
		{"10.0.0.1", false}, {"172.16.5.4", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"fe80::1%eth0", false},
		{"fc00::1", false}, {"fd12:3456::1", false},
		{"0.0.0.0", false}, {"::", false}, {"0.1.2.3", false},
		{"224.0.0.1", false}, {"239.255.255.250", false}, {"ff02::1", false}, {"ff05::2", false},
		{"255.255.255.255", false}, {"100.64.0.1", false}, {"198.18.0.1", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:169.254.169.254", false}, {"::ffff:10.1.1.1", false},
		{"64:ff9b::a00:1", false}, // NAT64 of 10.0.0.1
		{"2002:7f00:1::1", false}, // 6to4 of 127.0.0.1
	} {
		ip := netip.MustParseAddr(tc.ip)
		require.Equal(t, tc.public, ai.PublicAddr(ip), tc.ip)
	}
}

func requireStatus(t *testing.T, err error, status int) *client.Error {
	t.Helper()
	var ce *client.Error
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, status, ce.StatusCode, ce.Detail)
	return ce
}

// Keys added by users reach public addresses only: an IP literal that is
// not public is refused when the key is added, a name that resolves to one
// is refused when connecting (issue 12, point 4).
func TestVCD_UserBaseURLPublicOnly(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.LLM.MaxRetries = 0 })
	ctx := context.Background()
	for _, u := range []string{
		"http://127.0.0.1:8080/v1", "http://127.0.0.2/", "http://[::1]:11434/v1", "http://169.254.169.254/latest/meta-data",
		"http://10.0.0.5/v1", "http://172.16.0.1/", "http://192.168.0.10:8000/v1", "http://[fc00::1]/", "http://[fd00:ec2::254]/",
		"http://[fe80::1%25eth0]/", "http://[::ffff:127.0.0.1]/v1", "http://[::ffff:a9fe:a9fe]/", "http://0.0.0.0:8000/",
		"http://[::]/", "http://224.0.0.1/", "https://[ff02::1]/",
	} {
		_, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-x", BaseURL: u})
		ce := requireStatus(t, err, 422)
		require.Equal(t, "base_url", ce.Field, u)
		require.Contains(t, ce.Detail, "public", u)
	}
	ks, err := e.alice.ListKeys(ctx)
	require.NoError(t, err)
	require.Empty(t, ks)

	// A public literal is stored (nothing is dialled when adding).
	_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "anthropic", APIKey: "sk-x", BaseURL: "https://93.184.216.34/"})
	require.NoError(t, err)

	// A name that resolves to loopback (the fake provider's port): stored,
	// but never connected to; the user is told plainly.
	_, port, err := net.SplitHostPort(e.oa.Addr())
	require.NoError(t, err)
	_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice", BaseURL: "http://localhost:" + port + "/v1"})
	require.NoError(t, err)
	_, err = e.alice.Generate(ctx, api.GenerateRequest{Prompt: "hi", Model: "openai/gpt-4o-mini"})
	ce := requireStatus(t, err, 502)
	require.Contains(t, ce.Detail, "your endpoint could not be reached")
	require.Contains(t, ce.Detail, "private or internal address")
	require.NotContains(t, ce.Detail, port)
	require.NotContains(t, ce.Detail, "127.0.0.1")

	// The same in a room: the reply fails with the same words.
	pm, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "PM", AIInstructions: "PM.", Model: "openai/gpt-4o-mini"})
	require.NoError(t, err)
	w := e.watch(t, e.alice)
	_, err = e.alice.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "hi", RoleID: &pm.ID})
	require.NoError(t, err)
	evs := w.until("ai_error", func(evs []wsproto.Event) bool { return ends(evs) == 1 })
	last := evs[len(evs)-1]
	require.Equal(t, wsproto.TypeAIError, last.Type, describe(evs))
	require.Contains(t, last.Detail, "your endpoint could not be reached")
	require.Empty(t, e.oa.Received(), "nothing reached the internal address")

	// The server's own base URLs (loopback fakes here) are trusted.
	_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice"})
	require.NoError(t, err)
	out, err := e.alice.Generate(ctx, api.GenerateRequest{Prompt: "hi", Model: "openai/gpt-4o-mini"})
	require.NoError(t, err)
	require.NotEmpty(t, out.Content)
}

// With llm.allow_private_base_urls the operator lets keys point inside; a
// user's endpoint that gives no HTTP answer still reads the same whether
// the port is closed, drops the connection or never answers.
func TestVCD_UserEndpointErrorsHideSocketDetails(t *testing.T) {
	e := startEnv(t, func(c *config.Config) {
		c.LLM.AllowPrivateBaseURLs = true
		c.LLM.MaxRetries = 0
		c.LLM.ReplyTimeout = time.Second
	})
	ctx := context.Background()
	_, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-own", BaseURL: e.oa.URL})
	require.NoError(t, err, "opted in: a loopback endpoint is accepted")
	_, err = e.alice.Generate(ctx, api.GenerateRequest{Prompt: "hi", Model: "openai/gpt-4o-mini"})
	require.NoError(t, err)
	require.Equal(t, "Bearer sk-alice-own", e.oa.Received()[0].Auth)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	require.NoError(t, closed.Close())
	drop := listen(t, func(c net.Conn) { _ = c.Close() })
	hang := listen(t, func(c net.Conn) { t.Cleanup(func() { _ = c.Close() }) })

	var details []string
	for _, addr := range []string{closedAddr, drop, hang} {
		_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-own", BaseURL: "http://" + addr + "/v1"})
		require.NoError(t, err)
		_, err = e.alice.Generate(ctx, api.GenerateRequest{Prompt: "hi", Model: "openai/gpt-4o-mini"})
		ce := requireStatus(t, err, 502)
		_, port, _ := net.SplitHostPort(addr)
		for _, leak := range []string{port, "refused", "reset", "EOF", "timeout", "dial", "tcp"} {
			require.NotContains(t, ce.Detail, leak, addr)
		}
		require.Contains(t, ce.Detail, "your endpoint could not be reached")
		details = append(details, ce.Detail)
	}
	require.Equal(t, details[0], details[1], "closed and dropping ports read the same")
	require.Equal(t, details[0], details[2], "closed and silent ports read the same")
}

// listen accepts connections on 127.0.0.1 and hands each to f.
func listen(t *testing.T, f func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f(c)
		}
	}()
	return ln.Addr().String()
}
