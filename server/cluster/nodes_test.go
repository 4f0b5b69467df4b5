package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/cluster/natstest"
	"github.com/virtual-company/vc/server/servertest"
)

// wait bounds every wait of these tests.
const wait = 60 * time.Second

// startNodes runs n nodes on the test PostgreSQL and an in-process NATS.
func startNodes(t *testing.T, n int, opts ...servertest.Option) ([]*servertest.Daemon, *natstest.Server) {
	t.Helper()
	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		t.Skipf("cluster tests need PostgreSQL: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", servertest.EnvPostgresDSN)
	}
	ns := natstest.Start(t)
	nodes := servertest.StartCluster(t, n, dsn, ns.URL(), opts...)
	return nodes, ns
}

// socket is a chat socket that records what it receives.
type socket struct {
	conn *websocket.Conn

	mu      sync.Mutex
	seqs    []int64 // message events, in arrival order
	events  []wsproto.Event
	closed  bool
	code    websocket.StatusCode
	changed chan struct{}
}

func dial(t *testing.T, d *servertest.Daemon, roomID int64, token, query string) *socket {
	t.Helper()
	s, err := tryDial(d, roomID, token, query)
	require.NoError(t, err)
	t.Cleanup(func() { s.conn.CloseNow() })
	return s
}

func tryDial(d *servertest.Daemon, roomID int64, token, query string) (*socket, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	u := "ws://" + d.Addr + "/ws/chat/" + strconv.FormatInt(roomID, 10) + "?token=" + token
	if query != "" {
		u += "&" + query
	}
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	s := &socket{conn: conn, changed: make(chan struct{}, 1)}
	go s.read()
	return s, nil
}

func (s *socket) read() {
	for {
		_, b, err := s.conn.Read(context.Background())
		s.mu.Lock()
		if err != nil {
			s.closed = true
			s.code = websocket.CloseStatus(err)
			s.mu.Unlock()
			s.note()
			return
		}
		var ev wsproto.Event
		if json.Unmarshal(b, &ev) == nil {
			if ev.Type == wsproto.TypeMessage {
				s.seqs = append(s.seqs, ev.Seq)
			}
			s.events = append(s.events, ev)
		}
		s.mu.Unlock()
		s.note()
	}
}

func (s *socket) note() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// waitUntil waits for cond (checked under the socket's lock) until wait.
func (s *socket) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.changed:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("timed out waiting for %s (have %d messages, last events %v)", what, len(s.seqs), tail(s.events))
		}
	}
}

func tail(evs []wsproto.Event) []string {
	var out []string
	for i := max(0, len(evs)-5); i < len(evs); i++ {
		out = append(out, evs[i].Type+":"+strconv.FormatInt(evs[i].Seq, 10))
	}
	return out
}

// hasEvent reports whether an event of type typ arrived. Call under s.mu.
func (s *socket) hasEvent(typ string, match func(wsproto.Event) bool) bool {
	for _, ev := range s.events {
		if ev.Type == typ && (match == nil || match(ev)) {
			return true
		}
	}
	return false
}

// post sends a message through node d's REST API.
func post(t *testing.T, d *servertest.Daemon, token string, roomID int64, content string) api.Message {
	t.Helper()
	status, b := d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", roomID), token, api.CreateMessageRequest{Content: content})
	require.Equal(t, http.StatusCreated, status, string(b))
	var m api.Message
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// shareRoom creates a room owned by owner (on d) with the given members.
func shareRoom(t *testing.T, d *servertest.Daemon, owner servertest.Account, members ...servertest.Account) api.Room {
	t.Helper()
	status, b := d.Do("POST", "/api/rooms", owner.Token, api.CreateRoomRequest{Name: "cluster-" + owner.User.Username})
	require.Equal(t, http.StatusCreated, status, string(b))
	var r api.Room
	require.NoError(t, json.Unmarshal(b, &r))
	for _, m := range members {
		status, b := d.Do("POST", fmt.Sprintf("/api/rooms/%d/members", r.ID), owner.Token, api.AddMemberRequest{Username: m.User.Username})
		require.Equal(t, http.StatusCreated, status, string(b))
	}
	return r
}

// inOrder checks that seqs is exactly 1..n.
func inOrder(t *testing.T, who string, seqs []int64, n int) {
	t.Helper()
	require.Len(t, seqs, n, "%s: message count", who)
	for i, s := range seqs {
		require.Equal(t, int64(i+1), s, "%s: message %d out of order or duplicated", who, i)
	}
}

func TestCluster_MessageOnAnyNodeReachesEverySocketInOrder(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	alice := nodes[0].Register("alice")
	bob := nodes[1].Register("bob")
	r := shareRoom(t, nodes[0], alice, bob)

	socks := []*socket{
		dial(t, nodes[0], r.ID, alice.Token, ""),
		dial(t, nodes[1], r.ID, bob.Token, ""),
		dial(t, nodes[2], r.ID, bob.Token, ""),
	}
	for i := range 30 {
		tok := alice.Token
		if i%2 == 1 {
			tok = bob.Token
		}
		post(t, nodes[i%3], tok, r.ID, fmt.Sprintf("m%d", i))
	}
	for i, s := range socks {
		s.waitUntil(t, "30 messages", func() bool { return len(s.seqs) >= 30 })
		s.mu.Lock()
		inOrder(t, fmt.Sprintf("socket on node%d", i+1), s.seqs, 30)
		s.mu.Unlock()
	}
}
