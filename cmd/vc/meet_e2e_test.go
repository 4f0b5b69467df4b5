// These end-to-end tests run vc meet, vc meetings and /meet in vc chat
// against a real vcd with the meetings API (issue 18, server side) and the
// fake provider's structured answers (aitest Response.JSON, Request.Tool).
// They passed against h8's branch; run them with
// go test -tags meetings_e2e ./cmd/vc -run 'Meet|Meeting'
// and drop the build tag once the server side is merged.

package main_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/servertest"
)

const meetMinutesJSON = `{"summary":"Ship the beta on Friday.","decisions":["Ship on Friday"],` +
	`"action_items":[{"owner":"CTO","task":"Freeze the API","due":"Thursday"}],"open_questions":["Which price tier?"]}`

var meetSpeakerRE = regexp.MustCompile(`\(@([a-z0-9_-]+)\), in a meeting`)

// meetProvider answers a meeting's calls: each turn says who speaks
// ("pm says hi, turn N"), the minutes call the minutes above; slow makes
// turns stream slowly (for Ctrl-C).
type meetProvider struct {
	mu   sync.Mutex
	n    int
	slow bool
	// gate, when set, holds every turn's answer until it is closed.
	gate chan struct{}
}

func (p *meetProvider) handle(r aitest.Request) aitest.Response {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	if gate != nil && r.Tool != "meeting_minutes" && r.Tool != "next_speaker" {
		<-gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Tool {
	case "meeting_minutes":
		return aitest.Response{JSON: meetMinutesJSON}
	case "next_speaker":
		return aitest.Response{JSON: `{"done":true,"next":"","reason":"done"}`}
	}
	p.n++
	who := "?"
	if m := meetSpeakerRE.FindStringSubmatch(r.System); m != nil {
		who = m[1]
	}
	if p.slow {
		return aitest.Response{Text: strings.Repeat("word ", 150), TokenDelay: 20 * time.Millisecond}
	}
	return aitest.Response{Text: fmt.Sprintf("%s says hi, turn %d.", who, p.n), TokenDelay: time.Millisecond}
}

// meetRoom starts vcd with a fake provider, registers alice, and seats the
// roles pm and cto in room general.
func meetRoom(t *testing.T) (*servertest.Daemon, *cli, *meetProvider) {
	t.Helper()
	d, fake := aiDaemon(t)
	probe := d.Register("probe")
	status, _ := d.Do("POST", "/api/rooms/", probe.Token, api.CreateRoomRequest{Name: "probe"})
	require.Equal(t, 201, status)
	if !served(d, "GET", "/api/rooms/1/meetings", probe.Token, nil) {
		t.Skip("vcd does not serve /api/rooms/{id}/meetings yet")
	}
	p := &meetProvider{}
	fake.SetHandler(p.handle)
	c := newCLI(t, d.URL)
	c.register("alice")
	c.ok("", "rooms", "create", "general")
	c.ok("", "roles", "create", "--name", "PM", "--handle", "pm", "--instructions", "You are the product manager.")
	c.ok("", "roles", "create", "--name", "CTO", "--handle", "cto", "--instructions", "You are the CTO.")
	c.ok("", "roles", "seat", "general", "pm")
	c.ok("", "roles", "seat", "general", "cto")
	return d, c, p
}

// TestMeet_StreamsTurnsAndMinutes runs a real meeting through vcd with a
// fake provider: vc meet prints each turn labelled with role and round, in
// speaking order, then the minutes; --json prints the meeting object with
// its minutes; vc meetings lists it, show prints the minutes and
// --markdown the transcript.
func TestMeet_StreamsTurnsAndMinutes(t *testing.T) {
	t.Parallel()
	_, c, _ := meetRoom(t)

	out := c.ok("", "meet", "general", "--topic", "Beta launch", "--roles", "pm,cto", "--rounds", "2")
	t.Logf("vc meet printed:\n%s", out)
	labels := regexp.MustCompile(`(?m)^(PM|CTO) · round (\d)$`).FindAllString(out, -1)
	require.Equal(t, []string{"PM · round 1", "CTO · round 1", "PM · round 2", "CTO · round 2"}, labels, out)
	require.Contains(t, out, "pm says hi, turn 1.")
	require.Contains(t, out, "cto says hi, turn 4.")
	require.Contains(t, out, "Meeting ended: done · 4 turns")
	require.Contains(t, out, "Minutes\nSummary\n  Ship the beta on Friday.\nDecisions\n  • Ship on Friday\nAction items\n  • CTO: Freeze the API (due Thursday)\nOpen questions\n  • Which price tier?\n")

	var m api.Meeting
	c.jsonOut(&m, "", "meet", "general", "--topic", "Pricing", "--roles", "cto", "--rounds", "1", "--json")
	require.Equal(t, api.MeetingDone, m.Status)
	require.Equal(t, "Pricing", m.Topic)
	require.NotNil(t, m.Minutes)
	require.Equal(t, []string{"Ship on Friday"}, m.Minutes.Decisions)

	var list []api.Meeting
	c.jsonOut(&list, "", "meetings", "general", "--json")
	require.Len(t, list, 2)
	require.Equal(t, m.ID, list[0].ID, "newest first")
	require.Contains(t, c.ok("", "meetings", "general"), "Beta launch")

	show := c.ok("", "meetings", "show", "general", fmt.Sprint(list[1].ID))
	require.Contains(t, show, "Meeting 1 in general: Beta launch")
	require.Contains(t, show, "  • CTO: Freeze the API (due Thursday)")

	md := c.ok("", "meetings", "show", "general", fmt.Sprint(list[1].ID), "--markdown")
	require.True(t, strings.HasPrefix(md, "# Meeting: Beta launch\n"), md)
	require.Contains(t, md, "## Transcript")
	require.Contains(t, md, "pm says hi, turn 1.")
	require.Contains(t, md, "## Minutes")
	require.Contains(t, md, "- CTO: Freeze the API (due Thursday)")

	r := c.run("", "meet", "general", "--topic", "x", "--roles", "pm", "--rounds", "11")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "--rounds takes 1 to 10")
	r = c.run("", "meet", "general", "--topic", "x", "--roles", "nobody")
	require.Equal(t, 1, r.code, r.String())
	require.NotEmpty(t, strings.TrimSpace(r.stderr))
}

// TestMeet_CtrlCStopsTheMeeting: off a terminal Ctrl-C stops the meeting
// without asking; vc waits for its end, says it stopped and exits 2.
func TestMeet_CtrlCStopsTheMeeting(t *testing.T) {
	t.Parallel()
	_, c, p := meetRoom(t)
	p.slow = true
	meet := c.start("meet", "general", "--topic", "A long one", "--roles", "pm,cto", "--rounds", "3")
	meet.waitLine(t, 30*time.Second, func(l string) bool { return l == "PM · round 1" })
	require.NoError(t, meet.cmd.Process.Signal(syscall.SIGINT))
	meet.waitLine(t, 30*time.Second, func(l string) bool { return strings.HasPrefix(l, "Meeting ended: stopped") })
	require.Equal(t, 2, meet.exitCode(t), "stderr: %s", meet.stderr)
	require.Contains(t, meet.stderr.String(), "stopping the meeting")

	var list []api.Meeting
	c.jsonOut(&list, "", "meetings", "general", "--json")
	require.Len(t, list, 1)
	require.Equal(t, api.MeetingStopped, list[0].Status)
}

// TestChat_EndToEnd_Meeting: in the real vc chat (tmux) against vcd, /meet
// starts a meeting of the seated roles, the banner shows the round and the
// speaker while it runs, and its minutes open when it ends.
func TestChat_EndToEnd_Meeting(t *testing.T) {
	d, c, p := meetRoom(t)
	// PM's turn is announced before its provider call, which waits here
	// until the banner has been seen.
	gate := make(chan struct{})
	var release sync.Once
	open := func() { release.Do(func() { close(gate) }) }
	t.Cleanup(open)
	p.gate = gate
	tm := startChatTerm(t, c, d.URL, "general")
	tm.waitScreen("● connected")
	tm.typeText("/meet Beta launch @pm @cto rounds=1")
	tm.keys("Enter")
	tm.waitScreen("◆ Meeting “Beta launch”")
	tm.waitScreen("round 1/1 · PM speaking")
	open()
	tm.waitScreen("Minutes · Beta launch")
	tm.waitScreen("• CTO: Freeze the API (due Thursday)")
	require.NotContains(t, tm.screen(), "◆ Meeting")
	tm.keys("Escape")
	tm.waitScreen("meeting minutes") // the minutes message in the timeline
	tm.keys("C-c")
	tm.waitScreen("vc exited 0")
}
