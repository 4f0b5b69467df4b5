package realtime

import (
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/contrib/websocket"

	"github.com/virtual-company/vc/pkg/wsproto"
)

// CloseNormal is the normal close code (1000).
const CloseNormal = 1000

// socketWriter is the write side of one chat socket: its bounded queue of
// encoded events, its writer goroutine, and the only code that writes to
// the connection once the socket is subscribed. Every delivery ends here
// (docs/architecture.md, "One message from commit to every socket").
//
// Who writes, when:
//
//   - Before start, the handler goroutine writes the resume replay and the
//     presence event with writeFirst; live events published meanwhile wait
//     in the queue (nothing else writes yet).
//   - After start, a publisher (the hub for a small room, a fan-out worker
//     for a big one, fanout.go) that finds the queue empty and no writer
//     goroutine running writes the event itself with one non-blocking
//     send(2) (writer_unix.go), holding mu. Whatever the socket does not
//     take at once is queued.
//   - Otherwise the writer goroutine (loop) writes: it runs only while there
//     is something to write (an idle socket costs no goroutine), at most one
//     at a time (the writing flag, under mu), and sends all that is queued,
//     pings, pongs and the close frame in one write.
//   - The reader never writes: pongs and close replies go through the
//     queue's flags (Pong, Close), so control frames never cut a frame.
//
// Ordering: the events of one socket leave in the order they were queued.
// The room's lock orders the room's events, the fan-out worker of the
// socket's shard keeps that order, and here a direct write happens only
// with mu held, an empty queue and no writer running, so it cannot overtake
// anything. The rest of a partly written frame goes first, with nothing
// between its bytes. Message events with seq <= skipThrough (already sent
// by the replay) are dropped.
//
// A full queue (Options.SendQueue events) never blocks the publisher: the
// socket is dropped as a slow consumer with close 4008. The queued events
// are discarded (the client resumes with ?after=) but for the end of a frame
// the socket has begun, the close frame goes out ahead of them, a write the
// writer is blocked in is cut short (its deadline moved into the past), the
// drop is counted (Hub.SlowConsumerDrops) and logged at warn with the
// queue depth.
//
// Closing: Close discards the queue, closeDrain (daemon shutdown) sends it
// first; either way the close frame is the last thing written and the
// connection is cut CloseGrace later (plus WriteTimeout after a slow drop)
// if the peer has not answered. Every write is bounded by WriteTimeout; a
// write that fails cuts the socket.
type socketWriter struct {
	env  *writerEnv
	wake chan struct{}
	max  int
	// userID and roomID name the socket in log lines.
	userID, roomID int64

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

	// conn is the socket (attach); started: the writer goroutine runs
	// whenever there is something to write (start); until then a consumer
	// polls with Wake and Take. direct writes to the socket without
	// waiting (nil: every write goes through the writer goroutine).
	conn      *websocket.Conn
	started   bool
	direct    func([]byte) (int, error)
	writing   bool
	writers   sync.WaitGroup
	pingDue   bool
	pong      *string // payload of a client ping to answer
	pingEvery time.Duration
	pingTimer *time.Timer
	// deadline is the connection's write deadline, owned by the running
	// writer goroutine.
	deadline time.Time
}

// writerEnv is what the socket writers of one hub share.
type writerEnv struct {
	writeTimeout, closeGrace time.Duration
	drops                    *atomic.Uint64 // Hub.slowDrops
	log                      *slog.Logger
	// bufs holds the write buffers (*[]byte), taken only for one write, so
	// an idle socket holds none.
	bufs sync.Pool
}

func newWriterEnv(opts Options, drops *atomic.Uint64, logger *slog.Logger) *writerEnv {
	e := &writerEnv{writeTimeout: opts.WriteTimeout, closeGrace: opts.CloseGrace, drops: drops,
		log: logger.With("component", "chat_ws")}
	e.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return e
}

// Wake is signalled whenever events were queued or the subscription is
// closing, for consumers that poll with Take instead of a started writer.
func (w *socketWriter) Wake() <-chan struct{} { return w.wake }

// kick gets the queue drained: it starts the writer goroutine when the
// writer is started and none runs, else signals Wake. Called with w.mu
// held.
func (w *socketWriter) kick() {
	if !w.started {
		select {
		case w.wake <- struct{}{}:
		default:
		}
		return
	}
	if !w.writing {
		w.writing = true
		w.writers.Add(1)
		go w.run()
	}
}

func (w *socketWriter) run() {
	defer w.writers.Done()
	w.loop()
}

// attach binds the writer to its socket: from now on a close cuts the
// connection once the grace has passed, and a slow drop cuts a blocked
// write short. Until start, the caller may write with writeFirst.
func (w *socketWriter) attach(c *websocket.Conn) {
	sock, wc := socketOf(c), c.NetConn()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conn = c
	w.onClose = func() { _ = sock.Close() }
	w.interrupt = func() { _ = wc.SetWriteDeadline(time.Unix(1, 0)) }
}

// writeFirst writes framed bytes before start (the resume replay and the
// presence event): the attaching goroutine is then the connection's only
// writer.
func (w *socketWriter) writeFirst(out []byte) error {
	if len(out) == 0 {
		return nil
	}
	nc := w.conn.NetConn()
	if err := nc.SetWriteDeadline(time.Now().Add(w.env.writeTimeout)); err != nil {
		return err
	}
	_, err := nc.Write(out)
	return err
}

// start hands the attached socket to the writer: what is queued goes out,
// later events are written directly or by the writer goroutine, and a ping
// is sent every pingEvery.
func (w *socketWriter) start(pingEvery time.Duration) {
	direct := nonBlockingWriter(socketOf(w.conn))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = true
	w.direct = direct
	w.pingEvery = pingEvery
	if w.closing {
		w.kick()
		return
	}
	w.pingTimer = time.AfterFunc(pingEvery, w.pingTick)
	if len(w.queue) > 0 {
		w.kick()
	}
}

func (w *socketWriter) pingTick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return
	}
	w.pingDue = true
	w.pingTimer.Reset(w.pingEvery)
	w.kick()
}

// Pong asks the writer to answer a client ping.
func (w *socketWriter) Pong(payload string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return
	}
	w.pong = &payload
	w.kick()
}

// WaitWriter waits until no writer goroutine runs (after Close).
func (w *socketWriter) WaitWriter() { w.writers.Wait() }

// enqueue writes q at once when nothing waits for the socket, else queues
// it, or drops the subscriber (close 4008) when the queue is full. It
// never blocks.
func (w *socketWriter) enqueue(q queued) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return
	}
	if w.direct != nil && !w.writing && len(w.queue) == 0 {
		// Nothing waits for this socket: write now. The writer is not
		// running and cannot start while w.mu is held, so the order holds.
		if q.seq > 0 && q.seq <= w.skipThrough {
			return
		}
		wire := q.frame.wire
		n, _ := w.direct(wire)
		if n >= len(wire) {
			return
		}
		// The socket took part or none of it (its buffer is full, a write
		// deadline passed, or it failed): the writer sends the rest, or
		// finds out that the socket is gone.
		if n > 0 {
			q = queued{frame: restOf(wire[n:])}
		}
	}
	w.push(q)
}

// enqueueBatch is enqueue of several events whose frames, back to back,
// are wire: written with one write when nothing else waits.
func (w *socketWriter) enqueueBatch(events []queued, wire []byte) {
	w.mu.Lock()
	direct := w.direct != nil && !w.writing && len(w.queue) == 0 && !w.closing
	if direct {
		for _, q := range events {
			if q.seq > 0 && q.seq <= w.skipThrough {
				direct = false // right after a replay: filter one by one
				break
			}
		}
	}
	if !direct {
		w.mu.Unlock()
		for _, q := range events {
			w.enqueue(q)
		}
		return
	}
	defer w.mu.Unlock()
	n, _ := w.direct(wire)
	if n >= len(wire) {
		return
	}
	// What the socket did not take waits for the writer, as one chunk
	// (wire is the caller's buffer).
	w.push(queued{frame: restOf(slices.Clone(wire[n:]))})
}

// push queues q for the writer, or drops the subscriber (close 4008) when
// the queue is full. Called with w.mu held.
func (w *socketWriter) push(q queued) {
	if len(w.queue) >= w.max {
		w.dropSlow()
		return
	}
	w.queue = append(w.queue, q)
	w.kick()
}

// dropSlow closes a socket that does not keep up (4008), with the close
// frame ahead of the queue: the queued events are dropped (the client
// resumes with ?after=), all but the rest of a frame the socket has begun,
// and a write the writer is blocked in is cut short. Called with w.mu held.
func (w *socketWriter) dropSlow() {
	if w.closing {
		return
	}
	w.dropDepth = len(w.queue)
	if len(w.queue) > 0 && w.queue[0].frame.begun() {
		clear(w.queue[1:])
		w.queue = w.queue[:1]
	} else {
		w.queue = nil
	}
	w.env.drops.Add(1)
	w.aborting.Store(true)
	w.startClose(wsproto.CloseSlowConsumer, "too slow: send queue full", false)
	if w.writing && w.interrupt != nil {
		w.interrupt()
	}
}

// SkipThrough makes the writer drop message events with seq <= seq: those
// were already sent by the replay.
func (w *socketWriter) SkipThrough(seq int64) {
	w.mu.Lock()
	w.skipThrough = seq
	w.mu.Unlock()
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
// is closing, for a consumer that polls instead of a started writer.
func (w *socketWriter) Take(buf []*Frame) Batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.take(buf)
}

// next is Take for the writer goroutine: when there is nothing to do it
// marks the writer stopped and returns ok=false (the writer must return).
func (w *socketWriter) next(buf []*Frame) (b Batch, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 && !w.closing && !w.pingDue && w.pong == nil {
		w.writing = false
		return Batch{}, false
	}
	return w.take(buf), true
}

func (w *socketWriter) take(buf []*Frame) Batch {
	b := Batch{Frames: buf[:0], Ping: w.pingDue, Pong: w.pong, Closing: w.closing, Code: w.closeCode, Reason: w.closeReason}
	w.pingDue, w.pong = false, nil
	if w.closing {
		b.Dropped = w.dropDepth
	}
	if !w.closing || w.drain {
		for _, q := range w.queue {
			if q.seq > 0 && q.seq <= w.skipThrough {
				continue
			}
			b.Frames = append(b.Frames, q.frame)
		}
	} else if len(w.queue) > 0 && w.queue[0].frame.begun() {
		// The rest of a frame the socket has begun: without it the close
		// frame would land mid-frame and the client could not read it.
		b.Frames = append(b.Frames, w.queue[0].frame)
	}
	// Keep a small queue for the next burst; release a big one.
	if cap(w.queue) > 16 || w.closing {
		w.queue = nil
	} else {
		clear(w.queue)
		w.queue = w.queue[:0]
	}
	return b
}

// Closing reports whether the subscription was told to close.
func (w *socketWriter) Closing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closing
}

// OnSlow registers f to cut short a write in progress when the
// subscription is dropped as too slow (attach registers one that moves the
// connection's write deadline into the past). f is called with the
// writer's lock held and must not block.
func (w *socketWriter) OnSlow(f func()) {
	w.mu.Lock()
	w.interrupt = f
	w.mu.Unlock()
}

// Aborting reports whether the subscription was dropped as too slow: a
// write that fails from now on was cut short on purpose.
func (w *socketWriter) Aborting() bool { return w.aborting.Load() }

// Close asks the socket to close with code and reason, dropping what is
// queued.
func (w *socketWriter) Close(code int, reason string) {
	w.mu.Lock()
	w.startClose(code, reason, false)
	w.mu.Unlock()
}

// closeDrain is Close after the queued events are sent.
func (w *socketWriter) closeDrain(code int, reason string) {
	w.mu.Lock()
	w.startClose(code, reason, true)
	w.mu.Unlock()
}

// startClose is called with w.mu held.
func (w *socketWriter) startClose(code int, reason string, drain bool) {
	if w.closing {
		return
	}
	w.closing, w.drain, w.closeCode, w.closeReason = true, drain, code, reason
	if w.pingTimer != nil {
		w.pingTimer.Stop()
	}
	w.kick()
	if f := w.onClose; f != nil {
		grace := w.env.closeGrace
		if w.aborting.Load() {
			// The close frame of a slow socket waits for the client to
			// read what the kernel holds; the writer gives it WriteTimeout.
			grace += w.env.writeTimeout
		}
		time.AfterFunc(grace, f)
	}
}

// loop is the writer goroutine: it writes queued events, pings and the
// close frame, and returns when there is nothing left (kick starts it again
// when needed). Everything queued goes out in one write, so a socket that
// fell behind catches up with few system calls.
func (w *socketWriter) loop() {
	c := w.conn
	nc := c.NetConn()
	timeout := w.env.writeTimeout
	var frames []*Frame
	var rest []byte // the end of a frame whose write a slow drop cut short
	for {
		b, ok := w.next(frames)
		if !ok {
			return
		}
		buf := w.env.bufs.Get().(*[]byte)
		out := append((*buf)[:0], rest...)
		restLen := len(rest)
		rest = nil
		// The rest of a frame the socket has begun goes first: nothing may
		// come between its bytes, not even a control frame.
		lead := 0
		if len(b.Frames) > 0 && b.Frames[0].begun() {
			out = append(out, b.Frames[0].wire...)
			lead = 1
		}
		if b.Pong != nil {
			out = appendFrame(out, opPong, []byte(*b.Pong))
		}
		if b.Ping {
			out = appendFrame(out, opPing, nil)
		}
		for _, f := range b.Frames[lead:] {
			out = append(out, f.wire...)
		}
		if b.Closing {
			if b.Dropped > 0 {
				w.env.log.Warn("slow consumer dropped", "user_id", w.userID, "room_id", w.roomID, "queue_depth", b.Dropped)
			}
			out = appendFrame(out, opClose, websocket.FormatCloseMessage(b.Code, b.Reason))
		}
		// Moving the deadline costs a timer update; do it only when less
		// than half of WriteTimeout is left, or when a slow drop moved it
		// into the past and this is the goodbye.
		var err error
		aborting := w.Aborting()
		if now := time.Now(); w.deadline.Sub(now) < timeout/2 || (b.Closing && aborting) {
			w.deadline = now.Add(timeout)
			err = nc.SetWriteDeadline(w.deadline)
			if err == nil && !b.Closing && w.Aborting() {
				// Dropped meanwhile: this write must not outlast it.
				err = nc.SetWriteDeadline(time.Unix(1, 0))
			}
		}
		var n int
		if err == nil {
			n, err = nc.Write(out)
		}
		if err != nil && !b.Closing && w.Aborting() {
			// Dropped as too slow while this write waited: what it did not
			// send is dropped, but for the end of the frame it stopped in;
			// the close frame follows that (the next round).
			rest = append([]byte(nil), out[n:cutPoint(restLen, b, lead, n)]...)
			err = nil
		}
		if cap(out) <= 64<<10 {
			*buf = out
			w.env.bufs.Put(buf)
		}
		if err != nil {
			w.cut()
			return
		}
		if b.Closing {
			// The reader waits for the peer's close reply, not longer.
			_ = c.SetReadDeadline(time.Now().Add(w.env.closeGrace))
			return
		}
		clear(b.Frames)
		frames = b.Frames[:0]
	}
}

// cutPoint is where the frame that byte n of a writer's round lies in ends
// (n itself when a frame starts there), for a write cut short after n
// bytes. The round was built as loop builds it: restLen bytes ending a
// frame, the rest of a begun frame when lead is 1, pong, ping, then whole
// frames. Only a slow drop gets here.
func cutPoint(restLen int, b Batch, lead, n int) int {
	if n == 0 && restLen == 0 && lead == 0 {
		return 0
	}
	end := 0
	ends := func(l int) bool { end += l; return end >= n }
	if restLen > 0 && ends(restLen) {
		return end
	}
	if lead == 1 && ends(len(b.Frames[0].wire)) {
		return end
	}
	if b.Pong != nil && ends(frameLen(len(*b.Pong))) {
		return end
	}
	if b.Ping && ends(frameLen(0)) {
		return end
	}
	for _, f := range b.Frames[lead:] {
		if ends(len(f.wire)) {
			return end
		}
	}
	return end
}

// cut ends a socket whose writes fail; the writer stays marked running so
// that no new one starts.
func (w *socketWriter) cut() {
	w.Close(CloseNormal, "")
	_ = socketOf(w.conn).Close()
}

// socketOf is the connection under c. fasthttp hands over a wrapper whose
// Close does nothing (it closes the connection after the handler returns),
// and cutting a stuck socket or writing to it directly needs the socket.
func socketOf(c *websocket.Conn) net.Conn {
	nc := c.NetConn()
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}
