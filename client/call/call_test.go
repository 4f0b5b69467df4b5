package call_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/client/call"
	"github.com/virtual-company/vc/client/call/audio"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/signal"
)

// directory is an in-test user and room directory for the signaling hub:
// token "tok-NAME" is user NAME.
type directory struct {
	users   map[string]api.User
	members map[int64]map[int64]bool
}

func (d directory) Authenticate(_ context.Context, token string) (api.User, error) {
	if u, ok := d.users[token]; ok {
		return u, nil
	}
	return api.User{}, service.ErrUnauthorized
}

func (d directory) RequireMember(_ context.Context, roomID, userID int64) (api.Room, error) {
	if d.members[roomID][userID] {
		return api.Room{ID: roomID}, nil
	}
	return api.Room{}, service.ErrNotFound
}

// startRelay runs the signaling hub on 127.0.0.1:0 with alice, bob and carol
// in room 1 and dave alone in room 2.
func startRelay(t *testing.T) string {
	t.Helper()
	d := directory{users: map[string]api.User{}, members: map[int64]map[int64]bool{1: {}, 2: {}}}
	for i, name := range []string{"alice", "bob", "carol", "dave"} {
		u := api.User{ID: int64(i + 1), Username: name}
		d.users["tok-"+name] = u
		room := int64(1)
		if name == "dave" {
			room = 2
		}
		d.members[room][u.ID] = true
	}
	hub := signal.New(signal.Options{Auth: d, Rooms: d})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/ws/signaling/:room_id", hub.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		hub.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	})
	return "http://" + ln.Addr().String()
}

type party struct {
	name string
	call *call.Call
	rec  string
	out  *audio.WAVWriter
	seen []call.Event
}

// join starts a call engine for user name playing input, recording to a WAV
// file in dir.
func join(t *testing.T, base, name string, room int64, input string, extra func(*call.Config)) *party {
	t.Helper()
	return joinAs(t, base, name, "tok-"+name, room, input, extra)
}

// joinAs is join with an explicit token.
func joinAs(t *testing.T, base, name, token string, room int64, input string, extra func(*call.Config)) *party {
	t.Helper()
	c, err := client.New(base, client.WithToken(token))
	require.NoError(t, err)
	src, err := audio.OpenSource(input, audio.DeviceOptions{})
	require.NoError(t, err)
	rec := filepath.Join(t.TempDir(), name+".wav")
	out, err := audio.CreateWAV(rec)
	require.NoError(t, err)
	cfg := call.Config{Input: src, Output: out, ICEServers: []webrtc.ICEServer{}, SettingEngine: call.LoopbackSettings()}
	if extra != nil {
		extra(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	k, err := call.Join(ctx, c, room, cfg)
	require.NoError(t, err)
	p := &party{name: name, call: k, rec: rec, out: out}
	t.Cleanup(func() { p.hangup(t) })
	return p
}

func (p *party) hangup(t *testing.T) {
	t.Helper()
	select {
	case <-p.call.Done():
	default:
		require.NoError(t, p.call.Hangup())
		require.NoError(t, p.out.Close())
	}
}

// waitFor waits until the party saw an event matching ok, now or earlier
// (events read while waiting for something else are kept).
func (p *party) waitFor(t *testing.T, what string, ok func(call.Event) bool) call.Event {
	t.Helper()
	for _, ev := range p.seen {
		if ok(ev) {
			return ev
		}
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, open := <-p.call.Events():
			if !open {
				t.Fatalf("%s: call closed while waiting for %s", p.name, what)
			}
			if ev.Type == call.EventError || ev.Type == call.EventClosed {
				t.Logf("%s: %s: %v", p.name, ev.Type, ev.Err)
			}
			p.seen = append(p.seen, ev)
			if ok(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("%s: timed out waiting for %s", p.name, what)
		}
	}
}

func audioFrom(user string) func(call.Event) bool {
	return func(ev call.Event) bool { return ev.Type == call.EventAudioStarted && ev.Peer.User == user }
}

// analysis describes a recording: how long it carried sound, and the power
// of each frequency of interest over the sounding part.
type analysis struct {
	sounding time.Duration
	power    map[float64]float64
}

func analyse(t *testing.T, path string, freqs ...float64) analysis {
	t.Helper()
	samples, err := audio.ReadWAVFile(path)
	require.NoError(t, err)
	a := analysis{power: map[float64]float64{}}
	var active []float32
	for i := 0; i+audio.FrameSamples <= len(samples); i += audio.FrameSamples {
		f := samples[i : i+audio.FrameSamples]
		if audio.RMS(f) > 0.05 {
			a.sounding += 20 * time.Millisecond
			active = append(active, f...)
		}
	}
	for _, hz := range freqs {
		a.power[hz] = audio.Goertzel(active, hz)
	}
	return a
}

func requireDominant(t *testing.T, a analysis, want, other float64, minSounding time.Duration) {
	t.Helper()
	require.GreaterOrEqual(t, a.sounding, minSounding, "sound arrived for %s, want at least %s", a.sounding, minSounding)
	require.Greater(t, a.power[want], 20*a.power[other], "%.0f Hz must dominate %.0f Hz: %v", want, other, a.power)
}

const talk = 1500 * time.Millisecond

func TestCall_TwoPeersHearEachOther(t *testing.T) {
	base := startRelay(t)
	a := join(t, base, "alice", 1, "tone:440", nil)
	b := join(t, base, "bob", 1, "tone:660", nil)
	a.waitFor(t, "audio from bob", audioFrom("bob"))
	b.waitFor(t, "audio from alice", audioFrom("alice"))

	time.Sleep(talk) // the length of the conversation, not a wait for an event
	a.hangup(t)
	b.hangup(t)

	ra := analyse(t, a.rec, 440, 660)
	rb := analyse(t, b.rec, 440, 660)
	requireDominant(t, rb, 440, 660, talk*8/10)
	requireDominant(t, ra, 660, 440, talk*8/10)
}

func TestCall_ThreeWayMeshAndHangup(t *testing.T) {
	base := startRelay(t)
	a := join(t, base, "alice", 1, "tone:440", nil)
	b := join(t, base, "bob", 1, "tone:660", nil)
	c := join(t, base, "carol", 1, "tone:1000", nil)
	for _, w := range []struct {
		p    *party
		from []string
	}{{a, []string{"bob", "carol"}}, {b, []string{"alice", "carol"}}, {c, []string{"alice", "bob"}}} {
		for _, f := range w.from {
			w.p.waitFor(t, "audio from "+f, audioFrom(f))
		}
	}
	require.Len(t, a.call.Participants(), 3)
	// The three-way conversation: audio flowing is not yet audio heard (the
	// jitter buffer fills first), so carol talks for a while before leaving.
	time.Sleep(talk / 2)

	// Carol hangs up: the others see peer_left and keep talking.
	c.hangup(t)
	a.waitFor(t, "carol leaving", func(ev call.Event) bool { return ev.Type == call.EventPeerLeft && ev.Peer.User == "carol" })
	b.waitFor(t, "carol leaving", func(ev call.Event) bool { return ev.Type == call.EventPeerLeft && ev.Peer.User == "carol" })
	require.Len(t, a.call.Participants(), 2)
	time.Sleep(talk) // the conversation after carol left
	a.hangup(t)
	b.hangup(t)

	// Carol heard both others.
	rc := analyse(t, c.rec, 440, 660, 1000)
	require.Greater(t, rc.power[440], 5*rc.power[1000], "carol hears alice: %v", rc.power)
	require.Greater(t, rc.power[660], 5*rc.power[1000], "carol hears bob: %v", rc.power)
	// Alice heard bob and carol, and went on hearing bob after carol left.
	ra := analyse(t, a.rec, 440, 660, 1000)
	require.Greater(t, ra.power[660], 5*ra.power[440], "alice hears bob: %v", ra.power)
	require.Greater(t, ra.power[1000], 5*ra.power[440], "alice hears carol: %v", ra.power)
	require.GreaterOrEqual(t, ra.sounding, talk*8/10)
}

// lossy drops a share of the RTP packets a peer connection sends.
type lossy struct {
	interceptor.NoOp
	mu      sync.Mutex
	rng     *rand.Rand
	share   float64
	dropped *int
	sent    *int
}

func (l *lossy) NewInterceptor(string) (interceptor.Interceptor, error) { return l, nil }

func (l *lossy) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
		l.mu.Lock()
		drop := l.rng.Float64() < l.share
		if drop {
			*l.dropped++
		} else {
			*l.sent++
		}
		l.mu.Unlock()
		if drop {
			return len(payload), nil
		}
		return w.Write(h, payload, attrs)
	})
}

func TestCall_LossIsConcealed(t *testing.T) {
	base := startRelay(t)
	var dropped, sent int
	loss := &lossy{rng: rand.New(rand.NewPCG(1, 2)), share: 0.10, dropped: &dropped, sent: &sent}
	a := join(t, base, "alice", 1, "tone:440", func(c *call.Config) {
		c.Interceptors = func(r *interceptor.Registry) error { r.Add(loss); return nil }
	})
	b := join(t, base, "bob", 1, "null", nil)
	b.waitFor(t, "audio from alice", audioFrom("alice"))
	time.Sleep(talk) // the conversation
	ps := b.call.Participants()
	require.Len(t, ps, 2)
	link := ps[1].Link
	t.Logf("bob's link from alice: %+v", link)
	require.Positive(t, link.PacketsLost, "loss is seen in the stats")
	require.Positive(t, link.Concealed, "lost frames are concealed")
	a.hangup(t)
	b.hangup(t)

	loss.mu.Lock()
	t.Logf("dropped %d of %d packets", dropped, dropped+sent)
	require.Greater(t, dropped, 0)
	loss.mu.Unlock()
	rb := analyse(t, b.rec, 440, 660)
	requireDominant(t, rb, 440, 660, talk*8/10)
}

func TestCall_RefusedForNonMember(t *testing.T) {
	base := startRelay(t)
	c, err := client.New(base, client.WithToken("tok-dave"))
	require.NoError(t, err)
	_, err = call.Join(context.Background(), c, 1, call.Config{ICEServers: []webrtc.ICEServer{}})
	var refused *call.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, 1008, refused.Code)

	c2, err := client.New(base, client.WithToken("bogus"))
	require.NoError(t, err)
	_, err = call.Join(context.Background(), c2, 1, call.Config{ICEServers: []webrtc.ICEServer{}})
	require.ErrorAs(t, err, &refused)
	require.Equal(t, 1008, refused.Code)
	require.Contains(t, fmt.Sprint(err), "token")
}

func TestCall_SimultaneousRenegotiation(t *testing.T) {
	base := startRelay(t)
	logs := func(c *call.Config) { c.Logger = testLogger(t) }
	a := join(t, base, "alice", 1, "tone:440", logs)
	b := join(t, base, "bob", 1, "tone:660", logs)
	a.waitFor(t, "audio from bob", audioFrom("bob"))
	b.waitFor(t, "audio from alice", audioFrom("alice"))

	// Both sides add a transceiver at once: both offer, and perfect
	// negotiation must settle the glare (one rolls back) without deadlock.
	errs := make(chan error, 2)
	go func() { errs <- a.call.AddSecondTrack(b.call.PeerID()) }()
	go func() { errs <- b.call.AddSecondTrack(a.call.PeerID()) }()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	deadline := time.Now().Add(20 * time.Second)
	for !(a.call.Negotiated(b.call.PeerID(), 2) && b.call.Negotiated(a.call.PeerID(), 2)) {
		if time.Now().After(deadline) {
			for _, p := range []*party{a, b} {
				for len(p.call.Events()) > 0 {
					if ev := <-p.call.Events(); ev.Err != nil {
						t.Logf("%s: %v", p.name, ev.Err)
					}
				}
			}
			t.Fatalf("negotiation did not settle:\nalice: %s\nbob: %s",
				a.call.NegotiationState(b.call.PeerID()), b.call.NegotiationState(a.call.PeerID()))
		}
		time.Sleep(20 * time.Millisecond) // polling Pion's state; there is no event for "settled"
	}

	// Audio still flows both ways, and the negotiation came to rest.
	offers := a.call.Offers(b.call.PeerID()) + b.call.Offers(a.call.PeerID())
	time.Sleep(talk) // the conversation after renegotiating
	require.Equal(t, offers, a.call.Offers(b.call.PeerID())+b.call.Offers(a.call.PeerID()), "no renegotiation churn")
	a.hangup(t)
	b.hangup(t)
	requireDominant(t, analyse(t, b.rec, 440, 660), 440, 660, talk*8/10)
	requireDominant(t, analyse(t, a.rec, 660, 440), 660, 440, talk*8/10)
}

// testLogger writes debug logs to the test log (shown on failure).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
