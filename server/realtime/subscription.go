package realtime

import (
	"sync"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// CloseNormal is the normal close code (1000).
const CloseNormal = 1000

// Frame is one encoded event, shared by every socket it is queued for. A
// transport may cache its own encoding of it once (the WebSocket handler
// keeps a prepared frame, so a fan-out to N sockets frames the event once).
type Frame struct {
	Data   []byte
	once   sync.Once
	cached any
}

// NewFrame wraps an encoded event.
func NewFrame(data []byte) *Frame { return &Frame{Data: data} }

// Cached returns build(f.Data), computed once per frame.
func (f *Frame) Cached(build func([]byte) any) any {
	f.once.Do(func() { f.cached = build(f.Data) })
	return f.cached
}

// Subscription is one socket's place in a room: a bounded queue of encoded
// events that the socket's writer drains. An idle subscription holds no
// queue memory (the queue is released whenever it empties).
type Subscription struct {
	RoomID   int64
	UserID   int64
	Username string

	hub  *Hub
	max  int
	wake chan struct{}

	mu          sync.Mutex
	queue       []queued
	skipThrough int64 // message events with seq <= this are not sent
	closing     bool
	drain       bool // send what is queued before closing
	closeCode   int
	closeReason string
	onClose     func()
}

func newSubscription(h *Hub, roomID int64, user api.User, max int) *Subscription {
	return &Subscription{
		RoomID: roomID, UserID: user.ID, Username: user.Username,
		hub: h, max: max, wake: make(chan struct{}, 1),
	}
}

// Wake is signalled whenever events were queued or the subscription is
// closing.
func (s *Subscription) Wake() <-chan struct{} { return s.wake }

func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// enqueue adds q to the queue, or drops the subscriber (close 4008) when
// the queue is full. It never blocks.
func (s *Subscription) enqueue(q queued) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	if len(s.queue) >= s.max {
		s.queue = nil
		s.startClose(wsproto.CloseSlowConsumer, "too slow: send queue full", false)
		return
	}
	s.queue = append(s.queue, q)
	s.signal()
}

// Send queues data (an encoded event for this socket only, such as an ack).
func (s *Subscription) Send(data []byte) { s.enqueue(queued{frame: NewFrame(data)}) }

// SkipThrough makes the writer drop message events with seq <= seq: those
// were already sent by the replay.
func (s *Subscription) SkipThrough(seq int64) {
	s.mu.Lock()
	s.skipThrough = seq
	s.mu.Unlock()
}

// Take returns the queued events to write, in order, and whether the
// subscription is closing (then code and reason are set and, unless
// drained, the returned events are empty).
func (s *Subscription) Take(buf []*Frame) (out []*Frame, closing bool, code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out = buf[:0]
	if !s.closing || s.drain {
		for _, q := range s.queue {
			if q.seq > 0 && q.seq <= s.skipThrough {
				continue
			}
			out = append(out, q.frame)
		}
	}
	// Keep a small queue for the next burst; release a big one.
	if cap(s.queue) > 16 {
		s.queue = nil
	} else {
		clear(s.queue)
		s.queue = s.queue[:0]
	}
	return out, s.closing, s.closeCode, s.closeReason
}

// OnClose registers f to run a short while after the subscription starts
// closing, to tear down a socket whose writer is stuck on a peer that does
// not read.
func (s *Subscription) OnClose(f func()) {
	s.mu.Lock()
	s.onClose = f
	s.mu.Unlock()
}

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
	s.signal()
	if f := s.onClose; f != nil {
		time.AfterFunc(s.hub.opts.CloseGrace, f)
	}
}
