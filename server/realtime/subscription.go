package realtime

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// CloseNormal is the normal close code (1000).
const CloseNormal = 1000

// Frame is one encoded event, shared by every socket it is queued for.
type Frame struct {
	// Data is the event's JSON.
	Data []byte
	// wire is Data framed as one server-to-client text frame, built once
	// for every socket; for the rest of a partly written frame it is those
	// bytes and Data is nil.
	wire []byte
}

// NewFrame wraps an encoded event.
func NewFrame(data []byte) *Frame {
	wire := appendFrame(make([]byte, 0, len(data)+10), opText, data)
	return &Frame{Data: wire[len(wire)-len(data):], wire: wire}
}

// Subscription is one socket's place in a room: a bounded queue of encoded
// events and the socket's writer. The writer goroutine runs only while there
// is something to write (SetWriter), so an idle socket costs no writer stack
// and no queue memory.
type Subscription struct {
	RoomID   int64
	UserID   int64
	Username string

	hub  *Hub
	room *hubRoom
	// shard is the subscription's fan-out shard in its room, for life.
	shard int
	max   int
	wake  chan struct{}

	mu          sync.Mutex
	queue       []queued
	skipThrough int64 // message events with seq <= this are not sent
	closing     bool
	drain       bool // send what is queued before closing
	closeCode   int
	closeReason string
	onClose     func()
	// Slow-consumer drop: dropDepth is the queue depth at the drop;
	// interrupt cuts short a write the writer may be blocked in, so that
	// the close frame goes out ahead of what was queued; aborting tells
	// the writer so.
	dropDepth int
	interrupt func()
	aborting  atomic.Bool

	// Lazy writer (SetWriter): write runs in its own goroutine while
	// writing is true; pings are requested by pingTimer. direct, when set,
	// writes to the socket without waiting: an event for a socket with
	// nothing queued goes out from the goroutine that fans it out, and only
	// what the socket cannot take at once waits for the writer.
	direct    func([]byte) (int, error)
	write     func()
	writing   bool
	writers   sync.WaitGroup
	pingDue   bool
	pong      *string // payload of a client ping to answer
	pingEvery time.Duration
	pingTimer *time.Timer
}

func newSubscription(h *Hub, roomID int64, user api.User, max int) *Subscription {
	return &Subscription{
		RoomID: roomID, UserID: user.ID, Username: user.Username,
		hub: h, max: max, wake: make(chan struct{}, 1),
	}
}

// Wake is signalled whenever events were queued or the subscription is
// closing, for consumers that poll with Take instead of SetWriter.
func (s *Subscription) Wake() <-chan struct{} { return s.wake }

// kick gets the queue drained: it starts the writer when one is set and not
// running, else signals Wake. Called with s.mu held.
func (s *Subscription) kick() {
	if s.write == nil {
		select {
		case s.wake <- struct{}{}:
		default:
		}
		return
	}
	if !s.writing {
		s.writing = true
		s.writers.Add(1)
		go func() {
			defer s.writers.Done()
			s.write()
		}()
	}
}

// SetWriter makes the subscription run write in a new goroutine whenever
// there is something to send and no writer runs; write must loop on Next
// until it reports nothing left. Pings are requested every pingEvery.
// direct, when not nil, is a write to the socket that never waits (it
// returns how much the socket took); events are then written with it when
// nothing else is queued, and write only sends what it could not take.
func (s *Subscription) SetWriter(write func(), pingEvery time.Duration, direct func([]byte) (int, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.write = write
	s.direct = direct
	s.pingEvery = pingEvery
	if s.closing {
		s.kick()
		return
	}
	s.pingTimer = time.AfterFunc(pingEvery, s.pingTick)
	if len(s.queue) > 0 {
		s.kick()
	}
}

func (s *Subscription) pingTick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.pingDue = true
	s.pingTimer.Reset(s.pingEvery)
	s.kick()
}

// Pong asks the writer to answer a client ping.
func (s *Subscription) Pong(payload string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.pong = &payload
	s.kick()
}

// WaitWriter waits until no writer goroutine runs (after Close).
func (s *Subscription) WaitWriter() { s.writers.Wait() }

// enqueue adds q to the queue, or drops the subscriber (close 4008) when
// the queue is full. It never blocks.
func (s *Subscription) enqueue(q queued) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	if s.direct != nil && !s.writing && len(s.queue) == 0 {
		// Nothing waits for this socket: write now. The writer is not
		// running and cannot start while s.mu is held, so the order holds.
		if q.seq > 0 && q.seq <= s.skipThrough {
			return
		}
		wire := q.frame.wire
		n, _ := s.direct(wire)
		if n >= len(wire) {
			return
		}
		// The socket took part or none of it (its buffer is full, a write
		// deadline passed, or it failed): the writer sends the rest, or
		// finds out that the socket is gone.
		if n > 0 {
			q = queued{frame: &Frame{wire: wire[n:]}}
		}
	}
	s.push(q)
}

// push queues q for the writer, or drops the subscriber (close 4008) when
// the queue is full. Called with s.mu held.
func (s *Subscription) push(q queued) {
	if len(s.queue) >= s.max {
		s.dropSlow()
		return
	}
	s.queue = append(s.queue, q)
	s.kick()
}

// dropSlow closes a socket that does not keep up (4008), with the close
// frame ahead of the queue: the queued events are dropped (the client
// resumes with ?after=), all but the rest of a frame the socket has begun,
// and a write the writer is blocked in is cut short. Called with s.mu held.
func (s *Subscription) dropSlow() {
	if s.closing {
		return
	}
	s.dropDepth = len(s.queue)
	if len(s.queue) > 0 && s.queue[0].frame.Data == nil {
		clear(s.queue[1:])
		s.queue = s.queue[:1]
	} else {
		s.queue = nil
	}
	s.hub.slowDrops.Add(1)
	s.aborting.Store(true)
	s.startClose(wsproto.CloseSlowConsumer, "too slow: send queue full", false)
	if s.writing && s.interrupt != nil {
		s.interrupt()
	}
}

// enqueueBatch is enqueue of several events whose frames, back to back,
// are wire: written with one write when nothing else waits.
func (s *Subscription) enqueueBatch(events []queued, wire []byte) {
	s.mu.Lock()
	direct := s.direct != nil && !s.writing && len(s.queue) == 0 && !s.closing
	if direct {
		for _, q := range events {
			if q.seq > 0 && q.seq <= s.skipThrough {
				direct = false // right after a replay: filter one by one
				break
			}
		}
	}
	if !direct {
		s.mu.Unlock()
		for _, q := range events {
			s.enqueue(q)
		}
		return
	}
	defer s.mu.Unlock()
	n, _ := s.direct(wire)
	if n >= len(wire) {
		return
	}
	// What the socket did not take waits for the writer, as one chunk
	// (wire is the caller's buffer).
	s.push(queued{frame: &Frame{wire: slices.Clone(wire[n:])}})
}

// Send queues data (an encoded event for this socket only, such as an ack)
// behind the room's events already dispatched to it.
func (s *Subscription) Send(data []byte) {
	q := queued{frame: NewFrame(data)}
	if r := s.room; r != nil && r.pending.Load() > 0 {
		// Room events for this socket may still wait in its fan-out
		// worker: queue behind them.
		r.pending.Add(1)
		if s.hub.pool.dispatch(s.shard, fanoutJob{q: q, subs: []*Subscription{s}, room: r}) {
			return
		}
		r.pending.Add(-1)
	}
	s.enqueue(q)
}

// SkipThrough makes the writer drop message events with seq <= seq: those
// were already sent by the replay.
func (s *Subscription) SkipThrough(seq int64) {
	s.mu.Lock()
	s.skipThrough = seq
	s.mu.Unlock()
}

// Batch is what a writer has to do next.
type Batch struct {
	// Frames to write, in order (empty when closing without drain).
	Frames []*Frame
	// Ping asks for a keepalive ping.
	Ping bool
	// Pong, when set, is the payload of a client ping to answer.
	Pong *string
	// Closing asks for a close frame with Code and Reason after Frames.
	Closing bool
	Code    int
	Reason  string
	// Dropped is the queue depth at which a slow socket was dropped (0: it
	// was not).
	Dropped int
}

// Take returns what is queued (reusing buf) and whether the subscription
// is closing.
func (s *Subscription) Take(buf []*Frame) Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.take(buf)
}

// Next is Take for the writer goroutine: when there is nothing to do it
// marks the writer stopped and returns ok=false (the writer must return).
func (s *Subscription) Next(buf []*Frame) (b Batch, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 && !s.closing && !s.pingDue && s.pong == nil {
		s.writing = false
		return Batch{}, false
	}
	return s.take(buf), true
}

func (s *Subscription) take(buf []*Frame) Batch {
	b := Batch{Frames: buf[:0], Ping: s.pingDue, Pong: s.pong, Closing: s.closing, Code: s.closeCode, Reason: s.closeReason}
	s.pingDue, s.pong = false, nil
	if s.closing {
		b.Dropped = s.dropDepth
	}
	if !s.closing || s.drain {
		for _, q := range s.queue {
			if q.seq > 0 && q.seq <= s.skipThrough {
				continue
			}
			b.Frames = append(b.Frames, q.frame)
		}
	} else if len(s.queue) > 0 && s.queue[0].frame.Data == nil {
		// The rest of a frame the socket has begun: without it the close
		// frame would land mid-frame and the client could not read it.
		b.Frames = append(b.Frames, s.queue[0].frame)
	}
	// Keep a small queue for the next burst; release a big one.
	if cap(s.queue) > 16 || s.closing {
		s.queue = nil
	} else {
		clear(s.queue)
		s.queue = s.queue[:0]
	}
	return b
}

// Closing reports whether the subscription was told to close.
func (s *Subscription) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// OnClose registers f to run a short while after the subscription starts
// closing, to tear down a socket whose writer is stuck on a peer that does
// not read.
func (s *Subscription) OnClose(f func()) {
	s.mu.Lock()
	s.onClose = f
	s.mu.Unlock()
}

// OnSlow registers f to cut short a write in progress when the
// subscription is dropped as too slow (the handler moves the connection's
// write deadline into the past). f is called with the subscription's lock
// held and must not block.
func (s *Subscription) OnSlow(f func()) {
	s.mu.Lock()
	s.interrupt = f
	s.mu.Unlock()
}

// Aborting reports whether the subscription was dropped as too slow: a
// write that fails from now on was cut short on purpose.
func (s *Subscription) Aborting() bool { return s.aborting.Load() }

// Close asks the socket to close with code and reason, dropping what is
// queued.
func (s *Subscription) Close(code int, reason string) {
	s.mu.Lock()
	s.startClose(code, reason, false)
	s.mu.Unlock()
}

// closeDrain is Close after the queued events are sent.
func (s *Subscription) closeDrain(code int, reason string) {
	s.mu.Lock()
	s.startClose(code, reason, true)
	s.mu.Unlock()
}

// startClose is called with s.mu held.
func (s *Subscription) startClose(code int, reason string, drain bool) {
	if s.closing {
		return
	}
	s.closing, s.drain, s.closeCode, s.closeReason = true, drain, code, reason
	if s.pingTimer != nil {
		s.pingTimer.Stop()
	}
	s.kick()
	if f := s.onClose; f != nil {
		grace := s.hub.opts.CloseGrace
		if s.aborting.Load() {
			// The close frame of a slow socket waits for the client to
			// read what the kernel holds; the writer gives it WriteTimeout.
			grace += s.hub.opts.WriteTimeout
		}
		time.AfterFunc(grace, f)
	}
}
