package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/realtime"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/server/service"
)

// TestChat_ShutdownKeepsEveryAck posts over a socket without pause while
// the whole daemon shuts down: the socket closes with 1001, the shutdown
// succeeds, every acknowledged message is in the database afterwards, and
// once a post was refused with shutting_down none is acked or stored. (When
// exactly the refusals start is up to the scheduler here;
// TestChat_StopPostsRefusesDuringInflightCommit pins it down.)
func TestChat_ShutdownKeepsEveryAck(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		a := dialRaw(t, d, r.ID, "token="+alice.acct.Token)
		a.next(wsproto.TypePresence)

		acked := map[string]int64{} // client_id -> seq
		refused := map[string]bool{}
		stopped := make(chan struct{})
		var closeCode websocket.StatusCode
	posting:
		for i := 0; ; i++ {
			if i == 10 {
				go func() { defer close(stopped); d.Stop() }() // Stop fails the test if Shutdown errs
			}
			id := fmt.Sprintf("m-%d", i)
			a.send(wsproto.ClientFrame{Type: wsproto.ClientMessage, Content: "hello " + id, ClientID: id})
			for {
				ev, _, err := a.read()
				if err != nil {
					var ce websocket.CloseError
					require.True(t, errors.As(err, &ce), "socket ended without a close frame: %v", err)
					closeCode = ce.Code
					break posting
				}
				if ev.ClientID != id || (ev.Type != wsproto.TypeAck && ev.Type != wsproto.TypeError) {
					continue // broadcasts of our own messages
				}
				if ev.Type == wsproto.TypeAck {
					require.Empty(t, refused, "%s acked after a post was refused for the shutdown", id)
					acked[id] = ev.Seq
				} else {
					require.Equal(t, api.CodeShuttingDown, ev.Code, ev.Detail)
					refused[id] = true
				}
				break
			}
		}
		<-stopped
		require.Equal(t, websocket.StatusCode(wsproto.CloseGoingAway), closeCode)
		t.Logf("%d posts acked, %d refused with shutting_down", len(acked), len(refused))
		require.GreaterOrEqual(t, len(acked), 10)

		d.Restart()
		c, err := client.New(d.URL, client.WithToken(alice.acct.Token))
		require.NoError(t, err)
		msgs, err := c.ListMessages(context.Background(), r.ID, client.MessageQuery{Limit: 200})
		require.NoError(t, err)
		stored := map[string]int64{}
		for _, m := range msgs {
			stored[m.ClientID] = m.Seq
		}
		for id, seq := range acked {
			require.Equal(t, seq, stored[id], "acknowledged message %s lost", id)
		}
		for id := range refused {
			require.NotContains(t, stored, id, "refused message %s was stored", id)
		}
	})
}

// blockingMessages stores messages in memory; Create of client_id "block"
// waits until release is closed.
type blockingMessages struct {
	mu      sync.Mutex
	stored  map[string]api.Message
	entered chan struct{}
	release chan struct{}
}

func (m *blockingMessages) Create(_ context.Context, userID, roomID int64, req api.CreateMessageRequest) (api.Message, bool, error) {
	if req.ClientID == "block" {
		close(m.entered)
		<-m.release
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	msg := api.Message{ID: int64(len(m.stored) + 1), RoomID: roomID, UserID: &userID, Content: req.Content,
		ClientID: req.ClientID, Seq: int64(len(m.stored) + 1)}
	m.stored[req.ClientID] = msg
	return msg, true, nil
}

func (m *blockingMessages) After(context.Context, int64, int64, int) ([]api.Message, error) {
	return nil, nil
}

type tokenAuth struct{}

// Authenticate takes the token for the user's id.
func (tokenAuth) Authenticate(_ context.Context, token string) (api.User, error) {
	id, err := strconv.ParseInt(token, 10, 64)
	if err != nil {
		return api.User{}, service.ErrUnauthorized
	}
	return api.User{ID: id, Username: "user" + token}, nil
}

type openRooms struct{}

func (openRooms) RequireMember(_ context.Context, roomID, _ int64) (api.Room, error) {
	return api.Room{ID: roomID, Name: "r"}, nil
}

// TestChat_StopPostsRefusesDuringInflightCommit pins the order of a chat
// shutdown down, through a real Fiber app and real sockets: while one
// socket's post is still being committed, StopPosts makes another socket's
// post answer shutting_down (not stored, no ack); Close waits for the
// commit, whose ack arrives before the 1001 close.
func TestChat_StopPostsRefusesDuringInflightCommit(t *testing.T) {
	msgs := &blockingMessages{stored: map[string]api.Message{}, entered: make(chan struct{}), release: make(chan struct{})}
	chat := realtime.New(realtime.Deps{Auth: tokenAuth{}, Rooms: openRooms{}, Messages: msgs})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws/chat/:room_id", chat.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })

	dial := func(user string) *rawConn {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/ws/chat/1?token="+user, nil)
		require.NoError(t, err)
		t.Cleanup(func() { conn.CloseNow() })
		r := &rawConn{t: t, conn: conn}
		r.next(wsproto.TypePresence)
		return r
	}
	a, b := dial("1"), dial("2")
	a.send(wsproto.ClientFrame{Content: "first", ClientID: "a-0"})
	ack, _ := a.next(wsproto.TypeAck)
	require.Equal(t, "a-0", ack.ClientID)

	a.send(wsproto.ClientFrame{Content: "slow commit", ClientID: "block"})
	select {
	case <-msgs.entered:
	case <-time.After(wait):
		t.Fatal("the post did not reach Create")
	}
	chat.StopPosts()
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		closed <- chat.Close(ctx)
	}()

	b.send(wsproto.ClientFrame{Content: "too late", ClientID: "b-1"})
	ev, _ := b.next(wsproto.TypeError)
	require.Equal(t, "b-1", ev.ClientID)
	require.Equal(t, api.CodeShuttingDown, ev.Code)
	b.send(wsproto.ClientFrame{Type: wsproto.ClientTyping})
	ev, _ = b.next(wsproto.TypeError)
	require.Equal(t, api.CodeShuttingDown, ev.Code)
	select {
	case err := <-closed:
		t.Fatalf("Close returned while a commit was in flight: %v", err)
	default:
	}

	close(msgs.release)
	ack, _ = a.next(wsproto.TypeAck)
	require.Equal(t, "block", ack.ClientID, "the in-flight commit is acked before the close")
	for _, r := range []*rawConn{a, b} {
		code, _ := r.closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseGoingAway), code)
	}
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
	msgs.mu.Lock()
	defer msgs.mu.Unlock()
	require.Contains(t, msgs.stored, "a-0")
	require.Contains(t, msgs.stored, "block")
	require.NotContains(t, msgs.stored, "b-1")
}
