package meeting_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
)

// BenchmarkMeeting_Handoff runs 3-role, 3-round round-robin meetings
// against the fake OpenAI provider (50 tokens per turn, 1 ms apart). It
// reports handoff-p50-ms and handoff-p90-ms, the time vcd adds between one
// turn's last token (the fake wrote the end of the stream) and the next
// turn's request reaching the provider; wall-ms, a meeting from POST to
// meeting_end; provider-ms, the sum of its provider calls (turns and
// minutes); and overhead-ms, wall minus provider. Run it with:
//
//	go test -run '^$' -bench Meeting_Handoff -benchtime 20x ./server/meeting
func BenchmarkMeeting_Handoff(b *testing.B) {
	e := startEnv(b, "openai", func(c *config.Config) { c.LLM.RepliesPerMinute = 1_000_000 })
	ctx := context.Background()
	e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
		return aitest.Response{TokenCount: 50, TokenDelay: time.Millisecond}
	}
	var gaps []time.Duration
	var wall, provider time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := len(e.oa.Calls())
		w := watch(b, e.alice, e.room.ID)
		t0 := time.Now()
		m, err := e.alice.StartMeeting(ctx, e.room.ID, api.StartMeetingRequest{Topic: fmt.Sprint("Meeting ", i), Roles: refs("pm", "cto", "law"), Rounds: 3})
		if err != nil {
			b.Fatal(err)
		}
		evs := w.ended()
		wall += time.Since(t0)
		w.close()
		if st := ofType(evs, wsproto.TypeMeetingEnd)[0].Status; st != api.MeetingDone {
			b.Fatalf("meeting %d ended %s", m.ID, st)
		}
		calls := e.oa.Calls()[before:]
		// The fake notes a call's end in its handler's goroutine, which
		// on a loaded machine may run a little after the client read it.
		for deadline := time.Now().Add(5 * time.Second); !allEnded(calls); {
			if time.Now().After(deadline) {
				b.Fatal("a provider call never ended")
			}
			time.Sleep(time.Millisecond)
			calls = e.oa.Calls()[before:]
		}
		for j, c := range calls {
			provider += c.End.Sub(c.At)
			if j > 0 && c.Tool == "" {
				gaps = append(gaps, c.At.Sub(calls[j-1].End))
			}
		}
	}
	b.StopTimer()
	slices.Sort(gaps)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(gaps[len(gaps)/2]), "handoff-p50-ms")
	b.ReportMetric(ms(gaps[len(gaps)*9/10]), "handoff-p90-ms")
	b.ReportMetric(ms(wall)/float64(b.N), "wall-ms")
	b.ReportMetric(ms(provider)/float64(b.N), "provider-ms")
	b.ReportMetric(ms(wall-provider)/float64(b.N), "overhead-ms")
}

func allEnded(calls []aitest.Call) bool {
	for _, c := range calls {
		if c.End.IsZero() {
			return false
		}
	}
	return true
}
