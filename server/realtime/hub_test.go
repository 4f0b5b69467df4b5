package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

func user(id int64, name string) api.User { return api.User{ID: id, Username: name} }

func msgEvent(room, seq int64) wsproto.Event {
	return wsproto.Event{Type: wsproto.TypeMessage, RoomID: room, ID: seq, Seq: seq, Content: "m"}
}

// drain decodes what is queued for s, once the fan-out workers have run
// what was published before (a busy room goes through them).
func drain(t *testing.T, s *Subscription) (evs []wsproto.Event, closing bool, code int) {
	t.Helper()
	s.hub.pool.flush()
	select {
	case <-s.Wake():
	default:
	}
	b := s.Take(nil)
	out, closing, code := b.Frames, b.Closing, b.Code
	for _, f := range out {
		var ev wsproto.Event
		require.NoError(t, json.Unmarshal(f.Data, &ev))
		evs = append(evs, ev)
	}
	return evs, closing, code
}

func seqs(evs []wsproto.Event) []int64 {
	var out []int64
	for _, ev := range evs {
		if ev.Type == wsproto.TypeMessage {
			out = append(out, ev.Seq)
		}
	}
	return out
}

func TestHub_JoinLeavePresence(t *testing.T) {
	h := NewHub(Options{}, nil, nil)
	a, err := h.Subscribe(1, user(1, "alice"), 0)
	require.NoError(t, err)
	evs, _, _ := drain(t, a)
	require.Len(t, evs, 1)
	require.Equal(t, wsproto.TypeJoin, evs[0].Type)
	require.Equal(t, "alice", evs[0].User)

	b, err := h.Subscribe(1, user(2, "bob"), 0)
	require.NoError(t, err)
	evs, _, _ = drain(t, a)
	require.Equal(t, []string{wsproto.TypeJoin}, types(evs))
	require.Equal(t, "bob", evs[0].User)
	require.Equal(t, []wsproto.PresenceUser{{UserID: 1, Username: "alice"}, {UserID: 2, Username: "bob"}}, h.Online(1))

	// A second socket of bob is no new join; closing one of two is no leave.
	b2, err := h.Subscribe(1, user(2, "bob"), 0)
	require.NoError(t, err)
	h.Unsubscribe(b2)
	evs, _, _ = drain(t, a)
	require.Empty(t, evs)

	h.Unsubscribe(b)
	evs, _, _ = drain(t, a)
	require.Equal(t, []string{wsproto.TypeLeave}, types(evs))
	require.Equal(t, "bob", evs[0].User)
	require.False(t, h.IsOnline(1, 2))
	require.True(t, h.IsOnline(1, 1))
}

func types(evs []wsproto.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func TestHub_OrdersOutOfOrderPublishes(t *testing.T) {
	h := NewHub(Options{ReorderWait: time.Hour}, nil, nil)
	s, err := h.Subscribe(1, user(1, "alice"), 10)
	require.NoError(t, err)
	drain(t, s)
	h.Publish(1, msgEvent(1, 13))
	h.Publish(1, wsproto.Event{Type: wsproto.TypeAIDone, StreamID: "x"})
	h.Publish(1, msgEvent(1, 12))
	evs, _, _ := drain(t, s)
	require.Empty(t, evs, "held behind the missing seq 11")
	h.Publish(1, msgEvent(1, 11))
	h.Publish(1, msgEvent(1, 12)) // repeated: dropped
	h.Publish(1, msgEvent(1, 14))
	evs, _, _ = drain(t, s)
	require.Equal(t, []int64{11, 12, 13, 14}, seqs(evs))
	require.Equal(t, wsproto.TypeAIDone, evs[3].Type, "non-message events keep their place after earlier messages")
}

func TestHub_FillsGapFromStore(t *testing.T) {
	backfill := func(_ context.Context, roomID, after int64, limit int) ([]api.Message, error) {
		var out []api.Message
		for seq := after + 1; seq <= after+int64(limit); seq++ {
			out = append(out, api.Message{ID: seq, RoomID: roomID, Seq: seq, Content: "stored"})
		}
		return out, nil
	}
	h := NewHub(Options{ReorderWait: time.Millisecond}, backfill, nil)
	s, err := h.Subscribe(1, user(1, "alice"), 0)
	require.NoError(t, err)
	drain(t, s)
	h.Publish(1, msgEvent(1, 4)) // 1..3 were never published
	var got []int64
	deadline := time.After(10 * time.Second)
	for len(got) < 4 {
		select {
		case <-s.Wake():
		case <-deadline:
			t.Fatalf("got %v, want 1..4", got)
		}
		evs, _, _ := drain(t, s)
		got = append(got, seqs(evs)...)
	}
	require.Equal(t, []int64{1, 2, 3, 4}, got)
}

func TestHub_SkipsGapWithoutStore(t *testing.T) {
	h := NewHub(Options{ReorderWait: time.Millisecond}, func(context.Context, int64, int64, int) ([]api.Message, error) {
		return nil, errors.New("store down")
	}, nil)
	s, err := h.Subscribe(1, user(1, "alice"), 0)
	require.NoError(t, err)
	drain(t, s)
	h.Publish(1, msgEvent(1, 3))
	select {
	case <-s.Wake():
	case <-time.After(10 * time.Second):
		t.Fatal("gap never skipped")
	}
	evs, _, _ := drain(t, s)
	require.Equal(t, []int64{3}, seqs(evs))
	h.Publish(1, msgEvent(1, 4))
	evs, _, _ = drain(t, s)
	require.Equal(t, []int64{4}, seqs(evs))
}

func TestHub_SlowConsumerDropped(t *testing.T) {
	h := NewHub(Options{SendQueue: 8}, nil, nil)
	slow, err := h.Subscribe(1, user(1, "slow"), 0)
	require.NoError(t, err)
	fast, err := h.Subscribe(1, user(2, "fast"), 0)
	require.NoError(t, err)
	drain(t, fast)
	var got []int64
	for seq := int64(1); seq <= 100; seq++ {
		h.Publish(1, msgEvent(1, seq)) // never blocks
		evs, _, _ := drain(t, fast)
		got = append(got, seqs(evs)...)
	}
	require.Len(t, got, 100)
	evs, closing, code := drain(t, slow)
	require.True(t, closing)
	require.Equal(t, wsproto.CloseSlowConsumer, code)
	require.Empty(t, evs, "a dropped socket gets nothing more")
	require.Equal(t, uint64(1), h.SlowConsumerDrops())
}

// TestHub_SlowDropKeepsBegunFrame: a drop discards the queue but the rest
// of a frame the socket has begun, which the close frame must follow.
func TestHub_SlowDropKeepsBegunFrame(t *testing.T) {
	h := NewHub(Options{SendQueue: 3}, nil, nil)
	s, err := h.Subscribe(1, user(1, "slow"), 0)
	require.NoError(t, err)
	s.Take(nil) // the join event
	interrupted := 0
	s.OnSlow(func() { interrupted++ })
	s.mu.Lock()
	s.writing = true // a writer is busy: the drop must interrupt it
	s.queue = append(s.queue, queued{frame: &Frame{wire: []byte("rest of a frame")}})
	s.mu.Unlock()
	for seq := int64(1); seq <= 3; seq++ {
		h.Publish(1, msgEvent(1, seq))
	}
	h.pool.flush() // a busy room goes through the workers
	b := s.Take(nil)
	require.True(t, b.Closing)
	require.Equal(t, wsproto.CloseSlowConsumer, b.Code)
	require.Equal(t, 3, b.Dropped)
	require.Len(t, b.Frames, 1)
	require.Equal(t, "rest of a frame", string(b.Frames[0].wire))
	require.Equal(t, 1, interrupted)
	require.True(t, s.Aborting())
}

func TestHub_SharedBytes(t *testing.T) {
	h := NewHub(Options{}, nil, nil)
	a, _ := h.Subscribe(1, user(1, "a"), 0)
	b, _ := h.Subscribe(1, user(2, "b"), 0)
	drain(t, a)
	drain(t, b)
	h.Publish(1, msgEvent(1, 1))
	h.pool.flush()
	oa := a.Take(nil).Frames
	ob := b.Take(nil).Frames
	require.Len(t, oa, 1)
	require.Len(t, ob, 1)
	require.Same(t, oa[0], ob[0], "encoded once, shared by every socket")
}

func TestHub_SocketCapAndClose(t *testing.T) {
	h := NewHub(Options{MaxSocketsPerUser: 2}, nil, nil)
	s1, err := h.Subscribe(1, user(1, "a"), 0)
	require.NoError(t, err)
	_, err = h.Subscribe(2, user(1, "a"), 0)
	require.NoError(t, err)
	_, err = h.Subscribe(3, user(1, "a"), 0)
	require.ErrorIs(t, err, ErrTooManySockets)
	h.Unsubscribe(s1)
	h.Unsubscribe(s1) // idempotent
	_, err = h.Subscribe(3, user(1, "a"), 0)
	require.NoError(t, err)
	require.Equal(t, 2, h.Sockets())

	h.Close()
	_, err = h.Subscribe(4, user(2, "b"), 0)
	require.ErrorIs(t, err, ErrHubClosed)
}

func TestHub_MemberRemovedAndRoomDeleted(t *testing.T) {
	h := NewHub(Options{}, nil, nil)
	a, _ := h.Subscribe(1, user(1, "a"), 0)
	b, _ := h.Subscribe(1, user(2, "b"), 0)
	other, _ := h.Subscribe(2, user(2, "b"), 0)
	h.MemberRemoved(1, 2)
	_, closing, code := drain(t, b)
	require.True(t, closing)
	require.Equal(t, wsproto.CloseRemoved, code)
	_, closing, _ = drain(t, a)
	require.False(t, closing)
	_, closing, _ = drain(t, other)
	require.False(t, closing, "only the room the member left")

	h.RoomDeleted(1)
	_, closing, code = drain(t, a)
	require.True(t, closing)
	require.Equal(t, wsproto.CloseRemoved, code)
}

func TestHub_CloseDrainsQueue(t *testing.T) {
	h := NewHub(Options{}, nil, nil)
	a, _ := h.Subscribe(1, user(1, "a"), 0)
	drain(t, a)
	h.Publish(1, msgEvent(1, 1))
	h.Close()
	evs, closing, code := drain(t, a)
	require.True(t, closing)
	require.Equal(t, wsproto.CloseGoingAway, code)
	require.Equal(t, []int64{1}, seqs(evs))
}

func TestHub_ConcurrentPublishInOrder(t *testing.T) {
	h := NewHub(Options{ReorderWait: time.Hour, SendQueue: 4096}, nil, nil)
	s, _ := h.Subscribe(1, user(1, "a"), 0)
	drain(t, s)
	const n = 2000
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int64(w + 1); seq <= n; seq += 8 {
				h.Publish(1, msgEvent(1, seq))
			}
		}()
	}
	wg.Wait()
	evs, closing, _ := drain(t, s)
	require.False(t, closing)
	got := seqs(evs)
	require.Len(t, got, n)
	for i, seq := range got {
		require.Equal(t, int64(i+1), seq)
	}
}

// BenchmarkHub_Publish1000 measures the hub's share of a fan-out: one event
// encoded once and queued for 1 000 subscribers (no network).
func BenchmarkHub_Publish1000(b *testing.B) {
	h := NewHub(Options{SendQueue: 1 << 20, ReorderWait: time.Hour}, nil, nil)
	subs := make([]*Subscription, 1000)
	for i := range subs {
		s, err := h.Subscribe(1, user(int64(i+1), "u"+strconv.Itoa(i)), 0)
		if err != nil {
			b.Fatal(err)
		}
		subs[i] = s
	}
	var buf []*Frame
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Publish(1, msgEvent(1, int64(i+1)))
		if i%64 == 63 {
			h.pool.flush()
			for _, s := range subs {
				buf = s.Take(buf).Frames
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/delivery")
}

// TestHub_NewGapDuringBackfillIsNotSkipped: a gap that opens while an older
// one is being loaded from the store gets its own wait and load, and is not
// skipped with the older one (which would lose its message).
func TestHub_NewGapDuringBackfillIsNotSkipped(t *testing.T) {
	release := make(chan struct{})
	var calls sync.Mutex
	first := true
	backfill := func(_ context.Context, roomID, after int64, limit int) ([]api.Message, error) {
		calls.Lock()
		wasFirst := first
		first = false
		calls.Unlock()
		if wasFirst {
			<-release
		}
		var out []api.Message
		for seq := after + 1; seq <= after+int64(limit); seq++ {
			out = append(out, api.Message{ID: seq, RoomID: roomID, Seq: seq})
		}
		return out, nil
	}
	h := NewHub(Options{ReorderWait: time.Millisecond}, backfill, nil)
	s, err := h.Subscribe(1, user(1, "alice"), 0)
	require.NoError(t, err)
	drain(t, s)
	h.Publish(1, msgEvent(1, 3)) // 1 and 2 late: the first load blocks
	for {
		calls.Lock()
		started := !first
		calls.Unlock()
		if started {
			break
		}
		select {
		case <-time.After(time.Millisecond): // poll for the load to start
		case <-time.After(10 * time.Second):
			t.Fatal("no backfill")
		}
	}
	h.Publish(1, msgEvent(1, 5)) // 4 late too
	close(release)
	var got []int64
	deadline := time.After(10 * time.Second)
	for len(got) < 5 {
		select {
		case <-s.Wake():
		case <-deadline:
			t.Fatalf("got %v, want 1..5", got)
		}
		evs, _, _ := drain(t, s)
		got = append(got, seqs(evs)...)
	}
	h.Publish(1, msgEvent(1, 4)) // the late publish itself: already sent
	evs, _, _ := drain(t, s)
	got = append(got, seqs(evs)...)
	require.Equal(t, []int64{1, 2, 3, 4, 5}, got)
}

// TestHub_BigRoomOrderWithAcks: a room above the inline size is written by
// the fan-out workers; every socket still gets every message in seq order,
// and an event sent to one socket alone (an ack) comes after the room's
// events published before it.
func TestHub_BigRoomOrderWithAcks(t *testing.T) {
	h := NewHub(Options{SendQueue: 1 << 16, FanoutInline: 4, FanoutWorkers: 3}, nil, nil)
	defer h.Close()
	subs := make([]*Subscription, 40)
	for i := range subs {
		s, err := h.Subscribe(1, user(int64(i+1), "u"+strconv.Itoa(i)), 0)
		require.NoError(t, err)
		subs[i] = s
	}
	h.pool.flush()
	for _, s := range subs {
		drain(t, s) // the joins
	}
	const n = 300
	for seq := int64(1); seq <= n; seq++ {
		h.Publish(1, msgEvent(1, seq))
		ack, err := json.Marshal(wsproto.Event{Type: wsproto.TypeAck, RoomID: 1, Seq: seq})
		require.NoError(t, err)
		subs[0].Send(ack)
	}
	h.pool.flush()
	for i, s := range subs {
		evs, _, _ := drain(t, s)
		var want []int64
		for seq := int64(1); seq <= n; seq++ {
			want = append(want, seq)
		}
		require.Equal(t, want, seqs(evs), "socket %d", i)
		if i == 0 {
			// Each ack follows its message.
			var last int64
			for _, ev := range evs {
				switch ev.Type {
				case wsproto.TypeMessage:
					last = ev.Seq
				case wsproto.TypeAck:
					require.Equal(t, last, ev.Seq, "ack %d before its message", ev.Seq)
				}
			}
		}
	}
}

// TestBatchWriter_Batch: jobs taken together give each socket the frames
// of the jobs it was in, in order and in one write: a socket that joined
// part way gets only the later ones, one left out of a job (except) misses
// only that one, and an event for one socket alone keeps its place.
func TestBatchWriter_Batch(t *testing.T) {
	h := NewHub(Options{SendQueue: 64}, nil, nil)
	r := &hubRoom{id: 1, hub: h}
	mk := func(id int64) *Subscription { return newSubscription(h, 1, user(id, "u"), 64) }
	a, b, late := mk(1), mk(2), mk(3)
	shard := make([]*Subscription, 0, 4)
	shard = append(shard, a, b)
	first := shard[:2]
	shard = append(shard, late) // joined after the first job
	frame := func(seq int64) queued {
		data, err := json.Marshal(msgEvent(1, seq))
		require.NoError(t, err)
		return queued{frame: NewFrame(data), seq: seq}
	}
	ack, err := json.Marshal(wsproto.Event{Type: wsproto.TypeAck, RoomID: 1, Seq: 2})
	require.NoError(t, err)
	r.pending.Store(4)
	done := make(chan struct{}, 1)
	batch := []fanoutJob{
		{q: frame(1), subs: first, room: r},
		{q: frame(2), subs: shard, room: r, except: b},
		{q: queued{frame: NewFrame(ack)}, subs: []*Subscription{a}, room: r},
		{barrier: done},
		{q: frame(3), subs: shard, room: r},
	}
	var w batchWriter
	w.run(batch)
	select {
	case <-done:
	default:
		t.Fatal("the barrier was not signalled")
	}
	types := func(s *Subscription) []string {
		evs, _, _ := drain(t, s)
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Type+strconv.FormatInt(ev.Seq, 10))
		}
		return out
	}
	require.Equal(t, []string{"message1", "message2", "ack2", "message3"}, types(a))
	require.Equal(t, []string{"message1", "message3"}, types(b))
	require.Equal(t, []string{"message2", "message3"}, types(late))
	require.Zero(t, r.pending.Load())
}

// TestBatchWriter_MergesWhatArrives: events queued while a worker writes a
// big room join the write of every socket it has not reached yet and come
// next for those it has, so every socket still gets everything in order; an
// ack queued for one socket stays behind its message; a barrier queued
// meanwhile is signalled once all before it is written, and what is queued
// after the barrier is left for later.
func TestBatchWriter_MergesWhatArrives(t *testing.T) {
	h := NewHub(Options{SendQueue: 64}, nil, nil)
	r := &hubRoom{id: 1, hub: h}
	shard := make([]*Subscription, 100)
	for i := range shard {
		shard[i] = newSubscription(h, 1, user(int64(i+1), "u"), 64)
	}
	frame := func(seq int64) queued {
		data, err := json.Marshal(msgEvent(1, seq))
		require.NoError(t, err)
		return queued{frame: NewFrame(data), seq: seq}
	}
	ack := func(seq int64) queued {
		data, err := json.Marshal(wsproto.Event{Type: wsproto.TypeAck, RoomID: 1, Seq: seq})
		require.NoError(t, err)
		return queued{frame: NewFrame(data)}
	}
	types := func(s *Subscription) []string {
		evs, _, _ := drain(t, s)
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Type+strconv.FormatInt(ev.Seq, 10))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		batch []int64 // messages taken at once before writing starts
	}{
		{"one event written straight", []int64{1}},
		{"a batch written in rounds", []int64{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			queue := make(chan fanoutJob, 16)
			var batch []fanoutJob
			for _, seq := range tc.batch {
				batch = append(batch, fanoutJob{q: frame(seq), subs: shard, room: r})
			}
			next := int64(len(tc.batch) + 1)
			done := make(chan struct{}, 1)
			// Queued while the first sockets are being written.
			queue <- fanoutJob{q: frame(next), subs: shard, room: r}
			queue <- fanoutJob{q: ack(next), subs: []*Subscription{shard[0]}, room: r}
			queue <- fanoutJob{q: ack(next), subs: []*Subscription{shard[50]}, room: r}
			queue <- fanoutJob{barrier: done}
			queue <- fanoutJob{q: frame(next + 1), subs: shard, room: r}
			r.pending.Store(int64(len(batch) + 4))
			w := batchWriter{more: queue}
			w.run(batch)
			select {
			case <-done:
			default:
				t.Fatal("the barrier was not signalled")
			}
			require.Len(t, queue, 1, "the job after the barrier was taken before it")
			require.Equal(t, int64(1), r.pending.Load(), "only the job left in the queue is pending")
			for i, s := range shard {
				var want []string
				for seq := int64(1); seq <= next; seq++ {
					want = append(want, "message"+strconv.FormatInt(seq, 10))
				}
				if i == 0 || i == 50 {
					want = append(want, "ack"+strconv.FormatInt(next, 10))
				}
				require.Equal(t, want, types(s), "socket %d", i)
			}
			w.run([]fanoutJob{<-queue})
			require.Zero(t, r.pending.Load())
			for i, s := range shard {
				require.Equal(t, []string{"message" + strconv.FormatInt(next+1, 10)}, types(s), "socket %d", i)
			}
		})
	}
}

// TestCutPoint: a write cut short stops at the end of the frame it was in.
func TestCutPoint(t *testing.T) {
	f1, f2 := NewFrame([]byte(`{"a":1}`)), NewFrame([]byte(`{"b":22}`))
	l1, l2 := len(f1.wire), len(f2.wire)
	b := Batch{Frames: []*Frame{f1, f2}, Ping: true}
	require.Equal(t, 0, cutPoint(0, b, 0, 0))
	require.Equal(t, 2, cutPoint(0, b, 0, 1))          // in the ping
	require.Equal(t, 2+l1, cutPoint(0, b, 0, 3))       // in the first frame
	require.Equal(t, 2+l1, cutPoint(0, b, 0, 2+l1))    // right after it
	require.Equal(t, 2+l1+l2, cutPoint(0, b, 0, 3+l1)) // in the second
	// The rest of a begun frame is finished even when nothing was written.
	rest := &Frame{wire: []byte("tail")}
	b = Batch{Frames: []*Frame{rest, f1}}
	require.Equal(t, 4, cutPoint(0, b, 1, 0))
	require.Equal(t, 3, cutPoint(3, b, 1, 0)) // a frame ends after the 3 carried bytes
}
