package call

import "testing"

func TestJitterBuffer(t *testing.T) {
	type step struct {
		push []uint16 // packets arriving before the pop
		want popResult
		seq  uint16 // the payload's seq on popOK
	}
	payload := func(s uint16) []byte { return []byte{byte(s >> 8), byte(s)} }
	seqOf := func(p []byte) uint16 { return uint16(p[0])<<8 | uint16(p[1]) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"buffers to target, then plays in order", []step{
			{push: []uint16{10}, want: popEmpty},
			{push: []uint16{11}, want: popOK, seq: 10},
			{push: []uint16{12}, want: popOK, seq: 11},
		}},
		{"reorders", []step{
			{push: []uint16{21, 20}, want: popOK, seq: 20},
			{push: []uint16{23, 22}, want: popOK, seq: 21},
			{want: popOK, seq: 22},
			{want: popOK, seq: 23},
		}},
		{"conceals a loss when later packets are there", []step{
			{push: []uint16{1, 2}, want: popOK, seq: 1},
			{push: []uint16{4}, want: popOK, seq: 2},
			{push: []uint16{5}, want: popLost},
			{want: popOK, seq: 4},
		}},
		{"wraps around", []step{
			{push: []uint16{65535, 0}, want: popOK, seq: 65535},
			{push: []uint16{1}, want: popOK, seq: 0},
			{want: popOK, seq: 1},
		}},
		{"runs dry: conceals a little, then goes quiet and rebuffers", []step{
			{push: []uint16{7, 8}, want: popOK, seq: 7},
			{want: popOK, seq: 8},
			{want: popLost}, {want: popLost}, {want: popLost},
			{want: popEmpty},
			{push: []uint16{30}, want: popEmpty},
			{push: []uint16{31}, want: popOK, seq: 30},
		}},
		{"drops late packets", []step{
			{push: []uint16{40, 41}, want: popOK, seq: 40},
			{push: []uint16{39, 42}, want: popOK, seq: 41},
			{want: popOK, seq: 42},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJitterBuffer(2, 10)
			for i, s := range tc.steps {
				for _, p := range s.push {
					j.push(p, payload(p))
				}
				p, _, res := j.pop()
				if res != s.want {
					t.Fatalf("step %d: got %v, want %v", i, res, s.want)
				}
				if res == popOK && seqOf(p) != s.seq {
					t.Fatalf("step %d: got seq %d, want %d", i, seqOf(p), s.seq)
				}
			}
		})
	}
}

func TestJitterBuffer_TrimsExcessDelay(t *testing.T) {
	j := newJitterBuffer(2, 20)
	seq := uint16(100)
	push := func() { j.push(seq, []byte{1}); seq++ }
	// A stall: 8 packets arrive at once, then one per tick.
	for range 8 {
		push()
	}
	for range 2 * shrinkWindow {
		push()
		if _, _, res := j.pop(); res != popOK {
			t.Fatalf("got %v while packets were buffered", res)
		}
	}
	if got := j.buffered(); got > 2 {
		t.Fatalf("still %d packets (%d ms) buffered after 2 s; trimmed %d", got, got*20, j.shrunk)
	}
}
