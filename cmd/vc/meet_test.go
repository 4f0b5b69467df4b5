package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

func TestMeetFlags_Request(t *testing.T) {
	def := func(f meetFlags) meetFlags {
		if f.rounds == 0 {
			f.rounds = api.MeetingDefaultRounds
		}
		if f.mode == "" {
			f.mode = api.MeetingRoundRobin
		}
		return f
	}
	pm := api.RoleByHandle("pm")
	for _, tc := range []struct {
		name string
		f    meetFlags
		want api.StartMeetingRequest
		err  string
	}{
		{name: "plain", f: meetFlags{topic: " Launch ", roles: "pm, cto,7"},
			want: api.StartMeetingRequest{Topic: "Launch", Roles: []api.RoleRef{pm, api.RoleByHandle("cto"), api.RoleByID(7)}, Rounds: 2, Mode: api.MeetingRoundRobin}},
		{name: "chaired", f: meetFlags{topic: "Pricing", roles: "@pm,cfo", rounds: 3, mode: "chaired", chair: "@pm", budget: 9000},
			want: api.StartMeetingRequest{Topic: "Pricing", Roles: []api.RoleRef{pm, api.RoleByHandle("cfo")}, Rounds: 3, Mode: api.MeetingChaired, Chair: &pm, TokenBudget: 9000}},
		{name: "no topic", f: meetFlags{roles: "pm"}, err: "--topic TEXT"},
		{name: "no roles", f: meetFlags{topic: "x", roles: " , "}, err: "--roles pm,cto,law"},
		{name: "rounds", f: meetFlags{topic: "x", roles: "pm", rounds: 11}, err: "--rounds takes 1 to 10, not 11"},
		{name: "mode", f: meetFlags{topic: "x", roles: "pm", mode: "freeform"}, err: `--mode takes round_robin or chaired, not "freeform"`},
		{name: "budget", f: meetFlags{topic: "x", roles: "pm", budget: -1}, err: "--budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := def(tc.f)
			got, err := f.request()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func testMeeting() api.Meeting {
	return api.Meeting{ID: 3, RoomID: 1, Status: api.MeetingRunning, Topic: "Launch plan", Mode: api.MeetingRoundRobin,
		Rounds: 2, Chair: 7, Roles: []api.MeetingRole{{ID: 7, Name: "PM", Handle: "pm"}, {ID: 8, Name: "CTO", Handle: "cto"}}}
}

// TestMeetingPrinter_Transcript feeds a meeting's events as the stream
// delivers them: each turn is labelled with its role and round and printed
// as it streams; a turn that did not stream is printed whole; people's and
// system messages are part of it; the minutes' stream is not printed (the
// minutes come from the meeting object); another meeting's events and
// other rooms' are ignored; meeting_end ends it.
func TestMeetingPrinter_Transcript(t *testing.T) {
	var out bytes.Buffer
	a := &app{out: &out, errOut: &out, getenv: func(string) string { return "" }}
	p := newMeetingPrinter(a, testMeeting(), true)
	p.header(api.Room{ID: 1, Name: "general"})
	pm, cto := int64(7), int64(8)
	evs := []wsproto.Event{
		{Type: wsproto.TypeMeetingStart, MeetingID: 3},
		{Type: wsproto.TypeMeetingTurn, MeetingID: 3, Round: 1, RoleID: &pm},
		{Type: wsproto.TypeAIStart, MeetingID: 3, StreamID: "s1", RoleID: &pm, Role: "PM"},
		{Type: wsproto.TypeAIDelta, MeetingID: 3, StreamID: "s1", Delta: "We launch "},
		{Type: wsproto.TypeAIDelta, MeetingID: 3, StreamID: "s1", Delta: "in May."},
		{Type: wsproto.TypeAIDelta, MeetingID: 9, StreamID: "x", Delta: "another meeting"},
		{Type: wsproto.TypeAIDone, MeetingID: 3, StreamID: "s1"},
		{Type: wsproto.TypeMessage, MeetingID: 3, RoleID: &pm, User: "PM", MessageType: api.MessageAIResponse, Content: "We launch in May."},
		{Type: wsproto.TypeMessage, User: "alice", MessageType: api.MessageText, Content: "@cto can we?"},
		{Type: wsproto.TypeMeetingTurn, MeetingID: 3, Round: 1, RoleID: &cto},
		{Type: wsproto.TypeMessage, MeetingID: 3, RoleID: &cto, User: "CTO", MessageType: api.MessageAIResponse, Content: "Only with a freeze."},
		{Type: wsproto.TypeMessage, MeetingID: 3, MessageType: api.MessageSystem, Content: "CTO could not answer: provider error"},
		{Type: wsproto.TypeAIStart, MeetingID: 3, StreamID: "min", RoleID: &pm, Role: "PM"},
		{Type: wsproto.TypeAIDelta, MeetingID: 3, StreamID: "min", Delta: "## Summary"},
		{Type: wsproto.TypeMessage, MeetingID: 3, RoleID: &pm, User: "PM", MessageType: api.MessageMeetingMinutes, Content: "## Summary"},
		{Type: wsproto.TypeMeetingEnd, MeetingID: 9, Status: api.MeetingDone},
	}
	for _, ev := range evs {
		require.False(t, p.event(ev), "%s is not the end", ev.Type)
	}
	require.True(t, p.event(wsproto.Event{Type: wsproto.TypeMeetingEnd, MeetingID: 3, Status: api.MeetingDone}))
	end := testMeeting()
	end.Status, end.Turns, end.TokensUsed = api.MeetingDone, 2, 1234
	end.Minutes = &api.MeetingMinutes{Summary: "Launch in May with a freeze.", Decisions: []string{"Launch in May"},
		ActionItems: []api.ActionItem{{Owner: "CTO", Task: "freeze the branch", Due: "April 30"}, {Task: "tell sales"}}}
	p.footer(end)
	require.Equal(t, `Meeting 3 in general: Launch plan
round robin · 2 rounds · PM, CTO (chair PM)

PM · round 1
We launch in May.

alice
@cto can we?

CTO · round 1
Only with a freeze.

⚙ CTO could not answer: provider error

Meeting ended: done · 2 turns · 1234 tokens

Minutes
Summary
  Launch in May with a freeze.
Decisions
  • Launch in May
Action items
  • CTO: freeze the branch (due April 30)
  • tell sales
Open questions
  none
`, out.String())
}

// TestMeetingPrinter_JSONPrintsNothing: with --json the events are followed
// but stdout gets only the JSON.
func TestMeetingPrinter_JSONPrintsNothing(t *testing.T) {
	var out bytes.Buffer
	a := &app{out: &out, errOut: &out, getenv: func(string) string { return "" }}
	p := newMeetingPrinter(a, testMeeting(), false)
	p.header(api.Room{Name: "general"})
	pm := int64(7)
	p.event(wsproto.Event{Type: wsproto.TypeMeetingTurn, MeetingID: 3, Round: 1, RoleID: &pm})
	p.event(wsproto.Event{Type: wsproto.TypeAIStart, MeetingID: 3, StreamID: "s1", Role: "PM"})
	p.event(wsproto.Event{Type: wsproto.TypeAIDelta, MeetingID: 3, StreamID: "s1", Delta: "hello"})
	require.True(t, p.event(wsproto.Event{Type: wsproto.TypeMeetingEnd, MeetingID: 3, Status: api.MeetingStopped}))
	p.footer(testMeeting())
	require.Empty(t, out.String())
}

func TestMeetingMarkdown(t *testing.T) {
	m := testMeeting()
	m.Status, m.CreatedAt = api.MeetingBudgetExhausted, time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	m.Minutes = &api.MeetingMinutes{Summary: "Ship it.", OpenQuestions: []string{"Which region first?"}}
	msgs := []api.Message{
		{Seq: 5, User: "PM", MessageType: api.MessageAIResponse, Content: "Ship in May.\n"},
		{Seq: 6, User: "alice", MessageType: api.MessageText, Content: "agreed"},
		{Seq: 7, User: "system", MessageType: api.MessageSystem, Content: "CTO skipped: provider error"},
		{Seq: 8, User: "PM", MessageType: api.MessageMeetingMinutes, Content: "## Summary\nShip it."},
	}
	got := meetingMarkdown(api.Room{Name: "general"}, m, msgs)
	require.Equal(t, `# Meeting: Launch plan

- Room: general
- round robin · 2 rounds · PM, CTO (chair PM)
- Status: budget exhausted
- Started: 2026-12-04 09:00 UTC

## Transcript

**PM**:

Ship in May.

**alice**:

agreed

_CTO skipped: provider error_

## Minutes

### Summary

Ship it.

### Decisions

None.

### Action items

None.

### Open questions

- Which region first?
`, got)
	// Without structured minutes the minutes message stands in.
	m.Minutes = nil
	require.True(t, strings.HasSuffix(meetingMarkdown(api.Room{Name: "general"}, m, msgs), "## Minutes\n\n## Summary\nShip it.\n"))
}
