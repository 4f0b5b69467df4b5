package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// dialSignal opens a bare signaling socket.
func dialSignal(t *testing.T, d *servertest.Daemon, roomID int64, token string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	u := "ws://" + d.Addr + "/ws/signaling/" + strconv.FormatInt(roomID, 10) + "?token=" + token
	conn, _, err := websocket.Dial(ctx, u, nil)
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &rawConn{t: t, conn: conn}
}

// closeWithin is closeCode with a deadline: the socket must close by then.
func (r *rawConn) closeWithin(d time.Duration) (websocket.StatusCode, string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		_, _, err := r.conn.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		r.t.Fatalf("socket did not close with a close frame within %s: %v", d, err)
	}
}

// readSignal reads one signaling message.
func (r *rawConn) readSignal() wsproto.Signal {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var m wsproto.Signal
	_, b, err := r.conn.Read(ctx)
	require.NoError(r.t, err)
	require.NoError(r.t, json.Unmarshal(b, &m))
	return m
}

// TestChat_LogoutAllClosesSockets: logout-all closes the caller's chat and
// signaling sockets with 4001 within a second, and a post sent on the old
// chat socket afterwards is not stored.
func TestChat_LogoutAllClosesSockets(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		r := room(t, alice, bob)

		chat := dialRaw(t, d, r.ID, "token="+alice.acct.Token)
		chat.next(wsproto.TypePresence)
		sig := dialSignal(t, d, r.ID, alice.acct.Token)
		require.Equal(t, wsproto.SignalWelcome, sig.readSignal().Type)
		other := dialRaw(t, d, r.ID, "token="+bob.acct.Token) // bob is not logged out
		other.next(wsproto.TypePresence)

		status, body := d.Do("POST", "/api/auth/logout-all", alice.acct.Token, nil)
		require.Equal(t, http.StatusNoContent, status, string(body))
		// Sent after logout-all answered: must not be stored.
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = chat.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"message","content":"after logout","client_id":"late-1"}`))

		code, reason := chat.closeWithin(time.Second)
		require.Equal(t, websocket.StatusCode(wsproto.CloseRevoked), code)
		require.Equal(t, "unauthorized: token revoked", reason)
		code, reason = sig.closeWithin(time.Second)
		require.Equal(t, websocket.StatusCode(wsproto.CloseRevoked), code)
		require.Equal(t, "unauthorized: token revoked", reason)

		// The old token no longer opens a socket; bob's socket is untouched.
		code, _ = dialRaw(t, d, r.ID, "token="+alice.acct.Token).closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.ClosePolicy), code)
		other.send(wsproto.ClientFrame{Type: wsproto.ClientPing})
		other.next(wsproto.TypePong)

		msgs, err := bob.c.ListMessages(ctx, r.ID, client.MessageQuery{Limit: 100})
		require.NoError(t, err)
		for _, m := range msgs {
			require.NotEqual(t, "after logout", m.Content, "a post on a revoked socket was stored")
		}
	})
}

// TestChat_TokenExpiryClosesSockets: a socket closes with 4001 when its
// token expires, without any frame from the client.
func TestChat_TokenExpiryClosesSockets(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.TokenTTL = 2 * time.Second }))
	alice := newMember(t, d, "alice")
	r := room(t, alice)
	// A fresh token, so that its expiry is ~2 s away.
	tok, err := d.Login("alice", alice.acct.Password)
	require.NoError(t, err)
	chat := dialRaw(t, d, r.ID, "token="+tok.AccessToken)
	chat.next(wsproto.TypePresence)
	sig := dialSignal(t, d, r.ID, tok.AccessToken)
	require.Equal(t, wsproto.SignalWelcome, sig.readSignal().Type)

	code, reason := chat.closeWithin(10 * time.Second)
	require.Equal(t, websocket.StatusCode(wsproto.CloseRevoked), code)
	require.Equal(t, "unauthorized: token expired", reason)
	code, reason = sig.closeWithin(10 * time.Second)
	require.Equal(t, websocket.StatusCode(wsproto.CloseRevoked), code)
	require.Equal(t, "unauthorized: token expired", reason)
}

// breakDatabase closes the daemon's database pools: every query fails as
// it does when the database server is gone.
func breakDatabase(t *testing.T, d *servertest.Daemon) {
	t.Helper()
	require.NoError(t, d.Server().Store().Close())
}

// TestChat_DatabaseOutageIsNotABadToken: while the database is unreachable,
// sockets are refused with 1011 "unavailable: ..." (not 1008 unauthorized)
// and REST answers 503 with Retry-After (not 500, not 401).
func TestChat_DatabaseOutageIsNotABadToken(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		r := room(t, alice, bob)
		breakDatabase(t, d)

		// bob's token was never checked, so it is not in the user cache:
		// the token check itself meets the outage. (alice's would be
		// answered from the caches, and her socket admitted.)
		code, reason := dialRaw(t, d, r.ID, "token="+bob.acct.Token).closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseInternal), code, reason)
		require.True(t, strings.HasPrefix(reason, "unavailable:"), reason)
		code, reason = dialSignal(t, d, r.ID, bob.acct.Token).closeWithin(wait)
		require.Equal(t, websocket.StatusCode(wsproto.CloseInternal), code, reason)
		require.True(t, strings.HasPrefix(reason, "unavailable:"), reason)

		for _, tok := range []string{bob.acct.Token, alice.acct.Token} {
			req, err := http.NewRequest("GET", d.URL+"/api/rooms", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := d.HTTP.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			require.NotEmpty(t, resp.Header.Get("Retry-After"))
		}
		status, body := d.Do("POST", "/api/auth/login", "", api.LoginRequest{Username: "bob", Password: bob.acct.Password})
		require.Equal(t, http.StatusServiceUnavailable, status, string(body))
		require.Contains(t, string(body), `"code":"unavailable"`)
	})
}

// logBuffer collects the daemon's logs.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestChat_OpenStreamWaitsOutDatabaseOutage: client.OpenStream keeps
// retrying while the daemon answers 1011, and connects once the database
// is back (here: the daemon restarted on the same data).
func TestChat_OpenStreamWaitsOutDatabaseOutage(t *testing.T) {
	logs := &logBuffer{}
	d := servertest.Start(t, servertest.WithLogOutput(logs))
	alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
	r := room(t, alice, bob)
	breakDatabase(t, d)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	type result struct {
		s   *client.Stream
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := bob.c.OpenStream(ctx, r.ID, client.StreamOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		done <- result{s, err}
	}()
	// Several refusals (each logged once by the daemon) pass without
	// OpenStream giving up.
	require.Eventually(t, func() bool {
		select {
		case res := <-done:
			t.Fatalf("OpenStream returned during the outage: %v", res.err)
		default:
		}
		return logs.count(`"msg":"authenticate chat socket"`) >= 4
	}, wait, 10*time.Millisecond)
	d.Restart()
	select {
	case res := <-done:
		require.NoError(t, res.err)
		defer res.s.Close()
	case <-ctx.Done():
		t.Fatal("OpenStream did not connect after the database came back")
	}
}

// TestSignal_SharesSocketCapWithChat: realtime.max_sockets_per_user counts
// chat and signaling sockets together; a second signaling socket of a user
// for one room replaces the first (4000 replaced) without taking a slot.
func TestSignal_SharesSocketCapWithChat(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.Realtime.MaxSocketsPerUser = 2 }))
	alice := newMember(t, d, "alice")
	ra := room(t, alice)
	ctx := context.Background()
	rb, err := alice.c.CreateRoom(ctx, "second")
	require.NoError(t, err)

	dialRaw(t, d, ra.ID, "token="+alice.acct.Token).next(wsproto.TypePresence)
	first := dialSignal(t, d, ra.ID, alice.acct.Token)
	require.Equal(t, wsproto.SignalWelcome, first.readSignal().Type)

	// Two sockets open: a third of either kind is refused.
	code, _ := dialSignal(t, d, rb.ID, alice.acct.Token).closeWithin(wait)
	require.Equal(t, websocket.StatusCode(wsproto.CloseTooMany), code)
	code, _ = dialRaw(t, d, rb.ID, "token="+alice.acct.Token).closeCode()
	require.Equal(t, websocket.StatusCode(wsproto.CloseTooMany), code)

	// The same room again replaces the first signaling socket.
	second := dialSignal(t, d, ra.ID, alice.acct.Token)
	welcome := second.readSignal()
	require.Equal(t, wsproto.SignalWelcome, welcome.Type)
	require.Empty(t, welcome.Peers, "the replaced socket is no longer in the call")
	code, reason := first.closeWithin(wait)
	require.Equal(t, websocket.StatusCode(wsproto.CloseReplaced), code)
	require.Equal(t, "replaced", reason)
	parts, err := alice.c.CallParticipants(ctx, ra.ID)
	require.NoError(t, err)
	require.Len(t, parts, 1)

	// Closing the signaling socket frees its slot for a chat socket.
	second.conn.Close(websocket.StatusNormalClosure, "")
	require.Eventually(t, func() bool {
		c := dialRaw(t, d, rb.ID, "token="+alice.acct.Token)
		ev, _, err := c.read()
		return err == nil && ev.Type == wsproto.TypePresence
	}, wait, 20*time.Millisecond)
}

// TestChat_SlowConsumerSeesCloseCode: a client that stops reading is
// dropped, and when it reads again it finds the reason, close 4008, right
// after what the kernel already held (the queued events are dropped), not
// a cut connection (1006). It stalls longer than the close grace, as a
// stalled phone would.
func TestChat_SlowConsumerSeesCloseCode(t *testing.T) {
	logs := &logBuffer{}
	d := servertest.Start(t, servertest.WithLogOutput(logs),
		servertest.WithConfig(func(c *config.Config) { c.Realtime.SendQueue = 8 }))
	alice, carol := newMember(t, d, "alice"), newMember(t, d, "carol")
	r := room(t, alice, carol)
	slow := dialRaw(t, d, r.ID, "token="+carol.acct.Token)
	slow.next(wsproto.TypePresence)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	content := strings.Repeat("z", 15<<10)
	sent := 0
	for logs.count(`"msg":"slow consumer dropped"`) == 0 {
		require.Less(t, sent, 5000, "the socket that does not read was never dropped")
		_, err := alice.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: content + strconv.Itoa(sent)})
		require.NoError(t, err)
		sent++
	}
	require.Contains(t, logs.String(), `"queue_depth":8`)
	// Stay stalled past the close grace (2 s), after which a stuck socket
	// used to be cut with its close frame unsent.
	time.Sleep(3 * time.Second)

	got := 0
	for {
		ev, _, err := slow.read()
		if err != nil {
			var ce websocket.CloseError
			require.ErrorAs(t, err, &ce, "the dropped client saw no close frame")
			require.Equal(t, websocket.StatusCode(wsproto.CloseSlowConsumer), ce.Code)
			require.Equal(t, "too slow: send queue full", ce.Reason)
			break
		}
		if ev.Type == wsproto.TypeMessage {
			got++
		}
	}
	require.Less(t, got, sent, "queued events were dropped, not sent before the close")
}
