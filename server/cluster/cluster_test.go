package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/cluster/natstest"
)

// recorder is a Receiver that keeps what it got.
type recorder struct {
	mu      sync.Mutex
	room    []wsproto.Event
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
func (r *recorder) RoomEvent(_ string, _ int64, ev wsproto.Event) {
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
		a.PublishRoom(7, wsproto.Event{Type: wsproto.TypeMessage, Seq: i, Content: "x"})
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
	a.PublishRoom(9, wsproto.Event{Type: wsproto.TypeJoin, User: "bob", UserID: &bob})
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
		a.PublishRoom(1, wsproto.Event{Type: wsproto.TypeMessage, Seq: 1})
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
