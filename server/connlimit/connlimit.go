// Package connlimit guards vcd's listening socket: it caps open connections
// in total and per client IP, gives silent connections a deadline, keeps
// accepting through transient accept errors (out of file descriptors,
// aborted handshakes), and lets a graceful shutdown cut the connections
// that are not serving a request.
//
// fasthttp ends Serve on any accept error that is not a timeout, so one
// burst of idle connections that exhausts RLIMIT_NOFILE (EMFILE) would end
// the daemon; the Listener here never hands such an error to it.
package connlimit

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/apierr"
)

// Options tune a Listener. Zero values mean no cap.
type Options struct {
	// MaxConns caps open connections (config http.max_conns).
	MaxConns int
	// MaxConnsPerIP caps the open connections of one client IP (config
	// http.max_conns_per_ip).
	MaxConnsPerIP int
	// FirstByteTimeout closes a new connection that sends nothing for this
	// long (config http.idle_timeout). fasthttp sets no deadline before a
	// connection's first byte, so without it a silent connection stays
	// forever.
	FirstByteTimeout time.Duration
	// Logger receives the rate-limited warnings.
	Logger *slog.Logger
}

// Backoff bounds of the accept retry after a transient error.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
	// logEvery rate-limits each kind of warning.
	logEvery = 10 * time.Second
)

// refusal is what a connection over a cap gets before it is closed: a
// complete response, so a client reading it learns to come back later.
var refusal = func() []byte {
	body, err := json.Marshal(api.Error{Detail: "too many connections, try again later", Code: apierr.Unavailable.Code})
	if err != nil {
		panic(err) // a fixed value of a plain struct
	}
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nConnection: close\r\nRetry-After: 5\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		apierr.Unavailable.Status, http.StatusText(apierr.Unavailable.Status), len(body), body)
}()

// Listener wraps a net.Listener; see the package comment.
type Listener struct {
	net.Listener
	opts Options
	log  *slog.Logger

	closed    chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[*Conn]struct{}
	perIP map[netip.Addr]int

	// Rate-limited warnings: when each kind was last logged and how many
	// were suppressed since.
	logMu      sync.Mutex
	lastLogged map[string]time.Time
	suppressed map[string]int
}

// New wraps ln.
func New(ln net.Listener, opts Options) *Listener {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		Listener: ln, opts: opts, log: log.With("component", "listener"),
		closed: make(chan struct{}), conns: map[*Conn]struct{}{}, perIP: map[netip.Addr]int{},
		lastLogged: map[string]time.Time{}, suppressed: map[string]int{},
	}
}

// Accept returns the next connection within the caps. Transient errors are
// logged and retried with backoff; only a closed listener or a permanent
// error is returned.
func (l *Listener) Accept() (net.Conn, error) {
	backoff := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			default:
			}
			if !transient(err) {
				return nil, err
			}
			backoff = min(max(backoff*2, minBackoff), maxBackoff)
			l.warn("accept", "accept failed, retrying", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if gc := l.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// transient reports accept errors that say nothing about the listener
// itself: the process or system is out of descriptors or buffers for now,
// or one client gave up during the handshake.
func transient(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// admit counts c in, or refuses it (503, close) when a cap is reached.
func (l *Listener) admit(c net.Conn) *Conn {
	ip := remoteIP(c)
	l.mu.Lock()
	over := ""
	switch {
	case l.opts.MaxConns > 0 && len(l.conns) >= l.opts.MaxConns:
		over = "max_conns"
	case l.opts.MaxConnsPerIP > 0 && ip.IsValid() && l.perIP[ip] >= l.opts.MaxConnsPerIP:
		over = "max_conns_per_ip"
	}
	if over != "" {
		l.mu.Unlock()
		l.refuse(c)
		l.warn(over, "connection refused: limit reached", "limit", over, "client_ip", ip.String())
		return nil
	}
	gc := &Conn{Conn: c, l: l, ip: ip}
	l.conns[gc] = struct{}{}
	if ip.IsValid() {
		l.perIP[ip]++
	}
	l.mu.Unlock()
	if d := l.opts.FirstByteTimeout; d > 0 {
		_ = c.SetReadDeadline(time.Now().Add(d))
	}
	return gc
}

// refuse answers 503 and closes at once. The write cannot wait: a fresh
// socket's send buffer is empty, and the deadline covers the odd case.
func (l *Listener) refuse(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	_, _ = c.Write(refusal)
	_ = c.Close()
}

func (l *Listener) release(c *Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	if c.ip.IsValid() {
		if n := l.perIP[c.ip] - 1; n > 0 {
			l.perIP[c.ip] = n
		} else {
			delete(l.perIP, c.ip)
		}
	}
	l.mu.Unlock()
}

// Close stops accepting; open connections stay.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.closed)
		err = l.Listener.Close()
	})
	return err
}

// Open returns the number of open connections.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// CutIdle ends every connection that is not serving a request and not
// handed over to a WebSocket: idle keep-alive connections, silent new
// ones, and ones still sending their request. Their reads fail at once, so
// the HTTP server closes them; a response still being written after its
// handler gets writeGrace. It returns how many it cut. The HTTP server may
// move a read deadline again when a request header completes, so a
// shutdown calls CutIdle until the drain ends.
func (l *Listener) CutIdle(writeGrace time.Duration) int {
	now := time.Now()
	n := 0
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if c.serving.Load() || c.detached.Load() {
			continue
		}
		_ = c.SetReadDeadline(now)
		_ = c.SetWriteDeadline(now.Add(writeGrace))
		n++
	}
	return n
}

// CloseAll closes every connection not handed over to a WebSocket, and
// returns how many; the end of a shutdown's drain.
func (l *Listener) CloseAll() int {
	l.mu.Lock()
	var cs []*Conn
	for c := range l.conns {
		if !c.detached.Load() {
			cs = append(cs, c)
		}
	}
	l.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
	return len(cs)
}

// warn logs msg at most once per logEvery per kind, counting the rest.
func (l *Listener) warn(kind, msg string, args ...any) {
	l.logMu.Lock()
	now := time.Now()
	if now.Sub(l.lastLogged[kind]) < logEvery {
		l.suppressed[kind]++
		l.logMu.Unlock()
		return
	}
	n := l.suppressed[kind]
	l.lastLogged[kind] = now
	l.suppressed[kind] = 0
	l.logMu.Unlock()
	l.log.Warn(msg, append(args, "suppressed", n)...)
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// Conn is a connection counted by a Listener.
type Conn struct {
	net.Conn
	l  *Listener
	ip netip.Addr
	// serving: a request has reached its handler and its response is not
	// finished yet; a shutdown lets it drain.
	serving atomic.Bool
	// detached: the connection was handed over (a WebSocket); its new
	// owner closes it, and a shutdown leaves it to them.
	detached  atomic.Bool
	closeOnce sync.Once
}

// Close closes the connection and releases its place.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.l.release(c) })
	return c.Conn.Close()
}

// SyscallConn exposes the socket, so that code writing to it directly (the
// chat hub's non-blocking writes) still can.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// Serving marks the connection as serving a request (its handler started)
// or not (its response is done).
func (c *Conn) Serving(on bool) { c.serving.Store(on) }

// Detach marks the connection as handed over to a WebSocket.
func (c *Conn) Detach() { c.detached.Store(true); c.serving.Store(false) }

// Abort closes every connection, WebSockets included, without a word to
// the peers: what a killed process looks like from outside (tests).
func (l *Listener) Abort() {
	l.mu.Lock()
	cs := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		cs = append(cs, c)
	}
	l.mu.Unlock()
	for _, c := range cs {
		_ = c.Conn.Close()
	}
}
