package cluster

import (
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/cluster/natstest"
)

// recorder is a Receiver that keeps what it got.
type recorder struct {
	mu      sync.Mutex
	room    []RoomEvent
	user    []wsproto.Event
	ctl     []Control
	resyncs int
	lost    map[string]map[int64][]wsproto.PresenceUser
	gained  map[string]map[int64][]wsproto.PresenceUser
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}, 1000), lost: map[string]map[int64][]wsproto.PresenceUser{}}
}

func (r *recorder) note() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}
func (r *recorder) RoomEvent(_ string, _ int64, ev RoomEvent) {
	r.mu.Lock()
	r.room = append(r.room, ev)
	r.mu.Unlock()
	r.note()
}
func (r *recorder) UserEvent(_ int64, ev wsproto.Event) {
	r.mu.Lock()
	r.user = append(r.user, ev)
	r.mu.Unlock()
	r.note()
}
func (r *recorder) Control(c Control) {
	r.mu.Lock()
	r.ctl = append(r.ctl, c)
	r.mu.Unlock()
	r.note()
}
func (r *recorder) Resync() {
	r.mu.Lock()
	r.resyncs++
	r.mu.Unlock()
	r.note()
}
func (r *recorder) PresenceGained(node string, gained map[int64][]wsproto.PresenceUser) {
	r.mu.Lock()
	if r.gained == nil {
		r.gained = map[string]map[int64][]wsproto.PresenceUser{}
	}
	r.gained[node] = gained
	r.mu.Unlock()
	r.note()
}
func (r *recorder) PresenceLost(node string, gone map[int64][]wsproto.PresenceUser) {
	r.mu.Lock()
	r.lost[node] = gone
	r.mu.Unlock()
	r.note()
}

// publishRoom publishes ev the way a node does: encoded once.
func publishRoom(t *testing.T, b *Bus, roomID int64, ev wsproto.Event) {
	t.Helper()
	ev.RoomID = roomID
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	b.PublishRoom(roomID, data)
}

// waitFor polls cond each time the recorder changes, until the deadline.
func waitFor(t *testing.T, r *recorder, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func connect(t *testing.T, url, id string, presence PresenceFunc) (*Bus, *recorder) {
	t.Helper()
	b, err := Connect(Config{URL: url, NodeID: id, Prefix: "t", Heartbeat: 100 * time.Millisecond, Expiry: 500 * time.Millisecond})
	require.NoError(t, err)
	r := newRecorder()
	require.NoError(t, b.Start(r, presence))
	t.Cleanup(b.Close)
	return b, r
}

func TestBus_RoomEventsInOrderNoEcho(t *testing.T) {
	ns := natstest.Start(t)
	a, ra := connect(t, ns.URL(), "a", nil)
	_, rb := connect(t, ns.URL(), "b", nil)
	waitFor(t, rb, "a known to b", func() bool { return len(a.Nodes()) == 2 })
	for i := int64(1); i <= 200; i++ {
		publishRoom(t, a, 7, wsproto.Event{Type: wsproto.TypeMessage, Seq: i, Content: "x"})
	}
	waitFor(t, rb, "200 events at b", func() bool { return len(rb.room) == 200 })
	for i, ev := range rb.room {
		require.Equal(t, int64(i+1), ev.Seq)
	}
	ra.mu.Lock()
	require.Empty(t, ra.room, "a node must not receive its own events")
	ra.mu.Unlock()

	a.PublishControl(Control{Kind: CtlUserRevoked, UserID: 5})
	a.PublishUser(5, wsproto.Event{Type: wsproto.TypeRoomAdded})
	waitFor(t, rb, "control and user event", func() bool { return len(rb.ctl) == 1 && len(rb.user) == 1 })
	require.Equal(t, Control{Kind: CtlUserRevoked, UserID: 5}, rb.ctl[0])
}

func TestBus_PresenceAndExpiry(t *testing.T) {
	ns := natstest.Start(t)
	uid := int64(42)
	a, _ := connect(t, ns.URL(), "a", func() map[int64][]wsproto.PresenceUser {
		return map[int64][]wsproto.PresenceUser{9: {{UserID: uid, Username: "alice"}}}
	})
	b, rb := connect(t, ns.URL(), "b", nil)
	waitFor(t, rb, "alice online through a", func() bool { return b.IsOnline(9, uid) })
	require.Equal(t, []wsproto.PresenceUser{{UserID: 42, Username: "alice"}}, b.Online(9))

	// Typing and join relays update presence between heartbeats.
	bob := int64(43)
	publishRoom(t, a, 9, wsproto.Event{Type: wsproto.TypeJoin, User: "bob", UserID: &bob})
	waitFor(t, rb, "bob online", func() bool { return b.IsOnline(9, bob) })

	// a dies without a goodbye: it expires.
	a.Kill()
	start := time.Now()
	waitFor(t, rb, "a expired", func() bool { _, ok := rb.lost["a"]; return ok })
	require.Less(t, time.Since(start), 2*time.Second)
	require.False(t, b.IsOnline(9, uid))
	require.ElementsMatch(t, []wsproto.PresenceUser{{UserID: 42, Username: "alice"}, {UserID: 43, Username: "bob"}}, rb.lost["a"][9])
	require.Equal(t, []string{"b"}, b.Nodes())
}

func TestBus_GoodbyeDropsAtOnce(t *testing.T) {
	ns := natstest.Start(t)
	b, err := Connect(Config{URL: ns.URL(), NodeID: "a", Prefix: "t", Heartbeat: time.Hour})
	require.NoError(t, err)
	require.NoError(t, b.Start(newRecorder(), nil))
	other, ro := connect(t, ns.URL(), "b", nil)
	waitFor(t, ro, "a known", func() bool { return other.Alive("a") })
	b.Close()
	waitFor(t, ro, "a left", func() bool { _, ok := ro.lost["a"]; return ok })
}

func TestBus_NATSRestartDegradesThenResyncs(t *testing.T) {
	ns := natstest.Start(t)
	a, _ := connect(t, ns.URL(), "a", nil)
	b, rb := connect(t, ns.URL(), "b", nil)
	waitFor(t, rb, "connected", func() bool { return a.Status() == nil && b.Status() == nil && b.Alive("a") })

	ns.Stop()
	waitFor(t, rb, "b degraded", func() bool { return b.Status() != nil })
	require.ErrorContains(t, b.Status(), "NATS")
	rb.mu.Lock()
	before := rb.resyncs
	rb.mu.Unlock()

	ns.Restart()
	waitFor(t, rb, "b reconnected and resynced", func() bool { return b.Status() == nil && rb.resyncs > before })
	waitFor(t, rb, "a reconnected", func() bool { return a.Status() == nil })
	// What a wrote into its dead connection before noticing is lost (core
	// NATS is at most once; the store resync repairs it): publish until one
	// arrives.
	waitFor(t, rb, "events flow again", func() bool {
		publishRoom(t, a, 1, wsproto.Event{Type: wsproto.TypeMessage, Seq: 1})
		return len(rb.room) > 0
	})
}

func TestBus_FreeTopics(t *testing.T) {
	ns := natstest.Start(t)
	a, _ := connect(t, ns.URL(), "a", nil)
	b, rb := connect(t, ns.URL(), "b", nil)
	var mu sync.Mutex
	var got []string
	unsub, err := b.Subscribe("signal.*", func(from, topic string, data []byte) {
		mu.Lock()
		got = append(got, from+" "+topic+" "+string(data))
		mu.Unlock()
		rb.note()
	})
	require.NoError(t, err)
	defer unsub()
	require.NoError(t, b.Flush(t.Context()))
	require.NoError(t, a.Publish("signal.3", []byte("hi")))
	waitFor(t, rb, "free topic", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	require.Equal(t, "a signal.3 hi", got[0])
}

func TestConnect_RedactsCredentials(t *testing.T) {
	require.Equal(t, "nats://***@h:4222,nats://h2:4222", redactURL("nats://u:p@h:4222, nats://h2:4222"))
}

func TestBus_HeartbeatsRepairMissedJoinsAndLeaves(t *testing.T) {
	ns := natstest.Start(t)
	var mu sync.Mutex
	online := map[int64][]wsproto.PresenceUser{}
	connect(t, ns.URL(), "a", func() map[int64][]wsproto.PresenceUser {
		mu.Lock()
		defer mu.Unlock()
		return online
	})
	b, rb := connect(t, ns.URL(), "b", nil)
	// carol came online on a while b missed the join relay.
	mu.Lock()
	online = map[int64][]wsproto.PresenceUser{5: {{UserID: 7, Username: "carol"}}}
	mu.Unlock()
	waitFor(t, rb, "carol gained", func() bool { return len(rb.gained["a"][5]) == 1 })
	require.True(t, b.IsOnline(5, 7))
	// and left while b missed the leave.
	mu.Lock()
	online = map[int64][]wsproto.PresenceUser{}
	mu.Unlock()
	waitFor(t, rb, "carol lost", func() bool { return len(rb.lost["a"][5]) == 1 })
	require.False(t, b.IsOnline(5, 7))
}

func TestBus_StartsDegradedWhenNATSIsDownAndLinksUpLater(t *testing.T) {
	ns := natstest.Start(t)
	ns.Stop()
	b, rb := connect(t, ns.URL(), "late", nil)
	require.ErrorContains(t, b.Status(), "not connected to NATS yet")
	ns.Restart()
	waitFor(t, rb, "linked up", func() bool { return b.Status() == nil })
}

// TestBus_RoomEnvelope checks the room event envelope both ways: a node
// reads the event's fields without decoding it and hands its bytes on as
// they were sent, and the envelope is the same JSON as an envelope encoded
// whole, so nodes of the previous release (which encode and decode it
// whole) and this one understand each other during a rolling upgrade.
func TestBus_RoomEnvelope(t *testing.T) {
	ns := natstest.Start(t)
	a, _ := connect(t, ns.URL(), "a", nil)
	b, rb := connect(t, ns.URL(), "b", nil)
	waitFor(t, rb, "a known to b", func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 })

	raw, err := nats.Connect(ns.URL())
	require.NoError(t, err)
	t.Cleanup(raw.Close)
	wire := make(chan []byte, 10)
	sub, err := raw.Subscribe("t.room.*", func(m *nats.Msg) { wire <- m.Data })
	require.NoError(t, err)
	require.NoError(t, raw.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	uid := int64(42)
	ev := wsproto.Event{Type: wsproto.TypeAIStart, RoomID: 7, StreamID: "s-1", User: "zoë \"z\" </script>", UserID: &uid,
		Role: "PM", Content: "line\nbreak ☃", Timestamp: time.Date(2026, 12, 4, 13, 0, 0, 5, time.UTC)}
	publishRoom(t, a, 7, ev)
	waitFor(t, rb, "the event at b", func() bool { return len(rb.room) == 1 })
	got := rb.room[0]
	require.Equal(t, wsproto.TypeAIStart, got.Type)
	require.Equal(t, uid, got.UserID)
	require.Equal(t, ev.User, got.User)
	require.Equal(t, "s-1", got.StreamID)
	var back wsproto.Event
	require.NoError(t, json.Unmarshal(got.Data, &back))
	require.Equal(t, ev, back)

	// What a sent is an envelope the previous release decodes whole.
	var old envelope
	require.NoError(t, json.Unmarshal(<-wire, &old))
	require.Equal(t, "a", old.Node)
	require.NotZero(t, old.Sent)
	require.NotNil(t, old.Event)
	require.Equal(t, ev, *old.Event)

	// An envelope the previous release encoded whole; nested user ids
	// (presence lists) are not the event's own.
	pres := wsproto.Event{Type: wsproto.TypePresence, RoomID: 7, Seq: 0, Online: []wsproto.PresenceUser{{UserID: 5, Username: "x"}}}
	msg := wsproto.Event{Type: wsproto.TypeMessage, RoomID: 7, Seq: 9, Content: `{"user_id":3}`}
	for _, e := range []wsproto.Event{pres, msg} {
		data, err := json.Marshal(envelope{Node: "old", Sent: time.Now().UnixNano(), Event: &e})
		require.NoError(t, err)
		require.NoError(t, raw.Publish("t.room.7", data))
	}
	// Not JSON, cut short, without an event: dropped, and what follows
	// still arrives.
	for _, bad := range []string{`not json`, `{"n":"old","t":1,"e":{"type":"message"`, `{"n":"old","t":1}`, `{"n":"old","e":"message"}`} {
		require.NoError(t, raw.Publish("t.room.7", []byte(bad)))
	}
	publishRoom(t, a, 7, wsproto.Event{Type: wsproto.TypeMessage, Seq: 10})
	waitFor(t, rb, "the rest at b", func() bool { return len(rb.room) == 4 })
	require.Equal(t, wsproto.TypePresence, rb.room[1].Type)
	require.Zero(t, rb.room[1].UserID)
	require.Equal(t, int64(9), rb.room[2].Seq)
	require.Zero(t, rb.room[2].UserID)
	require.Equal(t, int64(10), rb.room[3].Seq)
	var back2 wsproto.Event
	require.NoError(t, json.Unmarshal(rb.room[2].Data, &back2))
	require.Equal(t, msg, back2)
}

// FuzzDecodeRoom: whatever arrives on a room subject, decodeRoom never
// panics, and what it accepts is an event of one JSON object with a type.
func FuzzDecodeRoom(f *testing.F) {
	uid := int64(3)
	for _, ev := range []wsproto.Event{
		{Type: wsproto.TypeMessage, RoomID: 1, Seq: 2, UserID: &uid, User: "a\u00e9\"", Content: `{"type":"x"}`},
		{Type: wsproto.TypePresence, Online: []wsproto.PresenceUser{{UserID: 1, Username: "b"}}},
	} {
		data, _ := json.Marshal(envelope{Node: "other", Sent: 1, Event: &ev})
		f.Add(data)
	}
	f.Add([]byte(`{"n":"other","e":{"type":"typing","user_id":1e99,"seq":"7"}}`))
	f.Add([]byte(`{"n":"me","e":{"type":"message"}}`))
	b := &Bus{cfg: Config{NodeID: "me"}, log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, data []byte) {
		from, _, ev, ok := b.decodeRoom(&nats.Msg{Subject: "vc.room.1", Data: data})
		if !ok {
			return
		}
		if from == "me" || ev.Type == "" {
			t.Fatalf("accepted %q from %q", ev.Type, from)
		}
		var obj map[string]any
		if err := json.Unmarshal(ev.Data, &obj); err != nil {
			t.Fatalf("accepted data that is not a JSON object: %q: %v", ev.Data, err)
		}
		// (With a key given twice, the first counts here and the last for
		// encoding/json; no encoder writes such objects.)
		if _, ok := obj["type"].(string); !ok {
			t.Fatalf("accepted an event without a type: %q", ev.Data)
		}
	})
}
