package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/logctx"
	"github.com/virtual-company/vc/server/service"
)

// HandlerConfig wires the chat socket handler.
type HandlerConfig struct {
	Auth     Authenticator
	Rooms    RoomGuard
	Messages MessageService
	// Canceller handles ai_cancel frames; nil answers them with an error event.
	Canceller AICanceller
	Bus       Bus
	Options   Options
	Logger    *slog.Logger
}

// Handler serves /ws/chat/{room_id}.
type Handler struct {
	auth     Authenticator
	rooms    RoomGuard
	msgs     MessageService
	cancel   AICanceller
	bus      Bus
	opts     Options
	log      *slog.Logger
	ws       fiber.Handler
	base     context.Context
	stopBase context.CancelFunc
	active   sync.WaitGroup // running serve calls
	frames   frameGate      // closed by a shutdown (shutdown.go)
	replays  atomic.Uint64  // sockets resumed with ?after= (metrics, stats.go)
}

// NewHandler returns the chat socket handler.
func NewHandler(cfg HandlerConfig) *Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, stop := context.WithCancel(context.Background())
	h := &Handler{
		auth: cfg.Auth, rooms: cfg.Rooms, msgs: cfg.Messages, cancel: cfg.Canceller,
		bus: cfg.Bus, opts: cfg.Options.withDefaults(), log: log.With("component", "chat_ws"),
		base: base, stopBase: stop,
	}
	// The socket writers (writer.go) write the frames themselves with
	// pooled buffers held only during a write, so an idle socket costs its
	// read buffer and one goroutine stack.
	h.ws = websocket.New(h.serve, websocket.Config{
		ReadBufferSize:  h.opts.ReadBufferSize,
		WriteBufferSize: h.opts.WriteBufferSize,
		WriteBufferPool: &sync.Pool{},
		RecoverHandler:  h.recover,
	})
	return h
}

// admission is the outcome of the checks made before the upgrade: the
// database work runs on the HTTP worker's goroutine, so the socket's own
// goroutine keeps a small stack for as long as the socket lives.
type admission struct {
	user   api.User
	room   api.Room
	resume bool
	after  int64
	// expires is when the token stops being valid (zero: unknown); revokes
	// is the bus's revocation count read before the token was checked.
	expires time.Time
	revokes uint64
	// refuse is the close code when the socket must be refused (0: admitted).
	refuse       int
	refuseReason string
	// connID names the socket in log lines (the upgrade's request id).
	connID string
}

// Close reasons of sessions that end (close 1011 and 4001).
const (
	reasonUnavailable = "unavailable: the database cannot be reached, try again shortly"
	reasonRevoked     = "unauthorized: token revoked"
	reasonExpired     = "unauthorized: token expired"
)

// authenticate checks token, with its expiry when auth can tell it.
func authenticate(ctx context.Context, auth Authenticator, token string) (api.User, time.Time, error) {
	if ea, ok := auth.(ExpiringAuthenticator); ok {
		return ea.AuthenticateUntil(ctx, token)
	}
	u, err := auth.Authenticate(ctx, token)
	return u, time.Time{}, err
}

const admissionKey = "realtime.admission"

// Handler returns the Fiber handler for GET /ws/chat/:room_id; plain HTTP
// requests get 426 Upgrade Required. Refused sockets are still upgraded and
// then closed with 1008 and a reason, which is what browsers can see.
func (h *Handler) Handler() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return fiber.ErrUpgradeRequired
		}
		c.Locals(admissionKey, h.admit(c))
		return h.ws(c)
	}
}

func (h *Handler) admit(c *fiber.Ctx) *admission {
	ctx := c.UserContext()
	roomID, err := strconv.ParseInt(c.Params("room_id"), 10, 64)
	if err != nil || roomID <= 0 {
		return &admission{refuse: apierr.NotFound.Close, refuseReason: "not found: room not found"}
	}
	revokes := h.bus.Revocations()
	user, expires, err := authenticate(ctx, h.auth, bearer(c))
	if err != nil {
		if errors.Is(err, service.ErrUnauthorized) {
			return &admission{refuse: apierr.Unauthorized.Close, refuseReason: "unauthorized: invalid or expired token"}
		}
		// Not a verdict on the token: the database could not be asked.
		h.log.WarnContext(ctx, "authenticate chat socket", "room_id", roomID, "err", err)
		return &admission{refuse: apierr.Unavailable.Close, refuseReason: reasonUnavailable}
	}
	room, err := h.rooms.RequireMember(ctx, roomID, user.ID)
	if err != nil {
		if errors.Is(err, service.ErrNotFound) || errors.Is(err, service.ErrForbidden) {
			return &admission{refuse: apierr.NotFound.Close, refuseReason: "not found: room not found or you are not a member"}
		}
		if errors.Is(err, service.ErrUnavailable) {
			h.log.WarnContext(ctx, "check chat membership", "room_id", roomID, "user_id", user.ID, "err", err)
			return &admission{refuse: apierr.Unavailable.Close, refuseReason: reasonUnavailable}
		}
		h.log.ErrorContext(ctx, "check chat membership", "room_id", roomID, "user_id", user.ID, "err", err)
		return &admission{refuse: apierr.Internal.Close, refuseReason: "internal error"}
	}
	adm := &admission{user: user, room: room, expires: expires, revokes: revokes, connID: logctx.RequestID(ctx)}
	if s := c.Query("after"); s != "" {
		adm.after, err = strconv.ParseInt(s, 10, 64)
		if err != nil || adm.after < 0 {
			return &admission{refuse: wsproto.ClosePolicy, refuseReason: "bad request: after must be a non-negative integer"}
		}
		if adm.after > room.LastSeq {
			// Admitted, such a socket would skip every live message up to
			// seq after: silence the client could not tell from a quiet room.
			return &admission{refuse: apierr.BadRequest.Close,
				refuseReason: "bad_request: after is ahead of the room (last seq " + strconv.FormatInt(room.LastSeq, 10) + ")"}
		}
		adm.resume = true
	}
	return adm
}

// wait waits until every socket finished or ctx ends.
func (h *Handler) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels the work of open sockets (pending service calls). The hub
// closes the sockets themselves.
func (h *Handler) Close() { h.stopBase() }

func (h *Handler) recover(c *websocket.Conn) {
	if r := recover(); r != nil {
		h.log.Error("chat socket panic", "panic", r)
		h.refuse(c, apierr.Internal.Close, "internal error")
	}
}

// refuse closes a socket that was never subscribed, letting the peer read
// the close frame before the connection goes.
func (h *Handler) refuse(c *websocket.Conn, code int, reason string) {
	c.SetReadLimit(h.opts.MaxFrameBytes)
	deadline := time.Now().Add(h.opts.CloseGrace)
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
	_ = c.SetReadDeadline(deadline)
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

func bearer(c *fiber.Ctx) string {
	if t := c.Query("token"); t != "" {
		return t
	}
	a := c.Get(fiber.HeaderAuthorization)
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// serve runs one admitted socket: subscribe, replay, then read frames; a
// writer goroutine runs whenever there is something to send.
func (h *Handler) serve(c *websocket.Conn) {
	h.active.Add(1)
	defer h.active.Done()
	adm, _ := c.Locals(admissionKey).(*admission)
	switch {
	case adm == nil:
		h.refuse(c, apierr.Internal.Close, "internal error")
		return
	case adm.refuse != 0:
		h.refuse(c, adm.refuse, adm.refuseReason)
		return
	}
	user, roomID := adm.user, adm.room.ID
	ctx, cancel := context.WithCancel(logctx.WithConnID(h.base, adm.connID))
	defer cancel()

	sub, err := h.bus.Subscribe(roomID, user, adm.room.LastSeq)
	switch {
	case errors.Is(err, ErrTooManySockets):
		h.refuse(c, apierr.TooManySockets.Close, "too many sockets for this user")
		return
	case err != nil:
		h.refuse(c, apierr.ShuttingDown.Close, "server shutting down")
		return
	}
	defer h.bus.Unsubscribe(sub)
	// From here on the subscription's writer owns the writes (writer.go).
	sub.attach(c)
	if h.bus.RevokedSince(user.ID, adm.revokes) {
		// Logout-all ran between the token check and the subscription,
		// too early to find this socket.
		sub.Close(wsproto.CloseRevoked, reasonRevoked)
	}
	if !adm.expires.IsZero() {
		// One timer per socket, not a check per frame.
		expiry := time.AfterFunc(time.Until(adm.expires), func() { sub.Close(wsproto.CloseRevoked, reasonExpired) })
		defer expiry.Stop()
	}

	// Live events queue up in sub from here on; replay what the client
	// missed, then let the writer skip what the replay already sent.
	last := adm.room.LastSeq
	if adm.resume {
		h.replays.Add(1)
		last, err = h.replay(ctx, sub, roomID, adm.after)
		if err != nil {
			h.log.DebugContext(ctx, "replay", "room_id", roomID, "user_id", user.ID, "err", err)
			sub.Close(1011, "replay failed")
		}
	}
	sub.SkipThrough(last)
	if err == nil {
		presence, _ := json.Marshal(wsproto.Event{Type: wsproto.TypePresence, RoomID: roomID, Online: h.bus.Online(roomID), Seq: last})
		if werr := sub.writeFirst(appendFrame(nil, opText, presence)); werr != nil {
			sub.Close(CloseNormal, "")
		}
	}

	sub.start(h.opts.PingInterval)
	h.readLoop(ctx, c, sub, user)
	sub.Close(CloseNormal, "")
	sub.WaitWriter()
}

// replay sends the stored messages after seq `after`, one write per page,
// and returns the seq of the last one sent. It runs before the writer
// starts, so it may write to the connection itself (writeFirst).
func (h *Handler) replay(ctx context.Context, sub *Subscription, roomID, after int64) (int64, error) {
	last := after
	var out []byte
	for {
		msgs, err := h.msgs.After(ctx, roomID, last, h.opts.ReplayPage)
		if err != nil {
			return last, err
		}
		out = out[:0]
		for _, m := range msgs {
			b, err := json.Marshal(service.MessageEvent(m))
			if err != nil {
				return last, err
			}
			out = appendFrame(out, opText, b)
		}
		if err := sub.writeFirst(out); err != nil {
			return last, err
		}
		if len(msgs) > 0 {
			last = msgs[len(msgs)-1].Seq
		}
		if len(msgs) < h.opts.ReplayPage {
			return last, nil
		}
	}
}

// readLoop handles client frames until the socket fails or closes. It
// never writes: pongs and close replies go through the writer.
func (h *Handler) readLoop(ctx context.Context, c *websocket.Conn, sub *Subscription, user api.User) {
	extend := func() { _ = c.SetReadDeadline(time.Now().Add(h.opts.PongWait)) }
	extend()
	c.SetPongHandler(func(string) error { extend(); return nil })
	c.SetPingHandler(func(payload string) error { extend(); sub.Pong(payload); return nil })
	c.SetCloseHandler(func(int, string) error { return nil }) // the writer answers
	var lastTyping time.Time
	var buf bytes.Buffer
	for {
		kind, r, err := c.NextReader()
		if err != nil {
			return
		}
		buf.Reset()
		// The size limit is enforced here rather than by the library, which
		// would write the 1009 close itself, racing the writer.
		n, err := buf.ReadFrom(io.LimitReader(r, h.opts.MaxFrameBytes+1))
		if err != nil {
			return
		}
		if n > h.opts.MaxFrameBytes {
			sub.Close(wsproto.CloseTooBig, "frame too big")
			h.discardUntilClosed(c)
			return
		}
		if kind == websocket.TextMessage && !utf8.Valid(buf.Bytes()) {
			// RFC 6455 8.1: a text frame that is not UTF-8 fails the
			// connection with 1007 (the library does not check).
			sub.Close(wsproto.CloseInvalidData, "invalid UTF-8 in text frame")
			h.discardUntilClosed(c)
			return
		}
		extend()
		h.handleFrame(ctx, sub, user, buf.Bytes(), &lastTyping)
		if buf.Cap() > 64<<10 {
			buf = bytes.Buffer{} // do not keep a big frame's buffer on an idle socket
		}
	}
}

// discardUntilClosed reads and drops frames until the peer answers the
// close (or the writer's grace deadline passes), so that the close frame is
// not lost to a reset caused by unread data.
func (h *Handler) discardUntilClosed(c *websocket.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(h.opts.CloseGrace))
	for {
		_, r, err := c.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

func (h *Handler) handleFrame(ctx context.Context, sub *Subscription, user api.User, data []byte, lastTyping *time.Time) {
	if sub.Closing() {
		// Told to go (token revoked, removed from the room, ...): what the
		// client sent meanwhile is not acted on.
		return
	}
	var f wsproto.ClientFrame
	// Lone surrogate escapes (and invalid UTF-8 in binary frames) would be
	// stored as U+FFFD; refuse the frame instead.
	if err := service.CheckJSONText(data); err != nil {
		_ = json.Unmarshal(data, &f) // for the client_id, if any
		h.sendError(sub, f.ClientID, api.CodeValidation, err.Error())
		return
	}
	if err := json.Unmarshal(data, &f); err != nil {
		h.sendError(sub, "", api.CodeInvalidJSON, "frame is not valid JSON")
		return
	}
	if f.Type != wsproto.ClientPing {
		if !h.frames.enter() {
			h.sendError(sub, f.ClientID, api.CodeShuttingDown, "server shutting down: not stored; send it again once reconnected")
			return
		}
		defer h.frames.leave()
	}
	switch f.Type {
	case "", wsproto.ClientMessage:
		msg, _, err := h.msgs.Create(ctx, user.ID, sub.RoomID, api.CreateMessageRequest{
			Content: f.Content, RoleID: f.RoleID, MessageType: f.MessageType,
			ClientID: f.ClientID, Model: f.Model, APIKey: f.APIKey,
		})
		if err != nil {
			code, detail := errorCode(err)
			if code == api.CodeInternal {
				h.log.ErrorContext(ctx, "create message from socket", "room_id", sub.RoomID, "user_id", user.ID, "err", err)
			}
			h.sendError(sub, f.ClientID, code, detail)
			return
		}
		if f.ClientID != "" {
			h.send(sub, wsproto.Event{Type: wsproto.TypeAck, RoomID: sub.RoomID, ClientID: f.ClientID, ID: msg.ID, Seq: msg.Seq})
		}
	case wsproto.ClientTyping:
		now := time.Now()
		if now.Sub(*lastTyping) < h.opts.TypingInterval {
			return // throttled
		}
		*lastTyping = now
		uid := user.ID
		h.bus.PublishExcept(sub.RoomID, wsproto.Event{Type: wsproto.TypeTyping, RoomID: sub.RoomID, User: user.Username, UserID: &uid}, sub)
	case wsproto.ClientAICancel:
		if f.StreamID == "" {
			h.sendError(sub, "", api.CodeValidation, "stream_id: required")
			return
		}
		if h.cancel == nil {
			h.sendError(sub, "", api.CodeNotFound, "no such AI reply")
			return
		}
		if err := h.cancel.Cancel(ctx, user.ID, sub.RoomID, f.StreamID); err != nil {
			code, detail := errorCode(err)
			h.sendError(sub, "", code, detail)
		}
	case wsproto.ClientPing:
		h.send(sub, wsproto.Event{Type: wsproto.TypePong, RoomID: sub.RoomID})
	default:
		h.sendError(sub, f.ClientID, api.CodeBadRequest, "unknown frame type "+strconv.Quote(f.Type))
	}
}

func (h *Handler) send(sub *Subscription, ev wsproto.Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("encode event", "type", ev.Type, "err", err)
		return
	}
	sub.Send(b)
}

func (h *Handler) sendError(sub *Subscription, clientID, code, detail string) {
	h.send(sub, wsproto.Event{Type: wsproto.TypeError, RoomID: sub.RoomID, ClientID: clientID, Code: code, Detail: detail})
}

// errorCode maps a service error to the code (from the catalogue,
// server/apierr) and detail of an error event. Errors of kinds a client can
// act on show their own text; anything else is "internal error", its cause
// logged by the caller.
func errorCode(err error) (code, detail string) {
	var ve *service.ValidationError
	var rl *service.RateLimitError
	var se *service.Error
	switch {
	case errors.As(err, &ve):
		return apierr.Of(ve).Code, ve.Error()
	case errors.As(err, &rl):
		return apierr.Of(rl).Code, rl.Error()
	case errors.As(err, &se):
		return kindCode(se), se.Detail
	case errors.Is(err, service.ErrNotFound), errors.Is(err, service.ErrForbidden),
		errors.Is(err, service.ErrBadRequest), errors.Is(err, service.ErrConflict):
		return kindCode(err), err.Error()
	}
	return apierr.Internal.Code, "internal error"
}

// kindCode is the code of a service error's kind; an error of no kind the
// catalogue has for a frame's answer is a bad request.
func kindCode(err error) string {
	switch k := apierr.Of(err); k {
	case apierr.Internal, apierr.Unavailable:
		return apierr.BadRequest.Code
	default:
		return k.Code
	}
}
