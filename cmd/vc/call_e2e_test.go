package main_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client/call/audio"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

// soundingTone returns how long the recording at path carried sound and
// whether want dominated other over it.
func soundingTone(t *testing.T, path string, want, other float64) (time.Duration, bool) {
	t.Helper()
	samples, err := audio.ReadWAVFile(path)
	require.NoError(t, err)
	var active []float32
	var sounding time.Duration
	for i := 0; i+audio.FrameSamples <= len(samples); i += audio.FrameSamples {
		f := samples[i : i+audio.FrameSamples]
		if audio.RMS(f) > 0.05 {
			sounding += 20 * time.Millisecond
			active = append(active, f...)
		}
	}
	return sounding, audio.Goertzel(active, want) > 20*audio.Goertzel(active, other)
}

func TestCall_TwoProcessesExchangeTones(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	alice, bob := newCLI(t, d.URL), newCLI(t, d.URL)
	alice.register("alice")
	bob.register("bob")
	alice.ok("", "rooms", "create", "standup")
	alice.ok("", "rooms", "add", "standup", "bob")
	dir := t.TempDir()
	aWAV, bWAV := filepath.Join(dir, "alice.wav"), filepath.Join(dir, "bob.wav")

	// Bad input specs fail before joining.
	r := alice.run("", "call", "standup", "--input", "tone:abc", "--output", "null")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "tone frequency")

	a := alice.start("call", "standup", "--input", "tone:440", "--output", aWAV, "--duration", "4s", "-o", "json")
	a.waitLine(t, 30*time.Second, func(l string) bool { return strings.Contains(l, `"type":"joined"`) })
	const bobTalks = 3 * time.Second
	b := bob.start("call", "standup", "--input", "tone:660", "--output", bWAV, "--duration", bobTalks.String(), "-o", "json")
	b.waitLine(t, 30*time.Second, func(l string) bool {
		return strings.Contains(l, `"type":"audio_started"`) && strings.Contains(l, `"user":"alice"`)
	})
	// A stats line names both, with link figures for alice.
	line := b.waitLine(t, 30*time.Second, func(l string) bool {
		return strings.Contains(l, `"type":"stats"`) && strings.Contains(l, `"packets_received"`) && strings.Contains(l, `"user":"alice"`)
	})
	var stats struct {
		Type         string `json:"type"`
		Participants []struct {
			User            string  `json:"user"`
			Self            bool    `json:"self"`
			State           string  `json:"state"`
			RTTMs           float64 `json:"rtt_ms"`
			Loss            float64 `json:"loss"`
			JitterMs        float64 `json:"jitter_ms"`
			PacketsReceived int64   `json:"packets_received"`
		} `json:"participants"`
	}
	require.NoError(t, json.Unmarshal([]byte(line), &stats))
	require.Len(t, stats.Participants, 2)
	require.True(t, stats.Participants[0].Self)
	require.Equal(t, "bob", stats.Participants[0].User)
	require.Equal(t, "alice", stats.Participants[1].User)

	require.Equal(t, 0, b.exitCode(t), b.stderr.String())
	require.Equal(t, 0, a.exitCode(t), a.stderr.String())

	heardByBob, ok := soundingTone(t, bWAV, 440, 660)
	require.True(t, ok, "bob's recording is dominated by 440 Hz")
	require.GreaterOrEqual(t, heardByBob, bobTalks*8/10)
	heardByAlice, ok := soundingTone(t, aWAV, 660, 440)
	require.True(t, ok, "alice's recording is dominated by 660 Hz")
	require.GreaterOrEqual(t, heardByAlice, bobTalks*8/10)
}

func TestCall_CtrlCHangsUpCleanly(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	alice := newCLI(t, d.URL)
	alice.register("alice")
	var room api.Room
	alice.jsonOut(&room, "", "rooms", "create", "standup", "--json")
	tok, err := d.Login("alice", "pw-alice-12345")
	require.NoError(t, err)
	wav := filepath.Join(t.TempDir(), "out.wav")
	a := alice.start("call", "standup", "--input", "tone:440", "--output", wav, "-o", "json")
	// Two stats lines: a second of the call has passed.
	for range 2 {
		a.waitLine(t, 30*time.Second, func(l string) bool { return strings.Contains(l, `"type":"stats"`) })
	}
	status, body := d.Do("GET", fmt.Sprintf("/api/rooms/%d/call", room.ID), tok.AccessToken, nil)
	require.Equal(t, 200, status)
	require.Contains(t, string(body), `"user":"alice"`)

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGINT))
	a.waitLine(t, 30*time.Second, func(l string) bool { return strings.Contains(l, `"type":"closed"`) })
	require.Equal(t, 0, a.exitCode(t), a.stderr.String())

	// The recording was finalised (its header sizes are right) and the
	// daemon saw the call end.
	samples, err := audio.ReadWAVFile(wav)
	require.NoError(t, err)
	require.NotEmpty(t, samples)
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body = d.Do("GET", fmt.Sprintf("/api/rooms/%d/call", room.ID), tok.AccessToken, nil)
		require.Equal(t, 200, status)
		if string(body) == "[]" {
			break
		}
		require.True(t, time.Now().Before(deadline), "the call still lists %s", body)
		time.Sleep(20 * time.Millisecond) // polling the REST endpoint
	}
}

// TestCall_NoMicrophoneOneLine runs vc call --input mic on a machine without
// a sound card (CI, containers): one line saying what to use instead, and
// none of the audio library's own messages.
func TestCall_NoMicrophoneOneLine(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("mia")
	c.ok("", "rooms", "create", "standup")
	r := c.run("", "call", "standup", "--input", "mic", "--output", "null", "--duration", "1s")
	if r.code == 0 {
		t.Skip("this machine has a microphone")
	}
	require.Equal(t, 1, r.code, r.String())
	want := "no microphone found (try --input FILE.wav or tone:440)\n"
	if !audio.DeviceAudioAvailable {
		want = "this vc was built without cgo, so it cannot use a microphone or speaker: use --input FILE.wav or tone:440 and --output FILE.wav or null, or a cgo-enabled build (see the README)\n"
	}
	require.Equal(t, want, r.stderr)
	require.Contains(t, c.ok("", "call", "--help"), "built without cgo", "vc call --help says what cgo-less builds cannot do")
}
