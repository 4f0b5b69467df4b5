package main_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/servertest"
)

// tmuxTerm drives a program in a real terminal: a detached tmux session on a
// private socket.
type tmuxTerm struct {
	t    *testing.T
	sock string
}

func (tm *tmuxTerm) cmd(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	return string(out), err
}

func (tm *tmuxTerm) must(args ...string) {
	tm.t.Helper()
	out, err := tm.cmd(args...)
	require.NoError(tm.t, err, "tmux %v: %s", args, out)
}

func (tm *tmuxTerm) screen() string {
	out, _ := tm.cmd("capture-pane", "-p", "-t", "vc")
	return out
}

// waitScreen polls the pane until it shows sub, failing after a deadline.
func (tm *tmuxTerm) waitScreen(sub string) {
	tm.t.Helper()
	tm.waitUntil("show "+sub, func(s string) bool { return strings.Contains(s, sub) })
}

// waitUntil polls the pane until ok holds for it, failing after a deadline.
func (tm *tmuxTerm) waitUntil(what string, ok func(screen string) bool) {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := tm.screen()
		if ok(s) {
			return
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the terminal did not %s; it shows:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond) // polling the pane, bounded by the deadline
	}
}

func (tm *tmuxTerm) typeText(s string) { tm.must("send-keys", "-t", "vc", "-l", s) }
func (tm *tmuxTerm) keys(k ...string)  { tm.must(append([]string{"send-keys", "-t", "vc"}, k...)...) }

// TestChat_EndToEnd runs the real `vc chat` in tmux against a real vcd:
// log in through the form, open a room, send a message a second client
// (the Go client) receives, and see that client's reply appear.
func TestChat_EndToEnd(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: the vc chat end-to-end test needs a terminal (apt-get install tmux)")
	}
	d := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// alice owns the room and bob is in it; both are real accounts.
	alice, err := client.New(d.URL)
	require.NoError(t, err)
	_, err = alice.Register(ctx, api.RegisterRequest{Email: "alice@example.com", Username: "alice", Name: "Alice", Password: "alice-pass-1"})
	require.NoError(t, err)
	_, err = alice.Login(ctx, "alice", "alice-pass-1")
	require.NoError(t, err)
	room, err := alice.CreateRoom(ctx, "general")
	require.NoError(t, err)
	bob, err := client.New(d.URL)
	require.NoError(t, err)
	_, err = bob.Register(ctx, api.RegisterRequest{Email: "bob@example.com", Username: "bob", Name: "Bob", Password: "bob-pass-12"})
	require.NoError(t, err)
	_, err = bob.Login(ctx, "bob", "bob-pass-12")
	require.NoError(t, err)
	_, err = alice.AddMember(ctx, room.ID, "bob")
	require.NoError(t, err)
	bs, err := bob.OpenStream(ctx, room.ID, client.StreamOptions{})
	require.NoError(t, err)
	defer bs.Close()

	// vc chat, not logged in, in a 120x40 terminal.
	cli := newCLI(t, d.URL)
	tm := &tmuxTerm{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	t.Cleanup(func() { _, _ = tm.cmd("kill-server") })
	env := cli.environ("VC_SERVER="+d.URL, "TERM=screen-256color", "LANG=C.UTF-8")
	shell := "env -i " + strings.Join(quoteAll(env), " ") + " " + vcBinary + ` chat general; echo "vc exited $?"; sleep 60`
	tm.must("new-session", "-d", "-s", "vc", "-x", "120", "-y", "40", shell)

	tm.waitScreen("Sign in")
	tm.typeText("alice")
	tm.keys("Tab")
	tm.typeText("alice-pass-1")
	tm.keys("Enter")
	tm.waitScreen("● connected")
	tm.waitScreen("#general")

	// alice types; bob's client receives it.
	tm.typeText("hello from the tui")
	tm.keys("Enter")
	got := waitEvent(t, bs, func(ev wsproto.Event) bool {
		return ev.Type == wsproto.TypeMessage && ev.Content == "hello from the tui"
	})
	require.Equal(t, "alice", got.User)

	// bob answers; the reply appears in alice's terminal.
	_, err = bs.Send(ctx, wsproto.ClientFrame{Content: "hi alice, bob here"})
	require.NoError(t, err)
	tm.waitScreen("hi alice, bob here")
	require.Equal(t, 1, strings.Count(tm.screen(), "hello from the tui"), "the sent line shows once")

	// The daemon goes away: the status line says so; a line typed meanwhile
	// is queued and, once the daemon is back, stored exactly once.
	d.Stop()
	tm.waitScreen("reconnecting")
	tm.typeText("typed while the server was down")
	tm.keys("Enter")
	tm.waitScreen("queued")
	d.Restart()
	waitEvent(t, bs, func(ev wsproto.Event) bool {
		return ev.Type == wsproto.TypeMessage && ev.Content == "typed while the server was down"
	})
	tm.waitUntil("show the queued line as sent, once", func(s string) bool {
		return strings.Contains(s, "● connected") && !strings.Contains(s, "queued") &&
			strings.Count(s, "typed while the server was down") == 1
	})
	msgs, err := alice.ListMessages(ctx, room.ID, client.MessageQuery{Limit: 100})
	require.NoError(t, err)
	var contents []string
	for _, m := range msgs {
		contents = append(contents, m.Content)
	}
	require.Equal(t, []string{"hello from the tui", "hi alice, bob here", "typed while the server was down"}, contents)

	// The login was stored like vc login: the CLI now works without a prompt.
	require.Contains(t, cli.ok("", "whoami"), "alice")

	// Ctrl-C quits cleanly and gives the terminal back.
	tm.keys("C-c")
	tm.waitScreen("vc exited 0")
}

func waitEvent(t *testing.T, s *client.Stream, match func(wsproto.Event) bool) wsproto.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events():
			require.True(t, ok, "bob's stream ended")
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatal("bob never received the message")
		}
	}
}

// quoteAll single-quotes K=V entries for sh.
func quoteAll(env []string) []string {
	out := make([]string, len(env))
	for i, e := range env {
		out[i] = "'" + strings.ReplaceAll(e, "'", `'\''`) + "'"
	}
	return out
}
