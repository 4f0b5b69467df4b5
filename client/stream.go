package client

// The room stream uses github.com/coder/websocket rather than gorilla or
// fasthttp/websocket: every blocking call takes a context (so Close, Send and
// OpenStream cancel cleanly without deadline juggling), Write is safe for
// concurrent use (Send, Typing and the keepalive share one connection without
// an extra writer goroutine), it answers pings while reading, and it has no
// dependencies beyond the standard library, which keeps `vc` small.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// StreamState is the connection state of a Stream.
type StreamState int

// Stream states, reported on Stream.Status.
const (
	// StateConnecting: the first connection is being set up.
	StateConnecting StreamState = iota
	// StateConnected: the socket is up and events flow.
	StateConnected
	// StateReconnecting: the socket dropped; a new one is tried after RetryIn.
	StateReconnecting
	// StateGaveUp: the stream stopped for good (MaxRetries reached or the
	// server refused the stream); Err says why.
	StateGaveUp
	// StateClosed: Close was called.
	StateClosed
)

// String returns the state's name.
func (s StreamState) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateGaveUp:
		return "gave up"
	case StateClosed:
		return "closed"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// StreamStatus is one connection state change of a Stream.
type StreamStatus struct {
	State StreamState
	// Err is why the connection dropped (StateReconnecting) or stopped
	// (StateGaveUp).
	Err error
	// Attempt counts the reconnection attempts since the last connection.
	Attempt int
	// RetryIn is the wait before the next attempt (StateReconnecting).
	RetryIn time.Duration
}

// StreamOptions configures OpenStream.
type StreamOptions struct {
	// After resumes after this seq: every stored message with a larger seq
	// is replayed first. 0 means live events only, unless Resume is set.
	After int64
	// Resume replays after After even when it is 0: a client that loaded
	// the (empty) history of a room sets it so that a message stored between
	// that load and the connection is not missed.
	Resume bool
	// MaxRetries is the number of consecutive failed reconnection attempts
	// before the stream gives up; 0 retries forever.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts (defaults 200ms and 10s); each wait is jittered.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Stream tuning.
const (
	streamReadLimit    = 4 << 20
	streamEventBuffer  = 256
	streamStatusBuffer = 32
	streamPingInterval = 25 * time.Second
	streamPingTimeout  = 15 * time.Second
	streamDialTimeout  = 15 * time.Second
)

// Stream is a reconnecting subscription to one room's chat socket. Events
// arrive on Events in order, message events in seq order without
// duplicates across reconnects. A Stream is safe for concurrent use.
type Stream struct {
	c      *Client
	roomID int64
	opts   StreamOptions
	log    *slog.Logger

	events chan wsproto.Event
	status chan StreamStatus

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	lastSeq atomic.Int64

	mu      sync.Mutex
	conn    *websocket.Conn // nil while disconnected
	pending []wsproto.ClientFrame
	closed  bool
}

// OpenStream connects to the chat socket of a room and returns once the
// first connection is up (the server's first event arrived), or with the
// error that prevented it. A refusal by the server (close 1008, or 4001 for
// a revoked or expired token) is returned as an *Error with status 401 (bad
// token) or 404 (unknown room, not a member); the stream then does not
// retry. A server that cannot serve yet (close 1011, 1012 or 1013, or HTTP
// 503, as while its database is unreachable) is retried with backoff, for
// the first connection until ctx ends (or MaxRetries), and afterwards for as
// long as the stream runs. ctx bounds only the first connection: the stream
// runs until Close.
func (c *Client) OpenStream(ctx context.Context, roomID int64, opts StreamOptions) (*Stream, error) {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Stream{
		c: c, roomID: roomID, opts: opts,
		log:    log.With("component", "stream", "room_id", roomID),
		events: make(chan wsproto.Event, streamEventBuffer),
		status: make(chan StreamStatus, streamStatusBuffer),
		ctx:    sctx, cancel: cancel,
		done: make(chan struct{}),
	}
	s.lastSeq.Store(opts.After)
	s.setStatus(StreamStatus{State: StateConnecting})

	conn, first, err := s.connect(ctx, opts.After > 0 || opts.Resume)
	// A server that cannot serve right now (database unreachable, restart)
	// is waited for, within ctx; only a refusal is final.
	for attempt := 1; err != nil && transient(err); attempt++ {
		if opts.MaxRetries > 0 && attempt > opts.MaxRetries {
			break
		}
		wait := s.backoff(attempt)
		s.setStatus(StreamStatus{State: StateConnecting, Err: err, Attempt: attempt, RetryIn: wait})
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			cancel()
			return nil, fmt.Errorf("connect to room %d: %w (last error: %w)", roomID, ctx.Err(), err)
		case <-t.C:
		}
		conn, first, err = s.connect(ctx, opts.After > 0 || opts.Resume)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if first.Type == wsproto.TypePresence && first.Seq > s.lastSeq.Load() {
		s.lastSeq.Store(first.Seq) // LastSeq is right as soon as OpenStream returns
	}
	s.attach(conn)
	s.setStatus(StreamStatus{State: StateConnected})
	go s.run(conn, first)
	return s, nil
}

// Events returns the channel of events. It is closed after the stream
// stopped (Close, or StateGaveUp). A consumer that stops reading makes the
// server drop the socket; the stream then reconnects and resumes.
func (s *Stream) Events() <-chan wsproto.Event { return s.events }

// Status returns the channel of connection state changes. When the consumer
// lags, the oldest unread changes are dropped. It is closed with Events.
func (s *Stream) Status() <-chan StreamStatus { return s.status }

// LastSeq returns the seq of the newest message delivered on Events (or the
// resume point given in StreamOptions.After).
func (s *Stream) LastSeq() int64 { return s.lastSeq.Load() }

// Send sends a chat message frame and returns its client_id (filled in when
// empty). The frame is kept until the server acknowledges it: while
// disconnected it is queued, and after each reconnect every unacknowledged
// frame is sent again once; the server stores a client_id only once.
func (s *Stream) Send(ctx context.Context, f wsproto.ClientFrame) (string, error) {
	if f.Type != "" && f.Type != wsproto.ClientMessage {
		return "", fmt.Errorf("send: frame type %q is not a message", f.Type)
	}
	if f.ClientID == "" {
		f.ClientID = uuid.NewString()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", errStreamClosed
	}
	s.pending = append(s.pending, f)
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return f.ClientID, nil // queued; sent after reconnect
	}
	if err := writeFrame(ctx, conn, f); err != nil {
		if ctx.Err() != nil {
			return f.ClientID, fmt.Errorf("send: %w", ctx.Err())
		}
		// The connection is failing; the reconnect resends the frame.
		s.log.Debug("send failed, will resend after reconnect", "err", err)
	}
	return f.ClientID, nil
}

// Typing tells the others in the room that the user is typing. It is not
// queued: while disconnected it returns an error.
func (s *Stream) Typing(ctx context.Context) error {
	return s.sendNow(ctx, wsproto.ClientFrame{Type: wsproto.ClientTyping})
}

// CancelAI asks the server to stop the AI reply streamID. It is not queued.
func (s *Stream) CancelAI(ctx context.Context, streamID string) error {
	return s.sendNow(ctx, wsproto.ClientFrame{Type: wsproto.ClientAICancel, StreamID: streamID})
}

// Close stops the stream, closes the socket normally and closes Events and
// Status. It is safe to call more than once.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	conn := s.conn
	s.mu.Unlock()
	s.cancel()
	if conn != nil {
		_ = conn.Close(websocket.StatusNormalClosure, "bye")
	}
	<-s.done
	return nil
}

var (
	errStreamClosed = errors.New("stream closed")
	errDisconnected = errors.New("stream disconnected")
)

func (s *Stream) sendNow(ctx context.Context, f wsproto.ClientFrame) error {
	s.mu.Lock()
	conn, closed := s.conn, s.closed
	s.mu.Unlock()
	if closed {
		return errStreamClosed
	}
	if conn == nil {
		return errDisconnected
	}
	if err := writeFrame(ctx, conn, f); err != nil {
		return fmt.Errorf("send %s: %w", f.Type, err)
	}
	return nil
}

func writeFrame(ctx context.Context, conn *websocket.Conn, f wsproto.ClientFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	return conn.Write(ctx, websocket.MessageText, b)
}

// setStatus reports a state change without ever blocking: when the consumer
// lags, the oldest unread change is dropped.
func (s *Stream) setStatus(st StreamStatus) {
	for {
		select {
		case s.status <- st:
			return
		default:
		}
		select {
		case <-s.status:
		default:
		}
	}
}

// attach makes conn the current connection and resends unacknowledged
// frames, in order.
func (s *Stream) attach(conn *websocket.Conn) {
	s.mu.Lock()
	s.conn = conn
	resend := append([]wsproto.ClientFrame(nil), s.pending...)
	s.mu.Unlock()
	for _, f := range resend {
		ctx, cancel := context.WithTimeout(s.ctx, streamDialTimeout)
		err := writeFrame(ctx, conn, f)
		cancel()
		if err != nil {
			s.log.Debug("resend failed", "err", err)
			return
		}
	}
}

func (s *Stream) detach() {
	s.mu.Lock()
	s.conn = nil
	s.mu.Unlock()
}

// connect dials the socket and waits for the server's first event, so that
// a refusal (close 1008 right after the upgrade) is reported as an error.
// resume asks the server to replay the messages after LastSeq.
func (s *Stream) connect(ctx context.Context, resume bool) (*websocket.Conn, *wsproto.Event, error) {
	q := url.Values{}
	if resume {
		q.Set("after", strconv.FormatInt(s.lastSeq.Load(), 10))
	}
	u := s.c.endpoint("/ws/chat/"+strconv.FormatInt(s.roomID, 10), q)
	u = "ws" + strings.TrimPrefix(u, "http") // http->ws, https->wss
	h := http.Header{}
	if s.c.token != "" {
		h.Set("Authorization", "Bearer "+s.c.token)
	}
	if s.c.userAgent != "" {
		h.Set("User-Agent", s.c.userAgent)
	}
	dctx, cancel := context.WithTimeout(ctx, streamDialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: s.c.http, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			return nil, nil, &Error{StatusCode: resp.StatusCode, Detail: fmt.Sprintf("chat socket refused: %s", resp.Status)}
		}
		return nil, nil, fmt.Errorf("connect to room %d: %w", s.roomID, err)
	}
	conn.SetReadLimit(streamReadLimit)
	ev, err := readEvent(dctx, conn)
	if err != nil {
		conn.CloseNow()
		if ferr := refusal(err); ferr != nil {
			return nil, nil, ferr
		}
		return nil, nil, fmt.Errorf("connect to room %d: %w", s.roomID, err)
	}
	return conn, &ev, nil
}

func readEvent(ctx context.Context, conn *websocket.Conn) (wsproto.Event, error) {
	var ev wsproto.Event
	_, b, err := conn.Read(ctx)
	if err != nil {
		return ev, err
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return ev, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// transient reports whether err is the server saying "not now" rather than
// "no": close 1011 (internal error, "unavailable:" while its database is
// unreachable), 1012 (restarting), 1013 (try again later), or an HTTP 502,
// 503 or 504 answer to the upgrade. Those are retried, unlike a refusal.
func transient(err error) bool {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.StatusInternalError, websocket.StatusServiceRestart, websocket.StatusTryAgainLater:
			return true
		}
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// refusal maps a close by the server that retrying cannot fix to an *Error
// (nil for closes worth retrying).
func refusal(err error) error {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return nil
	}
	switch int(ce.Code) {
	case wsproto.ClosePolicy:
		status := http.StatusNotFound
		if strings.HasPrefix(ce.Reason, api.CodeUnauthorized) { // the reason starts with its code
			status = http.StatusUnauthorized
		}
		return &Error{StatusCode: status, Detail: ce.Reason}
	case wsproto.CloseRevoked:
		// The token was revoked or expired: the same token cannot get in.
		return &Error{StatusCode: http.StatusUnauthorized, Detail: ce.Reason}
	case wsproto.CloseRemoved:
		return &Error{StatusCode: http.StatusNotFound, Detail: ce.Reason}
	case wsproto.CloseTooMany:
		return &Error{StatusCode: http.StatusTooManyRequests, Detail: ce.Reason}
	case wsproto.CloseBadRequest:
		return &Error{StatusCode: http.StatusBadRequest, Detail: ce.Reason}
	}
	return nil
}

// run reads the current connection and reconnects until the stream is
// closed or gives up.
func (s *Stream) run(conn *websocket.Conn, first *wsproto.Event) {
	defer close(s.done)
	defer close(s.events)
	defer close(s.status)
	for {
		err := s.readLoop(conn, first)
		first = nil
		s.detach()
		conn.CloseNow()
		if s.ctx.Err() != nil {
			s.setStatus(StreamStatus{State: StateClosed})
			return
		}
		if ferr := refusal(err); ferr != nil {
			s.setStatus(StreamStatus{State: StateGaveUp, Err: ferr})
			return
		}
		s.log.Debug("connection lost", "err", err)
		conn, first, err = s.reconnect(err)
		if err != nil {
			if s.ctx.Err() != nil {
				s.setStatus(StreamStatus{State: StateClosed})
			} else {
				s.setStatus(StreamStatus{State: StateGaveUp, Err: err})
			}
			return
		}
		s.attach(conn)
		s.setStatus(StreamStatus{State: StateConnected})
	}
}

// reconnect retries with exponential backoff and full jitter.
func (s *Stream) reconnect(cause error) (*websocket.Conn, *wsproto.Event, error) {
	for attempt := 1; ; attempt++ {
		if s.opts.MaxRetries > 0 && attempt > s.opts.MaxRetries {
			return nil, nil, fmt.Errorf("gave up after %d attempts: %w", s.opts.MaxRetries, cause)
		}
		wait := s.backoff(attempt)
		s.setStatus(StreamStatus{State: StateReconnecting, Err: cause, Attempt: attempt, RetryIn: wait})
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return nil, nil, s.ctx.Err()
		case <-t.C:
		}
		conn, first, err := s.connect(s.ctx, true)
		if err == nil {
			return conn, first, nil
		}
		if s.ctx.Err() != nil {
			return nil, nil, s.ctx.Err()
		}
		var e *Error
		if errors.As(err, &e) && (e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusNotFound ||
			e.StatusCode == http.StatusBadRequest) {
			return nil, nil, err
		}
		cause = err
	}
}

func (s *Stream) backoff(attempt int) time.Duration {
	d := s.opts.MinBackoff
	for i := 1; i < attempt && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	// Jitter in [d/2, d] so that clients dropped together do not return together.
	return d/2 + rand.N(d/2+1)
}

// readLoop delivers the events of one connection until it fails.
func (s *Stream) readLoop(conn *websocket.Conn, first *wsproto.Event) error {
	pingDone := make(chan struct{})
	defer close(pingDone)
	go s.keepalive(conn, pingDone)
	if first != nil {
		if err := s.deliver(*first); err != nil {
			return err
		}
	}
	for {
		ev, err := readEvent(s.ctx, conn)
		if err != nil {
			return err
		}
		if err := s.deliver(ev); err != nil {
			return err
		}
	}
}

// keepalive pings the server so that a dead network is noticed even when
// the room is quiet.
func (s *Stream) keepalive(conn *websocket.Conn, done <-chan struct{}) {
	t := time.NewTicker(streamPingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, streamPingTimeout)
			err := conn.Ping(ctx)
			cancel()
			if err != nil {
				conn.CloseNow()
				return
			}
		}
	}
}

// deliver hands ev to the consumer, dropping messages already delivered and
// settling acknowledged sends.
func (s *Stream) deliver(ev wsproto.Event) error {
	switch ev.Type {
	case wsproto.TypeMessage:
		if ev.Seq > 0 {
			if ev.Seq <= s.lastSeq.Load() {
				return nil // replayed after a reconnect: already delivered
			}
			s.lastSeq.Store(ev.Seq)
		}
	case wsproto.TypePresence:
		// The server stamps presence with the seq live delivery starts after,
		// so that a stream that saw no message yet still resumes without a gap.
		if ev.Seq > s.lastSeq.Load() {
			s.lastSeq.Store(ev.Seq)
		}
	case wsproto.TypeAck:
		s.settle(ev.ClientID)
	case wsproto.TypeError:
		if ev.ClientID != "" {
			s.settle(ev.ClientID) // refused for good; resending cannot help
		}
	}
	select {
	case s.events <- ev:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *Stream) settle(clientID string) {
	if clientID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.pending {
		if f.ClientID == clientID {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return
		}
	}
}

// Pending returns the number of sent messages not yet acknowledged.
func (s *Stream) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}
