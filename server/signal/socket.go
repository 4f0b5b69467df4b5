package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/service"
)

// Handler returns the Fiber handler of GET /ws/signaling/:room_id. The token
// comes from ?token= or the Authorization header; a bad token, unknown room
// or non-member gets the socket closed with 1008 and a reason that starts
// with "unauthorized:" or "not found:", as on the chat socket; a token or
// membership that could not be checked (database unreachable) gets 1011 with
// a reason starting "unavailable:". Later closes: 4000 replaced by the same
// user's newer socket for the room, 4001 token revoked or expired, 4029 too
// many sockets for the user, 1013 call full.
func (h *Hub) Handler() fiber.Handler {
	ws := websocket.New(h.serve, websocket.Config{ReadBufferSize: 4096, WriteBufferSize: 4096})
	return func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return fiber.ErrUpgradeRequired
		}
		// Copy what the socket goroutine needs: Fiber reuses request buffers.
		token := c.Query("token")
		if token == "" {
			if a := c.Get(fiber.HeaderAuthorization); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
				token = a[7:]
			}
		}
		c.Locals("signal_token", strings.Clone(token))
		c.Locals("signal_room", strings.Clone(c.Params("room_id")))
		return ws(c)
	}
}

// serve runs one signaling socket.
func (h *Hub) serve(conn *websocket.Conn) {
	token, _ := conn.Locals("signal_token").(string)
	roomParam, _ := conn.Locals("signal_room").(string)
	revokes := h.revocations()
	user, roomID, expires, err := h.admit(token, roomParam)
	if err != nil {
		h.closeWith(conn, apierr.Of(err).Close, err.Error())
		return
	}
	p, err := h.join(roomID, user, revokes)
	if err != nil {
		h.closeWith(conn, apierr.Of(err).Close, err.Error())
		return
	}
	defer h.leave(p)
	if !expires.IsZero() {
		// One timer per socket, not a check per message.
		expiry := time.AfterFunc(time.Until(expires), func() { p.stop(wsproto.CloseRevoked, "unauthorized: token expired") })
		defer expiry.Stop()
	}

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		h.write(conn, p)
	}()
	h.read(conn, p)
	p.stop(1000, "")
	<-writerDone
}

// errUnavailable refuses a socket whose token or membership could not be
// checked (the database is unreachable): close 1011, worth retrying.
var errUnavailable = &apierr.Error{Kind: apierr.Unavailable, Detail: "unavailable: the database cannot be reached, try again shortly"}

// refusal is an admission refusal of kind with its close reason.
func refusal(kind *apierr.Kind, reason string) error {
	return &apierr.Error{Kind: kind, Detail: reason}
}

// admit authenticates the token and checks membership; it also returns when
// the token expires (zero when Auth cannot tell).
func (h *Hub) admit(token, roomParam string) (api.User, int64, time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if token == "" {
		return api.User{}, 0, time.Time{}, refusal(apierr.Unauthorized, "unauthorized: missing token")
	}
	var user api.User
	var expires time.Time
	var err error
	if ea, ok := h.opts.Auth.(ExpiringAuthenticator); ok {
		user, expires, err = ea.AuthenticateUntil(ctx, token)
	} else {
		user, err = h.opts.Auth.Authenticate(ctx, token)
	}
	if err != nil {
		if errors.Is(err, service.ErrUnauthorized) {
			return api.User{}, 0, time.Time{}, refusal(apierr.Unauthorized, "unauthorized: invalid or expired token")
		}
		// Not a verdict on the token: the database could not be asked.
		h.log.Warn("authenticate signaling socket", "err", err)
		return api.User{}, 0, time.Time{}, errUnavailable
	}
	roomID, err := strconv.ParseInt(roomParam, 10, 64)
	if err != nil || roomID <= 0 {
		return api.User{}, 0, time.Time{}, refusal(apierr.NotFound, "not found: room not found")
	}
	if _, err := h.opts.Rooms.RequireMember(ctx, roomID, user.ID); err != nil {
		if errors.Is(err, service.ErrNotFound) || errors.Is(err, service.ErrForbidden) {
			return api.User{}, 0, time.Time{}, refusal(apierr.NotFound, "not found: room not found or you are not a member")
		}
		h.log.Warn("check signaling membership", "room_id", roomID, "user_id", user.ID, "err", err)
		return api.User{}, 0, time.Time{}, errUnavailable
	}
	return user, roomID, expires, nil
}

func (h *Hub) closeWith(conn *websocket.Conn, code int, reason string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(h.opts.WriteWait))
	_ = conn.Close()
}

// write is the socket's only writer: queued messages, pings, and the close
// frame when the peer is told to go.
func (h *Hub) write(conn *websocket.Conn, p *peer) {
	ping := time.NewTicker(h.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case msg := <-p.send:
			_ = conn.SetWriteDeadline(time.Now().Add(h.opts.WriteWait))
			if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				p.stop(1000, "")
				_ = conn.Close()
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WriteWait)); err != nil {
				p.stop(1000, "")
				_ = conn.Close()
				return
			}
		case <-p.done:
			code, reason := p.closeCode, p.closeReason
			if code != 1000 {
				h.log.Info("signaling socket closed", "room_id", p.roomID, "peer_id", p.id, "code", code, "reason", reason)
			}
			h.closeWith(conn, code, reason)
			return
		}
	}
}

// read handles the peer's messages until the socket fails or closes.
func (h *Hub) read(conn *websocket.Conn, p *peer) {
	conn.SetReadLimit(int64(16 * h.opts.MaxMessageBytes))
	_ = conn.SetReadDeadline(time.Now().Add(h.opts.PongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(h.opts.PongWait))
	})
	for {
		kind, r, err := conn.NextReader()
		if err != nil {
			return
		}
		_ = conn.SetReadDeadline(time.Now().Add(h.opts.PongWait))
		data, err := io.ReadAll(io.LimitReader(r, int64(h.opts.MaxMessageBytes)+1))
		if err != nil {
			return
		}
		if len(data) > h.opts.MaxMessageBytes {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return // over the hard limit: the library closed with 1009
			}
			h.reply(p, fmt.Sprintf("message too large (limit %d bytes)", h.opts.MaxMessageBytes), api.CodeTooLarge)
			continue
		}
		if kind != websocket.TextMessage && kind != websocket.BinaryMessage {
			continue
		}
		h.handle(p, data)
	}
}

// serverOnly are the types only the server may send.
var serverOnly = map[string]bool{
	wsproto.SignalWelcome: true, wsproto.SignalPeerJoined: true,
	wsproto.SignalPeerLeft: true, wsproto.SignalError: true,
}

// handle validates one message and relays it, with the sender stamped.
func (h *Hub) handle(p *peer, data []byte) {
	select {
	case <-p.done:
		return // told to go (revoked, replaced, ...): relay nothing more
	default:
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		h.reply(p, "invalid JSON: expected an object like {\"type\":\"offer\",\"data\":{...}}", api.CodeBadJSON)
		return
	}
	var msg wsproto.Signal
	if err := json.Unmarshal(data, &msg); err != nil {
		h.reply(p, "invalid message: "+jsonFieldError(err), api.CodeBadMessage)
		return
	}
	switch {
	case msg.Type == "":
		h.reply(p, "message without type", api.CodeBadMessage)
		return
	case serverOnly[msg.Type]:
		h.reply(p, fmt.Sprintf("type %q is sent by the server only", msg.Type), api.CodeBadMessage)
		return
	}
	if err := validateData(msg); err != nil {
		h.reply(p, err.Error(), api.CodeBadMessage)
		return
	}
	// Relay every field unchanged; stamp who sent it.
	fields["from"] = mustMarshal(p.id)
	fields["user"] = mustMarshal(p.user.Username)
	fields["user_id"] = mustMarshal(p.user.ID)
	fields["room_id"] = mustMarshal(p.roomID)
	if !h.route(p, msg.To, mustMarshal(fields)) {
		h.reply(p, fmt.Sprintf("no peer %q in this call", msg.To), api.CodeUnknownPeer)
	}
}

// validateData checks the shape of the seed's message types so a broken
// client learns about it here rather than from a silent peer.
func validateData(msg wsproto.Signal) error {
	switch msg.Type {
	case wsproto.SignalOffer, wsproto.SignalAnswer:
		var sdp wsproto.SDP
		if err := json.Unmarshal(msg.Data, &sdp); err != nil || !strings.HasPrefix(sdp.SDP, "v=0") {
			return fmt.Errorf("%s data must be a session description {\"type\":%q,\"sdp\":\"v=0...\"}", msg.Type, msg.Type)
		}
	case wsproto.SignalICECandidate:
		if len(msg.Data) == 0 || string(msg.Data) == "null" {
			return nil // end of candidates
		}
		var cand wsproto.ICECandidate
		if err := json.Unmarshal(msg.Data, &cand); err != nil {
			return errors.New("ice_candidate data must be an ICE candidate {\"candidate\":\"...\",\"sdpMid\":\"0\"}")
		}
	}
	return nil
}

func jsonFieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return err.Error()
}

// reply sends an error event to the sender only; the socket stays open.
func (h *Hub) reply(p *peer, detail, code string) {
	p.enqueue(mustMarshal(wsproto.Signal{Type: wsproto.SignalError, RoomID: p.roomID, Detail: detail, Code: code}))
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("signal: marshal %T: %v", v, err)) // only our own types get here
	}
	return b
}
