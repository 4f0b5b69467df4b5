package call

import (
	"testing"
	"time"
)

func TestStats_LossAndJitter(t *testing.T) {
	var s statsState
	t0 := time.Unix(1_800_000_000, 0) // a realistic epoch: float precision matters
	for i := range 100 {
		seq := uint16(65500 + i) // wraps past 65535
		if i == 30 || i == 60 {
			continue // lost
		}
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		s.receivedPacket(seq, uint32(i*960), at)
	}
	got := s.snapshot()
	if got.PacketsReceived != 98 || got.PacketsLost != 2 {
		t.Fatalf("received %d lost %d, want 98 and 2", got.PacketsReceived, got.PacketsLost)
	}
	if got.Loss < 0.019 || got.Loss > 0.021 {
		t.Fatalf("loss %v, want 0.02", got.Loss)
	}
	if got.Jitter > 10*time.Microsecond {
		t.Fatalf("jitter %v for perfectly paced packets", got.Jitter)
	}

	// Packets arriving 5 ms early and late in turn: RFC 3550 jitter
	// converges to 10 ms (the transit difference of consecutive packets).
	var j statsState
	for i := range 500 {
		off := 5 * time.Millisecond
		if i%2 == 0 {
			off = -off
		}
		j.receivedPacket(uint16(i), uint32(i*960), t0.Add(time.Duration(i)*20*time.Millisecond+off))
	}
	if jit := j.snapshot().Jitter; jit < 9*time.Millisecond || jit > 11*time.Millisecond {
		t.Fatalf("jitter %v, want about 10ms", jit)
	}
}
