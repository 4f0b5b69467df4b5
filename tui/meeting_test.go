package tui

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

func TestParseMeet(t *testing.T) {
	roles := []api.Role{{ID: 7, Name: "CTO", Handle: "cto"}, {ID: 8, Name: "Product Manager", Handle: "pm"}}
	chairPM := api.RoleByID(8)
	for _, tc := range []struct {
		line string
		want api.StartMeetingRequest
		err  string
	}{
		{line: "Launch plan @pm @cto", want: api.StartMeetingRequest{Topic: "Launch plan", Roles: []api.RoleRef{api.RoleByID(8), api.RoleByID(7)}}},
		{line: "Q3 budget @cto @pm rounds=3 chair=@pm", want: api.StartMeetingRequest{Topic: "Q3 budget", Roles: []api.RoleRef{api.RoleByID(7), api.RoleByID(8)}, Rounds: 3, Chair: &chairPM}},
		{line: "pricing @pm @law mode=chaired budget=5000", want: api.StartMeetingRequest{Topic: "pricing", Roles: []api.RoleRef{api.RoleByID(8), api.RoleByHandle("law")}, Mode: api.MeetingChaired, TokenBudget: 5000}},
		{line: "@pm @cto", err: "usage: /meet TOPIC"},
		{line: "a topic", err: "needs the roles"},
		{line: "x @pm rounds=11", err: "rounds= takes 1 to 10"},
		{line: "x @pm mode=anarchy", err: "mode= takes"},
		{line: "x @pm budget=lots", err: "budget= takes"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			got, err := parseMeet(strings.Fields(tc.line), roles)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestChat_MeetingBannerStopAndMinutes: /meet starts a meeting, the banner
// follows its turns, /stop stops it, and at its end the minutes of the
// meeting started here open over the panels.
func TestChat_MeetingBannerStopAndMinutes(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	hs.typeText("/meet Launch plan for the beta @cto rounds=3\n")
	hs.waitScreen("◆ Meeting “Launch plan for the beta” · 3 rounds")
	started := hs.be.startedMeetings()
	require.Len(t, started, 1)
	require.Equal(t, api.StartMeetingRequest{Topic: "Launch plan for the beta", Roles: []api.RoleRef{api.RoleByID(7)}, Rounds: 3}, started[0])

	role := int64(7)
	s.events <- wsproto.Event{Type: wsproto.TypeMeetingStart, RoomID: 1, MeetingID: 1, Topic: "Launch plan for the beta", Rounds: 3, RoleIDs: []int64{7}}
	s.events <- wsproto.Event{Type: wsproto.TypeMeetingTurn, RoomID: 1, MeetingID: 1, Round: 1, RoleID: &role}
	s.events <- wsproto.Event{Type: wsproto.TypeAIStart, RoomID: 1, MeetingID: 1, StreamID: "m1", RoleID: &role, Role: "CTO"}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, RoomID: 1, MeetingID: 1, StreamID: "m1", Delta: "We ship on Monday."}
	hs.waitScreen("round 1/3 · CTO speaking")
	require.Contains(t, hs.screen(), "We ship on Monday.")

	hs.typeText("/stop\n")
	hs.waitFor("the stop", func() bool { return len(hs.be.stoppedMeetings()) == 1 })
	require.Equal(t, []int64{1}, hs.be.stoppedMeetings())
	require.Empty(t, s.cancels, "/stop stops the meeting, not only the reply")

	hs.be.setMeeting(api.Meeting{ID: 1, RoomID: 1, Status: api.MeetingStopped, Topic: "Launch plan for the beta", Turns: 1,
		Minutes: &api.MeetingMinutes{Summary: "The beta ships on Monday.", Decisions: []string{"Ship Monday"},
			ActionItems: []api.ActionItem{{Owner: "CTO", Task: "freeze the branch", Due: "Friday"}}}})
	s.events <- wsproto.Event{Type: wsproto.TypeAIDone, RoomID: 1, MeetingID: 1, StreamID: "m1"}
	s.events <- wsproto.Event{Type: wsproto.TypeMeetingEnd, RoomID: 1, MeetingID: 1, Status: api.MeetingStopped}
	hs.waitScreen("Minutes · Launch plan for the beta")
	scr := hs.screen()
	require.Contains(t, scr, "The beta ships on Monday.")
	require.Contains(t, scr, "• Ship Monday")
	require.Contains(t, scr, "• CTO: freeze the branch (due Friday)")
	require.Contains(t, scr, "Open questions")
	require.NotContains(t, scr, "◆ Meeting", "the banner goes with the meeting")
	require.Equal(t, overlayMinutes, c.overlay)

	hs.typeText("q")
	require.Equal(t, overlayNone, c.overlay)
	require.Contains(t, hs.screen(), "ended: stopped")
}

// TestChat_MeetingOfSomeoneElse: a meeting another member started shows
// its banner from meeting_start; its end only says so (the minutes open
// with /minutes); a room opened while a meeting runs shows the banner at
// once; the minutes message is marked in the timeline.
func TestChat_MeetingOfSomeoneElse(t *testing.T) {
	be := newFakeBackend()
	be.addRoom(1, "general", 3)
	be.addRoom(2, "random", 3)
	role := int64(7)
	be.setMeeting(api.Meeting{ID: 5, RoomID: 2, Status: api.MeetingRunning, Topic: "hiring", Rounds: 2, Round: 2,
		Roles: []api.MeetingRole{{ID: 7, Name: "CTO"}}, Speaker: &role})
	hs := newHarness(t, be, testOptions(), 120, 40)
	s := hs.ready()
	c := hs.chat()

	s.events <- wsproto.Event{Type: wsproto.TypeMeetingStart, RoomID: 1, MeetingID: 4, Topic: "pricing", Rounds: 2, RoleIDs: []int64{7}}
	s.events <- wsproto.Event{Type: wsproto.TypeMeetingTurn, RoomID: 1, MeetingID: 4, Round: 1, RoleID: &role}
	hs.waitScreen("◆ Meeting “pricing” · round 1/2 · CTO speaking")
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, RoomID: 1, ID: 900, Seq: 4, RoleID: &role, User: "CTO",
		MessageType: api.MessageMeetingMinutes, Content: "## Summary\n\nPrices stay.", Timestamp: t0}
	s.events <- wsproto.Event{Type: wsproto.TypeMeetingEnd, RoomID: 1, MeetingID: 4, Status: api.MeetingDone}
	hs.waitScreen("meeting “pricing” ended: done · /minutes shows the minutes")
	require.NotContains(t, hs.screen(), "◆ Meeting")
	require.Contains(t, hs.screen(), "CTO · meeting minutes")
	require.Contains(t, hs.screen(), "Prices stay.")
	require.Equal(t, overlayNone, c.overlay, "someone else's minutes do not open by themselves")

	hs.typeText("/join random\n")
	hs.waitScreen("◆ Meeting “hiring” · round 2/2 · CTO speaking")
}

// TestMeetingBar_SnapshotAfterTurn: the answer to the request that started
// a meeting can come after its first meeting_turn; the banner keeps the
// round and speaker the event gave.
func TestMeetingBar_SnapshotAfterTurn(t *testing.T) {
	b := newMeetingBar(nil, func(id int64) string { return map[int64]string{1: "PM", 2: "CTO"}[id] }, nil)
	pm, cto := int64(1), int64(2)
	b.Update(meetingEventMsg{ev: wsproto.Event{Type: wsproto.TypeMeetingStart, MeetingID: 5, Topic: "t", Rounds: 1, RoleIDs: []int64{pm, cto}}})
	b.Update(meetingEventMsg{ev: wsproto.Event{Type: wsproto.TypeMeetingTurn, MeetingID: 5, Round: 1, RoleID: &cto}})
	b.set(api.Meeting{ID: 5, Status: api.MeetingRunning, Topic: "t", Rounds: 1, Speaker: &pm})
	require.Equal(t, 1, b.m.Round)
	require.Equal(t, "CTO", b.speaker)

	// A snapshot of a later round is taken as it is.
	b.set(api.Meeting{ID: 5, Status: api.MeetingRunning, Topic: "t", Rounds: 2, Round: 2, Speaker: &pm})
	require.Equal(t, 2, b.m.Round)
	require.Equal(t, "PM", b.speaker)
}
