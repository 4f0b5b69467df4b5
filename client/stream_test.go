package client_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

const streamWait = 60 * time.Second

// connTracker records the connections a client dials so that a test can
// cut them like a broken network would.
type connTracker struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (ct *connTracker) httpClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			ct.mu.Lock()
			ct.conns = append(ct.conns, c)
			ct.mu.Unlock()
		}
		return c, err
	}}}
}

func (ct *connTracker) cut() {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, c := range ct.conns {
		_ = c.Close()
	}
	ct.conns = nil
}

type streamFixture struct {
	d      *servertest.Daemon
	alice  *client.Client // sends over REST
	bob    *client.Client // streams, over a cuttable network
	net    *connTracker
	roomID int64
}

func newStreamFixture(t *testing.T, opts ...servertest.Option) *streamFixture {
	t.Helper()
	d := servertest.Start(t, opts...)
	a, b := d.Register("alice"), d.Register("bob")
	alice, err := client.New(d.URL, client.WithToken(a.Token))
	require.NoError(t, err)
	ct := &connTracker{}
	bob, err := client.New(d.URL, client.WithToken(b.Token), client.WithHTTPClient(ct.httpClient()))
	require.NoError(t, err)
	ctx := context.Background()
	r, err := alice.CreateRoom(ctx, "stream")
	require.NoError(t, err)
	_, err = alice.AddMember(ctx, r.ID, "bob")
	require.NoError(t, err)
	return &streamFixture{d: d, alice: alice, bob: bob, net: ct, roomID: r.ID}
}

// collect reads message seqs from s until it has n, failing on duplicates
// or disorder; it also records the states seen.
func collect(t *testing.T, s *client.Stream, n int, states *[]client.StreamState, mu *sync.Mutex) []int64 {
	t.Helper()
	var seqs []int64
	timeout := time.After(streamWait)
	for len(seqs) < n {
		select {
		case ev, ok := <-s.Events():
			require.True(t, ok, "stream ended after %d messages", len(seqs))
			if ev.Type != wsproto.TypeMessage {
				continue
			}
			if len(seqs) > 0 {
				require.Equal(t, seqs[len(seqs)-1]+1, ev.Seq, "gap or duplicate")
			}
			seqs = append(seqs, ev.Seq)
		case st := <-s.Status():
			mu.Lock()
			*states = append(*states, st.State)
			mu.Unlock()
		case <-timeout:
			t.Fatalf("got %d of %d messages", len(seqs), n)
		}
	}
	return seqs
}

func sendREST(ctx context.Context, c *client.Client, roomID int64, from, to int) error {
	for i := from; i < to; i++ {
		if _, err := c.SendMessage(ctx, roomID, api.CreateMessageRequest{Content: "m" + strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	return nil
}

func TestStream_ReconnectsAfterConnectionCut(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		f := newStreamFixture(t, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), streamWait)
		defer cancel()
		s, err := f.bob.OpenStream(ctx, f.roomID, client.StreamOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		require.NoError(t, err)
		defer s.Close()

		const n = 400
		sent := make(chan error, 1)
		go func() {
			if err := sendREST(ctx, f.alice, f.roomID, 0, n/2); err != nil {
				sent <- err
				return
			}
			f.net.cut() // mid-stream
			sent <- sendREST(ctx, f.alice, f.roomID, n/2, n)
		}()
		var states []client.StreamState
		var mu sync.Mutex
		seqs := collect(t, s, n, &states, &mu)
		require.NoError(t, <-sent)
		require.Equal(t, int64(1), seqs[0])
		require.Equal(t, int64(n), s.LastSeq())
		mu.Lock()
		require.Contains(t, states, client.StateReconnecting)
		mu.Unlock()
	})
}

func TestStream_ResumesAcrossDaemonRestart(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		f := newStreamFixture(t, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), streamWait)
		defer cancel()
		s, err := f.bob.OpenStream(ctx, f.roomID, client.StreamOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		require.NoError(t, err)
		defer s.Close()

		const n = 200
		require.NoError(t, sendREST(ctx, f.alice, f.roomID, 0, n/2))
		var states []client.StreamState
		var mu sync.Mutex
		collect(t, s, n/2, &states, &mu)
		f.d.Restart() // same data dir and address
		// Sent while the stream is still reconnecting: it must resume them.
		require.NoError(t, sendREST(ctx, f.alice, f.roomID, n/2, n))
		seqs := collect(t, s, n/2, &states, &mu)
		require.Equal(t, int64(n/2+1), seqs[0])
		require.Equal(t, int64(n), seqs[len(seqs)-1])
		mu.Lock()
		require.Contains(t, states, client.StateReconnecting)
		mu.Unlock()
	})
}

// TestStream_UnackedSendsResentOnce cuts the connection right after a burst
// of sends: frames the server stored but whose acks were lost are resent
// after the reconnect and stored only once.
func TestStream_UnackedSendsResentOnce(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		f := newStreamFixture(t, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), streamWait)
		defer cancel()
		s, err := f.bob.OpenStream(ctx, f.roomID, client.StreamOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		require.NoError(t, err)
		defer s.Close()

		const n = 100
		ids := map[string]bool{}
		for i := range n {
			if i == n/2 {
				f.net.cut()
			}
			id, err := s.Send(ctx, wsproto.ClientFrame{Content: "s" + strconv.Itoa(i)})
			require.NoError(t, err)
			ids[id] = true
		}
		var states []client.StreamState
		var mu sync.Mutex
		seqs := collect(t, s, n, &states, &mu)
		require.Equal(t, int64(n), seqs[len(seqs)-1])
		msgs, err := f.alice.ListMessages(ctx, f.roomID, client.MessageQuery{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, msgs, n, "every send stored exactly once")
		for _, m := range msgs {
			require.True(t, ids[m.ClientID])
		}
		// Every send is acknowledged in the end.
		deadline := time.After(streamWait)
		for s.Pending() > 0 {
			select {
			case _, ok := <-s.Events():
				require.True(t, ok)
			case <-deadline:
				t.Fatalf("%d sends never acknowledged", s.Pending())
			}
		}
	})
}

func TestStream_GivesUpAfterMaxRetries(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		f := newStreamFixture(t, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), streamWait)
		defer cancel()
		s, err := f.bob.OpenStream(ctx, f.roomID, client.StreamOptions{MaxRetries: 2, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
		require.NoError(t, err)
		defer s.Close()
		f.d.Stop()
		var last client.StreamStatus
		for st := range s.Status() {
			last = st
		}
		require.Equal(t, client.StateGaveUp, last.State)
		require.Error(t, last.Err)
		_, ok := <-s.Events()
		for ok { // drain what was delivered before
			_, ok = <-s.Events()
		}
	})
}

func TestStream_LiveOnlyThenResume(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		// A stream opened without After sees no history, but after a cut it
		// still gets what was sent while it was away.
		f := newStreamFixture(t, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), streamWait)
		defer cancel()
		require.NoError(t, sendREST(ctx, f.alice, f.roomID, 0, 5))
		s, err := f.bob.OpenStream(ctx, f.roomID, client.StreamOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		require.NoError(t, err)
		defer s.Close()
		require.Equal(t, int64(5), s.LastSeq())
		f.net.cut()
		require.NoError(t, sendREST(ctx, f.alice, f.roomID, 5, 10))
		var states []client.StreamState
		var mu sync.Mutex
		seqs := collect(t, s, 5, &states, &mu)
		require.Equal(t, []int64{6, 7, 8, 9, 10}, seqs)
	})
}

// TestStream_ResumeFromZero: a client that loaded the empty history of a
// room and then opens its stream with Resume misses nothing stored in
// between, although its resume point is seq 0.
func TestStream_ResumeFromZero(t *testing.T) {
	f := newStreamFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), streamWait)
	defer cancel()
	hist, err := f.bob.ListMessages(ctx, f.roomID, client.MessageQuery{Limit: 50})
	require.NoError(t, err)
	require.Empty(t, hist)
	require.NoError(t, sendREST(ctx, f.alice, f.roomID, 0, 3)) // stored after the history load
	s, err := f.bob.OpenStream(ctx, f.roomID, client.StreamOptions{Resume: true})
	require.NoError(t, err)
	defer s.Close()
	var states []client.StreamState
	var mu sync.Mutex
	require.Equal(t, []int64{1, 2, 3}, collect(t, s, 3, &states, &mu))
}

// TestStream_SlowConsumerResumes: a consumer that stops reading gets its
// socket dropped by the server (close 4008); the stream reconnects, resumes
// and still delivers every message exactly once, in order.
func TestStream_SlowConsumerResumes(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		f := newStreamFixture(t, append(opts, servertest.WithConfig(func(c *config.Config) { c.Realtime.SendQueue = 4 }))...)
		ctx, cancel := context.WithTimeout(context.Background(), streamWait)
		defer cancel()
		s, err := f.bob.OpenStream(ctx, f.roomID, client.StreamOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		require.NoError(t, err)
		defer s.Close()

		n := 600
		if raceEnabled {
			n = 250 // the race detector makes each 15 KiB post ~10x slower
		}
		big := strings.Repeat("b", 15<<10)
		for i := range n { // bob reads nothing meanwhile
			_, err := f.alice.SendMessage(ctx, f.roomID, api.CreateMessageRequest{Content: big + strconv.Itoa(i)})
			require.NoError(t, err)
		}
		var states []client.StreamState
		var mu sync.Mutex
		seqs := collect(t, s, n, &states, &mu)
		require.Equal(t, int64(1), seqs[0])
		require.Equal(t, int64(n), seqs[n-1])
		mu.Lock()
		t.Logf("states seen: %v", states)
		mu.Unlock()
	})
}
