package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/client/call"
	"github.com/virtual-company/vc/client/call/audio"
	"github.com/virtual-company/vc/pkg/api"
)

// writeTone writes a WAV of a sine at hz for d.
func writeTone(t *testing.T, path string, hz float64, d time.Duration) {
	t.Helper()
	w, err := audio.CreateWAV(path)
	require.NoError(t, err)
	tone := audio.NewTone(hz, 0.5)
	frame := make([]float32, audio.FrameSamples)
	for range int(d / (20 * time.Millisecond)) {
		require.NoError(t, tone.ReadFrame(frame))
		require.NoError(t, w.WriteFrame(frame))
	}
	require.NoError(t, w.Close())
}

// waitEvent reads a call's events until one matches, with a deadline.
func waitEvent(t *testing.T, k *call.Call, what string, match func(call.Event) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-k.Events():
			if !ok {
				t.Fatalf("call closed while waiting for %s: %v", what, k.Err())
			}
			if match(ev) {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// peakHz is JS that listens to the first remote peer of the page's call for
// 600 ms and returns the loudest frequency.
const peakHz = `(async () => {
	const k = window.vcCall();
	const r = [...k.peers.values()][0];
	const ctx = new AudioContext();
	await ctx.resume();
	const an = ctx.createAnalyser();
	an.fftSize = 8192;
	ctx.createMediaStreamSource(r.audio.srcObject).connect(an);
	const bins = new Float32Array(an.frequencyBinCount);
	const sum = new Float32Array(an.frequencyBinCount);
	for (let i = 0; i < 6; i++) {
		await new Promise(res => setTimeout(res, 100));
		an.getFloatFrequencyData(bins);
		for (let j = 0; j < bins.length; j++) sum[j] += Math.pow(10, bins[j] / 10);
	}
	let best = 0;
	for (let j = 1; j < sum.length; j++) if (sum[j] > sum[best]) best = j;
	const hz = best * ctx.sampleRate / an.fftSize;
	ctx.close();
	return hz;
})()`

// callSetup is a browser (alice, microphone: an 880 Hz tone) and a
// client/call engine (bob, sending 440 Hz, recording what it hears) in one
// room's call, each having heard the other.
type callSetup struct {
	b   *browser
	k   *call.Call
	out *audio.WAVWriter
	rec string
}

func startCall(t *testing.T) callSetup {
	t.Helper()
	d := startWeb(t)
	alice := d.Register("alice")
	bob := d.Register("bob")
	var room api.Room
	_, body := d.Do("POST", "/api/rooms", alice.Token, api.CreateRoomRequest{Name: "Standup"})
	require.NoError(t, json.Unmarshal(body, &room))
	status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/members", room.ID), alice.Token, api.AddMemberRequest{Username: "bob"})
	require.Equal(t, 201, status, string(body))

	wav := filepath.Join(t.TempDir(), "mic.wav")
	writeTone(t, wav, 880, 30*time.Second)
	b := newBrowser(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Host candidates as addresses, not mDNS names the engine cannot resolve.
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	)
	loginInBrowser(b, fmt.Sprintf("%s/rooms/%d", d.URL, room.ID), "alice", alice.Password)
	b.waitFor("log", "Messages")
	b.click("button", "Join call")
	b.waitFor("button", "Leave call")
	b.until("the browser's peer id", `!!window.vcCall() && window.vcCall().selfID !== ''`)

	// The engine joins: the newcomer offers to the browser.
	c, err := client.New(d.URL, client.WithToken(bob.Token))
	require.NoError(t, err)
	rec := filepath.Join(t.TempDir(), "bob.wav")
	out, err := audio.CreateWAV(rec)
	require.NoError(t, err)
	se := &webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.To4() != nil })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	k, err := call.Join(ctx, c, room.ID, call.Config{Input: audio.NewTone(440, 0.5), Output: out, ICEServers: []webrtc.ICEServer{}, SettingEngine: se})
	require.NoError(t, err)
	t.Cleanup(func() { _ = k.Hangup() })
	waitEvent(t, k, "audio from the browser", func(ev call.Event) bool {
		return ev.Type == call.EventAudioStarted && ev.Peer.User == "alice"
	})
	b.until("the engine in the participant list", `[...document.querySelectorAll('.participants li')].some(li => li.textContent.startsWith('bob') && !li.textContent.includes('·'))`)
	return callSetup{b: b, k: k, out: out, rec: rec}
}

// TestBrowser_CallWithEngine puts a browser and a client/call engine (what
// vc call runs) in one room's call: the browser's microphone plays an 880 Hz
// tone (Chromium's fake capture from a WAV), the engine sends 440 Hz; each
// side must hear the other's tone. Then Mute reaches the engine, and Leave
// call ends the browser's part.
func TestBrowser_CallWithEngine(t *testing.T) {
	cs := startCall(t)
	b, k := cs.b, cs.k

	// The browser hears 440 Hz.
	hz := evalAsync[float64](b, peakHz)
	t.Logf("the browser hears a peak at %.0f Hz", hz)
	require.InDelta(t, 440, hz, 30)

	time.Sleep(1500 * time.Millisecond) // the length of the conversation, not a wait for an event
	// Mute reaches the engine.
	b.click("button", "Mute")
	waitEvent(t, k, "alice muted", func(ev call.Event) bool {
		return ev.Type == call.EventPeerState && ev.Peer.User == "alice" && ev.Peer.Muted
	})
	// Leave call: the engine sees the browser go.
	b.click("button", "Leave call")
	waitEvent(t, k, "alice left", func(ev call.Event) bool { return ev.Type == call.EventPeerLeft && ev.Peer.User == "alice" })
	b.waitFor("button", "Join call")
	require.NoError(t, k.Hangup())
	require.NoError(t, cs.out.Close())

	// The engine heard 880 Hz from the browser, not its own 440 Hz.
	requireHeard880(t, cs.rec)
	require.Empty(t, b.pageErrors())
}

// requireHeard880 checks that the engine's recording holds over a second of
// the browser's 880 Hz tone and not the engine's own 440 Hz.
func requireHeard880(t *testing.T, rec string) {
	t.Helper()
	samples, err := audio.ReadWAVFile(rec)
	require.NoError(t, err)
	var active []float32
	for i := 0; i+audio.FrameSamples <= len(samples); i += audio.FrameSamples {
		if f := samples[i : i+audio.FrameSamples]; audio.RMS(f) > 0.05 {
			active = append(active, f...)
		}
	}
	require.Greater(t, len(active), audio.SampleRate, "at least a second of sound reached the engine")
	p880, p440 := audio.Goertzel(active, 880), audio.Goertzel(active, 440)
	t.Logf("the engine heard %.1f s of sound: 880 Hz power %.3g, 440 Hz %.3g", float64(len(active))/audio.SampleRate, p880, p440)
	require.Greater(t, p880, 20*p440)
}

// TestBrowser_CallSurvivesSignalingReconnect: the browser's signaling socket
// drops in the middle of a call with a client/call engine. The page
// reconnects, gets a new peer id and offers again; the engine sees the old
// peer go and the new one come, and audio flows both ways again.
func TestBrowser_CallSurvivesSignalingReconnect(t *testing.T) {
	cs := startCall(t)
	b, k := cs.b, cs.k
	require.InDelta(t, 440, evalAsync[float64](b, peakHz), 30)

	old := eval[string](b, `window.vcCall().selfID`)
	b.do("drop the signaling socket", chromedp_Eval(`window.vcCall().ws.close()`))
	waitEvent(t, k, "the old peer to go", func(ev call.Event) bool { return ev.Type == call.EventPeerLeft && ev.Peer.User == "alice" })
	waitEvent(t, k, "audio from the reconnected browser", func(ev call.Event) bool {
		return ev.Type == call.EventAudioStarted && ev.Peer.User == "alice" && ev.Peer.PeerID != old
	})
	b.until("a new peer id and the engine connected again", fmt.Sprintf(`(() => { const k = window.vcCall();
		return !!k && k.selfID !== '' && k.selfID !== %q && k.peers.size === 1 && [...k.peers.values()][0].pc.connectionState === 'connected'; })()`, old))
	require.Equal(t, 1, eval[int](b, `window.vcCall().peers.size`))
	hz := evalAsync[float64](b, peakHz)
	t.Logf("after the reconnect the browser hears a peak at %.0f Hz", hz)
	require.InDelta(t, 440, hz, 30)
	// Still one call on the page: its buttons, no second Join call.
	b.waitFor("button", "Leave call")
	require.NoError(t, k.Hangup())
	require.NoError(t, cs.out.Close())
	requireHeard880(t, cs.rec)
	require.Empty(t, b.pageErrors())
}

// evalAsync evaluates a JavaScript expression that returns a promise.
func evalAsync[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// runEval evaluates an expression that returns a promise, on ctx.
func runEval[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}
