package cluster_test

import (
	"bytes"
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

// accounts registers n users on d, member of one room owned by the first.
func accounts(t *testing.T, d *servertest.Daemon, prefix string, n int) ([]servertest.Account, api.Room) {
	t.Helper()
	accs := make([]servertest.Account, n)
	for i := range accs {
		accs[i] = d.Register(fmt.Sprintf("%s%d", prefix, i))
	}
	return accs, shareRoom(t, d, accs[0], accs[1:]...)
}

// burst has senders post count messages each, spread over the nodes
// (sender i posts through nodes[i%len(nodes)]); it returns when all are
// stored. pause, if set, is called between a sender's messages.
func burst(t *testing.T, nodes []*servertest.Daemon, accs []servertest.Account, roomID int64, senders, count int, pause func()) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc := accs[i%len(accs)]
			for j := range count {
				d := nodes[i%len(nodes)]
				if err := postRetry(d, nodes, acc.Token, roomID, fmt.Sprintf("s%d-%d", i, j)); err != nil {
					errs <- err
					return
				}
				if pause != nil {
					pause()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// postRetry posts through d, and through another node while d is down
// (a client behind a load balancer).
func postRetry(d *servertest.Daemon, nodes []*servertest.Daemon, token string, roomID int64, content string) error {
	body, _ := json.Marshal(api.CreateMessageRequest{Content: content, ClientID: content})
	var last error
	for attempt := range 2 * len(nodes) {
		target := d
		if attempt > 0 {
			target = nodes[attempt%len(nodes)]
		}
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/rooms/%d/messages", target.URL, roomID), bytesReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
			return nil
		}
		last = fmt.Errorf("post through %s: status %d", target.URL, resp.StatusCode)
	}
	return last
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func TestCluster_ThreeNodesHundredSocketsEach(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "fan", 10)
	var socks []*socket
	for i := range 300 {
		socks = append(socks, dial(t, nodes[i%3], r.ID, accs[i%len(accs)].Token, ""))
	}
	// Every socket is subscribed once it got its presence event.
	for _, s := range socks {
		s.waitUntil(t, "presence", func() bool { return s.hasEvent(wsproto.TypePresence, nil) })
	}
	const senders, each = 20, 10
	burst(t, nodes, accs, r.ID, senders, each, nil)
	for i, s := range socks {
		s.waitUntil(t, "every message", func() bool { return len(s.seqs) >= senders*each })
		s.mu.Lock()
		inOrder(t, fmt.Sprintf("socket %d on node%d", i, i%3+1), s.seqs, senders*each)
		s.mu.Unlock()
	}
}

func TestCluster_NodeKilledMidBurstClientResumesElsewhere(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "kill", 4)
	victim := dial(t, nodes[2], r.ID, accs[1].Token, "")
	witness := dial(t, nodes[1], r.ID, accs[2].Token, "")
	victim.waitUntil(t, "presence", func() bool { return victim.hasEvent(wsproto.TypePresence, nil) })
	witness.waitUntil(t, "presence", func() bool { return witness.hasEvent(wsproto.TypePresence, nil) })

	const senders, each = 6, 40
	var once sync.Once
	sent := 0
	var smu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		burst(t, nodes[:2], accs, r.ID, senders, each, func() {
			smu.Lock()
			sent++
			n := sent
			smu.Unlock()
			if n == senders*each/3 {
				once.Do(nodes[2].Kill)
			}
		})
	}()
	victim.waitUntil(t, "the socket of the killed node drops", func() bool { return victim.closed })
	victim.mu.Lock()
	got := append([]int64(nil), victim.seqs...)
	victim.mu.Unlock()
	var after int64
	if len(got) > 0 {
		after = got[len(got)-1]
	}
	// The load balancer sends the reconnect to a live node.
	again := dial(t, nodes[0], r.ID, accs[1].Token, "after="+strconv.FormatInt(after, 10))
	<-done
	again.waitUntil(t, "the rest after resume", func() bool { return len(got)+len(again.seqs) >= senders*each })
	again.mu.Lock()
	inOrder(t, "resumed client", append(got, again.seqs...), senders*each)
	again.mu.Unlock()
	witness.waitUntil(t, "witness has all", func() bool { return len(witness.seqs) >= senders*each })
	witness.mu.Lock()
	inOrder(t, "witness", witness.seqs, senders*each)
	witness.mu.Unlock()
}

func TestCluster_NATSDownFiveSecondsMidBurst(t *testing.T) {
	nodes, ns := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "nats", 6)
	var socks []*socket
	for i := range 30 {
		socks = append(socks, dial(t, nodes[i%3], r.ID, accs[i%len(accs)].Token, ""))
	}
	for _, s := range socks {
		s.waitUntil(t, "presence", func() bool { return s.hasEvent(wsproto.TypePresence, nil) })
	}
	const senders, each = 6, 60
	var smu sync.Mutex
	sent := 0
	down := make(chan struct{})
	var downOnce sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		burst(t, nodes, accs, r.ID, senders, each, func() {
			smu.Lock()
			sent++
			n := sent
			smu.Unlock()
			if n == senders*each/4 {
				downOnce.Do(func() { ns.Stop(); close(down) })
			}
			time.Sleep(5 * time.Millisecond) // spread the burst over the outage
		})
	}()
	<-down
	// Posts are still stored and acknowledged; every node says it is
	// degraded while serving.
	for _, d := range nodes {
		waitReady(t, d, "degraded")
	}
	outage := time.After(5 * time.Second)
	<-outage
	ns.Restart()
	<-done
	for _, d := range nodes {
		waitReady(t, d, "ready")
	}
	for i, s := range socks {
		s.waitUntil(t, "every message after NATS came back", func() bool { return len(s.seqs) >= senders*each })
		s.mu.Lock()
		inOrder(t, fmt.Sprintf("socket %d on node%d", i, i%3+1), s.seqs, senders*each)
		s.mu.Unlock()
	}
}

// waitReady waits until GET /ready answers status want.
func waitReady(t *testing.T, d *servertest.Daemon, want string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	var last string
	for time.Now().Before(deadline) {
		status, b := d.Do("GET", "/ready", "", nil)
		var h api.Health
		_ = json.Unmarshal(b, &h)
		if status == http.StatusOK && h.Status == want {
			return
		}
		last = fmt.Sprintf("%d %s", status, b)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: /ready never said %q (last: %s)", d.URL, want, last)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
