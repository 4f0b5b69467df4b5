package call

import "sync"

// popResult says what the jitter buffer had for the next 20 ms.
type popResult int

const (
	popEmpty popResult = iota // nothing to play (not started, buffering, or the peer is silent)
	popOK                     // the next packet
	popLost                   // the next packet is missing but later ones arrived: conceal it
)

// jitterBuffer reorders a peer's RTP packets by sequence number and releases
// one per 20 ms tick once target packets are buffered. A missing packet with
// later ones present is reported lost (to be concealed); when the buffer runs
// dry it conceals a few frames, then goes quiet and buffers again.
type jitterBuffer struct {
	mu      sync.Mutex
	target  int // packets buffered before playing starts
	max     int // packets buffered before the oldest are skipped
	packets map[uint16][]byte
	next    uint16
	started bool
	playing bool
	dry     int // consecutive ticks with an empty buffer while playing

	// Latency control: the fewest packets left after a pop over the last
	// shrinkWindow pops. When even that minimum is above target-1 the
	// buffer holds more delay than it needs and the excess is skipped.
	window, minLeft int

	late, overflow, shrunk int64 // packets dropped: too late / too many buffered / latency trimmed
}

// shrinkWindow is how many 20 ms ticks (1 s) the buffer must have been
// too deep before it is trimmed.
const shrinkWindow = 50

// maxDryConceal is how many frames are concealed when a peer's stream stops
// before playing goes quiet.
const maxDryConceal = 3

func newJitterBuffer(target, max int) *jitterBuffer {
	if target < 1 {
		target = 1
	}
	if max < target+2 {
		max = target + 2
	}
	return &jitterBuffer{target: target, max: max, packets: map[uint16][]byte{}}
}

// seqBefore reports whether a comes before b in wrapping uint16 order.
func seqBefore(a, b uint16) bool { return a != b && b-a < 0x8000 }

// push adds a packet's payload (which the buffer keeps).
func (j *jitterBuffer) push(seq uint16, payload []byte) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.playing && seqBefore(seq, j.next) {
		j.late++
		return
	}
	if _, dup := j.packets[seq]; dup {
		return
	}
	j.packets[seq] = payload
	if !j.started || (!j.playing && seqBefore(seq, j.next)) {
		j.next, j.started = seq, true
	}
	for len(j.packets) > j.max {
		// Too far behind (a burst after a stall): skip the oldest.
		j.skipOldest()
		j.overflow++
	}
}

func (j *jitterBuffer) skipOldest() {
	oldest, first := uint16(0), true
	for s := range j.packets {
		if first || seqBefore(s, oldest) {
			oldest, first = s, false
		}
	}
	delete(j.packets, oldest)
	if !seqBefore(oldest+1, j.next) {
		j.next = oldest + 1
	}
	if next, ok := j.lowest(); ok && seqBefore(j.next, next) && !j.playing {
		j.next = next
	}
}

func (j *jitterBuffer) lowest() (uint16, bool) {
	low, found := uint16(0), false
	for s := range j.packets {
		if !found || seqBefore(s, low) {
			low, found = s, true
		}
	}
	return low, found
}

// pop returns what to play for the next tick; on popLost, fec is the payload
// of the packet after the lost one when it is there (for in-band FEC).
func (j *jitterBuffer) pop() (payload []byte, fec []byte, res popResult) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.playing {
		if len(j.packets) < j.target {
			return nil, nil, popEmpty
		}
		j.playing, j.dry = true, 0
		if low, ok := j.lowest(); ok {
			j.next = low
		}
	}
	if p, ok := j.packets[j.next]; ok {
		delete(j.packets, j.next)
		j.next++
		j.dry = 0
		j.trim()
		return p, nil, popOK
	}
	if len(j.packets) > 0 {
		fec = j.packets[j.next+1]
		j.next++
		j.dry = 0
		return nil, fec, popLost
	}
	// Dry: conceal a little, then go quiet and rebuffer.
	j.dry++
	if j.dry > maxDryConceal {
		j.playing = false
		return nil, nil, popEmpty
	}
	j.next++
	return nil, nil, popLost
}

// trim skips the excess when the buffer stayed deeper than needed for a
// whole window (after a stall's burst, say): that delay would otherwise
// stay for the rest of the call.
func (j *jitterBuffer) trim() {
	left := len(j.packets)
	if j.window == 0 || left < j.minLeft {
		j.minLeft = left
	}
	j.window++
	if j.window < shrinkWindow {
		return
	}
	for excess := j.minLeft - (j.target - 1); excess > 0; excess-- {
		if _, ok := j.packets[j.next]; !ok {
			break
		}
		delete(j.packets, j.next)
		j.next++
		j.shrunk++
	}
	j.window = 0
}

// buffered returns how many packets wait.
func (j *jitterBuffer) buffered() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.packets)
}
