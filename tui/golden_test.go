package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// Golden screens: go test ./tui -run Golden -update rewrites testdata/*.golden.

// goldenBackend is a room with people, an AI reply with Markdown and a
// system message.
func goldenBackend() *fakeBackend {
	be := newFakeBackend()
	be.addRoom(1, "general", 12)
	be.addRoom(2, "random", 3)
	be.addRoom(3, "product-launch", 0)
	role := int64(7)
	be.msgs[1] = append(be.msgs[1],
		api.Message{ID: 201, RoomID: 1, Seq: 13, User: "CTO", RoleID: &role, MessageType: api.MessageAIResponse, Timestamp: t0.Add(time.Minute),
			Content: "Two options:\n\n1. **Ship** on Friday\n2. Wait for the *load test*\n\n```go\nfmt.Println(\"ship it\")\n```"},
		api.Message{ID: 202, RoomID: 1, Seq: 14, User: "system", MessageType: api.MessageSystem, Timestamp: t0.Add(2 * time.Minute),
			Content: "CTO could not answer: the provider rate-limited the request; try again in a minute."},
	)
	be.rooms[0].LastSeq = 14
	be.rooms[1].LastSeq = 3
	return be
}

// runGolden runs the program at w x h, lets script drive it, then compares
// the final frame (escape sequences removed) with the golden file.
func runGolden(t *testing.T, be *fakeBackend, opts Options, w, h int, script func(tm *teatest.TestModel)) {
	t.Helper()
	tm := teatest.NewTestModel(t, New(be, opts), teatest.WithInitialTermSize(w, h))
	script(tm)
	require.NoError(t, tm.Quit())
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
	teatest.RequireEqualOutput(t, []byte(ansi.Strip(fm.View())))
}

func waitOutput(t *testing.T, tm *teatest.TestModel, sub string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(sub)) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
}

func waitStreamOpen(t *testing.T, be *fakeBackend) *fakeStream {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for be.lastStream() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no stream opened")
		}
		time.Sleep(time.Millisecond) // polling a fake with a deadline
	}
	return be.lastStream()
}

func TestGolden_Chat(t *testing.T) {
	for _, sz := range [][2]int{{120, 40}, {80, 24}, {60, 20}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			be := goldenBackend()
			runGolden(t, be, testOptions(), sz[0], sz[1], func(tm *teatest.TestModel) {
				waitOutput(t, tm, "in a minute.")
				s := waitStreamOpen(t, be)
				role := int64(7)
				s.events <- wsproto.Event{Type: wsproto.TypeJoin, User: "carol", Timestamp: t0.Add(3 * time.Minute)}
				s.events <- wsproto.Event{Type: wsproto.TypeTyping, User: "bob"}
				s.events <- wsproto.Event{Type: wsproto.TypeAIStart, StreamID: "s1", RoleID: &role, Role: "CTO", Timestamp: t0.Add(3 * time.Minute)}
				s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, StreamID: "s1", Delta: "Let me check the "}
				s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, StreamID: "s1", Delta: "dashboards"}
				waitOutput(t, tm, "dashboards")
				tm.Type("draft @ct")
				waitOutput(t, tm, "draft @ct")
			})
		})
	}
}

func TestGolden_Reconnecting(t *testing.T) {
	be := goldenBackend()
	runGolden(t, be, testOptions(), 80, 24, func(tm *teatest.TestModel) {
		waitOutput(t, tm, "in a minute.")
		s := waitStreamOpen(t, be)
		s.status <- client.StreamStatus{State: client.StateReconnecting, Attempt: 3, RetryIn: 2 * time.Second}
		waitOutput(t, tm, "reconnecting")
		tm.Type("still there?")
		tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
		waitOutput(t, tm, "queued")
	})
}

func TestGolden_Help(t *testing.T) {
	be := goldenBackend()
	runGolden(t, be, testOptions(), 80, 24, func(tm *teatest.TestModel) {
		waitOutput(t, tm, "in a minute.")
		tm.Type("?")
		waitOutput(t, tm, "Commands")
	})
}

func TestGolden_Switcher(t *testing.T) {
	be := goldenBackend()
	runGolden(t, be, testOptions(), 120, 40, func(tm *teatest.TestModel) {
		waitOutput(t, tm, "in a minute.")
		tm.Send(tea.KeyMsg{Type: tea.KeyCtrlK})
		tm.Type("pl")
		waitOutput(t, tm, "Switch room")
	})
}

// TestGolden_Meeting: the banner of a running meeting over a turn
// streaming in, at 100x30.
func TestGolden_Meeting(t *testing.T) {
	be := goldenBackend()
	runGolden(t, be, testOptions(), 100, 30, func(tm *teatest.TestModel) {
		waitOutput(t, tm, "in a minute.")
		s := waitStreamOpen(t, be)
		role := int64(7)
		s.events <- wsproto.Event{Type: wsproto.TypeMeetingStart, RoomID: 1, MeetingID: 2, Topic: "Beta launch", Rounds: 3, RoleIDs: []int64{7}}
		s.events <- wsproto.Event{Type: wsproto.TypeMeetingTurn, RoomID: 1, MeetingID: 2, Round: 2, RoleID: &role}
		s.events <- wsproto.Event{Type: wsproto.TypeAIStart, RoomID: 1, MeetingID: 2, StreamID: "m", RoleID: &role, Role: "CTO", Timestamp: t0.Add(3 * time.Minute)}
		s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, RoomID: 1, MeetingID: 2, StreamID: "m", Delta: "Agreed with the PM: we freeze on Thursday"}
		waitOutput(t, tm, "Thursday")
	})
}

// TestGolden_Minutes: the minutes overlay at 80x24.
func TestGolden_Minutes(t *testing.T) {
	be := goldenBackend()
	be.setMeeting(api.Meeting{ID: 2, RoomID: 1, Status: api.MeetingDone, Topic: "Beta launch", Rounds: 2, Turns: 4,
		Minutes: &api.MeetingMinutes{Summary: "The beta ships on Friday once the API is frozen; pricing waits for the survey.",
			Decisions:     []string{"Ship the beta on Friday", "Freeze the API on Thursday"},
			ActionItems:   []api.ActionItem{{Owner: "CTO", Task: "Freeze the API", Due: "Thursday"}, {Owner: "alice", Task: "Send the survey"}},
			OpenQuestions: []string{"Which price tier first?"}}})
	runGolden(t, be, testOptions(), 80, 24, func(tm *teatest.TestModel) {
		waitOutput(t, tm, "in a minute.")
		tm.Type("/minutes")
		tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
		waitOutput(t, tm, "Open questions")
	})
}

func TestGolden_Login(t *testing.T) {
	be := goldenBackend()
	opts := testOptions()
	opts.LoggedIn = false
	runGolden(t, be, opts, 80, 24, func(tm *teatest.TestModel) {
		waitOutput(t, tm, "Sign in")
		tm.Type("alice")
		tm.Send(tea.KeyMsg{Type: tea.KeyTab})
		tm.Type("secret12")
		waitOutput(t, tm, "••••••••")
	})
}

// TestLogin_ThenChat signs in through the form and lands in the chat, with
// the token handed to OnLogin.
func TestLogin_ThenChat(t *testing.T) {
	be := goldenBackend()
	opts := testOptions()
	opts.LoggedIn = false
	var stored string
	opts.OnLogin = func(_ context.Context, username string, tok api.Token) error {
		stored = username + ":" + tok.AccessToken
		return nil
	}
	hs := newHarness(t, be, opts, 80, 24)
	hs.waitScreen("Sign in")
	hs.typeText("alice")
	hs.keyType(tea.KeyTab)
	hs.typeText("secret12\n")
	hs.ready()
	hs.waitScreen("in a minute.")
	require.Equal(t, "alice:tok-alice", stored)
}

func TestLogin_RegisterAndError(t *testing.T) {
	be := goldenBackend()
	be.loginErr = &client.Error{StatusCode: 401, Detail: "Incorrect username or password"}
	opts := testOptions()
	opts.LoggedIn = false
	hs := newHarness(t, be, opts, 80, 24)
	hs.waitScreen("Sign in")
	hs.keyType(tea.KeyCtrlR)
	require.Contains(t, hs.screen(), "Create an account")
	require.Contains(t, hs.screen(), "Email")
	hs.typeText("dan@example.com\ndan\nDan\npassword1\n")
	hs.waitScreen("Incorrect username or password")
}

// TestNoColor: with NO_COLOR set the renderer drops every colour, so the
// whole screen is free of colour escape sequences; without it they appear.
func TestNoColor(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("CLICOLOR_FORCE", "")
	for _, noColor := range []string{"", "1"} {
		t.Run("NO_COLOR="+noColor, func(t *testing.T) {
			t.Setenv("NO_COLOR", noColor)
			var buf bytes.Buffer
			r := lipgloss.NewRenderer(&buf, termenv.WithTTY(true))
			opts := testOptions()
			opts.Renderer = r
			be := goldenBackend()
			hs := newHarness(t, be, opts, 100, 30)
			hs.ready()
			hs.waitScreen("in a minute.")
			colour := strings.Contains(hs.m.View(), "\x1b[38;")
			require.Equal(t, noColor == "", colour)
		})
	}
}

// TestTheme_DarkAndLight: the same screen is drawn with different colours
// on dark and light terminals (AdaptiveColor), and both have colour.
func TestTheme_DarkAndLight(t *testing.T) {
	views := map[bool]string{}
	for _, dark := range []bool{true, false} {
		r := lipgloss.NewRenderer(io.Discard)
		r.SetColorProfile(termenv.TrueColor)
		r.SetHasDarkBackground(dark)
		opts := testOptions()
		opts.Renderer = r
		hs := newHarness(t, goldenBackend(), opts, 100, 30)
		hs.ready()
		hs.waitScreen("in a minute.")
		views[dark] = hs.m.View()
		require.Contains(t, views[dark], "\x1b[38;2;")
	}
	require.NotEqual(t, views[true], views[false])
	require.Equal(t, ansi.Strip(views[true]), ansi.Strip(views[false]), "only the colours differ")
}
