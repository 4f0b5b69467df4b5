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
	"github.com/virtual-company/vc/server/ai/aitest"
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
		t.Skip("tmux is not installed: the vc chat end-to-end tests need a terminal (apt-get install tmux)")
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
	tm := startChatTerm(t, cli, d.URL, "general")

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

// startChatTerm runs `vc chat ARGS...` for cli's profile in a 120x40 tmux
// pane; when vc ends the pane shows "vc exited CODE".
func startChatTerm(t *testing.T, cli *cli, server string, args ...string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: the vc chat end-to-end tests need a terminal (apt-get install tmux)")
	}
	tm := &tmuxTerm{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	t.Cleanup(func() { _, _ = tm.cmd("kill-server") })
	env := cli.environ("VC_SERVER="+server, "TERM=screen-256color", "LANG=C.UTF-8")
	shell := "env -i " + strings.Join(quoteAll(env), " ") + " " + vcBinary + " chat " + strings.Join(args, " ") +
		`; echo "vc exited $?"; sleep 60`
	tm.must("new-session", "-d", "-s", "vc", "-x", "120", "-y", "40", shell)
	return tm
}

// TestChat_EndToEnd_AIRole: in the TUI, create a room, seat a role, address
// it with /role and watch its reply stream in from a fake provider through a
// real vcd, then stop a second reply with ctrl+x.
func TestChat_EndToEnd_AIRole(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: the vc chat end-to-end tests need a terminal (apt-get install tmux)")
	}
	d, fake := aiDaemon(t)
	cli := newCLI(t, d.URL)
	cli.register("alice")
	tok := strings.TrimSpace(cli.ok("", "auth", "token"))
	alice, err := client.New(d.URL, client.WithToken(tok))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = alice.CreateRole(ctx, api.CreateRoleRequest{Name: "CTO", Avatar: "🤖", Handle: "cto",
		AIInstructions: "You are the CTO. Answer briefly."})
	require.NoError(t, err)

	tm := startChatTerm(t, cli, d.URL)
	tm.waitScreen("no rooms yet")
	tm.typeText("/create lab")
	tm.keys("Enter")
	tm.waitScreen("#lab")
	tm.waitScreen("● connected")
	tm.typeText("/seat cto")
	tm.keys("Enter")
	tm.waitScreen("@cto") // the members panel lists the seated role

	tokens := []string{"Ship ", "it ", "**today**", ", ", "then ", "measure."}
	fake.Enqueue(aitest.Response{Tokens: tokens, FirstDelay: 300 * time.Millisecond, TokenDelay: 150 * time.Millisecond})
	tm.typeText("/role cto")
	tm.keys("Enter")
	tm.waitScreen("to 🤖 CTO")
	tm.typeText("when do we ship?")
	tm.keys("Enter")
	tm.waitScreen("CTO replying…")
	tm.waitUntil("show the finished reply, Markdown rendered", func(s string) bool {
		return strings.Contains(s, "Ship it today, then measure.") && !strings.Contains(s, "replying…")
	})
	require.NotContains(t, tm.screen(), "**today**")
	require.Contains(t, userText(lastRequest(t, fake)), "when do we ship?")

	// A long reply, stopped from the keyboard: what was streamed is kept,
	// marked as cut short.
	fake.Enqueue(aitest.Response{TokenCount: 400, TokenDelay: 40 * time.Millisecond})
	tm.typeText("@cto explain everything")
	tm.keys("Enter")
	tm.waitScreen("CTO replying…")
	tm.waitScreen("t3 ")
	tm.keys("C-x")
	tm.waitUntil("show the stopped reply", func(s string) bool {
		return strings.Contains(s, "(cut short)") && !strings.Contains(s, "replying…")
	})
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

// TestChat_EndToEnd_PanelsRoomsAndRemoval: in a real terminal, typing with
// the Rooms panel focused goes to the input; being added to a room shows
// at once (room_added) and /join opens it; the room's deletion moves the
// TUI to another room instead of "reconnecting".
func TestChat_EndToEnd_PanelsRoomsAndRemoval(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: the vc chat end-to-end tests need a terminal (apt-get install tmux)")
	}
	d := servertest.Start(t)
	cli := newCLI(t, d.URL)
	cli.register("alice")
	tok := strings.TrimSpace(cli.ok("", "auth", "token"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice, err := client.New(d.URL, client.WithToken(tok))
	require.NoError(t, err)
	general, err := alice.CreateRoom(ctx, "general")
	require.NoError(t, err)
	bob, err := client.New(d.URL)
	require.NoError(t, err)
	_, err = bob.Register(ctx, api.RegisterRequest{Email: "bob@example.com", Username: "bob", Name: "Bob", Password: "bob-pass-12"})
	require.NoError(t, err)
	_, err = bob.Login(ctx, "bob", "bob-pass-12")
	require.NoError(t, err)

	tm := startChatTerm(t, cli, d.URL, "general")
	tm.waitScreen("● connected")

	// Tab, Tab: the Rooms panel has the focus; typing goes to the input.
	tm.keys("Tab")
	tm.keys("Tab")
	tm.waitScreen("Rooms ◂")
	tm.typeText("jk typed in the rooms panel")
	tm.keys("Enter")
	tm.waitUntil("show the sent line and the focus back in the input", func(s string) bool {
		return strings.Contains(s, "jk typed in the rooms panel") && !strings.Contains(s, "Rooms ◂")
	})
	msgs, err := alice.ListMessages(ctx, general.ID, client.MessageQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "jk typed in the rooms panel", msgs[0].Content)

	// bob adds alice to his room: it reaches her TUI through room_added.
	plans, err := bob.CreateRoom(ctx, "plans")
	require.NoError(t, err)
	_, err = bob.AddMember(ctx, plans.ID, "alice")
	require.NoError(t, err)
	tm.waitScreen("you were added to #plans")
	tm.typeText("/join plans")
	tm.keys("Enter")
	tm.waitScreen("● connected  #plans")

	// bob deletes it: alice is told and moved to #general.
	require.NoError(t, bob.DeleteRoom(ctx, plans.ID))
	tm.waitScreen("room #plans was deleted · now in #general")
	tm.waitScreen("● connected  #general")
	require.NotContains(t, tm.screen(), "reconnecting")

	tm.keys("C-c")
	tm.waitScreen("vc exited 0")
}
