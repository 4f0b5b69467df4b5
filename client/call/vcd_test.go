package call_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/client/call"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// vcdRoom is a real daemon with alice and bob in one room and dave in another.
type vcdRoom struct {
	d                *servertest.Daemon
	alice, bob, dave servertest.Account
	room, daveRoom   api.Room
	aliceC           *client.Client
}

func startVCD(t *testing.T, opts ...servertest.Option) *vcdRoom {
	t.Helper()
	d := servertest.Start(t, opts...)
	v := &vcdRoom{d: d, alice: d.Register("alice"), bob: d.Register("bob"), dave: d.Register("dave")}
	ctx := context.Background()
	var err error
	v.aliceC, err = client.New(d.URL, client.WithToken(v.alice.Token))
	require.NoError(t, err)
	v.room, err = v.aliceC.CreateRoom(ctx, "standup")
	require.NoError(t, err)
	_, err = v.aliceC.AddMember(ctx, v.room.ID, "bob")
	require.NoError(t, err)
	daveC, err := client.New(d.URL, client.WithToken(v.dave.Token))
	require.NoError(t, err)
	v.daveRoom, err = daveC.CreateRoom(ctx, "elsewhere")
	require.NoError(t, err)
	return v
}

func TestVCD_TwoEnginesToneExchange(t *testing.T) {
	v := startVCD(t)
	ctx := context.Background()
	stream, err := v.aliceC.OpenStream(ctx, v.room.ID, client.StreamOptions{})
	require.NoError(t, err)
	defer stream.Close()

	a := joinAs(t, v.d.URL, "alice", v.alice.Token, v.room.ID, "tone:440", nil)
	b := joinAs(t, v.d.URL, "bob", v.bob.Token, v.room.ID, "tone:660", nil)
	a.waitFor(t, "audio from bob", audioFrom("bob"))
	b.waitFor(t, "audio from alice", audioFrom("alice"))

	// GET /api/rooms/{id}/call lists both, in join order.
	ps, err := v.aliceC.CallParticipants(ctx, v.room.ID)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.Equal(t, "alice", ps[0].Username)
	require.Equal(t, a.call.PeerID(), ps[0].PeerID)
	require.Equal(t, "bob", ps[1].Username)

	time.Sleep(talk) // the conversation
	a.hangup(t)
	b.hangup(t)
	requireDominant(t, analyse(t, b.rec, 440, 660), 440, 660, talk*8/10)
	requireDominant(t, analyse(t, a.rec, 660, 440), 660, 440, talk*8/10)

	// The chat heard about it: call events, and system messages for the
	// start and the end.
	var sawCall, started, ended bool
	deadline := time.After(15 * time.Second)
	for !(sawCall && started && ended) {
		select {
		case ev := <-stream.Events():
			switch {
			case ev.Type == wsproto.TypeCall && len(ev.Participants) == 2:
				sawCall = true
			case ev.Type == wsproto.TypeMessage && ev.MessageType == "system" && strings.Contains(ev.Content, "started a voice call"):
				started = true
			case ev.Type == wsproto.TypeMessage && ev.MessageType == "system" && strings.Contains(ev.Content, "call ended"):
				ended = true
			}
		case <-deadline:
			t.Fatalf("chat events: call %v, started %v, ended %v", sawCall, started, ended)
		}
	}
	ps, err = v.aliceC.CallParticipants(ctx, v.room.ID)
	require.NoError(t, err)
	require.Empty(t, ps)
	msgs, err := v.aliceC.ListMessages(ctx, v.room.ID, client.MessageQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, msgs, 2, "the start and end system messages are stored")
}

func TestVCD_CallAccess(t *testing.T) {
	v := startVCD(t)
	ctx := context.Background()
	// A non-member is refused with 1008, over the socket and over REST.
	dc, err := client.New(v.d.URL, client.WithToken(v.dave.Token))
	require.NoError(t, err)
	_, err = call.Join(ctx, dc, v.room.ID, call.Config{})
	var refused *call.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, 1008, refused.Code)
	_, err = dc.CallParticipants(ctx, v.room.ID)
	require.True(t, client.IsNotFound(err), "got %v", err)
	status, _ := v.d.Do("GET", "/api/rooms/1/call", "", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = v.d.Do("GET", "/api/rtc/config", "", nil)
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestVCD_RTCConfig(t *testing.T) {
	v := startVCD(t, servertest.WithConfig(func(c *config.Config) {
		c.RTC.STUNURLs = []string{"stun:stun.example.org:3478"}
		c.RTC.TURNURLs = []string{"turn:turn.example.org:3478"}
		c.RTC.TURNSecret = "turn-shared-secret"
		c.RTC.TURNTTL = time.Hour
	}))
	rc, err := v.aliceC.RTCConfig(context.Background())
	require.NoError(t, err)
	require.Len(t, rc.ICEServers, 2)
	require.Equal(t, []string{"stun:stun.example.org:3478"}, rc.ICEServers[0].URLs)
	turn := rc.ICEServers[1]
	expiry, user, ok := strings.Cut(turn.Username, ":")
	require.True(t, ok, turn.Username)
	require.Equal(t, "1", user) // alice's id
	require.NotEmpty(t, expiry)
	require.NotEmpty(t, turn.Credential)
	require.WithinDuration(t, time.Now().Add(time.Hour), rc.ExpiresAt, time.Minute)
	// The secret itself never leaves the daemon.
	_, body := v.d.Do("GET", "/api/rtc/config", v.alice.Token, nil)
	require.NotContains(t, string(body), "turn-shared-secret")
}

func TestVCD_SignalingAbuse(t *testing.T) {
	v := startVCD(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(v.d.URL, "http") + "/ws/signaling/"
	dialWS := func(room int64, token string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, wsURL+itoa(room)+"?token="+token, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.CloseNow() })
		return c
	}
	// read returns the next message from the daemon itself, skipping what
	// bob's engine sends (its offer, candidates and state).
	read := func(c *websocket.Conn) wsproto.Signal {
		for {
			_, b, err := c.Read(ctx)
			require.NoError(t, err)
			var m wsproto.Signal
			require.NoError(t, json.Unmarshal(b, &m))
			if m.From == "" {
				return m
			}
		}
	}
	a := dialWS(v.room.ID, v.alice.Token)
	require.Equal(t, wsproto.SignalWelcome, read(a).Type)
	d := dialWS(v.daveRoom.ID, v.dave.Token)
	wd := read(d)

	// Bob is a real engine: bogus SDP sent to him is refused by the daemon
	// before it reaches him, and his call goes on.
	b := joinAs(t, v.d.URL, "bob", v.bob.Token, v.room.ID, "null", nil)
	require.Equal(t, wsproto.SignalPeerJoined, read(a).Type)

	for _, msg := range []string{
		`not json at all`,
		`{"type":"offer","data":{"type":"offer","sdp":"definitely not SDP"}}`,
		`{"type":"offer","to":"` + wd.PeerID + `","data":{"type":"offer","sdp":"v=0\r\n"}}`,
	} {
		require.NoError(t, a.Write(ctx, websocket.MessageText, []byte(msg)))
		e := read(a)
		require.Equal(t, wsproto.SignalError, e.Type, msg)
		require.NotEmpty(t, e.Detail)
	}
	// SDP that passes the daemon's shape check but is garbage reaches bob's
	// engine (from a second socket of alice's, so no offer of bob's is in
	// the way), which reports it and stays in the call. The second socket
	// replaces the first (one signaling socket per user and room), so the
	// call still has two participants.
	a2 := dialWS(v.room.ID, v.alice.Token)
	require.Equal(t, wsproto.SignalWelcome, read(a2).Type)
	require.NoError(t, a2.Write(ctx, websocket.MessageText, []byte(`{"type":"offer","to":"`+b.call.PeerID()+`","data":{"type":"offer","sdp":"v=0\r\ngarbage"}}`)))
	ev := b.waitFor(t, "an error about the bogus offer", func(ev call.Event) bool { return ev.Type == call.EventError })
	require.Contains(t, ev.Err.Error(), "offer")
	require.Len(t, b.call.Participants(), 2)
	select {
	case <-b.call.Done():
		t.Fatal("bob's call ended")
	default:
	}

	// Dave, in another room, received none of it.
	rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer rcancel()
	_, _, err := d.Read(rctx)
	require.Error(t, err, "nothing crosses rooms")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
