package signal_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/signal"
)

// directory: token "tok-NAME" is user NAME; alice, bob in room 1, dave in room 2.
type directory struct{}

var users = map[string]api.User{
	"tok-alice": {ID: 1, Username: "alice"},
	"tok-bob":   {ID: 2, Username: "bob"},
	"tok-dave":  {ID: 4, Username: "dave"},
}

func (directory) Authenticate(_ context.Context, token string) (api.User, error) {
	if u, ok := users[token]; ok {
		return u, nil
	}
	return api.User{}, service.Unauthorized("bad token")
}

func (directory) RequireMember(_ context.Context, roomID, userID int64) (api.Room, error) {
	if (roomID == 1 && userID <= 2) || (roomID == 2 && userID == 4) {
		return api.Room{ID: roomID}, nil
	}
	return api.Room{}, service.NotFound("room not found")
}

// recorder keeps the system messages and chat events the hub produced.
type recorder struct {
	mu     sync.Mutex
	system []string
	events []wsproto.Event
}

func (r *recorder) CreateSystem(_ context.Context, roomID int64, content string) (api.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.system = append(r.system, content)
	return api.Message{RoomID: roomID, Content: content}, nil
}

func (r *recorder) Publish(_ int64, ev wsproto.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func start(t *testing.T) (*signal.Hub, *recorder, string) {
	t.Helper()
	rec := &recorder{}
	hub := signal.New(signal.Options{Auth: directory{}, Rooms: directory{}, Messages: rec, Chat: rec, MaxMessageBytes: 4096})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws/signaling/:room_id", hub.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		hub.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	})
	return hub, rec, "ws://" + ln.Addr().String()
}

type sock struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, base, room, token string) *sock {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, base+"/ws/signaling/"+room+"?token="+token, nil)
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &sock{t: t, conn: conn}
}

func (s *sock) read() wsproto.Signal {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := s.conn.Read(ctx)
	require.NoError(s.t, err)
	var m wsproto.Signal
	require.NoError(s.t, json.Unmarshal(b, &m), string(b))
	return m
}

func (s *sock) readRaw() map[string]any {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := s.conn.Read(ctx)
	require.NoError(s.t, err)
	var m map[string]any
	require.NoError(s.t, json.Unmarshal(b, &m))
	return m
}

func (s *sock) send(v string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(s.t, s.conn.Write(ctx, websocket.MessageText, []byte(v)))
}

// closeCode reads until the server closes and returns its close code.
func (s *sock) closeCode() (websocket.StatusCode, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := s.conn.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			require.ErrorAs(s.t, err, &ce)
			return ce.Code, ce.Reason
		}
	}
}

const offer = `{"type":"offer","data":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"},"extra":"kept"}`

func TestSignal_WelcomeRoutingAndLeave(t *testing.T) {
	hub, rec, base := start(t)
	a := dial(t, base, "1", "tok-alice")
	wa := a.read()
	require.Equal(t, wsproto.SignalWelcome, wa.Type)
	require.NotEmpty(t, wa.PeerID)
	require.Empty(t, wa.Peers)

	b := dial(t, base, "1", "tok-bob")
	wb := b.read()
	require.Equal(t, wsproto.SignalWelcome, wb.Type)
	require.Equal(t, []wsproto.CallPeer{{PeerID: wa.PeerID, UserID: 1, Username: "alice"}}, wb.Peers)
	j := a.read()
	require.Equal(t, wsproto.SignalPeerJoined, j.Type)
	require.Equal(t, wb.PeerID, j.PeerID)
	require.Equal(t, "bob", j.User)

	ps := hub.Participants(1)
	require.Len(t, ps, 2)
	require.Equal(t, "alice", ps[0].Username)
	require.Equal(t, "bob", ps[1].Username)

	// Seed behaviour: no `to` goes to every other peer, data unchanged,
	// unknown fields kept, sender stamped.
	b.send(offer)
	m := a.readRaw()
	require.Equal(t, "offer", m["type"])
	require.Equal(t, wb.PeerID, m["from"])
	require.Equal(t, "bob", m["user"])
	require.Equal(t, "kept", m["extra"])
	require.Equal(t, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n", m["data"].(map[string]any)["sdp"])

	// `to` routing, and a forged `from` is overwritten.
	a.send(`{"type":"ice_candidate","to":"` + wb.PeerID + `","from":"forged","data":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0"}}`)
	c := b.read()
	require.Equal(t, wsproto.SignalICECandidate, c.Type)
	require.Equal(t, wa.PeerID, c.From)
	require.Equal(t, wb.PeerID, c.To)

	// Bob leaves: alice hears peer_left and the participants shrink.
	require.NoError(t, b.conn.Close(websocket.StatusNormalClosure, "bye"))
	l := a.read()
	require.Equal(t, wsproto.SignalPeerLeft, l.Type)
	require.Equal(t, wb.PeerID, l.PeerID)
	require.Len(t, hub.Participants(1), 1)

	require.NoError(t, a.conn.Close(websocket.StatusNormalClosure, "bye"))
	require.Eventually(t, func() bool { return len(hub.Participants(1)) == 0 }, 10*time.Second, 10*time.Millisecond)

	// The room was told the call started and ended, in that order.
	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.system) == 2
	}, 10*time.Second, 10*time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, "alice started a voice call", rec.system[0])
	require.True(t, strings.HasPrefix(rec.system[1], "The voice call ended after "), rec.system[1])
	require.Len(t, rec.events, 4) // alice, bob, -bob, -alice
	require.Equal(t, wsproto.TypeCall, rec.events[1].Type)
	require.Len(t, rec.events[1].Participants, 2)
	require.Empty(t, rec.events[3].Participants)
}

func TestSignal_Abuse(t *testing.T) {
	_, _, base := start(t)
	a := dial(t, base, "1", "tok-alice")
	wa := a.read()
	b := dial(t, base, "1", "tok-bob")
	wb := b.read()
	require.Equal(t, wsproto.SignalPeerJoined, a.read().Type)
	d := dial(t, base, "2", "tok-dave")
	wd := d.read()
	require.Equal(t, wsproto.SignalWelcome, wd.Type)

	cases := []struct{ name, msg, code, detail string }{
		{"garbage JSON", `{"type": offer`, "bad_json", "invalid JSON"},
		{"not an object", `[1,2]`, "bad_json", "invalid JSON"},
		{"no type", `{"data":{}}`, "bad_message", "without type"},
		{"wrong field type", `{"type":5}`, "bad_message", `"type"`},
		{"bogus SDP", `{"type":"offer","data":{"type":"offer","sdp":"hello"}}`, "bad_message", "session description"},
		{"SDP not an object", `{"type":"answer","data":"v=0"}`, "bad_message", "session description"},
		{"server-only type", `{"type":"welcome"}`, "bad_message", "server only"},
		{"to a peer in another room", `{"type":"offer","to":"` + wd.PeerID + `","data":{"type":"offer","sdp":"v=0\r\n"}}`, "unknown_peer", wd.PeerID},
		{"to nobody", `{"type":"ice_candidate","to":"nope","data":{"candidate":""}}`, "unknown_peer", "nope"},
		{"to self", `{"type":"ice_candidate","to":"` + wa.PeerID + `","data":{"candidate":""}}`, "unknown_peer", wa.PeerID},
		{"oversize", `{"type":"offer","data":{"type":"offer","sdp":"v=0` + strings.Repeat("x", 5000) + `"}}`, "too_large", "too large"},
	}
	for _, tc := range cases {
		a.send(tc.msg)
		e := a.read()
		require.Equal(t, wsproto.SignalError, e.Type, tc.name)
		require.Equal(t, tc.code, e.Code, tc.name)
		require.Contains(t, e.Detail, tc.detail, tc.name)
	}

	// The socket survived all of it and still relays; nothing reached bob
	// or dave before this message.
	a.send(`{"type":"ice_candidate","data":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}`)
	m := b.read()
	require.Equal(t, wsproto.SignalICECandidate, m.Type)
	require.Equal(t, wa.PeerID, m.From)

	// Dave (room 2) got nothing: the next thing he reads is his own error.
	d.send(`{"type":"ice_candidate","to":"` + wb.PeerID + `","data":{}}`)
	e := d.read()
	require.Equal(t, wsproto.SignalError, e.Type)
	require.Equal(t, "unknown_peer", e.Code)
}

func TestSignal_Refusals(t *testing.T) {
	_, _, base := start(t)
	for _, tc := range []struct{ name, room, token string }{
		{"non-member", "1", "tok-dave"},
		{"bad token", "1", "nope"},
		{"no token", "1", ""},
		{"unknown room", "99", "tok-alice"},
		{"bad room id", "abc", "tok-alice"},
	} {
		s := dial(t, base, tc.room, tc.token)
		code, reason := s.closeCode()
		require.Equal(t, websocket.StatusPolicyViolation, code, tc.name)
		require.NotEmpty(t, reason, tc.name)
	}
}

func TestSignal_BearerHeader(t *testing.T) {
	_, _, base := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer tok-alice")
	conn, _, err := websocket.Dial(ctx, base+"/ws/signaling/1", &websocket.DialOptions{HTTPHeader: h})
	require.NoError(t, err)
	defer conn.CloseNow()
	s := &sock{t: t, conn: conn}
	require.Equal(t, wsproto.SignalWelcome, s.read().Type)
}

func TestICEConfig_TURNRESTCredentials(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := config.RTCConfig{
		STUNURLs:   []string{"stun:stun.example.org:3478"},
		TURNURLs:   []string{"turn:turn.example.org:3478?transport=udp"},
		TURNSecret: "s3cret", TURNTTL: time.Hour,
	}
	got := signal.ICEConfig(cfg, 42, now)
	require.Len(t, got.ICEServers, 2)
	require.Equal(t, []string{"stun:stun.example.org:3478"}, got.ICEServers[0].URLs)
	turn := got.ICEServers[1]
	require.Equal(t, "1767326645:42", turn.Username) // now + 1h
	// echo -n 1767326645:42 | openssl dgst -sha1 -hmac s3cret -binary | base64
	require.Equal(t, "4wYSTH5o+crH/vO0bTbT2jEKM7M=", turn.Credential)
	require.Equal(t, now.Add(time.Hour), got.ExpiresAt)

	// Without a secret, no TURN server is handed out.
	cfg.TURNSecret = ""
	require.Len(t, signal.ICEConfig(cfg, 42, now).ICEServers, 1)
	require.Empty(t, signal.ICEConfig(config.RTCConfig{}, 1, now).ICEServers)
}

// TestSignal_OneSocketPerUserPerRoom: a user's new signaling socket for a
// room replaces the old one (close 4000 "replaced"), so one member cannot
// take the seats of a call however many sockets they open.
func TestSignal_OneSocketPerUserPerRoom(t *testing.T) {
	hub, _, base := start(t)
	bob := dial(t, base, "1", "tok-bob")
	require.Equal(t, wsproto.SignalWelcome, bob.read().Type)

	prev := dial(t, base, "1", "tok-alice")
	w := prev.read()
	require.Equal(t, wsproto.SignalWelcome, w.Type)
	prevID := w.PeerID
	require.Equal(t, wsproto.SignalPeerJoined, bob.read().Type)
	for range 20 { // more sockets than the call has seats
		next := dial(t, base, "1", "tok-alice")
		w := next.read()
		require.Equal(t, wsproto.SignalWelcome, w.Type)
		require.Len(t, w.Peers, 1, "only bob is in the call besides the new socket")
		code, reason := prev.closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseReplaced), code)
		require.Equal(t, "replaced", reason)
		left := bob.read()
		require.Equal(t, wsproto.SignalPeerLeft, left.Type)
		require.Equal(t, prevID, left.PeerID)
		joined := bob.read()
		require.Equal(t, wsproto.SignalPeerJoined, joined.Type)
		require.Equal(t, w.PeerID, joined.PeerID)
		prev, prevID = next, w.PeerID
	}
	require.Len(t, hub.Participants(1), 2)
}
