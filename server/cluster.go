package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/cluster"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/realtime"
	"github.com/virtual-company/vc/server/secrets"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// Cluster timings. A lease of a running AI reply is renewed every
// aiLeaseRenew and lapses after aiLeaseTTL without renewal; every node
// looks for lapsed ones every aiLeaseRenew, so the room of a reply whose
// node died hears of it within aiLeaseTTL+aiLeaseRenew (20 s; the issue
// asks for 30).
const (
	aiLeaseRenew = 5 * time.Second
	aiLeaseTTL   = 15 * time.Second
	// degradedPoll is how often a node that lost NATS reads the other
	// nodes' messages from the store for its sockets.
	degradedPoll = time.Second
)

// probePlain is what the first node seals into the database; every other
// node must be able to open it with its secret_key.
const probePlain = "vc cluster secret probe v1"

// checkClusterSecret refuses a node whose secret_key differs from the one
// of the node that first joined the database's cluster.
func checkClusterSecret(ctx context.Context, st *gormstore.Store, keys *secrets.Keyring, nodeID string) error {
	sealed, ver, err := keys.Seal([]byte(probePlain), []byte("cluster probe"))
	if err != nil {
		return fmt.Errorf("seal cluster probe: %w", err)
	}
	stored, err := st.EnsureClusterProbe(ctx, gormstore.ClusterProbe{Sealed: sealed, KeyVersion: ver, NodeID: nodeID}, time.Now())
	if err != nil {
		return err
	}
	plain, err := keys.Open(stored.Sealed, stored.KeyVersion, []byte("cluster probe"))
	if err != nil || string(plain) != probePlain {
		return fmt.Errorf("this node's secret_key differs from the cluster's: it cannot open the probe value that node %q sealed "+
			"in the database, so it could neither verify the others' tokens nor read the stored API keys; "+
			"give every node the same secret_key (VCD_SECRET_KEY)", stored.NodeID)
	}
	if keys.NeedsRotation(stored.KeyVersion) {
		// Opened with a previous key (llm.previous_secret_keys): the
		// cluster's secret is now this node's current one.
		if err := st.ReplaceClusterProbe(ctx, gormstore.ClusterProbe{Sealed: sealed, KeyVersion: ver, NodeID: nodeID}); err != nil {
			return err
		}
	}
	return nil
}

// clusterNode is this daemon's part of a cluster. Outward it is the
// services' Notifier (and the AI publisher): what is committed here is
// delivered to the local sockets and published to the other nodes. Inward
// it is the bus's Receiver: what the others publish goes to the local
// sockets, caches and AI replies only.
type clusterNode struct {
	bus   *cluster.Bus
	chat  *realtime.Chat
	local service.Notifier // the chat hub behind the signaling wrapper
	auth  *service.Auth
	msgs  *service.Messages
	store *gormstore.Store
	log   *slog.Logger
	// cancel stops a local AI reply (nil until the AI part is wired).
	cancel realtime.AICanceller
	// members forgets the memberships that end, here or elsewhere.
	members *service.MemberCache

	// streams are the AI replies running on other nodes, from their
	// ai_start events, so that an ai_cancel for one can be routed.
	smu     sync.Mutex
	streams map[string]remoteStream

	resyncMu sync.Mutex
	ctx      context.Context
	stop     context.CancelFunc
	done     sync.WaitGroup
}

func newClusterNode(cfg config.Config, st *gormstore.Store, hooks cluster.Hooks, logger *slog.Logger) (*clusterNode, error) {
	bus, err := cluster.Connect(cluster.Config{
		URL: cfg.Cluster.NATSURL, NodeID: cfg.Cluster.NodeID, Prefix: cfg.Cluster.SubjectPrefix, Hooks: hooks, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &clusterNode{bus: bus, store: st, log: logger.With("component", "cluster", "node_id", cfg.Cluster.NodeID),
		streams: map[string]remoteStream{}, ctx: ctx, stop: cancel}, nil
}

// start links the node up once the daemon is wired.
func (n *clusterNode) start() error {
	n.chat.SetCluster(hubLink{n.bus})
	if err := n.bus.Start(n, n.chat.Presence); err != nil {
		return err
	}
	n.done.Add(2)
	go n.pollWhileDegraded()
	go n.sweepLostReplies()
	return nil
}

// close leaves the cluster gracefully: the others drop this node's
// presence at once.
func (n *clusterNode) close() {
	n.stop()
	n.done.Wait()
	n.bus.Close()
}

// kill leaves the cluster the way a killed process does (tests).
func (n *clusterNode) kill() {
	n.stop()
	n.done.Wait()
	n.bus.Kill()
}

// degraded says why the node is degraded ("" when linked).
func (n *clusterNode) degraded() string {
	if err := n.bus.Status(); err != nil {
		return "cluster bus (NATS) unreachable: serving this node's sockets, other nodes' messages are read from the database (" + err.Error() + ")"
	}
	return ""
}

// --- service.Notifier (outward) ---

// Publish implements service.Notifier and ai.Publisher. The event is
// encoded once, for the local sockets and the other nodes alike. (It goes
// to the hub straight: the signaling wrapper passes room events through.)
func (n *clusterNode) Publish(roomID int64, ev wsproto.Event) {
	data, err := realtime.EncodeEvent(roomID, ev)
	if err != nil {
		n.log.Error("encode event", "type", ev.Type, "room_id", roomID, "err", err)
		return
	}
	n.chat.PublishEncoded(roomID, ev.Type, ev.Seq, data)
	n.bus.PublishRoom(roomID, data)
}

// MemberRemoved implements service.Notifier.
func (n *clusterNode) MemberRemoved(roomID, userID int64) {
	n.members.Forget(roomID, userID)
	n.local.MemberRemoved(roomID, userID)
	n.bus.PublishControl(cluster.Control{Kind: cluster.CtlMemberRemoved, RoomID: roomID, UserID: userID})
}

// RoomDeleted implements service.Notifier.
func (n *clusterNode) RoomDeleted(roomID int64) {
	n.members.ForgetRoom(roomID)
	n.local.RoomDeleted(roomID)
	n.bus.PublishControl(cluster.Control{Kind: cluster.CtlRoomDeleted, RoomID: roomID})
}

// UserRevoked implements service.SessionRevoker.
func (n *clusterNode) UserRevoked(userID int64) {
	if r, ok := n.local.(service.SessionRevoker); ok {
		r.UserRevoked(userID)
	}
	n.bus.PublishControl(cluster.Control{Kind: cluster.CtlUserRevoked, UserID: userID})
}

// IsOnline implements service.Presence (the hub merges the cluster's).
func (n *clusterNode) IsOnline(roomID, userID int64) bool { return n.chat.IsOnline(roomID, userID) }

// PublishUser implements service.UserNotifier.
func (n *clusterNode) PublishUser(userID int64, ev wsproto.Event) {
	if u, ok := n.local.(service.UserNotifier); ok {
		u.PublishUser(userID, ev)
	}
	n.bus.PublishUser(userID, ev)
}

// remoteStream is an AI reply running on another node.
type remoteStream struct {
	room int64
	node string
}

// hubLink is the hub's realtime.ClusterLink: relays go on the bus, and
// the other nodes' presence comes from their heartbeats. (A type of its
// own: the node's IsOnline is the merged one.)
type hubLink struct{ bus *cluster.Bus }

// Relay implements realtime.ClusterLink.
func (l hubLink) Relay(roomID int64, ev wsproto.Event) {
	if data, err := realtime.EncodeEvent(roomID, ev); err == nil {
		l.bus.PublishRoom(roomID, data)
	}
}

// Online implements realtime.ClusterLink.
func (l hubLink) Online(roomID int64) []wsproto.PresenceUser { return l.bus.Online(roomID) }

// IsOnline implements realtime.ClusterLink.
func (l hubLink) IsOnline(roomID, userID int64) bool { return l.bus.IsOnline(roomID, userID) }

// --- realtime.AICanceller ---

// Cancel stops an AI reply running here, or asks the node that runs it.
func (n *clusterNode) Cancel(ctx context.Context, userID, roomID int64, streamID string) error {
	var err error = service.NotFound("No such AI reply in this room (it may have finished)")
	if n.cancel != nil {
		if err = n.cancel.Cancel(ctx, userID, roomID, streamID); err == nil || !errors.Is(err, service.ErrNotFound) {
			return err
		}
	}
	n.smu.Lock()
	rs, ok := n.streams[streamID]
	n.smu.Unlock()
	if !ok || rs.room != roomID {
		return err
	}
	n.bus.PublishControl(cluster.Control{Kind: cluster.CtlAICancel, UserID: userID, RoomID: roomID, StreamID: streamID})
	return nil
}

// --- cluster.Receiver (inward) ---

// RoomEvent implements cluster.Receiver.
func (n *clusterNode) RoomEvent(from string, roomID int64, ev cluster.RoomEvent) {
	switch ev.Type {
	case wsproto.TypeAIStart:
		n.smu.Lock()
		n.streams[ev.StreamID] = remoteStream{room: roomID, node: from}
		n.smu.Unlock()
	case wsproto.TypeAIDone, wsproto.TypeAIError:
		n.smu.Lock()
		delete(n.streams, ev.StreamID)
		n.smu.Unlock()
	case wsproto.TypeJoin:
		// Already online here: the room saw the join.
		if ev.UserID != 0 && n.chat.LocalOnline(roomID, ev.UserID) {
			return
		}
	case wsproto.TypeLeave:
		// Still online here or on a third node: not gone.
		if ev.UserID != 0 && (n.chat.LocalOnline(roomID, ev.UserID) || n.bus.IsOnline(roomID, ev.UserID)) {
			return
		}
	}
	n.chat.PublishEncoded(roomID, ev.Type, ev.Seq, ev.Data)
}

// UserEvent implements cluster.Receiver.
func (n *clusterNode) UserEvent(userID int64, ev wsproto.Event) { n.chat.PublishUser(userID, ev) }

// Control implements cluster.Receiver.
func (n *clusterNode) Control(c cluster.Control) {
	switch c.Kind {
	case cluster.CtlUserRevoked:
		n.auth.RevokedElsewhere(c.UserID)
		if r, ok := n.local.(service.SessionRevoker); ok {
			r.UserRevoked(c.UserID)
		}
	case cluster.CtlUserChanged:
		n.auth.ForgetUser(c.UserID)
	case cluster.CtlMemberRemoved:
		n.members.Forget(c.RoomID, c.UserID)
		n.local.MemberRemoved(c.RoomID, c.UserID)
	case cluster.CtlRoomDeleted:
		n.members.ForgetRoom(c.RoomID)
		n.local.RoomDeleted(c.RoomID)
	case cluster.CtlAICancel:
		if n.cancel != nil {
			_ = n.cancel.Cancel(n.ctx, c.UserID, c.RoomID, c.StreamID)
		}
	}
}

// Resync implements cluster.Receiver: the local sockets get what they
// missed from the store.
func (n *clusterNode) Resync() {
	go func() {
		n.resyncMu.Lock()
		defer n.resyncMu.Unlock()
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		defer cancel()
		n.chat.Resync(ctx)
	}()
}

// PresenceLost implements cluster.Receiver: the local sockets hear that
// the users of a dead node left.
func (n *clusterNode) PresenceLost(node string, gone map[int64][]wsproto.PresenceUser) {
	if !n.bus.Alive(node) {
		// Its replies can no longer be cancelled through it (a survivor
		// ends them when their leases lapse).
		n.smu.Lock()
		for id, rs := range n.streams {
			if rs.node == node {
				delete(n.streams, id)
			}
		}
		n.smu.Unlock()
	}
	for room, users := range gone {
		for _, u := range users {
			if n.chat.LocalOnline(room, u.UserID) {
				continue
			}
			uid := u.UserID
			n.chat.Publish(room, wsproto.Event{Type: wsproto.TypeLeave, RoomID: room, User: u.Username, UserID: &uid})
		}
	}
}

// PresenceGained implements cluster.Receiver: the local sockets hear of
// users a heartbeat shows online that no join told of (NATS was away).
func (n *clusterNode) PresenceGained(_ string, gained map[int64][]wsproto.PresenceUser) {
	for room, users := range gained {
		for _, u := range users {
			if n.chat.LocalOnline(room, u.UserID) {
				continue
			}
			uid := u.UserID
			n.chat.Publish(room, wsproto.Event{Type: wsproto.TypeJoin, RoomID: room, User: u.Username, UserID: &uid})
		}
	}
}

// pollWhileDegraded reads the other nodes' messages from the store for the
// local sockets while NATS is unreachable.
func (n *clusterNode) pollWhileDegraded() {
	defer n.done.Done()
	t := time.NewTicker(degradedPoll)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if n.bus.Status() == nil {
			continue
		}
		n.resyncMu.Lock()
		ctx, cancel := context.WithTimeout(n.ctx, degradedPoll*5)
		n.chat.Resync(ctx)
		cancel()
		n.resyncMu.Unlock()
	}
}

// sweepLostReplies renews this node's AI reply leases and ends the replies
// of nodes that died: each lapsed lease is claimed by exactly one node,
// which tells the room (ai_error) and stores a system message, so that no
// reply stays "typing" forever.
func (n *clusterNode) sweepLostReplies() {
	defer n.done.Done()
	t := time.NewTicker(aiLeaseRenew)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(n.ctx, aiLeaseRenew)
		now := time.Now()
		if err := n.store.RenewAILeases(ctx, n.bus.NodeID(), now.Add(aiLeaseTTL)); err != nil && ctx.Err() == nil {
			n.log.Warn("renew ai reply leases", "err", err)
		}
		lost, err := n.store.ClaimExpiredAILeases(ctx, now)
		if err != nil && ctx.Err() == nil {
			n.log.Warn("claim lapsed ai reply leases", "err", err)
		}
		for _, l := range lost {
			n.replyLost(ctx, l)
		}
		cancel()
	}
}

// replyLost ends a reply whose node died.
func (n *clusterNode) replyLost(ctx context.Context, l gormstore.AILease) {
	n.smu.Lock()
	delete(n.streams, l.StreamID)
	n.smu.Unlock()
	if l.RoomID == 0 {
		return // a one-shot generation: its HTTP client saw the connection drop
	}
	n.log.Warn("ai reply lost with its node", "stream_id", l.StreamID, "room_id", l.RoomID, "owner", l.NodeID)
	n.Publish(l.RoomID, wsproto.Event{Type: wsproto.TypeAIError, RoomID: l.RoomID, StreamID: l.StreamID,
		Code: api.CodeUnavailable, Detail: "The server answering this reply stopped before it finished; ask again."})
	if _, err := n.msgs.CreateSystem(ctx, l.RoomID, "An AI reply was lost: the server answering it stopped before it finished. Ask again."); err != nil {
		n.log.Warn("store the system message of a lost ai reply", "room_id", l.RoomID, "err", err)
	}
}

// keyring derives the secrets keyring from the secret and the previous ones
// still configured (llm.previous_secret_keys).
func keyring(secret []byte, cfg config.Config) (*secrets.Keyring, error) {
	prev := make([][]byte, 0, len(cfg.LLM.PreviousSecretKeys))
	for _, p := range cfg.LLM.PreviousSecretKeys {
		prev = append(prev, []byte(p))
	}
	return secrets.New(secret, prev...)
}

// degraded says why the daemon serves in degraded mode ("" when it does
// not): GET /ready answers 200 with status "degraded" then.
func (s *Server) degraded() string {
	if s.cluster == nil {
		return ""
	}
	return s.cluster.degraded()
}

// Kill stops the daemon the way kill -9 would look to clients and to the
// other nodes of a cluster: connections drop without close frames, the
// node stops heartbeating without saying goodbye, its AI reply leases are
// no longer renewed and nothing more is written to the database. For tests
// of node death; the process lives on.
func (s *Server) Kill() {
	if s.cluster != nil {
		s.cluster.kill()
	}
	s.mu.Lock()
	gl := s.listener
	s.mu.Unlock()
	if gl != nil {
		_ = gl.Close()
		gl.Abort()
	}
	_ = s.store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}

// aiLeases is ai.SharedLimits over the database's reply leases: a reply's
// place in the limits is a row naming its node, renewed while the node
// lives (sweepLostReplies), so the limits hold cluster-wide and a reply
// whose node died is noticed.
type aiLeases struct {
	store *gormstore.Store
	node  string
}

// Acquire implements ai.SharedLimits.
func (a *aiLeases) Acquire(ctx context.Context, streamID string, userID, roomID int64, perUser, perRoom, perMinute int) (string, time.Time, error) {
	now := time.Now()
	refused, retryAt, err := a.store.AcquireAILease(ctx,
		gormstore.AILease{StreamID: streamID, NodeID: a.node, UserID: userID, RoomID: roomID, StartedAt: now, ExpiresAt: now.Add(aiLeaseTTL)},
		gormstore.AILeaseLimits{PerUser: perUser, PerRoom: perRoom, PerUserPerMinute: perMinute})
	switch refused {
	case gormstore.LeaseRefusedUser:
		refused = ai.RefusedPerUser
	case gormstore.LeaseRefusedRoom:
		refused = ai.RefusedPerRoom
	case gormstore.LeaseRefusedMinute:
		refused = ai.RefusedPerMinute
	}
	return refused, retryAt, err
}

// Done implements ai.SharedLimits.
func (a *aiLeases) Done(ctx context.Context, streamID string) error {
	return a.store.FinishAILease(ctx, streamID, time.Now())
}

// Dropped implements ai.SharedLimits.
func (a *aiLeases) Dropped(ctx context.Context, streamID string) error {
	return a.store.DropAILease(ctx, streamID)
}
