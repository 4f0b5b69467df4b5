package tui

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// Tests for what tripped a new user (issue 16).

// TestChat_TypingInPanelsGoesToInput: printable keys typed while the Rooms
// or Members panel (or the messages) has the focus go to the input, j and k
// included, and move the focus there; the panels keep their arrow keys.
func TestChat_TypingInPanelsGoesToInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		tabs int
		want focusArea
		text string
	}{
		// The message panel keeps j/k/g/G/n/N and / (see the help).
		{"messages", 1, focusTimeline, "hello there"},
		{"rooms", 2, focusRooms, "jk hello"},
		{"members", 3, focusMembers, "jk hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, s := startChat(t, 120, 40)
			c := hs.chat()
			for i := 0; i < tc.tabs; i++ {
				hs.keyType(tea.KeyTab)
			}
			require.Equal(t, tc.want, c.focus)
			if tc.want == focusRooms {
				hs.keyType(tea.KeyDown) // the panel's own key still works
				require.Equal(t, 1, c.rooms.sel)
				require.Equal(t, focusRooms, c.focus)
			}
			hs.typeText(tc.text)
			require.Equal(t, focusInput, c.focus)
			require.Equal(t, tc.text, c.input.value())
			hs.keyType(tea.KeyEnter)
			hs.waitFor("the send", func() bool { return len(s.sentFrames()) == 1 })
			require.Equal(t, tc.text, s.sentFrames()[0].Content)
		})
	}
}

// TestChat_RoleAddressesOneMessage: /role says it addresses the next
// message only, and the line stops saying so once that message is sent.
func TestChat_RoleAddressesOneMessage(t *testing.T) {
	be := newFakeBackend()
	be.addRoom(1, "general", 30)
	now := t0
	opts := testOptions()
	opts.Now = func() time.Time { return now }
	hs := newHarness(t, be, opts, 120, 40)
	s := hs.ready()
	c := hs.chat()
	hs.typeText("/role cto\n")
	require.Contains(t, hs.screen(), "your next message (only) goes to CTO")
	now = now.Add(time.Minute) // past the notice's lifetime: still true, still shown
	require.Contains(t, hs.screen(), "your next message (only) goes to CTO")
	hs.typeText("ship?\n")
	hs.waitFor("the send", func() bool { return len(s.sentFrames()) == 1 })
	require.NotNil(t, s.sentFrames()[0].RoleID)
	require.Nil(t, c.input.target)
	require.NotContains(t, hs.screen(), "goes to CTO")
	require.NotContains(t, hs.screen(), "to 🤖 CTO")
	hs.typeText("and now?\n")
	hs.waitFor("the second send", func() bool { return len(s.sentFrames()) == 2 })
	require.Nil(t, s.sentFrames()[1].RoleID, "the second message goes to the room")

	// Esc cancels it, and the line with it.
	hs.typeText("/role cto\n")
	hs.keyType(tea.KeyEsc)
	require.Nil(t, c.input.target)
	require.NotContains(t, hs.screen(), "goes to CTO")
}

// addMsg appends a message to room id of the fake and bumps its last_seq.
func (f *fakeBackend) addMsg(roomID int64, user string, userID int64, content string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := int64(len(f.msgs[roomID]) + 1)
	f.msgs[roomID] = append(f.msgs[roomID], api.Message{ID: roomID*100000 + seq, RoomID: roomID, UserID: ptr(userID),
		Content: content, MessageType: api.MessageText, Timestamp: t0, Seq: seq, User: user})
	for i := range f.rooms {
		if f.rooms[i].ID == roomID {
			f.rooms[i].LastSeq = seq
		}
	}
}

// TestChat_OwnMessagesAreNotUnread: messages I posted elsewhere (a script,
// another client) never count as unread.
func TestChat_OwnMessagesAreNotUnread(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	for i := 0; i < 160; i++ { // more than a page: the scan walks them all
		hs.be.addMsg(2, "alice", 1, "from my script")
	}
	hs.be.addMsg(2, "bob", 2, "from bob")
	hs.send(roomsTickMsg{})
	hs.waitFor("the scan of #random", func() bool { return c.rooms.items[1].checked == 166 && c.rooms.items[1].own == 160 })
	require.Equal(t, 1, c.rooms.unread(1))
	require.Regexp(t, `#random\s+1\s`, lineWith(hs.screen(), "#random"))
	hs.keyType(tea.KeyCtrlK)
	require.Contains(t, hs.screen(), "#random  1 new")
}

// TestChat_MentionElsewhereRingsAndMarks: a mention of me in a room that is
// not open rings the bell once and marks the room; /set bell off silences it.
func TestChat_MentionElsewhereRingsAndMarks(t *testing.T) {
	be := newFakeBackend()
	be.addRoom(1, "general", 30)
	be.addRoom(2, "random", 5)
	be.addRoom(3, "ops", 2)
	var bells atomic.Int32
	opts := testOptions()
	opts.Bell = func() { bells.Add(1) }
	hs := newHarness(t, be, opts, 120, 40)
	hs.ready()
	c := hs.chat()

	be.addMsg(2, "bob", 2, "no mention of alice here, nor of @alicex")
	hs.send(roomsTickMsg{})
	hs.waitFor("the scan", func() bool { return c.rooms.unread(1) == 1 })
	require.False(t, c.rooms.items[1].mention)

	be.addMsg(2, "bob", 2, "@alice can you look at this?")
	be.addMsg(2, "bob", 2, "@Alice ping")
	hs.send(roomsTickMsg{})
	hs.waitFor("the mention", func() bool { return c.rooms.items[1].mention })
	hs.waitFor("the bell", func() bool { return bells.Load() == 1 })
	require.Regexp(t, `#random\s+@3\s`, lineWith(hs.screen(), "#random"))
	require.Contains(t, hs.screen(), "you were mentioned in #random")

	hs.typeText("/set bell off\n")
	require.Contains(t, hs.screen(), "bell off")
	be.addMsg(3, "bob", 2, "@alice and here")
	hs.send(roomsTickMsg{})
	hs.waitFor("the mention in #ops", func() bool { return c.rooms.items[2].mention })
	require.Equal(t, int32(1), bells.Load(), "no bell with /set bell off")

	// Opening the room clears the mark.
	hs.typeText("/join random\n")
	hs.waitFor("#random open", func() bool { r, _ := c.rooms.current(); return r.ID == 2 && c.conn.stream != nil })
	require.False(t, c.rooms.items[1].mention)
	require.NotRegexp(t, `#random\s+@`, hs.screen())
}

func TestMentions(t *testing.T) {
	for text, want := range map[string]bool{
		"@alice hi": true, "hi @alice": true, "hi @Alice, look": true, "(@alice)": true,
		"alice": false, "@alicex": false, "mail@alice-co": false, "": false,
	} {
		require.Equal(t, want, mentions(text, "alice"), text)
	}
}

// TestChat_RoomAddedEvent: a room_added event on the open room's socket puts
// the new room in the list at once (no 5 s poll), with a notice.
func TestChat_RoomAddedEvent(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	hs.be.addRoom(9, "plans", 2)
	s.events <- wsproto.Event{Type: wsproto.TypeRoomAdded, RoomID: 9}
	hs.waitScreen("you were added to #plans")
	require.Contains(t, lineWith(hs.screen(), "#plans"), "#plans")
	require.Equal(t, 0, c.rooms.unread(c.rooms.roomIndex(9)), "its history is not unread")
}

// TestChat_JoinRefreshesFirst: /join of a room the list does not have yet
// refreshes the list before it says the room does not exist.
func TestChat_JoinRefreshesFirst(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	hs.be.addRoom(9, "plans", 2) // added a moment ago; no poll since
	hs.typeText("/join plans\n")
	hs.waitFor("#plans open", func() bool { r, _ := c.rooms.current(); return r.ID == 9 && c.conn.stream != nil })

	hs.typeText("/join nowhere\n")
	hs.waitScreen("no room “nowhere” among yours: /create nowhere makes it")
}

// TestChat_SameNameRooms: rooms sharing a name show as NAME#ID; /join NAME
// lists them, /join NAME#ID opens one, and /create is never suggested for a
// name that exists.
func TestChat_SameNameRooms(t *testing.T) {
	be := newFakeBackend()
	be.addRoom(1, "general", 3)
	be.addRoom(4, "ops", 3)
	be.addRoom(7, "ops", 3)
	hs := newHarness(t, be, testOptions(), 120, 40)
	hs.ready()
	c := hs.chat()
	scr := hs.screen()
	require.Contains(t, scr, "#ops#4")
	require.Contains(t, scr, "#ops#7")

	hs.typeText("/join ops\n")
	hs.waitScreen("2 rooms are called “ops”: /join ops#4 or ops#7")
	hs.typeText("/join ops#7\n")
	hs.waitFor("ops#7 open", func() bool { r, _ := c.rooms.current(); return r.ID == 7 && c.conn.stream != nil })
	require.Contains(t, hs.screen(), "● connected  #ops#7")

	hs.typeText("/join ops#5\n")
	hs.waitScreen("no room “ops#5” among yours; “ops” is ops#4, ops#7")
	require.NotContains(t, hs.screen(), "/create")

	// Tab completes /join with the rooms, same-name ones by NAME#ID.
	hs.typeText("/join o")
	require.Contains(t, hs.screen(), "tab: ops#4  ops#7")
	hs.keyType(tea.KeyTab)
	require.Equal(t, "/join ops#4 ", c.input.value())
	hs.keyType(tea.KeyTab)
	require.Equal(t, "/join ops#7 ", c.input.value())
}

// TestChat_RoomDeletedMovesOn: close 4003 (or a 404) for the open room says
// what happened and opens the next room; no endless reconnecting.
func TestChat_RoomDeletedMovesOn(t *testing.T) {
	for _, tc := range []struct{ reason, want string }{
		{"room deleted", "room #general was deleted · now in #random"},
		{"removed from the room", "you were removed from #general · now in #random"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			hs, s := startChat(t, 120, 40)
			c := hs.chat()
			hs.be.mu.Lock()
			hs.be.rooms = hs.be.rooms[1:]
			hs.be.mu.Unlock()
			s.status <- client.StreamStatus{State: client.StateGaveUp, Err: &client.Error{StatusCode: 404, Detail: tc.reason}}
			hs.waitFor("#random open", func() bool { r, _ := c.rooms.current(); return r.ID == 2 && c.conn.stream != nil })
			scr := hs.screen()
			require.Contains(t, scr, tc.want)
			require.NotContains(t, scr, "reconnect")
			require.Equal(t, 1, strings.Count(scr, "#general"), "only the notice names it")
			require.Len(t, c.rooms.items, 1)
		})
	}
}

// TestChat_JoinLeaveBursts: a run of joins and leaves is one line;
// /set joins off hides them.
func TestChat_JoinLeaveBursts(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	for _, u := range []string{"ada", "bob2", "cy", "dee", "eve"} {
		s.events <- wsproto.Event{Type: wsproto.TypeJoin, User: u, Timestamp: t0}
	}
	s.events <- wsproto.Event{Type: wsproto.TypeLeave, User: "carol", Timestamp: t0}
	hs.waitScreen("· ada, bob2 and 3 others joined · carol left")
	bursts := 0
	for _, e := range c.tl.entries {
		if e.burst != nil {
			bursts++
		}
	}
	require.Equal(t, 1, bursts)

	// A message ends the burst: the next join starts a new line.
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, ID: 990, Seq: 31, User: "bob", Content: "hi all", Timestamp: t0, MessageType: api.MessageText}
	s.events <- wsproto.Event{Type: wsproto.TypeJoin, User: "fay", Timestamp: t0}
	hs.waitScreen("· fay joined")

	hs.typeText("/set joins off\n")
	scr := hs.screen()
	require.NotContains(t, scr, "joined")
	require.Contains(t, scr, "joins off")
	s.events <- wsproto.Event{Type: wsproto.TypeJoin, User: "gus", Timestamp: t0}
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, ID: 991, Seq: 32, User: "bob", Content: "still here", Timestamp: t0, MessageType: api.MessageText}
	hs.waitScreen("still here")
	require.NotContains(t, hs.screen(), "gus joined")

	hs.typeText("/set\n")
	require.Contains(t, hs.screen(), "settings: bell on · joins off")
	hs.typeText("/set joins maybe\n")
	require.Contains(t, hs.screen(), `/set joins takes on or off, not "maybe"`)
}

func TestNameList(t *testing.T) {
	require.Equal(t, "ada", nameList([]string{"ada"}))
	require.Equal(t, "ada and bob", nameList([]string{"ada", "bob"}))
	require.Equal(t, "ada, bob and cy", nameList([]string{"ada", "bob", "cy"}))
	require.Equal(t, "ada, bob and 3 others", nameList([]string{"ada", "bob", "cy", "dee", "eve"}))
}

// TestChat_KickAndInvite: /invite USER and /kick USER change the open room's
// members.
func TestChat_KickAndInvite(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	hs.typeText("/invite dave\n")
	hs.waitScreen("added dave to #general")
	hs.be.mu.Lock()
	require.Equal(t, "dave", hs.be.members[1][3].Username)
	hs.be.mu.Unlock()
	hs.typeText("/invite bob\n")
	hs.waitScreen("invite bob: User is already a member")

	hs.typeText("/kick @carol\n")
	hs.waitScreen("removed carol from #general")
	hs.be.mu.Lock()
	for _, m := range hs.be.members[1] {
		require.NotEqual(t, "carol", m.Username)
	}
	hs.be.mu.Unlock()
	hs.typeText("/kick nobody\n")
	require.Contains(t, hs.screen(), "“nobody” is not a member of #general")
	hs.typeText("/kick\n")
	require.Contains(t, hs.screen(), "usage: /kick USER")
	_ = c
}

// TestChat_ReplyShowsModelAndTokens: an AI reply's header says which model
// answered and the tokens it used, whichever of the stored message and
// ai_done comes first.
func TestChat_ReplyShowsModelAndTokens(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	role := int64(7)
	s.events <- wsproto.Event{Type: wsproto.TypeAIStart, StreamID: "s1", RoleID: &role, Role: "CTO", Model: "openai/gpt-4o-mini"}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, StreamID: "s1", Delta: "Ship it."}
	hs.waitScreen("CTO typing… (ctrl+x stops) · openai/gpt-4o-mini")
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, ID: 500, Seq: 31, User: "CTO", RoleID: &role,
		Content: "Ship it.", MessageType: api.MessageAIResponse, Timestamp: t0}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDone, StreamID: "s1", MessageID: 500,
		Usage: &wsproto.Usage{InputTokens: 120, OutputTokens: 45}}
	hs.waitScreen("🤖 CTO · openai/gpt-4o-mini · 120 tokens in, 45 out")

	// ai_done before the message: the stream keeps the usage for it.
	s.events <- wsproto.Event{Type: wsproto.TypeAIStart, StreamID: "s2", RoleID: &role, Role: "CTO", Model: "anthropic/claude-x"}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, StreamID: "s2", Delta: "Wait."}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDone, StreamID: "s2", MessageID: 501,
		Usage: &wsproto.Usage{InputTokens: 7, OutputTokens: 3}}
	s.events <- wsproto.Event{Type: wsproto.TypeMessage, ID: 501, Seq: 32, User: "CTO", RoleID: &role,
		Content: "Wait.", MessageType: api.MessageAIResponse, Timestamp: t0.Add(10 * time.Minute)}
	hs.waitFor("the second reply", func() bool { return c.tl.ids[501] })
	require.Contains(t, hs.screen(), "🤖 CTO · anthropic/claude-x · 7 tokens in, 3 out")
}
