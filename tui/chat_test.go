package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

func startChat(t *testing.T, w, h int) (*harness, *fakeStream) {
	t.Helper()
	be := newFakeBackend()
	be.addRoom(1, "general", 30)
	be.addRoom(2, "random", 5)
	hs := newHarness(t, be, testOptions(), w, h)
	return hs, hs.ready()
}

// countContent counts timeline entries whose text is content.
func countContent(c *chatScreen, content string) int {
	n := 0
	for _, e := range c.tl.entries {
		if e.content() == content {
			n++
		}
	}
	return n
}

func aiEntries(c *chatScreen) int {
	n := 0
	for _, e := range c.tl.entries {
		if e.kind == entryAI {
			n++
		}
	}
	return n
}

func TestChat_DeltasAssembleIntoOneMessage(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	role := int64(7)
	s.events <- wsproto.Event{Type: wsproto.TypeAIStart, RoomID: 1, StreamID: "s1", RoleID: &role, Role: "CTO", ReplyTo: 30}
	for _, d := range []string{"Ship ", "it **to", "day**", ", then `measure`."} {
		s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, RoomID: 1, StreamID: "s1", Delta: d}
	}
	want := "Ship it **today**, then `measure`."
	hs.waitFor("the streamed text", func() bool { return countContent(c, want) == 1 })
	require.Equal(t, 1, aiEntries(c))
	scr := hs.screen()
	require.Contains(t, scr, "typing…")
	require.Contains(t, scr, "CTO replying…")

	// The stored message replaces the streaming entry; ai_done closes it.
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, RoomID: 1, ID: 500, Seq: 31, User: "CTO", RoleID: &role,
		Content: want, MessageType: api.MessageAIResponse, Timestamp: t0}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDone, RoomID: 1, StreamID: "s1", MessageID: 500}
	hs.waitFor("the stored reply", func() bool { return c.tl.ids[500] && aiEntries(c) == 0 })
	require.Equal(t, 1, countContent(c, want), "one message, not the stream plus the message")
	scr = hs.screen()
	require.Contains(t, scr, "Ship it today, then", "markdown rendered")
	require.NotContains(t, scr, "**")
	require.NotContains(t, scr, "replying…")
	require.Equal(t, int64(31), c.rooms.items[c.rooms.cur].lastRead)
}

func TestChat_AIErrorAndStop(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	role := int64(7)
	s.events <- wsproto.Event{Type: wsproto.TypeAIStart, StreamID: "s9", RoleID: &role, Role: "CTO"}
	hs.waitFor("the stream", func() bool { return aiEntries(c) == 1 })

	hs.key(tea.KeyMsg{Type: tea.KeyCtrlX})
	hs.waitFor("the cancel", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.cancels) == 1
	})
	require.Equal(t, []string{"s9"}, s.cancels)

	hs.typeText("/stop\n")
	hs.waitFor("a second cancel", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.cancels) == 2
	})

	s.events <- wsproto.Event{Type: wsproto.TypeAIError, StreamID: "s9", Detail: "provider said no"}
	hs.waitFor("the error", func() bool { return aiEntries(c) == 0 })
	require.Contains(t, hs.screen(), "CTO: provider said no")
}

func TestChat_ReconnectBannerAndResume(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	s.status <- client.StreamStatus{State: client.StateReconnecting, Attempt: 2, RetryIn: 1500 * 1e6}
	hs.waitScreen("connection lost, reconnecting (attempt 2, next in 1.5s)")
	require.Contains(t, hs.screen(), "⟳ reconnecting")

	// Typed while disconnected: shown queued, handed to the stream once.
	hs.typeText("are you there?\n")
	hs.waitFor("the send", func() bool { return len(s.sentFrames()) == 1 })
	f := s.sentFrames()[0]
	require.Equal(t, "are you there?", f.Content)
	require.NotEmpty(t, f.ClientID)
	hs.waitScreen("⧗ queued")
	require.Contains(t, hs.screen(), "1 message queued")

	s.status <- client.StreamStatus{State: client.StateConnected}
	hs.waitFor("the banner to go", func() bool { return !strings.Contains(hs.screen(), "connection lost") })
	require.Contains(t, hs.screen(), "● connected")

	// The resumed stream delivers the stored message once; a replay of the
	// same id changes nothing.
	uid := int64(1)
	ev := wsproto.Event{Type: wsproto.TypeMessage, RoomID: 1, ID: 900, Seq: 31, User: "alice", UserID: &uid,
		Content: "are you there?", MessageType: api.MessageText, Timestamp: t0, ClientID: f.ClientID}
	s.events <- ev
	s.events <- ev
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, RoomID: 1, ID: 901, Seq: 32, User: "bob", Content: "yes", Timestamp: t0, MessageType: api.MessageText}
	hs.waitFor("bob's answer", func() bool { return c.tl.ids[901] })
	require.Equal(t, 1, countContent(c, "are you there?"))
	require.NotContains(t, hs.screen(), "queued")
	require.Len(t, s.sentFrames(), 1, "sent once")

	// Giving up says so and how to retry.
	s.status <- client.StreamStatus{State: client.StateGaveUp, Err: fmt.Errorf("server gone")}
	hs.waitScreen("disconnected: server gone · ctrl+r reconnects")
	hs.key(tea.KeyMsg{Type: tea.KeyCtrlR})
	hs.waitFor("a new stream", func() bool { return hs.be.lastStream() != s && c.conn.stream != nil })
	require.Equal(t, int64(30), hs.be.lastStream().after, "resumes after the newest stored message")
}

func TestChat_UnreadCounts(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	require.Equal(t, 0, c.rooms.unread(1))

	hs.be.mu.Lock()
	hs.be.rooms[1].LastSeq = 8 // three new messages in #random
	hs.be.mu.Unlock()
	hs.send(roomsTickMsg{})
	hs.waitFor("the unread count", func() bool { return c.rooms.unread(1) == 3 })
	line := lineWith(hs.screen(), "#random")
	require.Regexp(t, `#random\s+3\s`, line)

	// Messages in the open room do not count as unread.
	s := hs.be.lastStream()
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, RoomID: 1, ID: 777, Seq: 31, User: "bob", Content: "hi", Timestamp: t0}
	hs.waitFor("the live message", func() bool { return c.tl.ids[777] })
	require.Equal(t, 0, c.rooms.unread(0))

	hs.typeText("/join random\n")
	hs.waitFor("#random open", func() bool { r, _ := c.rooms.current(); return r.ID == 2 && c.conn.stream != nil })
	require.Equal(t, 0, c.rooms.unread(1))
	require.Equal(t, 0, c.rooms.unread(0))
	require.NotRegexp(t, `#random\s+3\s`, lineWith(hs.screen(), "#random"))
}

func lineWith(screen, sub string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func TestChat_AtCompletion(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()

	hs.typeText("ask @ct")
	require.Contains(t, hs.screen(), "tab: @cto")
	hs.keyType(tea.KeyTab)
	require.Equal(t, "ask @cto ", c.input.value())

	c.input.reset()
	hs.typeText("hey @c")
	require.Contains(t, hs.screen(), "tab: @carol  @cto")
	hs.keyType(tea.KeyTab)
	require.Equal(t, "hey @carol ", c.input.value())
	hs.keyType(tea.KeyTab)
	require.Equal(t, "hey @cto ", c.input.value(), "tab again cycles")

	// Tab without an @word moves the focus.
	c.input.reset()
	hs.keyType(tea.KeyTab)
	require.Equal(t, focusTimeline, c.focus)
}

func TestChat_SlashCommands(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()

	hs.typeText("/role cto\n")
	require.NotNil(t, c.input.target)
	require.Contains(t, hs.screen(), "to 🤖 CTO")
	hs.typeText("what now?\n")
	hs.waitFor("the send", func() bool { return len(s.sentFrames()) == 1 })
	f := s.sentFrames()[0]
	require.NotNil(t, f.RoleID)
	require.Equal(t, int64(7), *f.RoleID)
	require.Nil(t, c.input.target, "the role applies to one message")

	hs.typeText("/role nobody\n")
	require.Contains(t, hs.screen(), "no role “nobody” is seated here")

	hs.typeText("//shrug\n")
	hs.waitFor("the literal send", func() bool { return len(s.sentFrames()) == 2 })
	require.Equal(t, "/shrug", s.sentFrames()[1].Content)

	hs.be.mu.Lock()
	hs.be.myRoles = []api.Role{{ID: 8, Name: "Lawyer", Handle: "lawyer", Avatar: "⚖"}}
	hs.be.mu.Unlock()
	hs.typeText("/seat lawyer\n")
	hs.waitFor("the seated role", func() bool { return len(c.members.roles) == 2 })
	require.Contains(t, hs.screen(), "@lawyer")

	hs.typeText("/members\n")
	require.NotContains(t, hs.screen(), "Members 2/3")
	hs.typeText("/members\n")
	require.Contains(t, hs.screen(), "Members 2/3")

	hs.typeText("/help\n")
	require.Contains(t, hs.screen(), "/create ROOM")
	hs.keyType(tea.KeyEsc)
	require.NotContains(t, hs.screen(), "/create ROOM")

	hs.typeText("/bogus\n")
	require.Contains(t, hs.screen(), "unknown command /bogus")

	hs.typeText("/create plans\n")
	hs.waitFor("#plans open", func() bool { r, _ := c.rooms.current(); return r.Name == "plans" && c.conn.stream != nil })
	hs.waitFor("the old room's stream to close", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closed
	})
	require.Contains(t, hs.screen(), "#plans")

	hs.typeText("/join general\n")
	hs.waitFor("#general open", func() bool { r, _ := c.rooms.current(); return r.ID == 1 && c.conn.stream != nil })

	hs.typeText("/quit\n")
	hs.waitFor("quit", func() bool { return hs.quit })
}

func TestChat_ScrollbackLoadsOlder(t *testing.T) {
	be := newFakeBackend()
	be.addRoom(1, "general", 250)
	opts := testOptions()
	hs := newHarness(t, be, opts, 80, 24)
	hs.ready()
	c := hs.chat()
	require.Equal(t, 100, c.tl.messageCount())
	require.False(t, c.tl.complete)

	// Page up until the top of what is loaded: the next page is fetched
	// with before = the oldest seq.
	for i := 0; i < 100 && !c.tl.loadingOlder; i++ {
		hs.keyType(tea.KeyPgUp)
	}
	require.True(t, c.tl.loadingOlder, "paging up reaches the top and asks for more")
	require.Contains(t, hs.screen(), "loading older messages")
	hs.waitFor("the older page", func() bool { return c.tl.messageCount() == 200 })
	be.mu.Lock()
	q := be.queries[1]
	be.mu.Unlock()
	require.Equal(t, int64(151), q.Before)
	require.Equal(t, 100, q.Limit)
	require.Contains(t, hs.screen(), "(scrolled)")

	// The view stayed where it was: the line at the top before is still there.
	for i := 0; i < 100 && !c.tl.loadingOlder; i++ {
		hs.keyType(tea.KeyPgUp)
	}
	hs.waitFor("the whole room", func() bool { return c.tl.complete })
	require.Equal(t, 250, c.tl.messageCount())
	for i := 0; i < 100 && !strings.Contains(hs.screen(), "beginning of #general"); i++ {
		hs.keyType(tea.KeyPgUp)
	}
	require.Contains(t, hs.screen(), "beginning of #general")
	require.Contains(t, hs.screen(), "message 1 in general")

	// A message arriving while scrolled up shows the marker, not a jump.
	s := be.lastStream()
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, RoomID: 1, ID: 9999, Seq: 251, User: "bob", Content: "news", Timestamp: t0}
	hs.waitScreen("1 new message below")
	require.Contains(t, hs.screen(), "message 1 in general")

	hs.keyType(tea.KeyEsc) // back to the newest
	require.Contains(t, hs.screen(), "news")
	require.NotContains(t, hs.screen(), "new message below")
}

func TestChat_SearchLoadedHistory(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	hs.keyType(tea.KeyTab) // focus the messages
	hs.typeText("/")
	require.True(t, c.search.open)
	hs.typeText("message 2 in\n")
	require.Len(t, c.search.hits, 1)
	require.Contains(t, hs.screen(), "match 1/1")
	require.Contains(t, hs.screen(), "▌      message 2 in general")

	hs.typeText("/")
	hs.typeText("in general\n")
	require.Len(t, c.search.hits, 30)
	hs.typeText("n")
	require.Equal(t, 1, c.search.hitIdx)
	hs.typeText("N")
	require.Equal(t, 0, c.search.hitIdx)
}

func TestChat_TypingJoinLeavePresence(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	s.events <- wsproto.Event{Type: wsproto.TypePresence, Online: []wsproto.PresenceUser{{UserID: 1, Username: "alice"}}}
	s.events <- wsproto.Event{Type: wsproto.TypeJoin, User: "carol"}
	s.events <- wsproto.Event{Type: wsproto.TypeTyping, User: "carol"}
	hs.waitScreen("carol is typing…")
	scr := hs.screen()
	require.Contains(t, scr, "· carol joined")
	require.Contains(t, scr, "Members 2/3")
	require.Contains(t, scr, "● carol")

	s.events <- wsproto.Event{Type: wsproto.TypeLeave, User: "carol"}
	hs.waitScreen("· carol left")
	require.NotContains(t, hs.screen(), "carol is typing")
	require.Contains(t, hs.screen(), "○ carol")

	// Our own typing is sent, throttled.
	hs.typeText("hello")
	hs.waitFor("a typing frame", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.typing == 1
	})
}

func TestChat_InputHistoryAndNewline(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	hs.typeText("first\n")
	hs.typeText("line one")
	hs.key(tea.KeyMsg{Type: tea.KeyEnter, Alt: true})
	hs.typeText("line two\n")
	hs.waitFor("two sends", func() bool { return len(s.sentFrames()) == 2 })
	require.Equal(t, "line one\nline two", s.sentFrames()[1].Content)

	hs.keyType(tea.KeyUp)
	require.Equal(t, "line one\nline two", c.input.value())
	hs.keyType(tea.KeyUp)
	hs.keyType(tea.KeyUp)
	require.Equal(t, "first", c.input.value())
	hs.keyType(tea.KeyDown)
	hs.keyType(tea.KeyDown)
	hs.keyType(tea.KeyDown)
	require.Equal(t, "", c.input.value())
}

func TestChat_SwitcherFuzzy(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	hs.keyType(tea.KeyCtrlK)
	require.Equal(t, overlaySwitcher, c.overlay)
	hs.typeText("rnd")
	require.Equal(t, []int{1}, c.switcher.matches)
	hs.keyType(tea.KeyEnter)
	hs.waitFor("#random open", func() bool { r, _ := c.rooms.current(); return r.ID == 2 && c.conn.stream != nil })
}

// TestInput_WordsAreNotKeys: a terminal delivers fast typing as multi-rune
// key messages; the words "down", "up" and "end" are text, not keys.
func TestInput_WordsAreNotKeys(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	for _, w := range []string{"sent ", "while ", "down", " up", " end", " pgup"} {
		hs.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(w)})
	}
	require.Equal(t, "sent while down up end pgup", c.input.value())
	hs.keyType(tea.KeyEnter)
	hs.waitFor("the send", func() bool { return len(s.sentFrames()) == 1 })
	require.Equal(t, "sent while down up end pgup", s.sentFrames()[0].Content)
}

func TestSearchAndSwitcher_WordsAreNotKeys(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	hs.send(tea.KeyMsg{Type: tea.KeyCtrlF})
	require.True(t, c.search.open)
	hs.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("end")})
	require.Equal(t, "end", c.search.input.Value())
	hs.keyType(tea.KeyEsc)
	hs.keyType(tea.KeyCtrlK)
	hs.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("random")})
	require.Equal(t, "random", c.switcher.input.Value())
}

// TestChat_AIDoneBeforeMessage: if ai_done overtakes the stored message, the
// streamed text stays, finished, and the message then replaces it.
func TestChat_AIDoneBeforeMessage(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	role := int64(7)
	s.events <- wsproto.Event{Type: wsproto.TypeAIStart, StreamID: "s2", RoleID: &role, Role: "CTO"}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, StreamID: "s2", Delta: "done early"}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDone, StreamID: "s2", MessageID: 600}
	hs.waitFor("the finished stream", func() bool { e := c.tl.aiStream("s2"); return e != nil && e.aiDone })
	require.NotContains(t, hs.screen(), "replying…")
	require.Empty(t, c.tl.activeStreams())
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, ID: 600, Seq: 31, User: "CTO", RoleID: &role, Content: "done early", MessageType: api.MessageAIResponse, Timestamp: t0}
	hs.waitFor("the message", func() bool { return c.tl.ids[600] })
	require.Equal(t, 1, countContent(c, "done early"))
	require.Equal(t, 0, aiEntries(c))
}

func TestErrText(t *testing.T) {
	c, err := client.New("http://127.0.0.1:1")
	require.NoError(t, err)
	_, err = c.Me(t.Context())
	require.Error(t, err)
	require.Equal(t, "cannot reach 127.0.0.1:1 (connect: connection refused)", errText(err))
	require.Equal(t, "Incorrect username or password", errText(&client.Error{StatusCode: 401, Detail: "Incorrect username or password"}))
}

// TestChat_AddressedMessage: a person's message with role_id is theirs,
// shown addressed to the role, not as the role's.
func TestChat_AddressedMessage(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	role, uid := int64(7), int64(1)
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, ID: 700, Seq: 31, User: "alice", UserID: &uid, RoleID: &role,
		Content: "when do we ship?", MessageType: api.MessageText, Timestamp: t0}
	hs.waitFor("the message", func() bool { return c.tl.ids[700] })
	require.Contains(t, hs.screen(), "alice → CTO")
	require.NotContains(t, hs.screen(), "🤖 alice")
}

// shiftEnterMsg stands in for Bubble Tea's unexported unknown-CSI message.
type shiftEnterMsg []byte

func (m shiftEnterMsg) String() string { return fmt.Sprintf("?CSI%+v?", []byte(m)[2:]) }

func TestInput_ShiftEnterNewline(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	hs.typeText("one")
	hs.send(shiftEnterMsg("\x1b[13;2u"))
	hs.typeText("two")
	hs.send(shiftEnterMsg("\x1b[27;2;13~"))
	hs.typeText("three")
	require.Equal(t, "one\ntwo\nthree", c.input.value())
}
