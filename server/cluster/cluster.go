// Package cluster links several vcd nodes that share one PostgreSQL through
// NATS: room and user events committed on one node reach the sockets of the
// others, control messages (revocations, closed memberships, cache
// invalidations, AI cancels) reach every node at once, and heartbeats tell
// which nodes are alive and who is online on them.
//
// NATS is a fast path, never the source of truth. Everything published here
// is already committed to the database; a node that misses events (NATS
// down, restarted, a slow subscription) is told to resync (Receiver.Resync)
// and reads what it missed from the store. Publishing never blocks a
// request: while NATS is unreachable the client library buffers what is
// published (up to ReconnectBuffer) and the bus reports itself degraded.
//
// Subjects, all under Config.Prefix (default "vc"):
//
//	<p>.room.<room_id>   room events (messages, typing, join/leave, ai_*)
//	<p>.user.<user_id>   per-user events (room_added)
//	<p>.ctl              control messages (Control)
//	<p>.node.hb          heartbeats: node id plus its sockets' presence
//	<p>.node.hello       a node (re)joined: everybody heartbeats at once
//	<p>.node.bye         a node shuts down gracefully
//	<p>.x.<topic>        free topics for other parts (Publish, Subscribe)
//
// A node never receives what it published itself (NATS no-echo): it has
// delivered it locally already.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/buger/jsonparser"
	"github.com/nats-io/nats.go"

	"github.com/virtual-company/vc/pkg/wsproto"
)

// Defaults of Config.
const (
	DefaultPrefix          = "vc"
	DefaultHeartbeat       = 2 * time.Second
	DefaultReconnectBuffer = 64 << 20
)

// Config configures a Bus.
type Config struct {
	// URL is the NATS server (several separated by commas).
	URL string
	// NodeID names this node; it must be unique in the cluster.
	NodeID string
	// Prefix starts every subject (default "vc").
	Prefix string
	// Heartbeat is how often this node announces itself and its presence
	// (default 2 s). A node not heard of for Expiry is dead (default
	// 4 heartbeats), so a killed node drops out within Expiry+Heartbeat.
	Heartbeat time.Duration
	Expiry    time.Duration
	// ReconnectBuffer is how many bytes of publishes are kept while NATS is
	// unreachable (default 64 MiB); beyond it publishes fail and are counted
	// as lost, which the store-side resync repairs.
	ReconnectBuffer int
	// Hooks observe the bus (metrics); nil fields are skipped.
	Hooks  Hooks
	Logger *slog.Logger
}

// Hooks let metrics observe the bus without the bus knowing about them.
type Hooks struct {
	// ConnState is called with true when the connection to NATS is up and
	// false when it is lost.
	ConnState func(connected bool)
	// Delivered is called for every event received from another node, with
	// the time between its publish there and its arrival here.
	Delivered func(latency time.Duration)
	// PublishFailed is called when a publish could not even be buffered.
	PublishFailed func()
}

// Control kinds. Every node acts on a control message for its own sockets,
// caches and AI replies.
const (
	// CtlUserRevoked: the user's tokens were revoked (logout-all, password
	// change, account deleted): close their sockets (4001), drop their
	// cached row.
	CtlUserRevoked = "user_revoked"
	// CtlUserChanged: the user's row changed (drop cached copies).
	CtlUserChanged = "user_changed"
	// CtlMemberRemoved: UserID was removed from RoomID (close 4003).
	CtlMemberRemoved = "member_removed"
	// CtlRoomDeleted: RoomID was deleted (close its sockets, 4003).
	CtlRoomDeleted = "room_deleted"
	// CtlRoomChanged: RoomID's row or memberships changed (drop caches).
	CtlRoomChanged = "room_changed"
	// CtlRoleChanged: RoleID was edited or deleted (drop caches).
	CtlRoleChanged = "role_changed"
	// CtlAICancel: stop the AI reply StreamID in RoomID, asked by UserID.
	CtlAICancel = "ai_cancel"
)

// Control is a message every node acts on. Only the fields of its Kind are
// set.
type Control struct {
	Kind     string `json:"kind"`
	UserID   int64  `json:"user_id,omitempty"`
	RoomID   int64  `json:"room_id,omitempty"`
	RoleID   int64  `json:"role_id,omitempty"`
	StreamID string `json:"stream_id,omitempty"`
}

// Receiver is the local side of a node: what the bus delivers into. The
// server implements it over its hub and services. Calls come from the NATS
// client's goroutine one at a time per subject; they must not block long.
type Receiver interface {
	// RoomEvent delivers an event node from published in a room.
	RoomEvent(from string, roomID int64, ev RoomEvent)
	// UserEvent delivers an event for one user's sockets.
	UserEvent(userID int64, ev wsproto.Event)
	// Control acts on a control message.
	Control(c Control)
	// Resync is called when events may have been missed (NATS came back,
	// or this node was too slow to take them): the receiver reads what its
	// sockets lack from the store.
	Resync()
	// PresenceLost is called when a node died or left, or its heartbeat
	// no longer lists users it listed (a leave missed while NATS was
	// away): gone lists, per room, the users no longer online on any
	// other node (already dropped from Online).
	PresenceLost(node string, gone map[int64][]wsproto.PresenceUser)
	// PresenceGained is called when a heartbeat lists users that were not
	// online on any other node (a join missed while NATS was away, or a
	// node that came back): gained lists them per room.
	PresenceGained(node string, gained map[int64][]wsproto.PresenceUser)
}

// RoomEvent is a room event another node published: its JSON as that node
// encoded it, which the local sockets get as it is (no decoding and
// encoding again on every node), and the fields a node acts on.
type RoomEvent struct {
	Type     string
	Seq      int64
	UserID   int64 // 0: none
	User     string
	StreamID string
	// Data is the event's JSON (wsproto.Event).
	Data []byte
}

// PresenceFunc returns this node's presence: per room, the users with a
// socket here. It is sent with every heartbeat.
type PresenceFunc func() map[int64][]wsproto.PresenceUser

// envelope is what goes on the wire. A room event's envelope is written by
// PublishRoom and read by decodeRoom without this type: the same JSON,
// field for field.
type envelope struct {
	Node string `json:"n"`
	// Sent is the publish time in Unix nanoseconds (latency metric).
	Sent    int64                            `json:"t"`
	Event   *wsproto.Event                   `json:"e,omitempty"`
	Control *Control                         `json:"c,omitempty"`
	Online  map[int64][]wsproto.PresenceUser `json:"p,omitempty"`
	Data    []byte                           `json:"d,omitempty"`
}

// node is what this node knows of another one.
type node struct {
	seen   time.Time
	online map[int64]map[int64]string // room -> user -> username
}

// Bus is this node's link to the others. Build it with Connect, then Start
// it with the local Receiver once the node is wired.
type Bus struct {
	cfg   Config
	log   *slog.Logger
	nc    *nats.Conn
	subjR string // <p>.room.
	subjU string // <p>.user.
	// nodeJSON is the node id as a JSON string (room event envelopes).
	nodeJSON []byte

	mu        sync.RWMutex
	nodes     map[string]*node
	recv      Receiver
	presence  PresenceFunc
	subs      []*nats.Subscription
	started   bool
	downHooks []func(node string)
	degraded  error // why the bus is degraded (nil: connected)
	closed    bool

	stop chan struct{}
	done sync.WaitGroup
	// dupOnce logs a duplicate node id once.
	dupOnce sync.Once
}

// Connect dials NATS. It does not wait for NATS to be reachable: a node
// that starts while NATS is down serves in degraded mode and links up when
// NATS comes (Status says which).
func Connect(cfg Config) (*Bus, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("cluster: no NATS url")
	}
	if cfg.NodeID == "" {
		return nil, errors.New("cluster: no node id")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Expiry <= cfg.Heartbeat {
		cfg.Expiry = 4 * cfg.Heartbeat
	}
	if cfg.ReconnectBuffer == 0 {
		cfg.ReconnectBuffer = DefaultReconnectBuffer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	nodeJSON, err := json.Marshal(cfg.NodeID)
	if err != nil {
		return nil, fmt.Errorf("cluster: node id: %w", err)
	}
	b := &Bus{
		cfg: cfg, nodeJSON: nodeJSON, log: cfg.Logger.With("component", "cluster", "node_id", cfg.NodeID),
		subjR: cfg.Prefix + ".room.", subjU: cfg.Prefix + ".user.",
		nodes: make(map[string]*node), stop: make(chan struct{}),
		degraded: errors.New("not connected to NATS yet"),
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Name("vcd "+cfg.NodeID),
		nats.NoEcho(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(cfg.ReconnectBuffer),
		nats.PingInterval(cfg.Heartbeat),
		nats.MaxPingsOutstanding(3),
		nats.Timeout(2*time.Second),
		// The handlers use the conn they are given: the first may run
		// before Connect returns and b.nc is set.
		nats.ConnectHandler(func(nc *nats.Conn) { b.connected(nc, false) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { b.connected(nc, true) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { b.disconnected(err) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) { b.asyncError(sub, err) }),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS %s: %w", redactURL(cfg.URL), err)
	}
	b.nc = nc
	if nc.IsConnected() {
		b.connected(nc, false)
	}
	return b, nil
}

// redactURL drops credentials from a NATS URL before it is logged.
func redactURL(u string) string {
	var out []string
	for _, one := range strings.Split(u, ",") {
		one = strings.TrimSpace(one)
		if i := strings.Index(one, "@"); i >= 0 {
			if j := strings.Index(one, "://"); j >= 0 && j < i {
				one = one[:j+3] + "***" + one[i:]
			}
		}
		out = append(out, one)
	}
	return strings.Join(out, ",")
}

// NodeID returns this node's id.
func (b *Bus) NodeID() string { return b.cfg.NodeID }

// Prefix returns the subject prefix.
func (b *Bus) Prefix() string { return b.cfg.Prefix }

// Status returns nil while the bus is connected to NATS, else why not: the
// node is degraded (it serves its own sockets and fills the rest from the
// store).
func (b *Bus) Status() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.degraded
}

func (b *Bus) connected(nc *nats.Conn, re bool) {
	b.mu.Lock()
	was := b.degraded
	b.degraded = nil
	started := b.started
	recv := b.recv
	b.mu.Unlock()
	if was != nil {
		b.log.Info("cluster bus connected to NATS", "url", nc.ConnectedUrlRedacted(), "reconnect", re)
	}
	if h := b.cfg.Hooks.ConnState; h != nil {
		h(true)
	}
	if started {
		b.hello()
		if recv != nil {
			recv.Resync()
		}
	}
}

func (b *Bus) disconnected(err error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	if err == nil {
		err = errors.New("connection closed")
	}
	b.degraded = fmt.Errorf("lost NATS: %w", err)
	b.mu.Unlock()
	b.log.Warn("cluster bus lost NATS: degraded, still serving; other nodes' messages are read from the database until it is back", "err", err)
	if h := b.cfg.Hooks.ConnState; h != nil {
		h(false)
	}
}

func (b *Bus) asyncError(sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		b.log.Warn("cluster bus dropped events (slow subscription): resyncing from the database", "err", err)
		b.mu.RLock()
		recv := b.recv
		b.mu.RUnlock()
		if recv != nil {
			go recv.Resync()
		}
		return
	}
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	b.log.Warn("cluster bus error", "subject", subject, "err", err)
}

// Start subscribes to the cluster's subjects and starts the heartbeats.
// recv receives what other nodes publish; presence is sampled for every
// heartbeat. Call it once, after the node is wired and before it serves.
func (b *Bus) Start(recv Receiver, presence PresenceFunc) error {
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return errors.New("cluster: bus already started")
	}
	b.recv, b.presence, b.started = recv, presence, true
	b.mu.Unlock()
	p := b.cfg.Prefix
	handlers := []struct {
		subject string
		fn      nats.MsgHandler
	}{
		{p + ".room.*", b.onRoom},
		{p + ".user.*", b.onUser},
		{p + ".ctl", b.onControl},
		{p + ".node.hb", b.onHeartbeat},
		{p + ".node.hello", b.onHello},
		{p + ".node.bye", b.onBye},
	}
	for _, h := range handlers {
		sub, err := b.nc.Subscribe(h.subject, h.fn)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", h.subject, err)
		}
		// Events are small and bursts are short: keep a lot before calling
		// this node slow (which costs a resync from the store).
		_ = sub.SetPendingLimits(1<<20, 256<<20)
		b.mu.Lock()
		b.subs = append(b.subs, sub)
		b.mu.Unlock()
	}
	b.hello()
	b.done.Add(1)
	go b.beat()
	return nil
}

// Close tells the other nodes this one leaves (they drop its presence at
// once), flushes what is buffered and disconnects.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	started := b.started
	b.mu.Unlock()
	close(b.stop)
	b.done.Wait()
	if started && b.nc.IsConnected() {
		_ = b.publish(b.cfg.Prefix+".node.bye", envelope{})
		_ = b.nc.FlushTimeout(time.Second)
	}
	b.nc.Close()
}

func (b *Bus) publish(subject string, env envelope) error {
	env.Node = b.cfg.NodeID
	env.Sent = time.Now().UnixNano()
	data, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("cluster: encode %s: %w", subject, err)
	}
	return b.send(subject, data)
}

func (b *Bus) send(subject string, data []byte) error {
	if err := b.nc.Publish(subject, data); err != nil {
		if h := b.cfg.Hooks.PublishFailed; h != nil {
			h()
		}
		return fmt.Errorf("cluster: publish %s: %w", subject, err)
	}
	return nil
}

// PublishRoom sends a room event, encoded (its JSON as the local sockets
// got it, room_id set), to the other nodes. Stored messages must be
// published only after their commit; a failed publish is logged, and the
// other nodes find the message in the store when they resync.
func (b *Bus) PublishRoom(roomID int64, event []byte) {
	subject := b.subjR + strconv.FormatInt(roomID, 10)
	// The envelope {"n":…,"t":…,"e":<event>}, with the event's bytes as
	// they are rather than decoded and encoded again.
	buf := make([]byte, 0, len(event)+len(b.nodeJSON)+40)
	buf = append(buf, `{"n":`...)
	buf = append(buf, b.nodeJSON...)
	buf = append(buf, `,"t":`...)
	buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
	buf = append(buf, `,"e":`...)
	buf = append(buf, event...)
	buf = append(buf, '}')
	if err := b.send(subject, buf); err != nil {
		b.log.Debug("publish room event", "room_id", roomID, "err", err)
	}
}

// PublishUser sends an event for one user's sockets to the other nodes.
func (b *Bus) PublishUser(userID int64, ev wsproto.Event) {
	if err := b.publish(b.subjU+strconv.FormatInt(userID, 10), envelope{Event: &ev}); err != nil {
		b.log.Debug("publish user event", "user_id", userID, "type", ev.Type, "err", err)
	}
}

// PublishControl sends a control message to the other nodes.
func (b *Bus) PublishControl(c Control) {
	if err := b.publish(b.cfg.Prefix+".ctl", envelope{Control: &c}); err != nil {
		b.log.Warn("publish control message", "kind", c.Kind, "err", err)
	}
}

// Publish sends data on a free topic (subject <p>.x.<topic>) to the other
// nodes' Subscribe handlers.
func (b *Bus) Publish(topic string, data []byte) error {
	return b.publish(b.cfg.Prefix+".x."+topic, envelope{Data: data})
}

// Subscribe calls fn for every Publish of another node on topic (NATS
// wildcards allowed: "signal.*"). from is the publishing node. The returned
// func unsubscribes.
func (b *Bus) Subscribe(topic string, fn func(from, topic string, data []byte)) (func(), error) {
	prefix := b.cfg.Prefix + ".x."
	sub, err := b.nc.Subscribe(prefix+topic, func(m *nats.Msg) {
		env, ok := b.decode(m)
		if !ok {
			return
		}
		fn(env.Node, strings.TrimPrefix(m.Subject, prefix), env.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe %s: %w", topic, err)
	}
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	return func() { _ = sub.Unsubscribe() }, nil
}

// OnNodeDown registers fn to be called (from the bus's goroutine) when a
// node stops heartbeating or leaves. Register before Start.
func (b *Bus) OnNodeDown(fn func(node string)) {
	b.mu.Lock()
	b.downHooks = append(b.downHooks, fn)
	b.mu.Unlock()
}

// Nodes lists the live nodes this one knows of, itself included, sorted.
func (b *Bus) Nodes() []string {
	b.mu.RLock()
	out := make([]string, 0, len(b.nodes)+1)
	out = append(out, b.cfg.NodeID)
	for id := range b.nodes {
		out = append(out, id)
	}
	b.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Alive reports whether node is this one or a live node.
func (b *Bus) Alive(nodeID string) bool {
	if nodeID == b.cfg.NodeID {
		return true
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.nodes[nodeID]
	return ok
}

// Online lists the users online in the room on other nodes, by user id.
func (b *Bus) Online(roomID int64) []wsproto.PresenceUser {
	b.mu.RLock()
	seen := map[int64]string{}
	for _, n := range b.nodes {
		for id, name := range n.online[roomID] {
			seen[id] = name
		}
	}
	b.mu.RUnlock()
	out := make([]wsproto.PresenceUser, 0, len(seen))
	for id, name := range seen {
		out = append(out, wsproto.PresenceUser{UserID: id, Username: name})
	}
	slices.SortFunc(out, func(a, b wsproto.PresenceUser) int { return cmpInt(a.UserID, b.UserID) })
	return out
}

// IsOnline reports whether the user is online in the room on another node.
func (b *Bus) IsOnline(roomID, userID int64) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, n := range b.nodes {
		if _, ok := n.online[roomID][userID]; ok {
			return true
		}
	}
	return false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (b *Bus) decode(m *nats.Msg) (envelope, bool) {
	var env envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		b.log.Warn("cluster bus: undecodable message", "subject", m.Subject, "err", err)
		return env, false
	}
	return env, !b.echo(env.Node)
}

// echo reports whether from is this node's own id.
func (b *Bus) echo(from string) bool {
	if from != b.cfg.NodeID {
		return false
	}
	// No-echo spares a node its own messages: this one comes from another
	// connection that uses the same node_id.
	b.dupOnce.Do(func() {
		b.log.Error("another cluster node uses this node_id: its events are ignored here; give every node its own cluster.node_id")
	})
	return true
}

// Paths read by decodeRoom, in an envelope and in its event.
var (
	envelopePaths = [][]string{{"n"}, {"t"}, {"e"}}
	eventPaths    = [][]string{{"type"}, {"seq"}, {"user_id"}, {"user"}, {"stream_id"}}
)

// decodeRoom reads a room event's envelope without decoding the event
// itself: it checks the message is JSON, then picks the envelope's fields
// and the event's type, seq, user and stream (jsonparser, in one pass
// each, instead of filling a wsproto.Event).
func (b *Bus) decodeRoom(m *nats.Msg) (from string, sent int64, ev RoomEvent, ok bool) {
	if !json.Valid(m.Data) {
		b.log.Warn("cluster bus: undecodable message", "subject", m.Subject, "err", "not JSON")
		return "", 0, ev, false
	}
	jsonparser.EachKey(m.Data, func(i int, v []byte, vt jsonparser.ValueType, _ error) {
		switch {
		case i == 0 && vt == jsonparser.String:
			from, _ = jsonparser.ParseString(v)
		case i == 1 && vt == jsonparser.Number:
			sent, _ = jsonparser.ParseInt(v)
		case i == 2 && vt == jsonparser.Object:
			ev.Data = v
		}
	}, envelopePaths...)
	if ev.Data == nil || b.echo(from) {
		return from, sent, ev, false
	}
	jsonparser.EachKey(ev.Data, func(i int, v []byte, vt jsonparser.ValueType, _ error) {
		switch {
		case i == 0 && vt == jsonparser.String:
			ev.Type, _ = jsonparser.ParseString(v)
		case i == 1 && vt == jsonparser.Number:
			ev.Seq, _ = jsonparser.ParseInt(v)
		case i == 2 && vt == jsonparser.Number:
			ev.UserID, _ = jsonparser.ParseInt(v)
		case i == 3 && vt == jsonparser.String:
			ev.User, _ = jsonparser.ParseString(v)
		case i == 4 && vt == jsonparser.String:
			ev.StreamID, _ = jsonparser.ParseString(v)
		}
	}, eventPaths...)
	return from, sent, ev, ev.Type != ""
}

func (b *Bus) receiver() Receiver {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.recv
}

func (b *Bus) onRoom(m *nats.Msg) {
	roomID, err := strconv.ParseInt(strings.TrimPrefix(m.Subject, b.subjR), 10, 64)
	if err != nil {
		return
	}
	from, sent, ev, ok := b.decodeRoom(m)
	if !ok {
		return
	}
	if h := b.cfg.Hooks.Delivered; h != nil && sent > 0 {
		h(time.Since(time.Unix(0, sent)))
	}
	b.notePresence(from, roomID, ev)
	if r := b.receiver(); r != nil {
		r.RoomEvent(from, roomID, ev)
	}
}

// notePresence keeps a node's presence current between heartbeats from the
// join and leave events it relays.
func (b *Bus) notePresence(from string, roomID int64, ev RoomEvent) {
	if (ev.Type != wsproto.TypeJoin && ev.Type != wsproto.TypeLeave) || ev.UserID == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[from]
	if n == nil {
		n = &node{online: map[int64]map[int64]string{}}
		b.nodes[from] = n
	}
	n.seen = time.Now()
	if ev.Type == wsproto.TypeJoin {
		if n.online[roomID] == nil {
			n.online[roomID] = map[int64]string{}
		}
		n.online[roomID][ev.UserID] = ev.User
		return
	}
	delete(n.online[roomID], ev.UserID)
	if len(n.online[roomID]) == 0 {
		delete(n.online, roomID)
	}
}

func (b *Bus) onUser(m *nats.Msg) {
	env, ok := b.decode(m)
	if !ok || env.Event == nil {
		return
	}
	userID, err := strconv.ParseInt(strings.TrimPrefix(m.Subject, b.subjU), 10, 64)
	if err != nil {
		return
	}
	if r := b.receiver(); r != nil {
		r.UserEvent(userID, *env.Event)
	}
}

func (b *Bus) onControl(m *nats.Msg) {
	env, ok := b.decode(m)
	if !ok || env.Control == nil {
		return
	}
	if r := b.receiver(); r != nil {
		r.Control(*env.Control)
	}
}

func (b *Bus) onHeartbeat(m *nats.Msg) {
	env, ok := b.decode(m)
	if !ok {
		return
	}
	online := make(map[int64]map[int64]string, len(env.Online))
	for room, users := range env.Online {
		set := make(map[int64]string, len(users))
		for _, u := range users {
			set[u.UserID] = u.Username
		}
		online[room] = set
	}
	b.mu.Lock()
	old, known := b.nodes[env.Node]
	b.nodes[env.Node] = &node{seen: time.Now(), online: online}
	var prev map[int64]map[int64]string
	if known {
		prev = old.online
	}
	gained := b.onlyHere(env.Node, online, prev)
	lost := b.onlyHere(env.Node, prev, online)
	recv := b.recv
	b.mu.Unlock()
	if !known {
		b.log.Info("cluster node up", "peer", env.Node)
	}
	if recv != nil && len(gained) > 0 {
		recv.PresenceGained(env.Node, gained)
	}
	if recv != nil && len(lost) > 0 {
		recv.PresenceLost(env.Node, lost)
	}
}

// onlyHere lists, per room, the users of a that are not in b and not
// online on any node but except. Called with b.mu held.
func (b *Bus) onlyHere(except string, a, not map[int64]map[int64]string) map[int64][]wsproto.PresenceUser {
	var out map[int64][]wsproto.PresenceUser
	for room, users := range a {
		for uid, name := range users {
			if _, ok := not[room][uid]; ok {
				continue
			}
			elsewhere := false
			for id, n := range b.nodes {
				if id == except {
					continue
				}
				if _, ok := n.online[room][uid]; ok {
					elsewhere = true
					break
				}
			}
			if elsewhere {
				continue
			}
			if out == nil {
				out = map[int64][]wsproto.PresenceUser{}
			}
			out[room] = append(out[room], wsproto.PresenceUser{UserID: uid, Username: name})
		}
	}
	return out
}

func (b *Bus) onHello(m *nats.Msg) {
	if _, ok := b.decode(m); ok {
		b.heartbeat()
	}
}

func (b *Bus) onBye(m *nats.Msg) {
	env, ok := b.decode(m)
	if !ok {
		return
	}
	b.drop(env.Node, "left")
}

// hello announces this node and asks the others for their heartbeat.
func (b *Bus) hello() {
	b.heartbeat()
	_ = b.publish(b.cfg.Prefix+".node.hello", envelope{})
}

func (b *Bus) heartbeat() {
	b.mu.RLock()
	presence := b.presence
	b.mu.RUnlock()
	var online map[int64][]wsproto.PresenceUser
	if presence != nil {
		online = presence()
	}
	_ = b.publish(b.cfg.Prefix+".node.hb", envelope{Online: online})
}

// beat heartbeats and expires silent nodes until Close.
func (b *Bus) beat() {
	defer b.done.Done()
	t := time.NewTicker(b.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		if b.nc.IsConnected() {
			b.heartbeat()
		}
		b.expire()
	}
}

// expire drops the nodes not heard of for Expiry.
func (b *Bus) expire() {
	cutoff := time.Now().Add(-b.cfg.Expiry)
	var dead []string
	b.mu.RLock()
	for id, n := range b.nodes {
		if n.seen.Before(cutoff) {
			dead = append(dead, id)
		}
	}
	b.mu.RUnlock()
	for _, id := range dead {
		b.drop(id, "expired")
	}
}

// drop forgets a node and tells the receiver whose presence went with it.
func (b *Bus) drop(id, why string) {
	b.mu.Lock()
	n := b.nodes[id]
	if n == nil {
		b.mu.Unlock()
		return
	}
	delete(b.nodes, id)
	gone := map[int64][]wsproto.PresenceUser{}
	for room, users := range n.online {
		for uid, name := range users {
			still := false
			for _, other := range b.nodes {
				if _, ok := other.online[room][uid]; ok {
					still = true
					break
				}
			}
			if !still {
				gone[room] = append(gone[room], wsproto.PresenceUser{UserID: uid, Username: name})
			}
		}
	}
	recv, hooks := b.recv, slices.Clone(b.downHooks)
	b.mu.Unlock()
	if why == "expired" {
		b.log.Warn("cluster node expired (no heartbeat)", "peer", id, "expiry", b.cfg.Expiry.String())
	} else {
		b.log.Info("cluster node left", "peer", id)
	}
	if recv != nil {
		recv.PresenceLost(id, gone)
	}
	for _, h := range hooks {
		h(id)
	}
}

// Flush waits until NATS has received what was published so far (tests,
// shutdown).
func (b *Bus) Flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	return b.nc.FlushWithContext(ctx)
}

// Kill drops the connection the way a killed process would: no goodbye, no
// flush, no more heartbeats. For tests of node death.
func (b *Bus) Kill() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	b.done.Wait()
	b.nc.Close()
}
