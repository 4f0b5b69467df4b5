package signal

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/virtual-company/vc/pkg/wsproto"
)

// Cluster links the signaling hubs of the nodes of a vcd cluster. Its
// methods are those of server/cluster's Bus (the daemon passes the bus):
// free topics between nodes, the live nodes, and a hook for a node that
// died (no heartbeat for the bus's expiry, the same that drops its users
// from presence) or left.
type Cluster interface {
	NodeID() string
	Nodes() []string
	Publish(topic string, data []byte) error
	Subscribe(topic string, fn func(from, topic string, data []byte)) (func(), error)
	OnNodeDown(fn func(node string))
}

// Topics of the signaling hubs (under the bus's free topics, one
// subscription "signal.*", so that what one node publishes arrives in the
// order it was published).
const (
	topicJoin  = "signal.join"  // a peer joined a call on the sender
	topicLeave = "signal.leave" // a peer of the sender left its call
	topicRelay = "signal.relay" // a relayed message for peers on other nodes
	topicState = "signal.state" // every peer of the sender (periodic, and on hello)
	topicHello = "signal.hello" // a node started: the others send their state
)

// stateEvery is how often a node sends its whole call state, which repairs
// what the others missed while NATS was away.
const stateEvery = 5 * time.Second

// remotePeer is a peer of a call whose socket is on another node.
type remotePeer struct {
	node     string
	id       string
	userID   int64
	username string
	joinedAt time.Time
}

// wirePeer is a peer as the nodes tell each other; Since is when its call
// started as its node knows.
type wirePeer struct {
	ID       string    `json:"id"`
	UserID   int64     `json:"user_id"`
	Username string    `json:"username"`
	JoinedAt time.Time `json:"joined_at"`
	Since    time.Time `json:"since"`
}

// clusterMsg is one message between the signaling hubs; the fields of its
// topic are set.
type clusterMsg struct {
	Room   int64                `json:"room,omitempty"`
	Peer   *wirePeer            `json:"peer,omitempty"`    // join
	PeerID string               `json:"peer_id,omitempty"` // leave
	To     string               `json:"to,omitempty"`      // relay ("": every peer)
	Msg    json.RawMessage      `json:"msg,omitempty"`     // relay
	Calls  map[int64][]wirePeer `json:"calls,omitempty"`   // state
}

// link subscribes the hub to the other nodes and asks them for their calls.
func (h *Hub) link() error {
	cl := h.opts.Cluster
	unsub, err := cl.Subscribe("signal.*", h.fromNode)
	if err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	cl.OnNodeDown(h.nodeDown)
	h.unlink = unsub
	h.stopState = make(chan struct{})
	h.stateDone.Add(1)
	go h.sendStates()
	h.clusterPublish(topicHello, clusterMsg{})
	h.mu.Lock()
	h.publishState()
	h.mu.Unlock()
	return nil
}

// sendStates sends this node's calls every stateEvery until Close.
func (h *Hub) sendStates() {
	defer h.stateDone.Done()
	t := time.NewTicker(stateEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stopState:
			return
		case <-t.C:
		}
		h.mu.Lock()
		h.publishState()
		h.mu.Unlock()
	}
}

// clusterPublish sends m on topic to the other nodes (no-op without a
// cluster). Join, leave and state are published with h.mu held, so that
// they leave in the order the calls changed.
func (h *Hub) clusterPublish(topic string, m clusterMsg) {
	if h.opts.Cluster == nil {
		return
	}
	if err := h.opts.Cluster.Publish(topic, mustMarshal(m)); err != nil {
		h.log.Debug("publish to the other nodes", "topic", topic, "err", err)
	}
}

// publishState sends every local peer. Called with h.mu held.
func (h *Hub) publishState() {
	calls := make(map[int64][]wirePeer, len(h.rooms))
	for roomID, c := range h.rooms {
		for _, id := range c.order {
			calls[roomID] = append(calls[roomID], wireOf(c.peers[id], c.startedAt))
		}
	}
	h.clusterPublish(topicState, clusterMsg{Calls: calls})
}

func wireOf(p *peer, since time.Time) wirePeer {
	return wirePeer{ID: p.id, UserID: p.user.ID, Username: p.user.Username, JoinedAt: p.joinedAt, Since: since}
}

// announceJoin and announceLeave tell the other nodes. Called with h.mu
// held.
func (h *Hub) announceJoin(p *peer, since time.Time) {
	wp := wireOf(p, since)
	h.clusterPublish(topicJoin, clusterMsg{Room: p.roomID, Peer: &wp})
}

func (h *Hub) announceLeave(p *peer) {
	h.clusterPublish(topicLeave, clusterMsg{Room: p.roomID, PeerID: p.id})
}

// fromNode handles what another node's hub sent (on the bus's goroutine).
func (h *Hub) fromNode(from, topic string, data []byte) {
	var m clusterMsg
	if err := json.Unmarshal(data, &m); err != nil {
		h.log.Warn("bad message from another node", "peer_node", from, "topic", topic, "err", err)
		return
	}
	switch topic {
	case topicRelay:
		h.deliverRelay(m)
	case topicHello:
		h.mu.Lock()
		h.publishState()
		h.mu.Unlock()
	case topicJoin:
		if m.Peer != nil {
			h.applyRemote(from, map[int64][]wirePeer{m.Room: {*m.Peer}}, nil)
		}
	case topicLeave:
		h.applyRemote(from, nil, map[int64][]string{m.Room: {m.PeerID}})
	case topicState:
		h.applyState(from, m.Calls)
	}
}

// applyState makes from's peers those of its state: the ones this node
// does not know join, the ones it knows and the state lacks leave.
func (h *Hub) applyState(from string, calls map[int64][]wirePeer) {
	h.mu.Lock()
	gone := map[int64][]string{}
	for roomID, peers := range h.remote {
		for id, rp := range peers {
			if rp.node != from {
				continue
			}
			if !slices.ContainsFunc(calls[roomID], func(w wirePeer) bool { return w.ID == id }) {
				gone[roomID] = append(gone[roomID], id)
			}
		}
	}
	added := map[int64][]wirePeer{}
	for roomID, peers := range calls {
		for _, w := range peers {
			if _, ok := h.remote[roomID][w.ID]; !ok {
				added[roomID] = append(added[roomID], w)
			}
		}
	}
	h.mu.Unlock()
	if len(gone) > 0 || len(added) > 0 {
		h.applyRemote(from, added, gone)
	}
}

// applyRemote adds and removes peers of node from, tells the local peers
// of those calls, and publishes the calls' participants to the local chat
// sockets.
func (h *Hub) applyRemote(from string, added map[int64][]wirePeer, gone map[int64][]string) {
	h.effects.Lock()
	defer h.effects.Unlock()
	h.mu.Lock()
	changed := map[int64]bool{}
	for roomID, ids := range gone {
		for _, id := range ids {
			if h.removeRemote(roomID, id) {
				changed[roomID] = true
			}
		}
	}
	for roomID, peers := range added {
		for _, w := range peers {
			if h.addRemote(from, roomID, w) {
				changed[roomID] = true
			}
		}
	}
	updates := make(map[int64][]wsproto.CallPeer, len(changed))
	for roomID := range changed {
		h.enforceCapacity(roomID)
		updates[roomID] = h.everyone(roomID, "")
	}
	h.mu.Unlock()
	for roomID, everyone := range updates {
		h.publish(roomID, everyone)
	}
}

// addRemote records a peer of another node. The newer of it and a local
// peer of the same user in that room stays: an older local one is replaced
// (close 4000), as a newer socket on this node would replace it; an older
// remote one is not added (its node closes it when it hears of the local
// one, which a state sent before that may still list). Called with h.mu
// held.
func (h *Hub) addRemote(node string, roomID int64, w wirePeer) bool {
	if _, ok := h.remote[roomID][w.ID]; ok {
		return false
	}
	if c := h.rooms[roomID]; c != nil {
		for _, o := range c.peers {
			if o.user.ID == w.UserID {
				if !w.JoinedAt.After(o.joinedAt) {
					return false
				}
				h.remove(c, o)
				h.announceLeave(o)
				o.stop(wsproto.CloseReplaced, "replaced")
				if len(c.peers) == 0 {
					delete(h.rooms, roomID)
				}
				break
			}
		}
	}
	if h.remote[roomID] == nil {
		h.remote[roomID] = map[string]*remotePeer{}
	}
	h.remote[roomID][w.ID] = &remotePeer{node: node, id: w.ID, userID: w.UserID, username: w.Username, joinedAt: w.JoinedAt}
	if s, ok := h.since[roomID]; !ok || (!w.Since.IsZero() && w.Since.Before(s)) {
		h.since[roomID] = w.Since
	}
	if c := h.rooms[roomID]; c != nil {
		if w.Since.Before(c.startedAt) && !w.Since.IsZero() {
			c.startedAt = w.Since
		}
		joined := mustMarshal(wsproto.Signal{Type: wsproto.SignalPeerJoined, RoomID: roomID, PeerID: w.ID, User: w.Username, UserID: w.UserID})
		for _, o := range c.peers {
			o.enqueue(joined)
		}
	}
	return true
}

// enforceCapacity keeps a call spanning nodes within MaxPeers when peers
// joined on two nodes at once, each node seeing room for its own: every
// node ranks all the call's peers by join time (then id), the same way, and
// closes its own peers ranked past MaxPeers (close 1013, as a refused
// join). Called with h.mu held.
func (h *Hub) enforceCapacity(roomID int64) {
	c := h.rooms[roomID]
	if c == nil || len(c.peers)+len(h.remote[roomID]) <= h.opts.MaxPeers {
		return
	}
	for i, cp := range h.everyone(roomID, "") {
		if i < h.opts.MaxPeers {
			continue
		}
		if o := c.peers[cp.PeerID]; o != nil {
			h.remove(c, o)
			h.announceLeave(o)
			o.stop(wsproto.CloseTryAgainLater, errCallFull.Error())
		}
	}
	if len(c.peers) == 0 {
		delete(h.rooms, roomID)
	}
}

// removeRemote forgets a peer of another node and tells the local peers of
// its call. Called with h.mu held.
func (h *Hub) removeRemote(roomID int64, id string) bool {
	rp := h.remote[roomID][id]
	if rp == nil {
		return false
	}
	delete(h.remote[roomID], id)
	if len(h.remote[roomID]) == 0 {
		delete(h.remote, roomID)
		if h.rooms[roomID] == nil {
			delete(h.since, roomID) // the call is over everywhere
		}
	}
	if c := h.rooms[roomID]; c != nil {
		left := mustMarshal(wsproto.Signal{Type: wsproto.SignalPeerLeft, RoomID: roomID, PeerID: id, User: rp.username, UserID: rp.userID})
		for _, o := range c.peers {
			o.enqueue(left)
		}
	}
	return true
}

// nodeDown drops the peers of a node that died or left: their calls' local
// peers get peer_left. A call that had no one else ends; its system message
// is written once, by the first live node in id order.
func (h *Hub) nodeDown(node string) {
	h.mu.Lock()
	gone := map[int64][]string{}
	since := map[int64]time.Time{}
	for roomID, peers := range h.remote {
		for id, rp := range peers {
			if rp.node == node {
				gone[roomID] = append(gone[roomID], id)
				since[roomID] = h.since[roomID]
			}
		}
	}
	h.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	h.applyRemote(node, nil, gone)
	live := h.opts.Cluster.Nodes()
	if len(live) == 0 || live[0] != h.opts.Cluster.NodeID() {
		return
	}
	for roomID := range gone {
		h.mu.Lock()
		ended := h.rooms[roomID] == nil && len(h.remote[roomID]) == 0
		h.mu.Unlock()
		if ended && !since[roomID].IsZero() {
			h.systemMessage(roomID, fmt.Sprintf("The voice call ended after %s", formatDuration(h.opts.Now().Sub(since[roomID]))))
		}
	}
}

// relayRemote sends a relayed message to the peers of from's call on other
// nodes: to one of them, or to all when to is empty. It reports whether to
// names a remote peer. Called with h.mu held.
func (h *Hub) relayRemote(from *peer, to string, msg []byte) bool {
	peers := h.remote[from.roomID]
	if len(peers) == 0 {
		return false
	}
	if to != "" {
		if peers[to] == nil {
			return false
		}
	}
	h.clusterPublish(topicRelay, clusterMsg{Room: from.roomID, To: to, Msg: msg})
	return true
}

// deliverRelay hands a message relayed by another node to the local peers
// it is for.
func (h *Hub) deliverRelay(m clusterMsg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.rooms[m.Room]
	if c == nil {
		return
	}
	if m.To != "" {
		if p := c.peers[m.To]; p != nil {
			p.enqueue(m.Msg)
		}
		return
	}
	for _, p := range c.peers {
		p.enqueue(m.Msg)
	}
}

// everyone lists the peers of a room's call on every node, in join order,
// but except. Called with h.mu held.
func (h *Hub) everyone(roomID int64, except string) []wsproto.CallPeer {
	type entry struct {
		peer wsproto.CallPeer
		at   time.Time
	}
	var all []entry
	if c := h.rooms[roomID]; c != nil {
		for _, id := range c.order {
			if p := c.peers[id]; id != except {
				all = append(all, entry{wsproto.CallPeer{PeerID: p.id, UserID: p.user.ID, Username: p.user.Username}, p.joinedAt})
			}
		}
	}
	if remote := h.remote[roomID]; len(remote) > 0 {
		for _, rp := range remote {
			all = append(all, entry{wsproto.CallPeer{PeerID: rp.id, UserID: rp.userID, Username: rp.username}, rp.joinedAt})
		}
		slices.SortStableFunc(all, func(a, b entry) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return cmpString(a.peer.PeerID, b.peer.PeerID)
		})
	}
	out := make([]wsproto.CallPeer, 0, len(all))
	for _, e := range all {
		out = append(out, e.peer)
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
