package metrics

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/virtual-company/vc/server/ai"
)

// Outcomes of vcd_ai_replies_total.
const (
	AIOk        = "ok"
	AITruncated = "truncated"
	AICanceled  = "canceled"
	AIError     = "error"
)

// InstrumentRegistry wraps every provider of reg so that each streamed
// reply is measured: outcome, time to first token, duration, tokens and
// provider errors. Call it after the registry is filled, before serving.
func (m *Metrics) InstrumentRegistry(reg *ai.Registry) {
	if m == nil {
		return
	}
	for _, id := range reg.IDs() {
		e, ok := reg.Get(id)
		if !ok {
			continue
		}
		e.Provider = &provider{Provider: e.Provider, m: m}
		reg.Add(e)
	}
}

// provider measures the StreamChat calls of the provider it wraps.
type provider struct {
	ai.Provider
	m *Metrics
}

func (p *provider) StreamChat(ctx context.Context, cred ai.Credentials, req ai.ChatRequest, onDelta func(string) error) (ai.Result, error) {
	start := time.Now()
	var first time.Duration
	var deltas int64
	stopped := false
	res, err := p.Provider.StreamChat(ctx, cred, req, func(d string) error {
		if deltas == 0 {
			first = time.Since(start)
		}
		deltas++
		if err := onDelta(d); err != nil {
			stopped = true // the orchestrator stopped the stream
			return err
		}
		return nil
	})
	p.m.aiReply(p.ID(), req.Model, time.Since(start), first, deltas, res, err, stopped)
	return res, err
}

// aiReply records one provider call.
func (m *Metrics) aiReply(providerID, model string, total, first time.Duration, deltas int64, res ai.Result, err error, stopped bool) {
	family := ModelFamily(model)
	outcome := AIOk
	var pe *ai.Error
	switch {
	case err == nil && res.Truncated:
		outcome = AITruncated
	case err == nil:
	case stopped, errors.Is(err, ai.ErrCanceled), errors.Is(err, context.Canceled):
		outcome = AICanceled
	default:
		outcome = AIError
		kind := "other"
		if errors.As(err, &pe) {
			kind = errorKind(pe.Kind)
		} else if errors.Is(err, context.DeadlineExceeded) {
			kind = "timeout"
		}
		m.aiProviderErr.WithLabelValues(providerID, kind).Inc()
	}
	m.aiReplies.WithLabelValues(providerID, family, outcome).Inc()
	m.aiDuration.WithLabelValues(providerID, family).Observe(total.Seconds())
	if deltas > 0 {
		m.aiFirstToken.WithLabelValues(providerID, family).Observe(first.Seconds())
	}
	out := res.Usage.OutputTokens
	if out == 0 {
		out = deltas // providers that report no usage: one token per delta, as the orchestrator bills
	}
	if res.Usage.InputTokens > 0 {
		m.aiTokens.WithLabelValues(providerID, family, "input").Add(float64(res.Usage.InputTokens))
	}
	if out > 0 {
		m.aiTokens.WithLabelValues(providerID, family, "output").Add(float64(out))
	}
}

func errorKind(k ai.ErrorKind) string {
	switch k {
	case ai.KindUnavailable:
		return "unavailable"
	case ai.KindAuth:
		return "auth"
	case ai.KindRateLimit:
		return "rate_limit"
	case ai.KindBadRequest:
		return "bad_request"
	case ai.KindTimeout:
		return "timeout"
	}
	return "other"
}

// modelFamilies are the model families known by name, tried in order; a
// model id matching none is "other", so that a user's custom endpoint with
// arbitrary model names cannot grow the label set.
var modelFamilies = []string{
	"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-4", "gpt-5", "gpt-3.5", "gpt-oss", "o1", "o3", "o4",
	"claude", "gemini", "gemma", "llama", "mixtral", "mistral", "codestral", "qwen", "deepseek",
	"grok", "command", "phi",
}

// ModelFamily reduces a model id (with or without a vendor prefix such as
// OpenRouter's "anthropic/") to a family from a fixed set: gpt-4o,
// gpt-4o-mini, claude-sonnet, llama, ... or "other".
func ModelFamily(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, f := range modelFamilies {
		if !strings.HasPrefix(m, f) {
			continue
		}
		switch {
		case f == "claude":
			for _, tier := range []string{"opus", "sonnet", "haiku"} {
				if strings.Contains(m, tier) {
					return "claude-" + tier
				}
			}
			return f
		case strings.HasPrefix(f, "gpt-") || f[0] == 'o':
			for _, size := range []string{"mini", "nano"} {
				if strings.Contains(m, "-"+size) {
					return f + "-" + size
				}
			}
		}
		return f
	}
	return "other"
}
