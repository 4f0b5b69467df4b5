// Package signal is vcd's WebRTC signaling: the /ws/signaling/{room_id} socket
// that relays offers, answers and ICE candidates between the members of a
// room's voice call, the call's membership (who is in it, since when), the
// system messages and chat events that tell a room its call started or ended,
// and the ICE server configuration handed to clients.
package signal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/config"
)

// Authenticator turns a bearer token into a user (service.Auth implements it).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (api.User, error)
}

// Memberships checks room membership (service.Rooms implements it).
type Memberships interface {
	RequireMember(ctx context.Context, roomID, userID int64) (api.Room, error)
}

// SystemMessages stores and publishes a room's system messages
// (service.Messages implements it).
type SystemMessages interface {
	CreateSystem(ctx context.Context, roomID int64, content string) (api.Message, error)
}

// Publisher sends an event to a room's chat sockets (the realtime hub).
type Publisher interface {
	Publish(roomID int64, ev wsproto.Event)
}

// ExpiringAuthenticator is an Authenticator that also tells when the token
// expires (service.Auth); the socket is closed with 4001 then.
type ExpiringAuthenticator interface {
	AuthenticateUntil(ctx context.Context, token string) (api.User, time.Time, error)
}

// SocketCounter holds the per-user socket cap shared with the chat sockets
// (the realtime hub implements it): a signaling socket takes a slot for as
// long as it is open.
type SocketCounter interface {
	AcquireSocket(userID int64) bool
	ReleaseSocket(userID int64)
}

// Options configures a Hub. Auth and Rooms are required.
type Options struct {
	Auth     Authenticator
	Rooms    Memberships
	Messages SystemMessages // optional: no system messages when nil
	Chat     Publisher      // optional: no call events on the chat socket when nil
	// Sockets caps the user's sockets of both kinds (optional: no cap
	// besides one signaling socket per user and room when nil).
	Sockets SocketCounter
	Logger  *slog.Logger
	Now     func() time.Time
	// RTC is the ICE server configuration handed out by RTCConfig.
	RTC config.RTCConfig

	// MaxMessageBytes is the largest message relayed; bigger ones get an
	// error event and are dropped (default 64 KiB). Messages over 16 times
	// this close the socket with 1009.
	MaxMessageBytes int
	// SendQueue is how many messages may wait for a slow socket before it is
	// dropped with close code 4008 (default 256).
	SendQueue int
	// MaxPeers caps the participants of one call (default 16; mesh calls do
	// not scale further).
	MaxPeers int
	// PingInterval and PongWait keep idle sockets alive and find dead ones
	// (defaults 25 s and 60 s); WriteWait bounds one write (default 10 s).
	PingInterval, PongWait, WriteWait time.Duration
	// Cluster links the hubs of a cluster's nodes (cluster.go): a call then
	// spans every node, and MaxPeers counts its peers on all of them. Nil:
	// one node.
	Cluster Cluster
}

// Hub tracks the calls of every room and relays signaling between their peers.
type Hub struct {
	opts Options
	log  *slog.Logger

	// effects serialises the side effects of joins and leaves (system
	// messages, call events) so they happen in the order they were decided.
	effects sync.Mutex

	mu     sync.Mutex
	rooms  map[int64]*call
	closed bool
	// revokes counts UserRevoked calls; revokedAt is the count at each
	// user's latest one (a socket admitted before it is refused at join).
	revokes   uint64
	revokedAt map[int64]uint64

	// Cluster mode (cluster.go): remote holds the peers on other nodes, by
	// room and peer id; since is when each room's call started, as far as
	// this node knows. Both guarded by mu.
	remote    map[int64]map[string]*remotePeer
	since     map[int64]time.Time
	unlink    func()
	stopState chan struct{}
	stateDone sync.WaitGroup
}

// call is the voice call of one room.
type call struct {
	startedAt time.Time
	peers     map[string]*peer
	order     []string // peer ids in join order
}

// peer is one signaling socket in a call.
type peer struct {
	id       string
	roomID   int64
	user     api.User
	joinedAt time.Time

	// slot: the peer holds one of the user's socket slots (Options.Sockets);
	// a peer that replaces another takes over its slot. Guarded by Hub.mu.
	slot bool

	send     chan []byte
	done     chan struct{} // closed when the peer must go
	doneOnce sync.Once
	// closeCode and closeReason say why the peer was told to go.
	closeCode   int
	closeReason string
}

// New returns a hub.
func New(opts Options) *Hub {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 64 << 10
	}
	if opts.SendQueue <= 0 {
		opts.SendQueue = 256
	}
	if opts.MaxPeers <= 0 {
		opts.MaxPeers = 16
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 25 * time.Second
	}
	if opts.PongWait <= 0 {
		opts.PongWait = 60 * time.Second
	}
	if opts.WriteWait <= 0 {
		opts.WriteWait = 10 * time.Second
	}
	h := &Hub{opts: opts, log: opts.Logger.With("component", "signal"), rooms: map[int64]*call{},
		revokedAt: map[int64]uint64{}, remote: map[int64]map[string]*remotePeer{}, since: map[int64]time.Time{}}
	if opts.Cluster != nil {
		if err := h.link(); err != nil {
			// Only a closed NATS connection refuses a subscription: calls
			// then stay on this node.
			h.log.Error("link signaling to the other nodes", "err", err)
			h.opts.Cluster = nil
		}
	}
	return h
}

// Participants lists who is in a room's call, in join order (empty when no
// call is running).
func (h *Hub) Participants(roomID int64) []api.CallParticipant {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []api.CallParticipant{}
	c := h.rooms[roomID]
	if c == nil && len(h.remote[roomID]) == 0 {
		return out
	}
	for _, cp := range h.everyone(roomID, "") {
		at := time.Time{}
		if p := c.peerByID(cp.PeerID); p != nil {
			at = p.joinedAt
		} else if rp := h.remote[roomID][cp.PeerID]; rp != nil {
			at = rp.joinedAt
		}
		out = append(out, api.CallParticipant{PeerID: cp.PeerID, UserID: cp.UserID, Username: cp.Username, JoinedAt: at})
	}
	return out
}

// peerByID is the local peer id of the call (nil when c is nil or has none).
func (c *call) peerByID(id string) *peer {
	if c == nil {
		return nil
	}
	return c.peers[id]
}

// RTCConfig returns the ICE servers for userID (GET /api/rtc/config), with
// fresh TURN credentials when a TURN secret is configured.
func (h *Hub) RTCConfig(userID int64) api.RTCConfig {
	return ICEConfig(h.opts.RTC, userID, h.opts.Now())
}

// MemberRemoved closes a removed member's signaling sockets in the room.
func (h *Hub) MemberRemoved(roomID, userID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.rooms[roomID]; c != nil {
		for _, p := range c.peers {
			if p.user.ID == userID {
				p.stop(wsproto.CloseRemoved, "removed from the room")
			}
		}
	}
}

// RoomDeleted closes every signaling socket of the room.
func (h *Hub) RoomDeleted(roomID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.rooms[roomID]; c != nil {
		for _, p := range c.peers {
			p.stop(wsproto.ClosePolicy, "room deleted")
		}
	}
}

// UserRevoked closes every signaling socket of the user with 4001: their
// tokens were revoked (service.SessionRevoker, through Notifier).
func (h *Hub) UserRevoked(userID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.revokes++
	h.revokedAt[userID] = h.revokes
	for _, c := range h.rooms {
		for _, p := range c.peers {
			if p.user.ID == userID {
				p.stop(wsproto.CloseRevoked, reasonRevoked)
			}
		}
	}
}

// revocations returns the UserRevoked count, read before a token is checked.
func (h *Hub) revocations() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.revokes
}

// Close tells every socket that the daemon is going away (close 1001) and
// refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	if h.unlink != nil {
		h.unlink()
		close(h.stopState)
	}
	for _, c := range h.rooms {
		for _, p := range c.peers {
			p.stop(wsproto.CloseGoingAway, "server shutting down")
		}
	}
}

// stop asks the peer's socket to close with code and reason.
func (p *peer) stop(code int, reason string) {
	p.doneOnce.Do(func() {
		p.closeCode, p.closeReason = code, reason
		close(p.done)
	})
}

// enqueue queues msg for the peer's writer; a peer whose queue is full is
// dropped rather than allowed to hold up the call.
func (p *peer) enqueue(msg []byte) {
	select {
	case <-p.done:
	case p.send <- msg:
	default:
		p.stop(wsproto.CloseSlowConsumer, "too slow to read signaling messages")
	}
}

func newPeerID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// reasonRevoked is the close reason of a socket whose token was revoked.
const reasonRevoked = "unauthorized: token revoked"

// Join refusals: their kind in the catalogue (server/apierr) gives the close
// code, their text the close reason.
var (
	errCallFull = &apierr.Error{Kind: apierr.CallFull, Detail: "the call is full"}
	errClosed   = &apierr.Error{Kind: apierr.ShuttingDown, Detail: "server shutting down"}
	errTooMany  = &apierr.Error{Kind: apierr.TooManySockets, Detail: "too many sockets for this user"}
	errRevoked  = &apierr.Error{Kind: apierr.Revoked, Detail: reasonRevoked}
)

// join adds a peer to the room's call and tells everyone. A user has one
// signaling socket per room: an older one is replaced (close 4000), which
// also keeps one member from taking every seat of the call. revokes is the
// revocation count read before the user's token was checked.
func (h *Hub) join(roomID int64, user api.User, revokes uint64) (*peer, error) {
	h.effects.Lock()
	defer h.effects.Unlock()

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errClosed
	}
	if h.revokedAt[user.ID] > revokes {
		h.mu.Unlock()
		return nil, errRevoked
	}
	c := h.rooms[roomID]
	var old *peer
	if c != nil {
		for _, o := range c.peers {
			if o.user.ID == user.ID {
				old = o
				break
			}
		}
	}
	// The call's peers on every node count, but for a socket of this user
	// on another node, which this one replaces.
	others := 0
	for _, rp := range h.remote[roomID] {
		if rp.userID != user.ID {
			others++
		}
	}
	if old == nil && len(c.peerList())+others >= h.opts.MaxPeers {
		h.mu.Unlock()
		return nil, errCallFull
	}
	p := &peer{
		id: newPeerID(), roomID: roomID, user: user, joinedAt: h.opts.Now(),
		send: make(chan []byte, h.opts.SendQueue), done: make(chan struct{}),
	}
	switch {
	case old != nil:
		// The new socket takes the old one's place and its slot.
		p.slot, old.slot = old.slot, false
		h.remove(c, old)
		h.announceLeave(old)
		old.stop(wsproto.CloseReplaced, "replaced")
	case h.opts.Sockets != nil:
		if !h.opts.Sockets.AcquireSocket(user.ID) {
			h.mu.Unlock()
			return nil, errTooMany
		}
		p.slot = true
	}
	// A socket of this user on another node is replaced: its node closes
	// it when it hears of this one.
	for id, rp := range h.remote[roomID] {
		if rp.userID == user.ID {
			h.removeRemote(roomID, id)
		}
	}
	started := c == nil && len(h.remote[roomID]) == 0
	if c == nil {
		since, ok := h.since[roomID]
		if !ok || since.IsZero() {
			since = h.opts.Now()
			h.since[roomID] = since
		}
		c = &call{startedAt: since, peers: map[string]*peer{}}
		h.rooms[roomID] = c
	}
	welcome := wsproto.Signal{Type: wsproto.SignalWelcome, RoomID: roomID, PeerID: p.id, User: user.Username, UserID: user.ID,
		Peers: h.everyone(roomID, "")}
	joined := mustMarshal(wsproto.Signal{Type: wsproto.SignalPeerJoined, RoomID: roomID, PeerID: p.id, User: user.Username, UserID: user.ID})
	for _, o := range c.peers {
		o.enqueue(joined)
	}
	c.peers[p.id] = p
	c.order = append(c.order, p.id)
	p.send <- mustMarshal(welcome)
	h.announceJoin(p, c.startedAt)
	everyone := h.everyone(roomID, "")
	h.mu.Unlock()

	h.log.Info("call joined", "room_id", roomID, "user_id", user.ID, "peer_id", p.id, "participants", len(everyone))
	if started {
		h.systemMessage(roomID, fmt.Sprintf("%s started a voice call", user.Username))
	}
	h.publish(roomID, everyone)
	return p, nil
}

// leave removes a peer from its call and tells everyone; the last one out
// ends the call.
func (h *Hub) leave(p *peer) {
	h.effects.Lock()
	defer h.effects.Unlock()

	h.mu.Lock()
	if p.slot {
		p.slot = false
		h.opts.Sockets.ReleaseSocket(p.user.ID)
	}
	c := h.rooms[p.roomID]
	if c == nil || c.peers[p.id] != p {
		h.mu.Unlock()
		return // replaced: the call goes on with the new socket
	}
	h.remove(c, p)
	h.announceLeave(p)
	// The call ends when its last peer on any node leaves.
	ended := len(c.peers) == 0 && len(h.remote[p.roomID]) == 0
	var duration time.Duration
	if len(c.peers) == 0 {
		delete(h.rooms, p.roomID)
	}
	if ended {
		delete(h.since, p.roomID)
		duration = h.opts.Now().Sub(c.startedAt)
	}
	everyone := h.everyone(p.roomID, "")
	h.mu.Unlock()

	h.log.Info("call left", "room_id", p.roomID, "user_id", p.user.ID, "peer_id", p.id, "participants", len(everyone))
	if ended {
		h.systemMessage(p.roomID, fmt.Sprintf("The voice call ended after %s", formatDuration(duration)))
	}
	h.publish(p.roomID, everyone)
}

// remove takes p out of its call and tells the others. Called with h.mu held.
func (h *Hub) remove(c *call, p *peer) {
	delete(c.peers, p.id)
	c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == p.id })
	left := mustMarshal(wsproto.Signal{Type: wsproto.SignalPeerLeft, RoomID: p.roomID, PeerID: p.id, User: p.user.Username, UserID: p.user.ID})
	for _, o := range c.peers {
		o.enqueue(left)
	}
}

// peerList is the call's local peers (none when c is nil).
func (c *call) peerList() map[string]*peer {
	if c == nil {
		return nil
	}
	return c.peers
}

func (h *Hub) systemMessage(roomID int64, content string) {
	if h.opts.Messages == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.opts.Messages.CreateSystem(ctx, roomID, content); err != nil {
		h.log.Warn("call system message failed", "room_id", roomID, "err", err)
	}
}

func (h *Hub) publish(roomID int64, participants []wsproto.CallPeer) {
	if h.opts.Chat == nil {
		return
	}
	h.opts.Chat.Publish(roomID, wsproto.Event{Type: wsproto.TypeCall, RoomID: roomID, Participants: participants})
}

// route delivers a relayed message: to one peer of the same call, or to
// every other peer when to is empty. It reports false when to names no peer
// of this call (peers of other rooms are never reachable).
func (h *Hub) route(from *peer, to string, msg []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.rooms[from.roomID]
	if c == nil {
		return false
	}
	if to != "" {
		p := c.peers[to]
		if p == nil {
			// A peer of this call on another node, or none.
			return h.relayRemote(from, to, msg)
		}
		if p == from {
			return false
		}
		p.enqueue(msg)
		return true
	}
	for _, p := range c.peers {
		if p != from {
			p.enqueue(msg)
		}
	}
	h.relayRemote(from, "", msg)
	return true
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	if d < time.Hour {
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
