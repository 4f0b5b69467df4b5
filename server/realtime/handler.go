package realtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
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
	bufs     sync.Pool      // *[]byte write buffers shared by the writers
	frames   frameGate      // closed by a shutdown (shutdown.go)
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
	h.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	// Write buffers come from a pool and are held only during a write, so
	// an idle socket costs its read buffer and two goroutine stacks.
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
	netConn := socketOf(c)

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
	sub.OnClose(func() { _ = netConn.Close() })
	// A slow drop cuts a blocked write short, so that the close frame goes
	// out ahead of what was queued (Subscription.dropSlow).
	wc := c.NetConn()
	sub.OnSlow(func() { _ = wc.SetWriteDeadline(time.Unix(1, 0)) })
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
		last, err = h.replay(ctx, c, roomID, adm.after)
		if err != nil {
			h.log.DebugContext(ctx, "replay", "room_id", roomID, "user_id", user.ID, "err", err)
			sub.Close(1011, "replay failed")
		}
	}
	sub.SkipThrough(last)
	if err == nil {
		presence, _ := json.Marshal(wsproto.Event{Type: wsproto.TypePresence, RoomID: roomID, Online: h.bus.Online(roomID), Seq: last})
		if werr := h.writeRaw(c, appendFrame(nil, opText, presence)); werr != nil {
			sub.Close(CloseNormal, "")
		}
	}

	var deadline time.Time // the connection's write deadline, owned by the running writer
	sub.SetWriter(func() { h.drain(c, sub, &deadline) }, h.opts.PingInterval, nonBlockingWriter(netConn))
	h.readLoop(ctx, c, sub, user)
	sub.Close(CloseNormal, "")
	sub.WaitWriter()
}

// replay sends the stored messages after seq `after`, one write per page,
// and returns the seq of the last one sent. It runs before the reader and
// the writer start, so it may write to the connection directly.
func (h *Handler) replay(ctx context.Context, c *websocket.Conn, roomID, after int64) (int64, error) {
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
		if err := h.writeRaw(c, out); err != nil {
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

// writeRaw writes already framed bytes.
func (h *Handler) writeRaw(c *websocket.Conn, out []byte) error {
	if len(out) == 0 {
		return nil
	}
	nc := c.NetConn()
	if err := nc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)); err != nil {
		return err
	}
	_, err := nc.Write(out)
	return err
}

// drain is the socket's writer after the replay: it writes queued events,
// pings and the close frame, and returns when there is nothing left (the
// subscription starts it again when needed). Everything queued goes out in
// one write, so a socket that fell behind catches up with few system calls.
// After the replay it is the connection's only writer: the reader hands
// pongs and close replies to it instead of writing them itself.
func (h *Handler) drain(c *websocket.Conn, sub *Subscription, deadline *time.Time) {
	nc := c.NetConn()
	var frames []*Frame
	var rest []byte // the end of a frame whose write a slow drop cut short
	for {
		b, ok := sub.Next(frames)
		if !ok {
			return
		}
		buf := h.bufs.Get().(*[]byte)
		out := append((*buf)[:0], rest...)
		restLen := len(rest)
		rest = nil
		// The rest of a frame the socket has begun goes first: nothing may
		// come between its bytes, not even a control frame.
		lead := 0
		if len(b.Frames) > 0 && b.Frames[0].Data == nil {
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
				h.log.Warn("slow consumer dropped", "user_id", sub.UserID, "room_id", sub.RoomID, "queue_depth", b.Dropped)
			}
			out = appendFrame(out, opClose, websocket.FormatCloseMessage(b.Code, b.Reason))
		}
		// Moving the deadline costs a timer update; do it only when less
		// than half of WriteTimeout is left, or when a slow drop moved it
		// into the past and this is the goodbye.
		var err error
		aborting := sub.Aborting()
		if now := time.Now(); deadline.Sub(now) < h.opts.WriteTimeout/2 || (b.Closing && aborting) {
			*deadline = now.Add(h.opts.WriteTimeout)
			err = nc.SetWriteDeadline(*deadline)
			if err == nil && !b.Closing && sub.Aborting() {
				// Dropped meanwhile: this write must not outlast it.
				err = nc.SetWriteDeadline(time.Unix(1, 0))
			}
		}
		var n int
		if err == nil {
			n, err = nc.Write(out)
		}
		if err != nil && !b.Closing && sub.Aborting() {
			// Dropped as too slow while this write waited: what it did not
			// send is dropped, but for the end of the frame it stopped in;
			// the close frame follows that (the next round).
			rest = append([]byte(nil), out[n:cutPoint(restLen, b, lead, n)]...)
			err = nil
		}
		if cap(out) <= 64<<10 {
			*buf = out
			h.bufs.Put(buf)
		}
		if err != nil {
			h.cut(c, sub)
			return
		}
		if b.Closing {
			// The reader waits for the peer's close reply, not longer.
			_ = c.SetReadDeadline(time.Now().Add(h.opts.CloseGrace))
			return
		}
		clear(b.Frames)
		frames = b.Frames[:0]
	}
}

// cutPoint is where the frame that byte n of a writer's round lies in ends
// (n itself when a frame starts there), for a write cut short after n
// bytes. The round was built as drain builds it: restLen bytes ending a
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

// frameLen is the size of a server frame with n bytes of payload.
func frameLen(n int) int {
	switch {
	case n < 126:
		return 2 + n
	case n <= 0xFFFF:
		return 4 + n
	}
	return 10 + n
}

// WebSocket opcodes of the frames the writer builds.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// appendFrame appends one final, unmasked (server-to-client) frame.
func appendFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// cut ends a socket whose writes fail; the writer stays marked running so
// that no new one starts.
func (h *Handler) cut(c *websocket.Conn, sub *Subscription) {
	sub.Close(CloseNormal, "")
	_ = socketOf(c).Close()
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
