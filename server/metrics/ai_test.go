package metrics_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/metrics"
)

// fakeProvider streams deltas then ends with res and err; it stops when
// onDelta refuses a delta, as the real providers do.
type fakeProvider struct {
	deltas []string
	res    ai.Result
	err    error
}

func (f *fakeProvider) ID() string { return "openai" }

func (f *fakeProvider) StreamChat(_ context.Context, _ ai.Credentials, _ ai.ChatRequest, onDelta func(string) error) (ai.Result, error) {
	for _, d := range f.deltas {
		if err := onDelta(d); err != nil {
			return f.res, err
		}
	}
	return f.res, f.err
}

func (f *fakeProvider) ListModels(context.Context, ai.Credentials) ([]api.Model, error) {
	return nil, nil
}

func TestMetrics_AIReplies(t *testing.T) {
	m := metrics.New("test")
	fake := &fakeProvider{}
	reg := ai.NewRegistry()
	reg.Add(ai.ProviderEntry{Provider: fake})
	m.InstrumentRegistry(reg)
	e, ok := reg.Get("openai")
	require.True(t, ok)
	require.Equal(t, "openai", e.Provider.ID())
	call := func(model string, onDelta func(string) error) {
		_, _ = e.Provider.StreamChat(context.Background(), ai.Credentials{}, ai.ChatRequest{Model: model}, onDelta)
	}
	accept := func(string) error { return nil }

	fake.deltas, fake.res = []string{"a", "b"}, ai.Result{Usage: ai.Usage{InputTokens: 10, OutputTokens: 7}}
	call("gpt-4o-mini-2024-07-18", accept)
	fake.res = ai.Result{Truncated: true} // no usage reported: one token per delta
	call("gpt-4o-mini", accept)
	fake.deltas, fake.res, fake.err = nil, ai.Result{}, &ai.Error{Kind: ai.KindRateLimit, Provider: "openai", Status: 429}
	call("gpt-4o-mini", accept)
	fake.deltas, fake.err = []string{"x", "y"}, nil
	call("gpt-4o-mini", func(string) error { return errors.New("dropped") })
	fake.deltas, fake.err = nil, &ai.Error{Kind: ai.KindCanceled, Provider: "openai"}
	call("my-private-finetune-v3", accept)

	reps := m.Registry()
	r := metricsRegistryValue(t, reps)
	require.Equal(t, 1.0, r(`vcd_ai_replies_total{model_family="gpt-4o-mini",outcome="ok",provider="openai"}`))
	require.Equal(t, 1.0, r(`vcd_ai_replies_total{model_family="gpt-4o-mini",outcome="truncated",provider="openai"}`))
	require.Equal(t, 1.0, r(`vcd_ai_replies_total{model_family="gpt-4o-mini",outcome="error",provider="openai"}`))
	require.Equal(t, 1.0, r(`vcd_ai_replies_total{model_family="gpt-4o-mini",outcome="canceled",provider="openai"}`))
	require.Equal(t, 1.0, r(`vcd_ai_replies_total{model_family="other",outcome="canceled",provider="openai"}`))
	require.Equal(t, 1.0, r(`vcd_ai_provider_errors_total{kind="rate_limit",provider="openai"}`))
	require.Equal(t, 0.0, r(`vcd_ai_provider_errors_total{kind="other",provider="openai"}`), "a cancellation is not a provider error")
	require.Equal(t, 10.0, r(`vcd_ai_tokens_total{direction="input",model_family="gpt-4o-mini",provider="openai"}`))
	require.Equal(t, 7.0+2+1, r(`vcd_ai_tokens_total{direction="output",model_family="gpt-4o-mini",provider="openai"}`))
	// First tokens: the two ok/truncated streams and the stopped one.
	require.Equal(t, 3.0, r(`vcd_ai_time_to_first_token_seconds_count{model_family="gpt-4o-mini",provider="openai"}`))
	require.Equal(t, 4.0, r(`vcd_ai_reply_duration_seconds_count{model_family="gpt-4o-mini",provider="openai"}`))
	require.Equal(t, 1, testutil.CollectAndCount(reps, "vcd_ai_provider_errors_total"))
}

func TestModelFamily(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o":                            "gpt-4o",
		"gpt-4o-2024-08-06":                 "gpt-4o",
		"gpt-4o-mini":                       "gpt-4o-mini",
		"GPT-4.1-nano":                      "gpt-4.1-nano",
		"gpt-5":                             "gpt-5",
		"o3-mini":                           "o3-mini",
		"o1":                                "o1",
		"claude-sonnet-4-5":                 "claude-sonnet",
		"claude-3-5-haiku-latest":           "claude-haiku",
		"anthropic/claude-3.5-sonnet":       "claude-sonnet",
		"meta-llama/llama-3.1-70b-instruct": "llama",
		"mistral-large":                     "mistral",
		"deepseek-chat":                     "deepseek",
		"my-private-finetune-v3":            "other",
		"":                                  "other",
	} {
		require.Equal(t, want, metrics.ModelFamily(model), model)
	}
}
