package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/service"
)

// Bus is what the chat socket needs from a hub: publish to a room and
// subscribe to it. Hub is the in-process implementation; an implementation
// spanning several vcd instances (over PostgreSQL LISTEN/NOTIFY or a broker)
// can replace it without touching the socket handler.
type Bus interface {
	// Publish sends ev to every subscriber of the room.
	Publish(roomID int64, ev wsproto.Event)
	// Subscribe registers a socket of user in the room. lastSeq is the
	// room's newest seq the caller knows of (used to order message events).
	Subscribe(roomID int64, user api.User, lastSeq int64) (*Subscription, error)
	// Unsubscribe removes a subscription (idempotent).
	Unsubscribe(s *Subscription)
	// Online lists the users with a socket in the room.
	Online(roomID int64) []wsproto.PresenceUser
	// PublishExcept is Publish that skips one subscription (typing relays).
	PublishExcept(roomID int64, ev wsproto.Event, except *Subscription)
	// Revocations counts the UserRevoked calls so far; RevokedSince reports
	// whether the user's sessions were revoked after that count was read
	// (so a socket admitted meanwhile is not missed).
	Revocations() uint64
	RevokedSince(userID int64, since uint64) bool
}

// Errors returned by Subscribe.
var (
	// ErrTooManySockets means the user reached the socket cap.
	ErrTooManySockets = errors.New("too many sockets for this user")
	// ErrHubClosed means the hub is shutting down.
	ErrHubClosed = errors.New("hub closed")
)

// Backfill loads stored messages after afterSeq, oldest first
// (service.Messages.After). The hub uses it to fill a gap in the seq order
// when a publish is lost or very late.
type Backfill func(ctx context.Context, roomID, afterSeq int64, limit int) ([]api.Message, error)

// Hub fans chat events out to the sockets of each room, in process. Each
// event is encoded once and the same bytes are queued for every socket;
// a socket whose queue is full is dropped (close 4008), so Publish never
// blocks on a slow client. Message events leave the hub in seq order per
// room even when the services publish them out of order.
type Hub struct {
	log      *slog.Logger
	opts     Options
	backfill Backfill
	pool     *fanoutPool
	wenv     *writerEnv // shared by the sockets' writers

	mu      sync.RWMutex
	rooms   map[int64]*hubRoom
	sockets map[int64]int // sockets per user, all rooms (chat and signaling)
	closed  bool
	// revokes counts UserRevoked calls; revokedAt is the count at each
	// user's latest one.
	revokes   uint64
	revokedAt map[int64]uint64

	// slowDrops counts the sockets dropped as too slow (close 4008).
	slowDrops atomic.Uint64
	stats     hubStats // deliveries and bytes, for the metrics (stats.go)
	// cluster links the hub to the other nodes (nil: single node).
	cluster ClusterLink
}

// hubRoom is the subscribers and ordering state of one room.
type hubRoom struct {
	id   int64
	hub  *Hub
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	// shards split the subscribers for the fan-out workers, each
	// subscription staying in its shard. New ones are appended in place and
	// a shard is only replaced (never changed) when compacted, so a worker
	// may read the slice it was handed while the room changes; removed
	// counts the unsubscribed entries still in them.
	shards    [][]*Subscription
	nextShard int
	removed   int
	// pending counts the jobs of this room queued to the pool and not yet
	// run; while there are none and the room is quiet, a small room is
	// written inline.
	pending atomic.Int64
	// lastFanout is when the room last sent an event (see fanout).
	lastFanout time.Time
	// online counts the sockets per user.
	online map[int64]int
	names  map[int64]string

	// last is the newest seq sent out; held keeps events behind a gap.
	last     int64
	held     []queued
	gapTimer *time.Timer
	// gapFailures counts failed loads of the current gap.
	gapFailures int
}

// NewHub returns an in-process hub. backfill may be nil (gaps are then
// skipped after Options.ReorderWait).
func NewHub(opts Options, backfill Backfill, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	h := &Hub{
		log:       logger.With("component", "hub"),
		opts:      opts,
		backfill:  backfill,
		pool:      newFanoutPool(opts.FanoutWorkers, 1024),
		rooms:     make(map[int64]*hubRoom),
		sockets:   make(map[int64]int),
		revokedAt: make(map[int64]uint64),
	}
	h.wenv = newWriterEnv(opts, &h.slowDrops, logger)
	return h
}

// Publish implements service.Notifier: it sends ev to every socket in the
// room. Message events (Seq > 0) are delivered in seq order.
func (h *Hub) Publish(roomID int64, ev wsproto.Event) { h.publish(roomID, ev, nil) }

// PublishExcept sends ev to every socket in the room but except.
func (h *Hub) PublishExcept(roomID int64, ev wsproto.Event, except *Subscription) {
	h.publish(roomID, ev, except)
	h.relay(roomID, ev) // typing: the other nodes' sockets too
}

func (h *Hub) publish(roomID int64, ev wsproto.Event, except *Subscription) {
	r := h.room(roomID)
	if r == nil {
		return // nobody listens
	}
	data, err := EncodeEvent(roomID, ev)
	if err != nil {
		h.log.Error("encode event", "type", ev.Type, "room_id", roomID, "err", err)
		return
	}
	r.publish(ev.Type, ev.Seq, data, except)
}

// EncodeEvent returns ev as the hub sends it to sockets: its JSON, with
// room_id set to roomID when ev has none.
func EncodeEvent(roomID int64, ev wsproto.Event) ([]byte, error) {
	if ev.RoomID == 0 {
		ev.RoomID = roomID
	}
	return json.Marshal(ev)
}

// PublishEncoded is Publish for an event already encoded (EncodeEvent, or
// the same bytes received from another node): data goes to the sockets as
// it is. typ and seq are the event's type and seq.
func (h *Hub) PublishEncoded(roomID int64, typ string, seq int64, data []byte) {
	if r := h.room(roomID); r != nil {
		r.publish(typ, seq, data, nil)
	}
}

func (h *Hub) room(roomID int64) *hubRoom {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rooms[roomID]
}

// publish sends one encoded event to the room's sockets; message events
// in seq order.
func (r *hubRoom) publish(typ string, seq int64, data []byte, except *Subscription) {
	if typ != wsproto.TypeMessage {
		seq = 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if except != nil {
		// Relays (typing) carry no seq and need no ordering.
		r.fanout(queued{frame: NewFrame(data)}, except)
		return
	}
	r.hub.ordered(r, queued{frame: NewFrame(data), seq: seq})
}

// ordered delivers q now, or holds it while an earlier seq is missing.
// Called with r.mu held.
func (h *Hub) ordered(r *hubRoom, q queued) {
	if len(r.held) == 0 {
		switch {
		case q.seq == 0:
			r.fanout(q, nil)
			return
		case q.seq <= r.last:
			return // already sent (a late or repeated publish)
		case q.seq == r.last+1:
			r.last = q.seq
			r.fanout(q, nil)
			return
		}
	}
	r.hold(q)
	r.flush()
	if len(r.held) > 0 && r.gapTimer == nil {
		r.gapTimer = time.AfterFunc(h.opts.ReorderWait, func() { h.fillGap(r) })
	}
}

// hold inserts q into the held events: messages by seq, other events in
// arrival order.
func (r *hubRoom) hold(q queued) {
	if q.seq == 0 {
		r.held = append(r.held, q)
		return
	}
	for i, x := range r.held {
		if x.seq == q.seq {
			return
		}
		if x.seq > q.seq {
			r.held = slices.Insert(r.held, i, q)
			return
		}
	}
	r.held = append(r.held, q)
}

// flush sends the held events up to the next gap.
func (r *hubRoom) flush() {
	n := 0
	for _, q := range r.held {
		if q.seq > 0 {
			if q.seq <= r.last {
				n++
				continue
			}
			if q.seq != r.last+1 {
				break
			}
			r.last = q.seq
		}
		r.fanout(q, nil)
		n++
	}
	r.held = slices.Delete(r.held, 0, n)
	if len(r.held) == 0 {
		r.held = nil
		if r.gapTimer != nil {
			r.gapTimer.Stop()
			r.gapTimer = nil
		}
	}
}

// fillGap runs when a gap outlived ReorderWait: the missing messages are
// committed (seqs are assigned in commit order), so they are loaded from the
// store. A gap is skipped only when the store does not have its messages
// (or keeps failing), so that the room keeps flowing; a newer gap that
// opened meanwhile gets its own wait.
func (h *Hub) fillGap(r *hubRoom) {
	r.mu.Lock()
	r.gapTimer = nil
	front := r.frontSeq()
	if front == 0 {
		r.mu.Unlock()
		return
	}
	from, to := r.last, front
	r.mu.Unlock()

	var fetched []api.Message
	var err error
	if h.backfill != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fetched, err = h.backfill(ctx, r.id, from, int(to-from-1))
		cancel()
		if err != nil {
			h.log.Warn("backfill gap", "room_id", r.id, "after_seq", from, "err", err)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range fetched {
		if m.Seq <= r.last || m.Seq >= to {
			continue
		}
		data, err := json.Marshal(service.MessageEvent(m))
		if err != nil {
			continue
		}
		r.hold(queued{frame: NewFrame(data), seq: m.Seq})
	}
	r.flush()
	if len(r.held) == 0 {
		r.gapFailures = 0
		return
	}
	switch {
	case r.last >= to-1:
		r.gapFailures = 0 // this gap is filled; the next one waits its turn
	case err != nil && r.gapFailures < 3:
		r.gapFailures++ // the store failed: try again
	default:
		if next := r.frontSeq(); next > 0 && r.last < to-1 {
			h.log.Warn("skipping seq gap", "room_id", r.id, "after_seq", r.last, "next_seq", next)
			r.last = next - 1
			r.flush()
		}
		r.gapFailures = 0
	}
	if len(r.held) > 0 && r.gapTimer == nil {
		r.gapTimer = time.AfterFunc(h.opts.ReorderWait, func() { h.fillGap(r) })
	}
}

// frontSeq is the seq of the first held message (0: none). Called with
// r.mu held.
func (r *hubRoom) frontSeq() int64 {
	for _, q := range r.held {
		if q.seq > 0 {
			return q.seq
		}
	}
	return 0
}

// fanout sends q to every subscriber but except: a small room right here,
// a big one through the pool's workers, shard by shard. Called with r.mu
// held, which orders the room's events.
//
// A small room is written inline (no hand-over) while it is quiet: its
// events come a while apart, and each is written to its few sockets at
// once. A busy one (its last event less than busyGap ago: a burst, or a
// cluster node relaying another node's posts one by one) goes through the
// workers like a big room, whose batches put the frames that queued up
// meanwhile into one write per socket: one socket write per event was what
// a busy small room cost most.
func (r *hubRoom) fanout(q queued, except *Subscription) {
	h := r.hub
	h.stats.delivered(len(r.subs)-btoi(except != nil), len(q.frame.wire))
	now := time.Now()
	quiet := now.Sub(r.lastFanout) >= busyGap
	r.lastFanout = now
	if len(r.subs) <= h.opts.FanoutInline && quiet && r.pending.Load() == 0 {
		r.fanoutInline(q, except)
		return
	}
	for i, subs := range r.shards {
		if len(subs) == 0 {
			continue
		}
		r.pending.Add(1)
		if !h.pool.dispatch(i, fanoutJob{q: q, subs: subs, except: except, room: r}) {
			r.pending.Add(-1)
			enqueueAll(subs, q, except)
		}
	}
}

// busyGap is the time between two events under which a small room counts
// as busy (see fanout).
const busyGap = time.Millisecond

func (r *hubRoom) fanoutInline(q queued, except *Subscription) {
	for _, subs := range r.shards {
		enqueueAll(subs, q, except)
	}
}

// enqueueAll sends q to every one of subs but except.
func enqueueAll(subs []*Subscription, q queued, except *Subscription) {
	for _, s := range subs {
		if s != except {
			s.enqueue(q)
		}
	}
}

// add places s in a shard. Called with r.mu held.
func (r *hubRoom) add(s *Subscription) {
	r.subs[s] = struct{}{}
	s.room = r
	s.shard = r.nextShard
	r.nextShard = (r.nextShard + 1) % len(r.shards)
	r.shards[s.shard] = append(r.shards[s.shard], s)
}

// remove takes s out of the room; its shard entry goes at the next
// compaction (a closed subscription ignores what is still sent to it).
// Called with r.mu held.
func (r *hubRoom) remove(s *Subscription) {
	delete(r.subs, s)
	r.removed++
	if r.removed < 64 || r.removed < len(r.subs) {
		return
	}
	for i, subs := range r.shards {
		kept := make([]*Subscription, 0, len(subs))
		for _, x := range subs {
			if _, ok := r.subs[x]; ok {
				kept = append(kept, x)
			}
		}
		r.shards[i] = kept
	}
	r.removed = 0
}

// Subscribe registers a socket of user in the room and announces the user
// (join) when it is their first socket there.
func (h *Hub) Subscribe(roomID int64, user api.User, lastSeq int64) (*Subscription, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	if h.opts.MaxSocketsPerUser > 0 && h.sockets[user.ID] >= h.opts.MaxSocketsPerUser {
		h.mu.Unlock()
		return nil, ErrTooManySockets
	}
	h.sockets[user.ID]++
	r := h.rooms[roomID]
	if r == nil {
		r = &hubRoom{id: roomID, hub: h, subs: make(map[*Subscription]struct{}), online: make(map[int64]int),
			names: make(map[int64]string), last: lastSeq, shards: make([][]*Subscription, h.pool.workers())}
		h.rooms[roomID] = r
	}
	s := newSubscription(h, roomID, user, h.opts.SendQueue)
	r.mu.Lock()
	h.mu.Unlock()
	r.add(s)
	r.online[user.ID]++
	r.names[user.ID] = user.Username
	first := r.online[user.ID] == 1
	r.mu.Unlock()
	if first {
		uid := user.ID
		ev := wsproto.Event{Type: wsproto.TypeJoin, RoomID: roomID, User: user.Username, UserID: &uid}
		h.Publish(roomID, ev)
		h.relay(roomID, ev)
	}
	return s, nil
}

// Unsubscribe removes s and announces the user's leave when it was their
// last socket in the room. It is idempotent.
func (h *Hub) Unsubscribe(s *Subscription) {
	h.mu.Lock()
	r := h.rooms[s.RoomID]
	if r == nil {
		h.mu.Unlock()
		return
	}
	r.mu.Lock()
	if _, ok := r.subs[s]; !ok {
		r.mu.Unlock()
		h.mu.Unlock()
		return
	}
	r.remove(s)
	if h.sockets[s.UserID]--; h.sockets[s.UserID] <= 0 {
		delete(h.sockets, s.UserID)
	}
	r.online[s.UserID]--
	last := r.online[s.UserID] <= 0
	if last {
		delete(r.online, s.UserID)
		delete(r.names, s.UserID)
	}
	if len(r.subs) == 0 {
		if r.gapTimer != nil {
			r.gapTimer.Stop()
			r.gapTimer = nil
		}
		delete(h.rooms, s.RoomID)
	}
	r.mu.Unlock()
	h.mu.Unlock()
	s.Close(CloseNormal, "")
	if last {
		uid := s.UserID
		ev := wsproto.Event{Type: wsproto.TypeLeave, RoomID: s.RoomID, User: s.Username, UserID: &uid}
		h.Publish(s.RoomID, ev)
		h.relay(s.RoomID, ev)
	}
}

// Online lists the users with a socket in the room, by user id, on this
// node and (in a cluster) the others.
func (h *Hub) Online(roomID int64) []wsproto.PresenceUser {
	h.mu.RLock()
	r := h.rooms[roomID]
	l := h.cluster
	h.mu.RUnlock()
	var remote []wsproto.PresenceUser
	if l != nil {
		remote = l.Online(roomID)
	}
	if r == nil {
		return mergeOnline([]wsproto.PresenceUser{}, remote)
	}
	r.mu.Lock()
	out := make([]wsproto.PresenceUser, 0, len(r.names))
	for id, name := range r.names {
		out = append(out, wsproto.PresenceUser{UserID: id, Username: name})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b wsproto.PresenceUser) int { return int(a.UserID - b.UserID) })
	return mergeOnline(out, remote)
}

// IsOnline reports whether the user has a socket open in the room, on this
// node or (in a cluster) another.
func (h *Hub) IsOnline(roomID, userID int64) bool {
	if h.LocalOnline(roomID, userID) {
		return true
	}
	l := h.link()
	return l != nil && l.IsOnline(roomID, userID)
}

// PublishUser implements service.UserNotifier: it sends ev to every socket
// the user has open, in any room. Per-user events are rare (a user added to
// a room), so walking the rooms beats keeping a per-user index up to date
// on every subscribe.
func (h *Hub) PublishUser(userID int64, ev wsproto.Event) {
	data, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("encode event", "type", ev.Type, "user_id", userID, "err", err)
		return
	}
	q := queued{frame: NewFrame(data)}
	h.mu.RLock()
	if h.sockets[userID] == 0 {
		h.mu.RUnlock()
		return
	}
	rooms := make([]*hubRoom, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	for _, r := range rooms {
		r.mu.Lock()
		if r.online[userID] > 0 {
			for s := range r.subs {
				if s.UserID == userID {
					s.enqueue(q)
				}
			}
		}
		r.mu.Unlock()
	}
}

// MemberRemoved implements service.Notifier: it closes the user's sockets
// in the room (close 4003).
func (h *Hub) MemberRemoved(roomID, userID int64) {
	h.closeWhere(roomID, func(s *Subscription) bool { return s.UserID == userID },
		wsproto.CloseRemoved, "removed from the room")
}

// RoomDeleted implements service.Notifier: it closes every socket in the
// room (close 4003).
func (h *Hub) RoomDeleted(roomID int64) {
	h.closeWhere(roomID, func(*Subscription) bool { return true }, wsproto.CloseRemoved, "room deleted")
}

func (h *Hub) closeWhere(roomID int64, match func(*Subscription) bool, code int, reason string) {
	r := h.room(roomID)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		if match(s) {
			s.Close(code, reason)
		}
	}
}

// UserRevoked implements service.SessionRevoker: every chat socket of the
// user closes with 4001 (their tokens were revoked).
func (h *Hub) UserRevoked(userID int64) {
	h.mu.Lock()
	h.revokes++
	h.revokedAt[userID] = h.revokes
	rooms := make([]*hubRoom, 0, len(h.rooms))
	if h.sockets[userID] > 0 {
		for _, r := range h.rooms {
			rooms = append(rooms, r)
		}
	}
	h.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		for s := range r.subs {
			if s.UserID == userID {
				s.Close(wsproto.CloseRevoked, "unauthorized: token revoked")
			}
		}
		r.mu.Unlock()
	}
}

// UsersWithSockets lists the users with at least one open socket (chat or
// signaling), for the daemon's revocation sweep.
func (h *Hub) UsersWithSockets() []int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]int64, 0, len(h.sockets))
	for id, n := range h.sockets {
		if n > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// Revocations implements Bus.
func (h *Hub) Revocations() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.revokes
}

// RevokedSince implements Bus.
func (h *Hub) RevokedSince(userID int64, since uint64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.revokedAt[userID] > since
}

// AcquireSocket takes one of the user's socket slots for a socket that is
// not a chat subscription (signaling), so that one cap,
// Options.MaxSocketsPerUser, covers both kinds. It reports false when the
// user has none left or the hub is closed; ReleaseSocket gives it back.
func (h *Hub) AcquireSocket(userID int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || (h.opts.MaxSocketsPerUser > 0 && h.sockets[userID] >= h.opts.MaxSocketsPerUser) {
		return false
	}
	h.sockets[userID]++
	return true
}

// ReleaseSocket gives back a slot taken with AcquireSocket.
func (h *Hub) ReleaseSocket(userID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sockets[userID]--; h.sockets[userID] <= 0 {
		delete(h.sockets, userID)
	}
}

// SlowConsumerDrops returns how many sockets were dropped for not reading
// fast enough (close 4008) since the hub started.
func (h *Hub) SlowConsumerDrops() uint64 { return h.slowDrops.Load() }

// Close refuses new subscriptions and closes every socket with 1001 after
// sending what is already queued. Call it after the HTTP server drained.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	rooms := make([]*hubRoom, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	// Events already handed to the fan-out workers are queued first.
	h.pool.close()
	for _, r := range rooms {
		r.mu.Lock()
		for s := range r.subs {
			s.closeDrain(wsproto.CloseGoingAway, "server shutting down")
		}
		r.mu.Unlock()
	}
}

// Sockets returns the number of open sockets: chat subscriptions and the
// signaling sockets counted with AcquireSocket (for metrics and tests).
func (h *Hub) Sockets() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, c := range h.sockets {
		n += c
	}
	return n
}
