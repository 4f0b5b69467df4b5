package ai_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/ai/aitest"
	aiopenai "github.com/virtual-company/vc/server/ai/openai"
	"github.com/virtual-company/vc/server/store"
)

// chanPub forwards the orchestrator's events to a channel.
type chanPub struct{ ch chan wsproto.Event }

func (p chanPub) Publish(_ int64, ev wsproto.Event) { p.ch <- ev }

func reportPercentiles(b *testing.B, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) == 0 {
		return
	}
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-us")
}

// BenchmarkFirstDelta_Direct is the time to the first token calling the
// fake provider with the SDK, as vcd does.
func BenchmarkFirstDelta_Direct(b *testing.B) {
	fake := aitest.New(b, aitest.OpenAI)
	fake.SetDefault(aitest.Response{TokenCount: 3})
	p := aiopenai.New(aiopenai.Config{BaseURL: fake.URL})
	req := ai.ChatRequest{Model: "m", System: "s", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "alice: go"}}}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		var first time.Duration
		if _, err := p.StreamChat(context.Background(), ai.Credentials{APIKey: "k"}, req, func(string) error {
			if first == 0 {
				first = time.Since(t0)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, first)
	}
	reportPercentiles(b, ds)
}

// BenchmarkFirstDelta_Orchestrator is the time from MessageCreated to the
// first ai_delta published, with an in-memory backend: what the
// orchestration adds to the direct call, without the database.
func BenchmarkFirstDelta_Orchestrator(b *testing.B) {
	fake := aitest.New(b, aitest.OpenAI)
	fake.SetDefault(aitest.Response{TokenCount: 3})
	rec := newRecorder()
	be := newMemBackend(rec)
	reg := ai.NewRegistry()
	reg.Add(ai.ProviderEntry{Provider: aiopenai.New(aiopenai.Config{BaseURL: fake.URL})})
	pub := chanPub{ch: make(chan wsproto.Event, 64)}
	o := ai.New(ai.Config{Registry: reg, Backend: be, Notifier: pub, Limits: ai.Limits{PerUserPerMinute: -1}})
	b.Cleanup(o.Close)
	room := api.Room{ID: 1, Name: "r"}
	be.members[1] = []store.Member{{RoomID: 1, UserID: 1, Username: "alice"}}
	role := be.addRole(store.Role{ID: 10, UserID: 1, Name: "PM", Handle: "pm", AIInstructions: "x", Model: "openai/gpt-4o-mini"})
	be.setKey(1, ai.ProviderOpenAI, "k")
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		if i%500 == 0 {
			b.StopTimer()
			be.mu.Lock()
			be.msgs[1] = nil
			be.mu.Unlock()
			b.StartTimer()
		}
		m := be.human(1, 1, "alice", "go", &role.ID)
		t0 := time.Now()
		o.MessageCreated(context.Background(), room, m, api.CreateMessageRequest{}, nil)
		var first time.Duration
		for ev := range pub.ch {
			if ev.Type == wsproto.TypeAIDelta && first == 0 {
				first = time.Since(t0)
			}
			if ev.Type == wsproto.TypeAIDone || ev.Type == wsproto.TypeAIError {
				break
			}
		}
		ds = append(ds, first)
	}
	reportPercentiles(b, ds)
}
