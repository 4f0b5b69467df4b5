package callpanel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/client/call"
	"github.com/virtual-company/vc/client/call/audio"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/tui"
	"github.com/virtual-company/vc/tui/callpanel"
)

var _ tui.CallPanel = (*callpanel.Panel)(nil)

// loop runs the panel's commands the way Bubble Tea does and feeds their
// messages back into Update, on the test goroutine.
type loop struct {
	t    *testing.T
	p    *callpanel.Panel
	msgs chan tea.Msg
}

func (l *loop) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { l.msgs <- cmd() }()
}

// until processes messages until the panel's view satisfies ok.
func (l *loop) until(what string, ok func(view string) bool) string {
	l.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if v := l.p.View(60); ok(v) {
			return v
		}
		select {
		case m := <-l.msgs:
			if b, isBatch := m.(tea.BatchMsg); isBatch {
				for _, c := range b {
					l.run(c)
				}
				continue
			}
			if m != nil {
				_, cmd := l.p.Update(m)
				l.run(cmd)
			}
		case <-deadline:
			l.t.Fatalf("panel never showed %s; view:\n%s", what, l.p.View(60))
		}
	}
}

func TestPanel_JoinMuteHangup(t *testing.T) {
	d := servertest.Start(t)
	alice, bob := d.Register("alice"), d.Register("bob")
	ac, err := client.New(d.URL, client.WithToken(alice.Token))
	require.NoError(t, err)
	ctx := context.Background()
	room, err := ac.CreateRoom(ctx, "standup")
	require.NoError(t, err)
	_, err = ac.AddMember(ctx, room.ID, "bob")
	require.NoError(t, err)

	// Bob is in the call already, talking.
	bc, err := client.New(d.URL, client.WithToken(bob.Token))
	require.NoError(t, err)
	bk, err := call.Join(ctx, bc, room.ID, call.Config{Input: audio.NewTone(660, 0.5), ICEServers: []webrtc.ICEServer{}, SettingEngine: call.LoopbackSettings()})
	require.NoError(t, err)
	defer bk.Hangup()

	p := callpanel.New(ac, callpanel.Options{Call: call.Config{ICEServers: []webrtc.ICEServer{}, SettingEngine: call.LoopbackSettings()}})
	l := &loop{t: t, p: p, msgs: make(chan tea.Msg, 64)}
	require.Empty(t, p.View(60), "no call, no panel")

	_, ok := p.Command(api.Room{}, "unknown", nil)
	require.False(t, ok)
	cmd, ok := p.Command(room, "call", []string{"tone:440", "null"})
	require.True(t, ok)
	l.run(cmd)
	l.until("bob speaking", func(v string) bool { return strings.Contains(v, "● bob") })
	v := l.until("alice speaking", func(v string) bool { return strings.Contains(v, "● alice (you)") })
	require.Contains(t, v, "Call: standup")

	// m mutes: the panel says so and bob's engine hears about it.
	handled, _ := p.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("m")})
	require.True(t, handled)
	l.until("muted", func(v string) bool { return strings.Contains(v, "[muted]") })
	deadline := time.Now().Add(20 * time.Second)
	for {
		ps := bk.Participants()
		if len(ps) == 2 && ps[1].Muted {
			break
		}
		require.True(t, time.Now().Before(deadline), "bob never saw alice muted")
		time.Sleep(20 * time.Millisecond) // polling the engine's snapshot
	}

	// /mute toggles back.
	_, ok = p.Command(room, "mute", nil)
	require.True(t, ok)
	l.until("unmuted", func(v string) bool { return !strings.Contains(v, "[muted]") })

	// /hangup leaves: bob sees alice go.
	cmd, ok = p.Command(room, "hangup", nil)
	require.True(t, ok)
	l.run(cmd)
	l.until("left", func(v string) bool { return strings.Contains(v, "left the call") && !strings.Contains(v, "Call:") })
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-bk.Events():
			if ev.Type == call.EventPeerLeft && ev.Peer.User == "alice" {
				return
			}
		case <-timeout:
			t.Fatal("bob never saw alice leave")
		}
	}
}

func TestPanel_DeviceErrorsAreShown(t *testing.T) {
	d := servertest.Start(t)
	alice := d.Register("alice")
	ac, err := client.New(d.URL, client.WithToken(alice.Token))
	require.NoError(t, err)
	p := callpanel.New(ac, callpanel.Options{})
	l := &loop{t: t, p: p, msgs: make(chan tea.Msg, 64)}
	cmd, ok := p.Command(api.Room{ID: 1, Name: "x"}, "call", []string{"tone:nope"})
	require.True(t, ok)
	l.run(cmd)
	l.until("the error", func(v string) bool { return strings.Contains(v, "call failed") && strings.Contains(v, "tone") })
	require.False(t, p.InCall())
}
