package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

func TestJoinList(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"ada"}, "ada"},
		{[]string{"ada", "bob"}, "ada and bob"},
		{[]string{"ada", "bob", "cyd"}, "ada, bob and cyd"},
		{[]string{"ada", "bob", "cyd", "dee", "eve"}, "ada, bob and 3 others"},
	} {
		require.Equal(t, tc.want, joinList(tc.names))
	}
}

func newTestTailer(noJoins bool) (*tailer, *bytes.Buffer) {
	var out bytes.Buffer
	a := &app{out: &out, errOut: &out, getenv: func(string) string { return "" }}
	return &tailer{a: a, o: &outputFlags{}, st: a.outStyles(), errSt: a.errStyles(), streams: map[string]*tailStream{}, noJoins: noJoins}, &out
}

func TestTailer_CollapsesJoinBursts(t *testing.T) {
	tl, out := newTestTailer(false)
	for _, u := range []string{"ada", "bob", "cyd", "dee", "eve"} {
		require.NoError(t, tl.event(wsproto.Event{Type: wsproto.TypeJoin, User: u}))
	}
	require.NoError(t, tl.event(wsproto.Event{Type: wsproto.TypeLeave, User: "fay"}))
	require.Empty(t, out.String(), "a burst waits for its end")
	// A message ends the burst: one line for it, then the message.
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, tl.event(wsproto.Event{Type: wsproto.TypeMessage, User: "ada", Content: "hi", MessageType: api.MessageText, Timestamp: ts}))
	require.Equal(t, "→ ada, bob and 3 others joined; fay left\n2026-01-02T03:04:05Z ada: hi\n", out.String())

	// A quiet burst is printed when its timer fires.
	out.Reset()
	require.NoError(t, tl.event(wsproto.Event{Type: wsproto.TypeJoin, User: "gil"}))
	select {
	case <-tl.joinTimer():
		tl.flushJoins()
	case <-time.After(10 * time.Second):
		t.Fatal("the burst timer did not fire")
	}
	require.Equal(t, "→ gil joined\n", out.String())
	require.Nil(t, tl.joinTimer())

	// --no-joins prints none.
	tl, out = newTestTailer(true)
	require.NoError(t, tl.event(wsproto.Event{Type: wsproto.TypeJoin, User: "ada"}))
	tl.flushJoins()
	require.Empty(t, out.String())
}

func TestMsgTime(t *testing.T) {
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.Local)
	a := &app{now: func() time.Time { return now }}
	ts := time.Date(2026, 3, 10, 9, 30, 0, 0, time.Local)
	require.Equal(t, ts.UTC().Format(time.RFC3339), a.msgTime(ts), "off a terminal: RFC 3339")
	a.stdoutTTY = true
	require.Equal(t, "09:30", a.msgTime(ts), "today: the time")
	require.Equal(t, "2026-03-09 09:30", a.msgTime(ts.AddDate(0, 0, -1)), "another day: with the date")
}

func TestGroupArgs_UnknownSubcommand(t *testing.T) {
	var out bytes.Buffer
	a := &app{out: &out, errOut: &out, in: strings.NewReader(""), getenv: func(string) string { return "" }}
	root := newRootCmd(a)
	root.SetArgs([]string{"rooms", "lst"})
	err := root.Execute()
	require.Error(t, err)
	require.Contains(t, err.Error(), `unknown command "lst" for "vc rooms"`)
	require.Contains(t, err.Error(), "Did you mean this?\n\tlist")
}

func TestMentionedRoles(t *testing.T) {
	seated := []api.Role{{ID: 1, Handle: "cto"}, {ID: 2, Handle: "pm"}}
	require.Empty(t, mentionedRoles("hello everyone", seated))
	require.Empty(t, mentionedRoles("mail me at bob@pm.example", seated))
	require.Empty(t, mentionedRoles("@cfo what now?", seated))
	got := mentionedRoles("@CTO, and you @pm.", seated)
	require.Len(t, got, 2)
}

func TestColorProfile_FromEnvironmentOnly(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	require.Equal(t, termenv.TrueColor, colorProfile(env(map[string]string{"COLORTERM": "truecolor", "TERM": "xterm"})))
	require.Equal(t, termenv.TrueColor, colorProfile(env(map[string]string{"COLORTERM": "24bit"})))
	require.Equal(t, termenv.ANSI256, colorProfile(env(map[string]string{"TERM": "xterm-256color"})))
	require.Equal(t, termenv.ANSI, colorProfile(env(map[string]string{"TERM": "xterm"})))

	a := &app{getenv: env(map[string]string{"TERM": "xterm-256color"}), stdoutTTY: true}
	require.True(t, a.colorEnabled())
	a.getenv = env(map[string]string{"TERM": "dumb"})
	require.False(t, a.colorEnabled())
	a.getenv = env(map[string]string{"TERM": "xterm", "NO_COLOR": "1", "CLICOLOR_FORCE": "1"})
	require.False(t, a.colorEnabled(), "NO_COLOR wins")
	a.stdoutTTY = false
	a.getenv = env(map[string]string{"CLICOLOR_FORCE": "1"})
	require.True(t, a.colorEnabled())
}
