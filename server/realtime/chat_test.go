package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// wait is the generous deadline of every wait in these tests.
const wait = 30 * time.Second

type member struct {
	acct servertest.Account
	c    *client.Client
}

func newMember(t *testing.T, d *servertest.Daemon, name string) member {
	t.Helper()
	a := d.Register(name)
	c, err := client.New(d.URL, client.WithToken(a.Token))
	require.NoError(t, err)
	return member{acct: a, c: c}
}

// room creates a room owned by owner with the others as members.
func room(t *testing.T, owner member, others ...member) api.Room {
	t.Helper()
	ctx := context.Background()
	r, err := owner.c.CreateRoom(ctx, "room-"+owner.acct.User.Username)
	require.NoError(t, err)
	for _, o := range others {
		_, err := owner.c.AddMember(ctx, r.ID, o.acct.User.Username)
		require.NoError(t, err)
	}
	return r
}

// rawConn is a bare chat socket for tests that need the wire itself.
type rawConn struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRaw(t *testing.T, d *servertest.Daemon, roomID int64, query string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	u := "ws://" + d.Addr + "/ws/chat/" + strconv.FormatInt(roomID, 10)
	if query != "" {
		u += "?" + query
	}
	conn, _, err := websocket.Dial(ctx, u, nil)
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &rawConn{t: t, conn: conn}
}

func (r *rawConn) read() (wsproto.Event, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := r.conn.Read(ctx)
	if err != nil {
		return wsproto.Event{}, nil, err
	}
	var ev wsproto.Event
	require.NoError(r.t, json.Unmarshal(b, &ev))
	return ev, b, nil
}

// next reads until an event of type typ arrives.
func (r *rawConn) next(typ string) (wsproto.Event, []byte) {
	r.t.Helper()
	for {
		ev, b, err := r.read()
		require.NoError(r.t, err, "waiting for %s", typ)
		if ev.Type == typ {
			return ev, b
		}
	}
}

func (r *rawConn) send(v any) {
	r.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(r.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(r.t, r.conn.Write(ctx, websocket.MessageText, b))
}

// closeCode reads until the socket closes and returns the close status.
func (r *rawConn) closeCode() (websocket.StatusCode, string) {
	r.t.Helper()
	for {
		_, _, err := r.read()
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, err.Error()
		}
	}
}

func TestChat_TwoMembersSeeEachOther(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		r := room(t, alice, bob)

		a := dialRaw(t, d, r.ID, "token="+alice.acct.Token) // the seed's way
		pres, _ := a.next(wsproto.TypePresence)
		require.Equal(t, r.ID, pres.RoomID)
		require.Equal(t, []wsproto.PresenceUser{{UserID: alice.acct.User.ID, Username: "alice"}}, pres.Online)
		join, raw := a.next(wsproto.TypeJoin)
		require.Equal(t, "alice", join.User)
		require.JSONEq(t, fmt.Sprintf(`{"type":"join","user":"alice","room_id":%d,"user_id":%d}`, r.ID, alice.acct.User.ID), string(raw))

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		bs, err := bob.c.OpenStream(ctx, r.ID, client.StreamOptions{}) // Authorization header
		require.NoError(t, err)
		defer bs.Close()
		join, _ = a.next(wsproto.TypeJoin)
		require.Equal(t, "bob", join.User)
		ev := nextEvent(t, bs, wsproto.TypePresence)
		require.Len(t, ev.Online, 2)

		// A seed frame: no type, no client_id.
		a.send(map[string]any{"content": "hello bob"})
		msg := nextEvent(t, bs, wsproto.TypeMessage)
		require.Equal(t, "hello bob", msg.Content)
		require.Equal(t, "alice", msg.User)
		require.Equal(t, api.MessageText, msg.MessageType)
		require.Equal(t, int64(1), msg.Seq)
		require.NotZero(t, msg.ID)
		_, raw = a.next(wsproto.TypeMessage)
		var shape map[string]any
		require.NoError(t, json.Unmarshal(raw, &shape))
		for _, k := range []string{"type", "id", "user", "role_id", "content", "message_type", "timestamp", "room_id", "seq"} {
			require.Contains(t, shape, k)
		}
		require.Nil(t, shape["role_id"])

		// Bob answers through the stream with a client_id: acked, and a resend
		// of the same client_id is stored once.
		cid, err := bs.Send(ctx, wsproto.ClientFrame{Content: "hi alice"})
		require.NoError(t, err)
		ack := nextEvent(t, bs, wsproto.TypeAck)
		require.Equal(t, cid, ack.ClientID)
		require.Equal(t, int64(2), ack.Seq)
		got, _ := a.next(wsproto.TypeMessage)
		require.Equal(t, "hi alice", got.Content)
		require.Equal(t, cid, got.ClientID)
		_, err = bs.Send(ctx, wsproto.ClientFrame{Content: "hi alice", ClientID: cid})
		require.NoError(t, err)
		ack = nextEvent(t, bs, wsproto.TypeAck)
		require.Equal(t, int64(2), ack.Seq, "the resend returns the stored message")

		// REST sends take the same path and reach the sockets.
		_, err = alice.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: "via REST"})
		require.NoError(t, err)
		got = nextEvent(t, bs, wsproto.TypeMessage)
		require.Equal(t, "via REST", got.Content)
		require.Equal(t, int64(3), got.Seq)

		// Typing is relayed to the others, not echoed, not stored.
		require.NoError(t, bs.Typing(ctx))
		typing, _ := a.next(wsproto.TypeTyping)
		require.Equal(t, "bob", typing.User)
		require.Equal(t, r.ID, typing.RoomID)

		// Bad input: error events, and the socket stays open.
		a.send(map[string]any{"content": ""})
		e, _ := a.next(wsproto.TypeError)
		require.Equal(t, api.CodeValidation, e.Code)
		a.send(map[string]any{"type": "dance"})
		e, _ = a.next(wsproto.TypeError)
		require.Equal(t, api.CodeBadRequest, e.Code)
		a.send(map[string]any{"content": strings.Repeat("x", 17<<10)})
		e, _ = a.next(wsproto.TypeError)
		require.Equal(t, api.CodeValidation, e.Code)
		a.send(map[string]any{"type": "ping"})
		a.next(wsproto.TypePong)

		msgs, err := alice.c.ListMessages(ctx, r.ID, client.MessageQuery{})
		require.NoError(t, err)
		require.Len(t, msgs, 3, "typing and refused frames are not stored")

		// Bob leaves: alice is told.
		require.NoError(t, bs.Close())
		leave, _ := a.next(wsproto.TypeLeave)
		require.Equal(t, "bob", leave.User)
	})
}

// nextEvent reads the stream until an event of type typ arrives.
func nextEvent(t *testing.T, s *client.Stream, typ string) wsproto.Event {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev, ok := <-s.Events():
			require.True(t, ok, "stream closed while waiting for %s", typ)
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within %s", typ, wait)
		}
	}
}

func TestChat_Refusals(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, eve := newMember(t, d, "alice"), newMember(t, d, "eve")
		r := room(t, alice)

		code, reason := dialRaw(t, d, r.ID, "token=not-a-token").closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.ClosePolicy), code)
		require.NotEmpty(t, reason)
		code, _ = dialRaw(t, d, r.ID, "").closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.ClosePolicy), code)
		code, _ = dialRaw(t, d, r.ID, "token="+eve.acct.Token).closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.ClosePolicy), code, "non-member")
		code, _ = dialRaw(t, d, r.ID+1000, "token="+alice.acct.Token).closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.ClosePolicy), code, "unknown room")

		ctx := context.Background()
		bad, err := client.New(d.URL, client.WithToken("nope"))
		require.NoError(t, err)
		_, err = bad.OpenStream(ctx, r.ID, client.StreamOptions{})
		require.True(t, client.IsUnauthorized(err), "got %v", err)
		_, err = eve.c.OpenStream(ctx, r.ID, client.StreamOptions{})
		require.True(t, client.IsNotFound(err), "got %v", err)
	})
}

func TestChat_FrameTooBigCloses1009(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, append(opts, servertest.WithConfig(func(c *config.Config) { c.Realtime.MaxFrameBytes = 4096 }))...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		a := dialRaw(t, d, r.ID, "token="+alice.acct.Token)
		a.next(wsproto.TypePresence)
		a.send(map[string]any{"content": strings.Repeat("y", 8000)})
		code, _ := a.closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseTooBig), code)
	})
}

func TestChat_MembershipRevokedClosesSocket(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		r := room(t, alice, bob)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		bs, err := bob.c.OpenStream(ctx, r.ID, client.StreamOptions{MinBackoff: 10 * time.Millisecond})
		require.NoError(t, err)
		defer bs.Close()
		braw := dialRaw(t, d, r.ID, "token="+bob.acct.Token)
		braw.next(wsproto.TypePresence)
		a := dialRaw(t, d, r.ID, "token="+alice.acct.Token)
		a.next(wsproto.TypePresence)

		require.NoError(t, alice.c.RemoveMember(ctx, r.ID, bob.acct.User.ID))
		code, _ := braw.closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseRemoved), code)
		// The stream gives up (it is no member any more) instead of retrying.
		for st := range bs.Status() {
			if st.State == client.StateGaveUp {
				require.True(t, client.IsNotFound(st.Err), "got %v", st.Err)
				break
			}
			require.NotEqual(t, client.StateClosed, st.State)
		}
		leave, _ := a.next(wsproto.TypeLeave)
		require.Equal(t, "bob", leave.User)

		// Deleting the room closes the remaining sockets.
		require.NoError(t, alice.c.DeleteRoom(ctx, r.ID))
		code, _ = a.closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseRemoved), code)
	})
}

func TestChat_SlowConsumerDropped(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, append(opts, servertest.WithConfig(func(c *config.Config) { c.Realtime.SendQueue = 8 }))...)
		alice, bob, carol := newMember(t, d, "alice"), newMember(t, d, "bob"), newMember(t, d, "carol")
		r := room(t, alice, bob, carol)

		slow := dialRaw(t, d, r.ID, "token="+carol.acct.Token) // never reads until the end
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		bs, err := bob.c.OpenStream(ctx, r.ID, client.StreamOptions{})
		require.NoError(t, err)
		defer bs.Close()

		// Big messages fill the socket buffers of the never-reading client fast.
		const n = 300
		content := strings.Repeat("z", 15<<10)
		received := make(chan int64, n)
		go func() {
			for ev := range bs.Events() {
				if ev.Type == wsproto.TypeMessage {
					received <- ev.Seq
				}
			}
		}()
		for i := range n {
			_, err := alice.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: content + strconv.Itoa(i)})
			require.NoError(t, err)
		}
		for want := int64(1); want <= n; want++ {
			select {
			case seq := <-received:
				require.Equal(t, want, seq)
			case <-ctx.Done():
				t.Fatalf("bob got %d of %d messages", want-1, n)
			}
		}
		// The never-reading socket was dropped: it closes (4008, or a cut
		// connection when the close frame could not be written) before the end.
		got := 0
		for {
			ev, _, err := slow.read()
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					require.Equal(t, websocket.StatusCode(wsproto.CloseSlowConsumer), ce.Code)
				}
				break
			}
			if ev.Type == wsproto.TypeMessage {
				got++
			}
		}
		require.Less(t, got, n, "the slow socket was not dropped")
	})
}

func TestChat_ShutdownClosesSocketsWith1001(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		a := dialRaw(t, d, r.ID, "token="+alice.acct.Token)
		a.next(wsproto.TypePresence)
		done := make(chan struct{})
		go func() { d.Stop(); close(done) }()
		code, _ := a.closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseGoingAway), code)
		<-done
	})
}

func TestChat_SocketCapPerUser(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, append(opts, servertest.WithConfig(func(c *config.Config) { c.Realtime.MaxSocketsPerUser = 2 }))...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		for range 2 {
			dialRaw(t, d, r.ID, "token="+alice.acct.Token).next(wsproto.TypePresence)
		}
		code, _ := dialRaw(t, d, r.ID, "token="+alice.acct.Token).closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseTooMany), code)
	})
}

// TestChat_ConcurrentSocketAndREST: 50 goroutines x 200 messages, half over
// sockets and half over REST; every connected client gets all 10 000 in seq
// order and the database holds exactly 10 000.
func TestChat_ConcurrentSocketAndREST(t *testing.T) {
	if testing.Short() {
		t.Skip("10 000 messages")
	}
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		const senders = 50
		per := 200
		if raceEnabled {
			per = 20 // 1 000 messages: the race detector makes each one ~10x slower
		}
		total := senders * per
		users := make([]member, 5)
		for i := range users {
			users[i] = newMember(t, d, "user"+strconv.Itoa(i))
		}
		r := room(t, users[0], users[1:]...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()

		// Listeners: three streams that only read.
		type listener struct {
			seqs []int64
			done chan struct{}
		}
		var listeners []*listener
		for i := range 3 {
			s, err := users[i].c.OpenStream(ctx, r.ID, client.StreamOptions{})
			require.NoError(t, err)
			defer s.Close()
			l := &listener{done: make(chan struct{})}
			listeners = append(listeners, l)
			go func() {
				defer close(l.done)
				for ev := range s.Events() {
					if ev.Type == wsproto.TypeMessage {
						l.seqs = append(l.seqs, ev.Seq)
						if len(l.seqs) == total {
							return
						}
					}
				}
			}()
		}

		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for g := range senders {
			u := users[g%len(users)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if g%2 == 0 { // REST
					for i := range per {
						if _, err := u.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: fmt.Sprintf("rest %d/%d", g, i)}); err != nil {
							errs <- err
							return
						}
					}
					return
				}
				s, err := u.c.OpenStream(ctx, r.ID, client.StreamOptions{})
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				for i := range per {
					if _, err := s.Send(ctx, wsproto.ClientFrame{Content: fmt.Sprintf("ws %d/%d", g, i)}); err != nil {
						errs <- err
						return
					}
				}
				acks := 0
				for ev := range s.Events() {
					if ev.Type == wsproto.TypeError {
						errs <- fmt.Errorf("socket error event: %s", ev.Detail)
						return
					}
					if ev.Type == wsproto.TypeAck {
						if acks++; acks == per {
							return
						}
					}
				}
				errs <- errors.New("stream ended before every ack")
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for i, l := range listeners {
			select {
			case <-l.done:
			case <-ctx.Done():
				t.Fatalf("listener %d got %d of %d", i, len(l.seqs), total)
			}
			require.Len(t, l.seqs, total)
			for j, seq := range l.seqs {
				if seq != int64(j+1) {
					t.Fatalf("listener %d: message %d has seq %d", i, j, seq)
				}
			}
		}
		requireStored(t, users[0].c, r.ID, total)
	})
}

// requireStored checks that the room holds exactly n messages with seqs 1..n.
func requireStored(t *testing.T, c *client.Client, roomID int64, n int) {
	t.Helper()
	ctx := context.Background()
	seen := make(map[int64]bool, n)
	for offset := 0; ; offset += 1000 {
		page, err := c.ListMessages(ctx, roomID, client.MessageQuery{Offset: offset, Limit: 1000})
		require.NoError(t, err)
		for _, m := range page {
			require.False(t, seen[m.Seq], "seq %d listed twice", m.Seq)
			seen[m.Seq] = true
		}
		if len(page) < 1000 {
			break
		}
	}
	require.Len(t, seen, n)
	for seq := int64(1); seq <= int64(n); seq++ {
		require.True(t, seen[seq], "seq %d missing", seq)
	}
	rm, err := c.GetRoom(ctx, roomID)
	require.NoError(t, err)
	require.Equal(t, int64(n), rm.LastSeq)
}

// TestChat_ResumeWhileOthersSend connects with ?after= while messages keep
// arriving: the replay and the live tail join with no gap and no duplicate.
func TestChat_ResumeWhileOthersSend(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		r := room(t, alice, bob)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const before, during = 300, 300
		for i := range before {
			_, err := alice.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: "old " + strconv.Itoa(i)})
			require.NoError(t, err)
		}
		sent := make(chan error, 1)
		go func() {
			for i := range during {
				if _, err := alice.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: "new " + strconv.Itoa(i)}); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
		b := dialRaw(t, d, r.ID, "after=100&token="+bob.acct.Token)
		want := int64(101)
		for want <= before+during {
			ev, _, err := b.read()
			require.NoError(t, err)
			if ev.Type == wsproto.TypeMessage {
				require.Equal(t, want, ev.Seq)
				want++
			}
		}
		require.NoError(t, <-sent)
		_, err := bob.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: "last"})
		require.NoError(t, err)
		ev, _ := b.next(wsproto.TypeMessage)
		require.Equal(t, int64(before+during+1), ev.Seq, "no duplicate after the live tail")
	})
}

// The plain HTTP request to the socket path is refused with 426.
func TestChat_PlainHTTPUpgradeRequired(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		status, _ := d.Do("GET", "/ws/chat/"+strconv.FormatInt(r.ID, 10), alice.acct.Token, nil)
		require.Equal(t, http.StatusUpgradeRequired, status)
	})
}

// A WebSocket ping from the client is answered (by the socket's writer).
func TestChat_AnswersPings(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		a := dialRaw(t, d, r.ID, "token="+alice.acct.Token)
		a.next(wsproto.TypePresence)
		go func() { // coder/websocket needs a concurrent reader to see the pong
			for {
				if _, _, err := a.read(); err != nil {
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		for range 3 {
			require.NoError(t, a.conn.Ping(ctx))
		}
	})
}

// TestChat_RoomAddedReachesTheUsersSockets: being added to a room reaches
// the new member at once on the sockets they already have open (in other
// rooms), and nobody else.
func TestChat_RoomAddedReachesTheUsersSockets(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob, carol := newMember(t, d, "alice"), newMember(t, d, "bob"), newMember(t, d, "carol")
		bobs := room(t, bob, carol)
		b := dialRaw(t, d, bobs.ID, "token="+bob.acct.Token)
		b.next(wsproto.TypePresence)
		c := dialRaw(t, d, bobs.ID, "token="+carol.acct.Token)
		c.next(wsproto.TypePresence)

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		plans, err := alice.c.CreateRoom(ctx, "plans")
		require.NoError(t, err)
		_, err = alice.c.AddMember(ctx, plans.ID, "bob")
		require.NoError(t, err)

		ev, _ := b.next(wsproto.TypeRoomAdded)
		require.Equal(t, plans.ID, ev.RoomID)

		// carol, in the same room as bob's socket, gets no room_added: the
		// next thing she sees is the message posted after it.
		_, err = bob.c.SendMessage(ctx, bobs.ID, api.CreateMessageRequest{Content: "after"})
		require.NoError(t, err)
		for {
			ev, _, err := c.read()
			require.NoError(t, err)
			require.NotEqual(t, wsproto.TypeRoomAdded, ev.Type, "carol was not added to anything")
			if ev.Type == wsproto.TypeMessage {
				require.Equal(t, "after", ev.Content)
				break
			}
		}
	})
}
