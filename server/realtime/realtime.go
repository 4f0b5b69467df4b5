// Package realtime is vcd's chat WebSocket: the hub that fans room events out
// to sockets (in process, behind the Bus interface so that several daemons
// can share rooms later) and the /ws/chat/{room_id} handler.
//
// Guarantees: a message reaches sockets only after it is committed (the
// services publish after commit); message events leave the hub in seq order
// per room; a socket whose bounded send queue fills up is dropped with close
// 4008 (wsproto.CloseSlowConsumer) instead of slowing the room, the close
// frame going out ahead of the queued events (which are dropped; the client
// resumes with ?after=), the drop logged at warn and counted
// (Hub.SlowConsumerDrops); a socket that
// resumes with ?after=<seq> gets every later message exactly once (subscribe
// first, replay from the store, then the buffered live events past the
// replay).
//
// Close codes: 1008 bad token, unknown room or not a member (reason starts
// with "unauthorized:" or "not found:"); 4001 the token was revoked
// (logout-all) or expired while the socket was open; 1009 frame over the
// size limit; 1001 daemon shutdown; 4003 removed from the room or room
// deleted; 4008 too slow; 4029 too many sockets for the user; 1011 internal
// error, reason "unavailable: ..." when the database could not be reached
// (worth retrying, unlike 1008).
//
// Where a delivery goes: hub.go orders a room's events and hands each one
// to the room's sockets, itself for a small room or through fanout.go's
// workers for a big one; writer.go (socketWriter) owns each socket's queue
// and every write to it, and states the write path's invariants; frame.go
// builds the frames; writer_unix.go and writefd_*.go are the non-blocking
// send; handler.go admits, replays and reads.
package realtime

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

// Options tune the hub and the chat socket. Zero values take the defaults,
// but for MaxSocketsPerUser, where 0 means no cap as in the config (the
// daemon's default comes from the config; DefaultOptions has it too).
type Options struct {
	// SendQueue is how many events may wait for one socket before it is
	// dropped as too slow (config realtime.send_queue).
	SendQueue int
	// MaxSocketsPerUser caps one user's open sockets across rooms, chat
	// and signaling (AcquireSocket) together (config
	// realtime.max_sockets_per_user); 0: no cap.
	MaxSocketsPerUser int
	// MaxFrameBytes is the largest client frame; bigger ones close the
	// socket with 1009 (config realtime.max_frame_bytes).
	MaxFrameBytes int64
	// PingInterval is how often the server pings; a socket silent for
	// PongWait is closed (config realtime.ping_interval, realtime.pong_wait).
	PingInterval time.Duration
	PongWait     time.Duration
	// WriteTimeout bounds one write to a socket (config realtime.write_timeout).
	WriteTimeout time.Duration
	// TypingInterval is the least time between two relayed typing events of
	// one socket (config realtime.typing_interval).
	TypingInterval time.Duration
	// ReorderWait is how long a message waits for an earlier seq that has
	// not been published yet before the hub loads it from the store.
	ReorderWait time.Duration
	// CloseGrace is how long a closing socket may take to say goodbye before
	// its connection is cut.
	CloseGrace time.Duration
	// ReplayPage is the page size of resume replays.
	ReplayPage int
	// ReadBufferSize and WriteBufferSize size the socket's I/O buffers; small
	// buffers keep idle sockets cheap (frames may be larger).
	ReadBufferSize, WriteBufferSize int
	// FanoutWorkers is how many goroutines write the events of big rooms
	// (default: GOMAXPROCS); FanoutInline is the largest room whose events
	// the publisher writes itself (default 32).
	FanoutWorkers, FanoutInline int
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		SendQueue:         1024,
		MaxSocketsPerUser: 64,
		MaxFrameBytes:     64 << 10,
		PingInterval:      30 * time.Second,
		PongWait:          75 * time.Second,
		WriteTimeout:      10 * time.Second,
		TypingInterval:    2 * time.Second,
		ReorderWait:       250 * time.Millisecond,
		CloseGrace:        2 * time.Second,
		ReplayPage:        500,
		ReadBufferSize:    1024,
		WriteBufferSize:   4096,
		FanoutWorkers:     runtime.GOMAXPROCS(0),
		FanoutInline:      32,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.SendQueue <= 0 {
		o.SendQueue = d.SendQueue
	}
	if o.MaxFrameBytes <= 0 {
		o.MaxFrameBytes = d.MaxFrameBytes
	}
	if o.PingInterval <= 0 {
		o.PingInterval = d.PingInterval
	}
	if o.PongWait <= o.PingInterval {
		o.PongWait = o.PingInterval*2 + o.PingInterval/2
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = d.WriteTimeout
	}
	if o.TypingInterval <= 0 {
		o.TypingInterval = d.TypingInterval
	}
	if o.ReorderWait <= 0 {
		o.ReorderWait = d.ReorderWait
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = d.CloseGrace
	}
	if o.ReplayPage <= 0 {
		o.ReplayPage = d.ReplayPage
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = d.ReadBufferSize
	}
	if o.WriteBufferSize <= 0 {
		o.WriteBufferSize = d.WriteBufferSize
	}
	if o.FanoutWorkers <= 0 {
		o.FanoutWorkers = d.FanoutWorkers
	}
	if o.FanoutInline == 0 {
		o.FanoutInline = d.FanoutInline
	}
	return o
}

// Authenticator resolves a bearer token (service.Auth).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (api.User, error)
}

// ExpiringAuthenticator is an Authenticator that also tells when the token
// expires (service.Auth); the socket is closed with 4001 then.
type ExpiringAuthenticator interface {
	AuthenticateUntil(ctx context.Context, token string) (api.User, time.Time, error)
}

// RoomGuard checks room membership (service.Rooms). It returns an error
// wrapping service.ErrNotFound for an unknown room or a non-member.
type RoomGuard interface {
	RequireMember(ctx context.Context, roomID, userID int64) (api.Room, error)
}

// MessageService stores and lists messages (service.Messages). Create
// publishes the stored message through the hub itself.
type MessageService interface {
	Create(ctx context.Context, userID, roomID int64, req api.CreateMessageRequest) (api.Message, bool, error)
	After(ctx context.Context, roomID, afterSeq int64, limit int) ([]api.Message, error)
}

// AICanceller stops a running AI reply (server/ai implements it). The
// handler answers ai_cancel frames with an error event when it is nil.
type AICanceller interface {
	Cancel(ctx context.Context, userID, roomID int64, streamID string) error
}

// Deps wires the realtime part of the daemon.
type Deps struct {
	// Hub is the hub the sockets subscribe to; nil: New builds one from
	// Options. The daemon builds it first, because the AI replies publish
	// through it and the socket handler cancels them (Canceller).
	Hub      *Hub
	Auth     Authenticator
	Rooms    RoomGuard
	Messages MessageService
	// Canceller handles ai_cancel frames (nil: they are answered with an
	// error event).
	Canceller AICanceller
	Options   Options
	Logger    *slog.Logger
}

// Chat is the realtime part of the daemon: the in-process hub (it is the
// services' Notifier and Presence) and the chat socket handler.
type Chat struct {
	*Hub
	handler *Handler
}

// New builds the /ws/chat handler on d.Hub (a new hub when nil).
func New(d Deps) *Chat {
	hub := d.Hub
	if hub == nil {
		hub = NewHub(d.Options, d.Messages.After, d.Logger)
	}
	h := NewHandler(HandlerConfig{
		Auth: d.Auth, Rooms: d.Rooms, Messages: d.Messages, Canceller: d.Canceller,
		Bus: hub, Options: d.Options, Logger: d.Logger,
	})
	return &Chat{Hub: hub, handler: h}
}

// Handler returns the Fiber handler of GET /ws/chat/:room_id.
func (c *Chat) Handler() fiber.Handler { return c.handler.Handler() }

// Close stops new frames (StopPosts), waits for the ones being handled,
// then closes every socket with 1001 (after what is queued for it) and
// waits for them to finish, at most until ctx ends. Call it after the HTTP
// drain.
func (c *Chat) Close(ctx context.Context) error {
	c.StopPosts()
	// Acks go out through the sockets' queues, which the hub flushes
	// before the close frame: wait for the commits first.
	if err := c.handler.frames.wait(ctx); err != nil {
		c.handler.log.Warn("chat frames still running at shutdown", "err", err)
	}
	c.Hub.Close()
	err := c.handler.wait(ctx)
	c.handler.Close()
	if err != nil {
		return fmt.Errorf("close chat sockets: %w", err)
	}
	return nil
}
