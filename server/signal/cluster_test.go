package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
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

// clusterWait bounds every wait of the cluster tests.
const clusterWait = 30 * time.Second

// startNodes runs n nodes on the test PostgreSQL and an in-process NATS.
func startNodes(t *testing.T, n int) []*servertest.Daemon {
	t.Helper()
	nodes, _ := startNodesNATS(t, n)
	return nodes
}

func startNodesNATS(t *testing.T, n int) ([]*servertest.Daemon, *natstest.Server) {
	t.Helper()
	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		t.Skipf("cluster signaling tests need PostgreSQL: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", servertest.EnvPostgresDSN)
	}
	ns := natstest.Start(t)
	return servertest.StartCluster(t, n, dsn, ns.URL()), ns
}

// callRoom registers n users on d and puts them in one room.
func callRoom(t *testing.T, d *servertest.Daemon, prefix string, n int) ([]servertest.Account, int64) {
	t.Helper()
	accs := make([]servertest.Account, n)
	for i := range accs {
		accs[i] = d.Register(fmt.Sprintf("%s%d", prefix, i))
	}
	status, b := d.Do("POST", "/api/rooms", accs[0].Token, api.CreateRoomRequest{Name: "call-" + prefix})
	require.Equal(t, http.StatusCreated, status, string(b))
	var r api.Room
	require.NoError(t, json.Unmarshal(b, &r))
	for _, a := range accs[1:] {
		status, b := d.Do("POST", fmt.Sprintf("/api/rooms/%d/members", r.ID), accs[0].Token, api.AddMemberRequest{Username: a.User.Username})
		require.Equal(t, http.StatusCreated, status, string(b))
	}
	return accs, r.ID
}

// sigSocket is a signaling socket that records what it receives.
type sigSocket struct {
	conn    *websocket.Conn
	mu      sync.Mutex
	got     []wsproto.Signal
	raw     [][]byte
	closed  bool
	code    websocket.StatusCode
	changed chan struct{}
}

func dialSignal(t *testing.T, d *servertest.Daemon, roomID int64, token string) *sigSocket {
	t.Helper()
	return dialPath(t, d, "/ws/signaling/"+strconv.FormatInt(roomID, 10)+"?token="+token)
}

// dialChat opens a chat socket; its events are read as raw JSON.
func dialChat(t *testing.T, d *servertest.Daemon, roomID int64, token string) *sigSocket {
	t.Helper()
	return dialPath(t, d, "/ws/chat/"+strconv.FormatInt(roomID, 10)+"?token="+token)
}

func dialPath(t *testing.T, d *servertest.Daemon, path string) *sigSocket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+d.Addr+path, nil)
	require.NoError(t, err)
	s := &sigSocket{conn: conn, changed: make(chan struct{}, 1)}
	t.Cleanup(func() { conn.CloseNow() })
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			s.mu.Lock()
			if err != nil {
				s.closed, s.code = true, websocket.CloseStatus(err)
				s.mu.Unlock()
				s.note()
				return
			}
			s.raw = append(s.raw, b)
			var m wsproto.Signal
			if json.Unmarshal(b, &m) == nil {
				s.got = append(s.got, m)
			}
			s.mu.Unlock()
			s.note()
		}
	}()
	return s
}

func (s *sigSocket) note() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// await waits until match accepts a received message and returns it.
func (s *sigSocket) await(t *testing.T, what string, match func(wsproto.Signal) bool) wsproto.Signal {
	t.Helper()
	deadline := time.After(clusterWait)
	for {
		s.mu.Lock()
		for _, m := range s.got {
			if match(m) {
				s.mu.Unlock()
				return m
			}
		}
		closed, code := s.closed, s.code
		s.mu.Unlock()
		if closed {
			t.Fatalf("socket closed (%d) while waiting for %s", code, what)
		}
		select {
		case <-s.changed:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("timed out waiting for %s; got %+v", what, s.got)
		}
	}
}

// awaitClose waits for the socket to be closed and returns the code.
func (s *sigSocket) awaitClose(t *testing.T) websocket.StatusCode {
	t.Helper()
	deadline := time.After(clusterWait)
	for {
		s.mu.Lock()
		closed, code := s.closed, s.code
		s.mu.Unlock()
		if closed {
			return code
		}
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatal("timed out waiting for the socket to close")
		}
	}
}

// awaitEvent waits for a chat event that match accepts.
func (s *sigSocket) awaitEvent(t *testing.T, what string, match func(wsproto.Event) bool) wsproto.Event {
	t.Helper()
	deadline := time.After(clusterWait)
	for {
		s.mu.Lock()
		for _, b := range s.raw {
			var ev wsproto.Event
			if json.Unmarshal(b, &ev) == nil && match(ev) {
				s.mu.Unlock()
				return ev
			}
		}
		s.mu.Unlock()
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// systemMessages lists the room's system messages whose content starts
// with prefix.
func systemMessages(t *testing.T, d *servertest.Daemon, token string, roomID int64, prefix string) []string {
	t.Helper()
	status, b := d.Do("GET", fmt.Sprintf("/api/rooms/%d/messages?limit=100", roomID), token, nil)
	require.Equal(t, http.StatusOK, status, string(b))
	var msgs []api.Message
	require.NoError(t, json.Unmarshal(b, &msgs))
	var out []string
	for _, m := range msgs {
		if m.MessageType == api.MessageSystem && strings.Contains(m.Content, prefix) {
			out = append(out, m.Content)
		}
	}
	return out
}

func (s *sigSocket) send(t *testing.T, m any) {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	require.NoError(t, s.conn.Write(ctx, websocket.MessageText, b))
}

func isType(typ string) func(wsproto.Signal) bool {
	return func(m wsproto.Signal) bool { return m.Type == typ }
}

func peerEvent(typ, peerID string) func(wsproto.Signal) bool {
	return func(m wsproto.Signal) bool { return m.Type == typ && m.PeerID == peerID }
}

func peerIDs(ps []wsproto.CallPeer) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.PeerID)
	}
	return out
}

// TestSignalCluster_OneCallAcrossThreeNodes: three members, each on another
// node, are in one call: welcome lists the peers of the other nodes, joins
// and relays cross nodes (to one peer and to all), the REST participants
// are the same on every node, and when a node dies its peer is announced
// as gone within the presence expiry (15 s).
func TestSignalCluster_OneCallAcrossThreeNodes(t *testing.T) {
	nodes := startNodes(t, 3)
	accs, roomID := callRoom(t, nodes[0], "sigx", 3)
	alice, bob, carol := accs[0], accs[1], accs[2]

	a := dialSignal(t, nodes[0], roomID, alice.Token)
	aw := a.await(t, "alice's welcome", isType(wsproto.SignalWelcome))
	require.Empty(t, aw.Peers)

	b := dialSignal(t, nodes[1], roomID, bob.Token)
	bw := b.await(t, "bob's welcome", isType(wsproto.SignalWelcome))
	require.Equal(t, []string{aw.PeerID}, peerIDs(bw.Peers), "bob's welcome lists alice, on another node")
	a.await(t, "bob joined (seen on node 1)", peerEvent(wsproto.SignalPeerJoined, bw.PeerID))

	c := dialSignal(t, nodes[2], roomID, carol.Token)
	cw := c.await(t, "carol's welcome", isType(wsproto.SignalWelcome))
	require.Equal(t, []string{aw.PeerID, bw.PeerID}, peerIDs(cw.Peers), "carol's welcome lists both, in join order")
	a.await(t, "carol joined (seen on node 1)", peerEvent(wsproto.SignalPeerJoined, cw.PeerID))
	b.await(t, "carol joined (seen on node 2)", peerEvent(wsproto.SignalPeerJoined, cw.PeerID))

	// Every node lists the same call.
	for _, d := range nodes {
		status, body := d.Do("GET", fmt.Sprintf("/api/rooms/%d/call", roomID), alice.Token, nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var ps []api.CallParticipant
		require.NoError(t, json.Unmarshal(body, &ps))
		got := []string{}
		for _, p := range ps {
			got = append(got, p.PeerID)
		}
		require.Equal(t, []string{aw.PeerID, bw.PeerID, cw.PeerID}, got, "participants on %s", d.URL)
	}

	// A relay to one peer on another node reaches only that peer, with
	// the sender stamped.
	offer := wsproto.Signal{Type: wsproto.SignalOffer, To: cw.PeerID, Data: json.RawMessage(`{"type":"offer","sdp":"v=0 alice"}`)}
	a.send(t, offer)
	got := c.await(t, "alice's offer at carol", isType(wsproto.SignalOffer))
	require.Equal(t, aw.PeerID, got.From)
	require.Equal(t, alice.User.ID, got.UserID)
	require.JSONEq(t, `{"type":"offer","sdp":"v=0 alice"}`, string(got.Data))
	// A message to everyone reaches both other nodes.
	c.send(t, map[string]any{"type": "mute", "data": map[string]bool{"muted": true}})
	a.await(t, "carol's mute at alice", func(m wsproto.Signal) bool { return m.Type == "mute" && m.From == cw.PeerID })
	b.await(t, "carol's mute at bob", func(m wsproto.Signal) bool { return m.Type == "mute" && m.From == cw.PeerID })
	// Bob never got the offer meant for carol: a broadcast sent after it
	// on the same path arrived, so the offer would have too.
	b.mu.Lock()
	for _, m := range b.got {
		require.NotEqual(t, wsproto.SignalOffer, m.Type, "bob got carol's offer")
	}
	b.mu.Unlock()
	// An unknown peer is still refused.
	a.send(t, wsproto.Signal{Type: wsproto.SignalOffer, To: "nobody", Data: json.RawMessage(`{"type":"offer","sdp":"v=0"}`)})
	a.await(t, "unknown peer error", func(m wsproto.Signal) bool { return m.Type == wsproto.SignalError && m.Code == api.CodeUnknownPeer })

	// Bob leaves normally: the others hear it at once.
	b.conn.Close(websocket.StatusNormalClosure, "")
	a.await(t, "bob left (seen on node 1)", peerEvent(wsproto.SignalPeerLeft, bw.PeerID))
	c.await(t, "bob left (seen on node 3)", peerEvent(wsproto.SignalPeerLeft, bw.PeerID))

	// Node 3 dies: alice hears carol is gone within the presence expiry.
	start := time.Now()
	nodes[2].Kill()
	a.await(t, "carol left when node 3 died", peerEvent(wsproto.SignalPeerLeft, cw.PeerID))
	require.Less(t, time.Since(start), 15*time.Second)
	// Node 1 dropped her before it told alice.
	status, body := nodes[0].Do("GET", fmt.Sprintf("/api/rooms/%d/call", roomID), alice.Token, nil)
	require.Equal(t, http.StatusOK, status)
	var ps []api.CallParticipant
	require.NoError(t, json.Unmarshal(body, &ps))
	require.Len(t, ps, 1)
	require.Equal(t, aw.PeerID, ps[0].PeerID)
	// One call, started once, whichever nodes its peers joined on.
	require.Len(t, systemMessages(t, nodes[0], alice.Token, roomID, "started a voice call"), 1)
}

// TestSignalCluster_CallEndsWhenItsLastNodeDies: the only peers of a call
// are on a node that dies; the call ends for the room once (one system
// message, written by one of the live nodes) and the chat sockets of the
// other nodes see it empty.
func TestSignalCluster_CallEndsWhenItsLastNodeDies(t *testing.T) {
	nodes := startNodes(t, 3)
	accs, roomID := callRoom(t, nodes[0], "sigend", 2)
	chat := dialChat(t, nodes[0], roomID, accs[0].Token)
	c := dialSignal(t, nodes[2], roomID, accs[1].Token)
	c.await(t, "welcome", isType(wsproto.SignalWelcome))
	chat.awaitEvent(t, "call event with carol", func(ev wsproto.Event) bool {
		return ev.Type == wsproto.TypeCall && len(ev.Participants) == 1
	})
	nodes[2].Kill()
	chat.awaitEvent(t, "the call ended message", func(ev wsproto.Event) bool {
		return ev.Type == wsproto.TypeMessage && strings.HasPrefix(ev.Content, "The voice call ended after")
	})
	chat.awaitEvent(t, "empty call event", func(ev wsproto.Event) bool {
		return ev.Type == wsproto.TypeCall && len(ev.Participants) == 0
	})
	// One of the live nodes wrote it, once. (servertest's Kill drops the
	// sockets while the dying daemon can still reach the database for a
	// moment, so its own leave may write "ended after 0s" too, the call
	// having lasted under a second; a process killed with -9 writes
	// nothing. The live nodes count until they noticed the death.)
	var live []string
	for _, m := range systemMessages(t, nodes[0], accs[0].Token, roomID, "The voice call ended") {
		if m != "The voice call ended after 0s" {
			live = append(live, m)
		}
	}
	require.Len(t, live, 1)
}

// TestSignalCluster_CapacityIsClusterWide: a call holds 16 peers however
// they are spread over the nodes; the 17th is refused with 1013 on any
// node.
func TestSignalCluster_CapacityIsClusterWide(t *testing.T) {
	nodes := startNodes(t, 3)
	accs, roomID := callRoom(t, nodes[0], "sigcap", 17)
	var last wsproto.Signal
	for i, acc := range accs[:16] {
		s := dialSignal(t, nodes[i%2], roomID, acc.Token)
		last = s.await(t, fmt.Sprintf("welcome %d", i), isType(wsproto.SignalWelcome))
	}
	require.Len(t, last.Peers, 15)
	// Node 3 has no peer of the call, yet it knows the call is full.
	s := dialSignal(t, nodes[2], roomID, accs[16].Token)
	require.Equal(t, websocket.StatusCode(wsproto.CloseTryAgainLater), s.awaitClose(t))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.got {
		require.NotEqual(t, wsproto.SignalWelcome, m.Type, "the 17th peer was welcomed")
	}
}

// TestSignalCluster_SameUserOnAnotherNodeReplaces: one signaling socket per
// user and room holds across nodes: the newer socket, on another node,
// replaces the older one (close 4000), and the others see one peer leave
// and one join.
func TestSignalCluster_SameUserOnAnotherNodeReplaces(t *testing.T) {
	nodes := startNodes(t, 2)
	accs, roomID := callRoom(t, nodes[0], "sigrep", 2)
	a := dialSignal(t, nodes[0], roomID, accs[0].Token)
	aw := a.await(t, "alice's welcome", isType(wsproto.SignalWelcome))
	old := dialSignal(t, nodes[0], roomID, accs[1].Token)
	ow := old.await(t, "bob's first welcome", isType(wsproto.SignalWelcome))
	a.await(t, "bob joined", peerEvent(wsproto.SignalPeerJoined, ow.PeerID))

	nw := dialSignal(t, nodes[1], roomID, accs[1].Token)
	nww := nw.await(t, "bob's second welcome", isType(wsproto.SignalWelcome))
	require.Equal(t, []string{aw.PeerID}, peerIDs(nww.Peers), "the replaced socket is not listed")
	require.Equal(t, websocket.StatusCode(wsproto.CloseReplaced), old.awaitClose(t))
	a.await(t, "bob's old socket left", peerEvent(wsproto.SignalPeerLeft, ow.PeerID))
	a.await(t, "bob's new socket joined", peerEvent(wsproto.SignalPeerJoined, nww.PeerID))
}

// TestSignalCluster_JoinWhileNATSIsDown: a peer that joins on one node
// while NATS is down is announced to the other nodes' peers once NATS is
// back (the nodes resend their calls), and relays flow again.
func TestSignalCluster_JoinWhileNATSIsDown(t *testing.T) {
	nodes, ns := startNodesNATS(t, 2)
	accs, roomID := callRoom(t, nodes[0], "signats", 2)
	chat2 := dialChat(t, nodes[1], roomID, accs[1].Token)
	a := dialSignal(t, nodes[0], roomID, accs[0].Token)
	aw := a.await(t, "alice's welcome", isType(wsproto.SignalWelcome))
	// Node 2 knows alice before NATS goes: its chat sockets are told of
	// the call.
	chat2.awaitEvent(t, "the call on node 2", func(ev wsproto.Event) bool {
		return ev.Type == wsproto.TypeCall && len(ev.Participants) == 1 && ev.Participants[0].PeerID == aw.PeerID
	})

	ns.Stop()
	b := dialSignal(t, nodes[1], roomID, accs[1].Token)
	bw := b.await(t, "bob's welcome", isType(wsproto.SignalWelcome))
	require.Equal(t, []string{aw.PeerID}, peerIDs(bw.Peers))
	ns.Restart()

	a.await(t, "bob joined, after NATS came back", peerEvent(wsproto.SignalPeerJoined, bw.PeerID))
	b.send(t, wsproto.Signal{Type: wsproto.SignalOffer, To: aw.PeerID, Data: json.RawMessage(`{"type":"offer","sdp":"v=0 bob"}`)})
	got := a.await(t, "bob's offer", isType(wsproto.SignalOffer))
	require.Equal(t, bw.PeerID, got.From)
}
