package ai_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/ai/aitest"
	aianthropic "github.com/virtual-company/vc/server/ai/anthropic"
	aiopenai "github.com/virtual-company/vc/server/ai/openai"
)

type providerCase struct {
	name   string
	flavor aitest.Flavor
	make   func(url string) ai.Provider
	auth   func(key string) string
}

func providerCases() []providerCase {
	return []providerCase{
		{"openai", aitest.OpenAI, func(u string) ai.Provider {
			return aiopenai.New(aiopenai.Config{BaseURL: u, MaxRetries: 2})
		}, func(k string) string { return "Bearer " + k }},
		{"anthropic", aitest.Anthropic, func(u string) ai.Provider {
			return aianthropic.New(aianthropic.Config{BaseURL: u, MaxRetries: 2})
		}, func(k string) string { return k }},
	}
}

func collect(t *testing.T, p ai.Provider, ctx context.Context, req ai.ChatRequest) (string, ai.Result, error) {
	t.Helper()
	var sb strings.Builder
	res, err := p.StreamChat(ctx, ai.Credentials{APIKey: "sk-test-1234"}, req, func(d string) error {
		sb.WriteString(d)
		return nil
	})
	return sb.String(), res, err
}

func TestProviders_StreamAndRequestShape(t *testing.T) {
	for _, pc := range providerCases() {
		t.Run(pc.name, func(t *testing.T) {
			fake := aitest.New(t, pc.flavor)
			fake.SetDefault(aitest.Response{Text: "Hi there, how can I help?"})
			p := pc.make(fake.URL)
			temp := 0.3
			got, res, err := collect(t, p, context.Background(), ai.ChatRequest{
				Model: "m-1", System: "Be brief.", MaxTokens: 50, Temperature: &temp,
				Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "alice: hello"}, {Role: ai.TurnAssistant, Content: "hi"}, {Role: ai.TurnUser, Content: "bob: and?"}},
			})
			require.NoError(t, err)
			require.Equal(t, "Hi there, how can I help?", got)
			require.False(t, res.Truncated)
			require.Equal(t, int64(6), res.Usage.OutputTokens)
			require.Positive(t, res.Usage.InputTokens)
			rs := fake.Received()
			require.Len(t, rs, 1)
			r := rs[0]
			require.Equal(t, "m-1", r.Model)
			require.Equal(t, "Be brief.", r.System)
			require.Equal(t, pc.auth("sk-test-1234"), r.Auth)
			require.Equal(t, 50, r.MaxTokens)
			require.NotNil(t, r.Temperature)
			require.InDelta(t, 0.3, *r.Temperature, 1e-9)
			require.True(t, r.Stream)
			require.Equal(t, []aitest.Message{{Role: "user", Content: "alice: hello"}, {Role: "assistant", Content: "hi"}, {Role: "user", Content: "bob: and?"}}, r.Messages)
			if pc.flavor == aitest.OpenAI {
				require.True(t, r.IncludeUsage)
			}
		})
	}
}

func TestProviders_Errors(t *testing.T) {
	cases := []struct {
		name   string
		resp   []aitest.Response
		want   error
		status int
		calls  int
	}{
		{"401", []aitest.Response{{Status: 401, ErrorMessage: "bad key sk-test-1234"}}, ai.ErrAuth, 401, 1},
		{"400", []aitest.Response{{Status: 400, ErrorMessage: "no such model"}}, ai.ErrBadRequest, 400, 1},
		{"429 always", []aitest.Response{{Status: 429}, {Status: 429}, {Status: 429}}, ai.ErrRateLimited, 429, 3},
		{"500 always", []aitest.Response{{Status: 500}, {Status: 500}, {Status: 500}}, ai.ErrUnavailable, 500, 3},
		{"cut", []aitest.Response{{TokenCount: 10, CutAfter: 4}}, ai.ErrUnavailable, 0, 1},
	}
	for _, pc := range providerCases() {
		for _, tc := range cases {
			t.Run(pc.name+"/"+tc.name, func(t *testing.T) {
				fake := aitest.New(t, pc.flavor)
				fake.Enqueue(tc.resp...)
				got, _, err := collect(t, pc.make(fake.URL), context.Background(), ai.ChatRequest{Model: "m", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "x"}}})
				require.ErrorIs(t, err, tc.want)
				var ae *ai.Error
				require.True(t, errors.As(err, &ae))
				require.Equal(t, tc.status, ae.Status)
				require.Len(t, fake.Received(), tc.calls)
				require.NotContains(t, err.Error(), "sk-test-1234")
				if tc.name == "cut" {
					require.Equal(t, "t0 t1 t2 t3 ", got)
				}
			})
		}
	}
}

func TestProviders_429ThenSuccess(t *testing.T) {
	for _, pc := range providerCases() {
		t.Run(pc.name, func(t *testing.T) {
			fake := aitest.New(t, pc.flavor)
			fake.Enqueue(aitest.Response{Status: 429}, aitest.Response{Text: "ok now"})
			got, _, err := collect(t, pc.make(fake.URL), context.Background(), ai.ChatRequest{Model: "m", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "x"}}})
			require.NoError(t, err)
			require.Equal(t, "ok now", got)
			require.Len(t, fake.Received(), 2)
		})
	}
}

func TestProviders_TimeoutAndCancel(t *testing.T) {
	for _, pc := range providerCases() {
		t.Run(pc.name+"/timeout", func(t *testing.T) {
			fake := aitest.New(t, pc.flavor)
			fake.SetDefault(aitest.Response{TokenCount: 100, TokenDelay: time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			got, _, err := collect(t, pc.make(fake.URL), ctx, ai.ChatRequest{Model: "m", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "x"}}})
			require.ErrorIs(t, err, ai.ErrTimeout)
			require.Equal(t, "t0 ", got)
		})
		t.Run(pc.name+"/cancel", func(t *testing.T) {
			fake := aitest.New(t, pc.flavor)
			fake.SetDefault(aitest.Response{TokenCount: 100, TokenDelay: 20 * time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			_, err := pc.make(fake.URL).StreamChat(ctx, ai.Credentials{APIKey: "k"}, ai.ChatRequest{Model: "m", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "x"}}}, func(string) error {
				n++
				if n == 3 {
					cancel()
				}
				return nil
			})
			require.ErrorIs(t, err, ai.ErrCanceled)
			require.Less(t, n, 100)
		})
	}
}

func TestProviders_OpenRouterHeadersAndModels(t *testing.T) {
	fake := aitest.New(t, aitest.OpenAI)
	fake.SetModels(aitest.ModelInfo{ID: "meta/llama-3", Name: "Llama 3", ContextLength: 8192})
	p := aiopenai.New(aiopenai.Config{ID: ai.ProviderOpenRouter, BaseURL: fake.URL, Headers: aiopenai.OpenRouterHeaders("https://vc.example", "Virtual Company")})
	_, _, err := collect(t, p, context.Background(), ai.ChatRequest{Model: "meta/llama-3", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "x"}}})
	require.NoError(t, err)
	r := fake.Received()[0]
	require.Equal(t, "https://vc.example", r.Header.Get("HTTP-Referer"))
	require.Equal(t, "Virtual Company", r.Header.Get("X-Title"))
	ms, err := p.ListModels(context.Background(), ai.Credentials{APIKey: "k"})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, "openrouter/meta/llama-3", ms[0].ID)
	require.Equal(t, "Llama 3", ms[0].Name)
	require.Equal(t, 8192, ms[0].ContextLength)

	an := aitest.New(t, aitest.Anthropic)
	an.SetModels(aitest.ModelInfo{ID: "claude-x", Name: "Claude X"})
	ms, err = aianthropic.New(aianthropic.Config{BaseURL: an.URL}).ListModels(context.Background(), ai.Credentials{APIKey: "k"})
	require.NoError(t, err)
	require.Equal(t, "anthropic/claude-x", ms[0].ID)
	require.Equal(t, "Claude X", ms[0].Name)
}
