package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client/call"
	"github.com/virtual-company/vc/client/call/audio"
)

// callFlags are the flags of vc call.
type callFlags struct {
	input, output string
	duration      time.Duration
	mute          bool
	format        string
	backend       string
}

func newCallCmd(a *app) *cobra.Command {
	var f callFlags
	cmd := &cobra.Command{
		Use:   "call ROOM",
		Short: "Join a room's voice call",
		Long: `Join the voice call of ROOM (a name or an id) and talk until Ctrl-C, the end
of --duration, or the end of the --input file.

Audio goes peer to peer (WebRTC, Opus at 48 kHz in 20 ms frames); vcd only
relays the signaling. The input is the microphone, a 16-bit PCM WAV file
(any rate, mixed down to mono) or a generated tone; the output is the
speaker, a WAV file (48 kHz mono 16-bit) or nothing.

Microphone and speaker need a vc built with cgo. A vc built without cgo
(some release archives: see the README's install section; "vc version" says
which build you have) can only use WAV files, tones and null.

A status line shows who is connected and, per peer, the round-trip time,
packet loss and jitter. With -o json, one JSON object per line instead: a
"stats" line every second and a line per event (joined, peer_joined,
peer_left, peer_state, audio_started, input_ended, error, closed).`,
		Example: `  vc call general
  vc call general --input tone:440 --output out.wav --duration 10s
  vc call 3 --input speech.wav --output null -o json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		PreRunE: func(*cobra.Command, []string) error {
			if f.format != "text" && f.format != "json" {
				return fmt.Errorf("-o must be text or json, not %q", f.format)
			}
			if f.duration < 0 {
				return errors.New("--duration must be positive")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runCall(cmd, a, &f, args[0]) },
	}
	cmd.Flags().StringVar(&f.input, "input", "mic", "what you say: `mic`, FILE.wav, tone:HZ or null")
	cmd.Flags().StringVar(&f.output, "output", "speaker", "where the others go: `speaker`, FILE.wav or null")
	cmd.Flags().DurationVar(&f.duration, "duration", 0, "hang up after this `duration` (0: until Ctrl-C or the end of the input file)")
	cmd.Flags().BoolVar(&f.mute, "mute", false, "join muted")
	cmd.Flags().StringVarP(&f.format, "format", "o", "text", "status `format`: text or json (JSON lines)")
	cmd.Flags().StringVar(&f.backend, "audio-backend", "", "audio device backend (\"null\": a device clock without hardware, for tests)")
	_ = cmd.Flags().MarkHidden("audio-backend")
	return cmd
}

// deviceError explains a source or sink that could not be opened: a
// missing sound card or a build without device audio gets a line saying
// what to use instead, not the audio library's internals.
func deviceError(flag, spec string, err error) error {
	if !errors.Is(err, audio.ErrDeviceUnavailable) || (spec != "mic" && spec != "speaker") {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if !audio.DeviceAudioAvailable {
		return fmt.Errorf("this vc was built without cgo, so it cannot use a microphone or speaker: " +
			"use --input FILE.wav or tone:440 and --output FILE.wav or null, or a cgo-enabled build (see the README)")
	}
	if spec == "mic" {
		return errors.New("no microphone found (try --input FILE.wav or tone:440)")
	}
	return errors.New("no speaker found (try --output FILE.wav or null)")
}

func runCall(cmd *cobra.Command, a *app, f *callFlags, roomArg string) error {
	ctx := cmd.Context()
	c, room, err := a.clientAndRoom(ctx, roomArg)
	if err != nil {
		return err
	}
	dev := audio.DeviceOptions{Backend: f.backend}
	src, err := audio.OpenSource(f.input, dev)
	if err != nil {
		return deviceError("--input", f.input, err)
	}
	defer src.Close()
	sink, err := audio.OpenSink(f.output, dev)
	if err != nil {
		return deviceError("--output", f.output, err)
	}
	sinkClosed := false
	defer func() {
		if !sinkClosed {
			_ = sink.Close()
		}
	}()

	started := time.Now()
	k, err := call.Join(ctx, c, room.ID, call.Config{Input: src, Output: sink, Muted: f.mute})
	if err != nil {
		return fmt.Errorf("call in %q: %w", room.Name, err)
	}
	p := &callPrinter{a: a, f: f, room: room.Name, roomID: room.ID, started: started}
	var timeout <-chan time.Time
	if f.duration > 0 {
		timeout = time.After(f.duration)
	}
	var tail <-chan time.Time
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	hangup := func() error {
		_ = k.Hangup()
		for ev := range k.Events() { // drain to EventClosed
			p.event(ev)
		}
		p.endLine()
		sinkClosed = true
		return sink.Close()
	}
	for {
		select {
		case <-ctx.Done():
			return hangup()
		case <-timeout:
			return hangup()
		case <-tail:
			return hangup()
		case <-tick.C:
			p.status(k)
		case ev, ok := <-k.Events():
			if !ok {
				p.endLine()
				if err := k.Err(); err != nil {
					return fmt.Errorf("call in %q: %w", room.Name, err)
				}
				return nil
			}
			p.event(ev)
			if ev.Type == call.EventInputEnded && f.duration == 0 {
				// Let the last words reach the others before hanging up.
				tail = time.After(500 * time.Millisecond)
			}
			if ev.Type != call.EventError && ev.Type != call.EventClosed {
				p.status(k)
			}
		}
	}
}

// callPrinter prints vc call's status line and events.
type callPrinter struct {
	a       *app
	f       *callFlags
	room    string
	roomID  int64
	started time.Time
	midLine bool
	last    time.Time
}

// callPeerLine is one participant in a JSON line.
type callPeerLine struct {
	PeerID          string  `json:"peer_id"`
	User            string  `json:"user"`
	Self            bool    `json:"self,omitempty"`
	State           string  `json:"state"`
	Muted           bool    `json:"muted"`
	Speaking        bool    `json:"speaking"`
	Level           float64 `json:"level"`
	RTTMs           float64 `json:"rtt_ms"`
	Loss            float64 `json:"loss"`
	JitterMs        float64 `json:"jitter_ms"`
	PacketsReceived int64   `json:"packets_received"`
	PacketsLost     int64   `json:"packets_lost"`
	Concealed       int64   `json:"concealed"`
}

// callLine is one JSON line of vc call -o json.
type callLine struct {
	Type         string         `json:"type"`
	Time         time.Time      `json:"time"`
	RoomID       int64          `json:"room_id"`
	ElapsedS     float64        `json:"elapsed_s"`
	Muted        bool           `json:"muted"`
	Peer         *callPeerLine  `json:"peer,omitempty"`
	Participants []callPeerLine `json:"participants,omitempty"`
	Error        string         `json:"error,omitempty"`
}

func peerLine(p call.Participant, self bool) callPeerLine {
	return callPeerLine{
		PeerID: p.PeerID, User: p.User, Self: self, State: p.State, Muted: p.Muted, Speaking: p.Speaking,
		Level:    round3(p.Level),
		RTTMs:    round3(float64(p.Link.RTT) / 1e6),
		Loss:     round3(p.Link.Loss),
		JitterMs: round3(float64(p.Link.Jitter) / 1e6),

		PacketsReceived: p.Link.PacketsReceived, PacketsLost: p.Link.PacketsLost, Concealed: p.Link.Concealed,
	}
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

func (p *callPrinter) json(l callLine) {
	l.Time = time.Now().UTC()
	l.RoomID = p.roomID
	l.ElapsedS = round3(time.Since(p.started).Seconds())
	b, err := json.Marshal(l)
	if err == nil {
		fmt.Fprintln(p.a.out, string(b))
	}
}

func (p *callPrinter) event(ev call.Event) {
	if p.f.format == "json" {
		l := callLine{Type: string(ev.Type)}
		if ev.Peer.PeerID != "" {
			pl := peerLine(ev.Peer, false)
			l.Peer = &pl
		}
		if ev.Err != nil {
			l.Error = ev.Err.Error()
		}
		p.json(l)
		return
	}
	var msg string
	switch ev.Type {
	case call.EventJoined:
		msg = fmt.Sprintf("joined the call in %s as %s", p.room, ev.Peer.User)
	case call.EventPeerJoined:
		msg = ev.Peer.User + " joined"
	case call.EventPeerLeft:
		msg = ev.Peer.User + " left"
	case call.EventAudioStarted:
		msg = fmt.Sprintf("hearing %s (%s after start)", ev.Peer.User, time.Since(p.started).Round(time.Millisecond))
	case call.EventInputEnded:
		msg = "input ended"
	case call.EventError:
		msg = "error: " + ev.Err.Error()
	case call.EventClosed:
		if ev.Err != nil {
			msg = "call ended: " + ev.Err.Error()
		} else {
			msg = "hung up"
		}
	default:
		return
	}
	p.endLine()
	fmt.Fprintln(p.a.out, msg)
}

// status prints the status line: in place on a terminal, every 5 s
// otherwise; a JSON stats line every second with -o json.
func (p *callPrinter) status(k *call.Call) {
	ps := k.Participants()
	if p.f.format == "json" {
		if time.Since(p.last) < 900*time.Millisecond {
			return
		}
		p.last = time.Now()
		l := callLine{Type: "stats", Muted: k.Muted()}
		for i, x := range ps {
			l.Participants = append(l.Participants, peerLine(x, i == 0))
		}
		p.json(l)
		return
	}
	if !p.a.stdoutTTY && time.Since(p.last) < 5*time.Second {
		return
	}
	p.last = time.Now()
	var sb strings.Builder
	el := time.Since(p.started).Truncate(time.Second)
	fmt.Fprintf(&sb, "%s %s", p.room, fmtClock(el))
	for i, x := range ps {
		sb.WriteString(" | ")
		mark := " "
		if x.Speaking {
			mark = "*"
		}
		name := x.User
		if i == 0 {
			name = "you"
		}
		sb.WriteString(mark + name)
		if x.Muted {
			sb.WriteString(" (muted)")
		}
		if i == 0 {
			continue
		}
		if x.State != "connected" {
			sb.WriteString(" " + x.State)
			continue
		}
		fmt.Fprintf(&sb, " rtt %s loss %.1f%% jit %s",
			fmtMs(x.Link.RTT), 100*x.Link.Loss, fmtMs(x.Link.Jitter))
	}
	if len(ps) == 1 {
		sb.WriteString(" | waiting for others")
	}
	if p.a.stdoutTTY {
		fmt.Fprint(p.a.out, "\r\033[K"+sb.String())
		p.midLine = true
		return
	}
	fmt.Fprintln(p.a.out, sb.String())
}

func (p *callPrinter) endLine() {
	if p.midLine {
		fmt.Fprint(p.a.out, "\r\033[K")
		p.midLine = false
	}
}

func fmtClock(d time.Duration) string {
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func fmtMs(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}
