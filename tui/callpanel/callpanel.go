// Package callpanel is the voice call component of vc chat: it implements
// tui.CallPanel on top of client/call. "/call [INPUT [OUTPUT]]" joins the
// current room's call (microphone and speaker by default, or the specs vc
// call takes: FILE.wav, tone:HZ, null), "/hangup" leaves, "m" toggles mute
// while the input is not focused, and the panel lists the participants with
// a speaking indicator and each link's round-trip time and loss.
//
// Call state reaches the model only as messages: the engine's events
// through a re-arming wait command, a refresh every 250 ms.
package callpanel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/client/call"
	"github.com/virtual-company/vc/client/call/audio"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui"
)

// Options configures a Panel.
type Options struct {
	// Input and Output are the default audio specs ("mic", "speaker").
	Input, Output string
	// Devices selects the audio backend of mic and speaker.
	Devices audio.DeviceOptions
	// Call is the engine configuration template (tests restrict ICE to
	// loopback); Input, Output and Muted are set by the panel.
	Call call.Config
	// Context bounds joining (Background when nil).
	Context context.Context
}

// Panel is the call component. Its methods run on the Bubble Tea loop only.
type Panel struct {
	c    *client.Client
	opts Options

	room    api.Room
	k       *call.Call
	src     audio.Source
	sink    audio.Sink
	joining bool
	since   time.Time
	people  []call.Participant
	muted   bool
	status  string // the last notable thing (errors, who left)
	gen     int    // call generation, so messages of an old call are ignored
}

// New returns a panel that joins calls as the user of c.
func New(c *client.Client, opts Options) *Panel {
	if opts.Input == "" {
		opts.Input = "mic"
	}
	if opts.Output == "" {
		opts.Output = "speaker"
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	return &Panel{c: c, opts: opts}
}

// Messages of the panel.
type (
	joinedMsg struct {
		gen  int
		room api.Room
		k    *call.Call
		src  audio.Source
		sink audio.Sink
		err  error
	}
	eventMsg struct {
		gen int
		ev  call.Event
		ok  bool
	}
	refreshMsg struct{ gen int }
	hungUpMsg  struct{ gen int }
)

// InCall reports whether the panel is in (or joining) a call.
func (p *Panel) InCall() bool { return p.k != nil || p.joining }

// Command handles /call, /hangup and /mute.
func (p *Panel) Command(room api.Room, name string, args []string) (tea.Cmd, bool) {
	switch name {
	case "call":
		if p.InCall() {
			p.status = "already in the call of " + p.room.Name + " (/hangup first)"
			return nil, true
		}
		if room.ID == 0 {
			p.status = "open a room first"
			return nil, true
		}
		in, out := p.opts.Input, p.opts.Output
		if len(args) > 0 {
			in = args[0]
		}
		if len(args) > 1 {
			out = args[1]
		}
		p.gen++
		p.joining, p.room, p.status, p.people = true, room, "joining…", nil
		return p.join(p.gen, room, in, out), true
	case "hangup", "leave":
		if !p.InCall() {
			p.status = ""
			return nil, true
		}
		return p.hangup(), true
	case "mute":
		if p.k == nil {
			p.status = "not in a call (/call joins)"
			return nil, true
		}
		p.muted = p.k.ToggleMute()
		p.people = p.k.Participants()
		return nil, true
	}
	return nil, false
}

func (p *Panel) join(gen int, room api.Room, in, out string) tea.Cmd {
	c, opts := p.c, p.opts
	return func() tea.Msg {
		src, err := audio.OpenSource(in, opts.Devices)
		if err != nil {
			return joinedMsg{gen: gen, room: room, err: err}
		}
		sink, err := audio.OpenSink(out, opts.Devices)
		if err != nil {
			_ = src.Close()
			return joinedMsg{gen: gen, room: room, err: err}
		}
		cfg := opts.Call
		cfg.Input, cfg.Output = src, sink
		ctx, cancel := context.WithTimeout(opts.Context, 20*time.Second)
		defer cancel()
		k, err := call.Join(ctx, c, room.ID, cfg)
		if err != nil {
			_ = src.Close()
			_ = sink.Close()
			return joinedMsg{gen: gen, room: room, err: err}
		}
		return joinedMsg{gen: gen, room: room, k: k, src: src, sink: sink}
	}
}

// hangup leaves the call; the engine and the audio I/O are closed off the
// UI loop.
func (p *Panel) hangup() tea.Cmd {
	k, src, sink, gen := p.k, p.src, p.sink, p.gen
	p.k, p.src, p.sink, p.joining, p.people = nil, nil, nil, false, nil
	p.gen++
	p.status = "left the call"
	if k == nil {
		return nil
	}
	return func() tea.Msg {
		_ = k.Hangup()
		_ = src.Close()
		_ = sink.Close()
		return hungUpMsg{gen: gen}
	}
}

func waitEvent(gen int, k *call.Call) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-k.Events()
		return eventMsg{gen: gen, ev: ev, ok: ok}
	}
}

func refresh(gen int) tea.Cmd {
	return tea.Tick(250*time.Millisecond, func(time.Time) tea.Msg { return refreshMsg{gen: gen} })
}

// HelpCommands implements tui.CallHelp: the panel's lines in the ? overlay.
func (p *Panel) HelpCommands() []tui.SlashHelp {
	return []tui.SlashHelp{
		{Name: "call", Args: "[IN [OUT]]", Help: "join the room's call"},
		{Name: "hangup", Help: "leave the call"},
		{Name: "mute", Help: "toggle mute (m too)"},
	}
}

// Update handles the panel's messages and, during a call, the mute key.
func (p *Panel) Update(msg tea.Msg) (bool, tea.Cmd) {
	switch msg := msg.(type) {
	case joinedMsg:
		if msg.gen != p.gen {
			if msg.k != nil { // a call nobody wants any more
				k, src, sink := msg.k, msg.src, msg.sink
				return true, func() tea.Msg { _ = k.Hangup(); _ = src.Close(); _ = sink.Close(); return nil }
			}
			return true, nil
		}
		p.joining = false
		if msg.err != nil {
			p.status = "call failed: " + describe(msg.err)
			return true, nil
		}
		p.k, p.src, p.sink, p.since = msg.k, msg.src, msg.sink, time.Now()
		p.status = ""
		p.muted = p.k.Muted()
		p.people = p.k.Participants()
		return true, tea.Batch(waitEvent(p.gen, p.k), refresh(p.gen))
	case eventMsg:
		if msg.gen != p.gen || p.k == nil {
			return true, nil
		}
		if !msg.ok {
			if err := p.k.Err(); err != nil {
				p.status = "call ended: " + describe(err)
			}
			return true, p.hangup()
		}
		switch msg.ev.Type {
		case call.EventPeerLeft:
			p.status = msg.ev.Peer.User + " left"
		case call.EventPeerJoined:
			p.status = msg.ev.Peer.User + " joined"
		case call.EventError:
			p.status = describe(msg.ev.Err)
		}
		p.people = p.k.Participants()
		return true, waitEvent(p.gen, p.k)
	case refreshMsg:
		if msg.gen != p.gen || p.k == nil {
			return true, nil
		}
		p.people = p.k.Participants()
		return true, refresh(p.gen)
	case hungUpMsg:
		return true, nil
	case tea.KeyMsg:
		if p.k != nil && msg.String() == "m" {
			p.muted = p.k.ToggleMute()
			p.people = p.k.Participants()
			return true, nil
		}
	}
	return false, nil
}

func describe(err error) string {
	if errors.Is(err, audio.ErrDeviceUnavailable) {
		return err.Error() + " (try /call tone:440 null)"
	}
	var re *call.RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return err.Error()
}

// View renders the panel: a header line and one line per participant; ""
// when there is no call and nothing to say.
func (p *Panel) View(width int) string {
	if width <= 0 || (!p.InCall() && p.status == "") {
		return ""
	}
	var lines []string
	switch {
	case p.joining:
		lines = append(lines, "Call: joining "+p.room.Name+"…")
	case p.k != nil:
		h := fmt.Sprintf("Call: %s %s", p.room.Name, clock(time.Since(p.since)))
		if p.muted {
			h += " [muted]"
		}
		lines = append(lines, h)
		for i, x := range p.people {
			mark := "○"
			if x.Speaking {
				mark = "●"
			}
			name := x.User
			if i == 0 {
				name += " (you)"
			}
			line := mark + " " + name
			switch {
			case x.Muted:
				line += " muted"
			case i > 0 && x.State != "connected":
				line += " " + x.State
			case i > 0 && x.Link.RTT > 0:
				line += fmt.Sprintf(" %dms", x.Link.RTT.Milliseconds())
				if x.Link.Loss >= 0.01 {
					line += fmt.Sprintf(" %.0f%% loss", 100*x.Link.Loss)
				}
			}
			lines = append(lines, line)
		}
		lines = append(lines, "m mute · /hangup")
	}
	if p.status != "" && p.status != "joining…" {
		lines = append(lines, p.status)
	}
	for i, l := range lines {
		if r := []rune(l); len(r) > width {
			lines[i] = string(r[:max(width-1, 0)]) + "…"
		}
	}
	return strings.Join(lines, "\n")
}

func clock(d time.Duration) string {
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
