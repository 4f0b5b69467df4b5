package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// typingEvery throttles our own typing notifications.
const typingEvery = 3 * time.Second

// focusArea is the part of the chat screen that receives keys.
type focusArea int

const (
	focusInput focusArea = iota
	focusTimeline
	focusRooms
	focusMembers
)

// overlayKind is what is drawn over the panels.
type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayHelp
	overlaySwitcher
	overlayMinutes
)

// chatScreen is the main screen. It composes the components (room list,
// message view, members panel, search, notices, input, help and switcher
// overlays), gives each its area, routes messages (keys to the one with
// the focus, room events to the ones they concern) and handles the intents
// they post. It owns only what no single component does: the focus, the
// overlay, the open room's connection and the /set settings.
type chatScreen struct {
	sh       *shared
	w, h     int
	focus    focusArea
	overlay  overlayKind
	conn     roomConn
	settings chatSettings

	rooms    *roomList
	tl       *timeline
	members  *memberList
	search   *search
	notices  *notices
	input    *composer
	meeting  *meetingBar
	help     *helpOverlay
	switcher *switcher
	minutes  *minutesOverlay

	posted []tea.Msg // intents posted during the current Update
}

func newChatScreen(sh *shared) *chatScreen {
	c := &chatScreen{sh: sh, settings: defaultSettings()}
	p := func(m tea.Msg) { c.posted = append(c.posted, m) }
	env := &renderEnv{st: sh.st, md: sh.md, loc: sh.opts.Location, roles: map[int64]api.Role{}}
	c.rooms = newRoomList(sh.st, sh.keys, &sh.me, p)
	c.tl = newTimeline(env, sh.keys, p)
	c.members = newMemberList(sh.st, sh.keys, &sh.me, sh.opts.CallPanel, p)
	c.search = newSearch(sh.st, sh.keys, c.tl, p)
	c.notices = newNotices(sh.st, sh.opts.Now, c.tl.replying)
	c.input = newComposer(sh.st, sh.keys, func() ([]string, []string) {
		return c.members.completionNames(), c.rooms.roomNames()
	}, p)
	c.help = newHelpOverlay(sh.st, sh.keys, sh.opts.CallPanel, p)
	c.switcher = newSwitcher(sh.st, sh.keys, c.rooms, p)
	c.meeting = newMeetingBar(sh.st, func(id int64) string { return env.roles[id].Name }, p)
	c.minutes = newMinutesOverlay(sh.st, sh.keys, p)
	return c
}

func (c *chatScreen) Init() tea.Cmd {
	return c.sh.pollRoomsCmd()
}

func (c *chatScreen) KeyBindings() []key.Binding {
	k := c.sh.keys
	return []key.Binding{k.Send, k.Switcher, k.FocusNext, k.Help, k.Quit}
}

func (c *chatScreen) now() time.Time { return c.sh.opts.Now() }

// Update handles one message, then the intents the components posted
// while handling it, in order.
func (c *chatScreen) Update(msg tea.Msg) tea.Cmd {
	cmds := []tea.Cmd{c.update(msg)}
	for len(c.posted) > 0 {
		next := c.posted[0]
		c.posted = c.posted[1:]
		cmds = append(cmds, c.intent(next))
	}
	cmds = append(cmds, c.notices.ensureTick())
	return tea.Batch(cmds...)
}

func (c *chatScreen) update(msg tea.Msg) tea.Cmd {
	if call := c.sh.opts.CallPanel; call != nil {
		if _, isKey := msg.(tea.KeyMsg); !isKey || c.focus != focusInput {
			if handled, cmd := call.Update(msg); handled {
				return cmd
			}
		}
	}
	if isShiftEnter(msg) && c.focus == focusInput && c.overlay == overlayNone && !c.search.open {
		return c.input.Update(msg)
	}
	switch msg := msg.(type) {
	case tea.KeyMsg:
		return c.handleKey(msg)
	case tea.MouseMsg:
		return c.handleMouse(msg)
	case roomsMsg:
		return c.onRooms(msg)
	case roomsTickMsg:
		return c.sh.pollRoomsCmd()
	case scanMsg:
		return c.onScan(msg)
	case memberChangedMsg:
		if msg.err != nil {
			c.notices.set(msg.err.Error(), true)
		} else {
			c.notices.set(msg.text, false)
		}
	case roomOpenedMsg:
		return c.onRoomOpened(msg)
	case olderMsg:
		return c.onOlder(msg)
	case streamMsg:
		return c.onStream(msg)
	case sendResultMsg:
		if msg.gen != c.conn.gen {
			return nil
		}
		c.conn.sending = false
		if msg.err != nil {
			if p := c.tl.pending(msg.clientID); p != nil {
				p.failed = errText(msg.err)
				p.invalidate()
			}
		}
		return c.flushOutbox()
	case peopleMsg:
		if msg.gen == c.conn.gen && msg.err == nil {
			c.setPeople(msg.members, msg.roles)
		}
	case roomCreatedMsg:
		if msg.err != nil {
			c.notices.set("create room: "+errText(msg.err), true)
			return nil
		}
		i := c.rooms.add(msg.room)
		c.syncRoomLabel()
		c.notices.set("created "+c.rooms.items[i].label, false)
		return c.switchTo(i)
	case roleSeatedMsg:
		if msg.err != nil {
			c.notices.set("seat: "+errText(msg.err), true)
			return nil
		}
		c.notices.set("seated "+msg.role.Name+" (@"+roleHandle(msg.role)+")", false)
		if r, ok := c.rooms.current(); ok && msg.gen == c.conn.gen {
			return c.sh.peopleCmd(c.conn.gen, r.ID)
		}
	case noticeMsg, tickMsg:
		return c.notices.Update(msg)
	case meetingStartedMsg:
		if msg.gen != c.conn.gen {
			return nil
		}
		if msg.err != nil {
			c.notices.set("meet: "+errText(msg.err), true)
			return nil
		}
		c.meeting.set(msg.meeting)
		c.meeting.ours = msg.meeting.ID
		c.notices.set("meeting "+quote(msg.meeting.Topic)+" started · /stop ends it", false)
	case meetingLoadedMsg:
		if msg.gen != c.conn.gen {
			return nil
		}
		if msg.err != nil {
			c.notices.set("minutes: "+errText(msg.err), true)
			return nil
		}
		c.minutes.show(msg.meeting)
		c.overlay = overlayMinutes
	}
	return nil
}

// intent handles what a component posted.
func (c *chatScreen) intent(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case focusMsg:
		c.setFocus(msg.area)
		if msg.key != nil {
			return c.routeKey(*msg.key)
		}
	case overlayMsg:
		c.overlay = msg.kind
	case openRoomMsg:
		return c.switchTo(msg.index)
	case addressMsg:
		c.input.address(msg.name)
	case submitMsg:
		return c.submit(msg.text)
	case typedMsg:
		return c.typed()
	case escapeMsg:
		switch {
		case c.tl.hl != nil:
			c.search.clear()
		case c.input.target != nil:
			c.input.target = nil
			c.notices.clearSticky()
		case c.tl.offset > 0:
			c.tl.toBottom()
			c.markRead()
		}
	case scrolledMsg:
		if msg.top {
			return c.loadOlder()
		}
		c.markRead()
	case searchKeyMsg:
		switch {
		case msg.open:
			c.search.start()
		case msg.clear:
			c.search.clear()
		default:
			c.search.next(msg.dir)
		}
	case noticeMsg:
		return c.notices.Update(msg)
	case meetingEndedMsg:
		// A meeting started here shows its minutes when it ends.
		if r, ok := c.rooms.current(); ok && msg.id == c.meeting.ours && msg.status != api.MeetingFailed {
			return c.sh.meetingCmd(c.conn.gen, r.ID, msg.id)
		}
	}
	return nil
}

// setFocus moves the focus (the input's textarea ignores keys while
// blurred, so both change together).
func (c *chatScreen) setFocus(f focusArea) {
	c.focus = f
	c.input.setFocused(f == focusInput)
	c.rooms.setFocused(f == focusRooms)
	c.members.focused = f == focusMembers
}

// ---- sending ----

// submit sends the input as a message or runs it as a slash command.
func (c *chatScreen) submit(text string) tea.Cmd {
	if strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//") {
		return c.command(text)
	}
	text = strings.TrimPrefix(text, "/")
	return c.send(text)
}

func (c *chatScreen) send(text string) tea.Cmd {
	if c.conn.stream == nil {
		if c.rooms.cur < 0 {
			c.notices.set("join a room first: /join ROOM or /create ROOM", true)
		} else {
			c.notices.set("not connected: ctrl+r reconnects", true)
		}
		c.input.setValue(text)
		return nil
	}
	f := wsproto.ClientFrame{Content: text, ClientID: uuid.NewString()}
	if t := c.input.target; t != nil {
		id := t.ID
		f.RoleID = &id
		c.notices.clearSticky() // it was true for this message only
		c.input.target = nil
	}
	e := &entry{kind: entryPending, msg: api.Message{
		Content: text, User: c.sh.me.Username, Timestamp: c.now(), ClientID: f.ClientID, MessageType: api.MessageText,
	}, queued: c.conn.state != client.StateConnected}
	c.tl.insert(e)
	c.tl.toBottom()
	c.conn.outbox = append(c.conn.outbox, f)
	return c.flushOutbox()
}

// flushOutbox hands the next frame to the stream. One send is in flight at
// a time so that lines typed quickly reach the room in the order typed.
func (c *chatScreen) flushOutbox() tea.Cmd {
	f, ok := c.conn.next()
	if !ok {
		return nil
	}
	return c.sh.sendCmd(c.conn.gen, c.conn.stream, f)
}

// stopAI cancels the newest reply still streaming.
func (c *chatScreen) stopAI() tea.Cmd {
	ids := c.tl.activeStreams()
	if len(ids) == 0 {
		c.notices.set("no AI reply is running", false)
		return nil
	}
	if c.conn.stream == nil {
		c.notices.set("not connected", true)
		return nil
	}
	return c.sh.cancelAICmd(c.conn.stream, ids[len(ids)-1])
}

// typed notes a keystroke in the input and tells the room, throttled.
func (c *chatScreen) typed() tea.Cmd {
	if c.conn.stream == nil || c.conn.state != client.StateConnected || strings.HasPrefix(c.input.value(), "/") {
		return nil
	}
	now := c.now()
	if now.Sub(c.conn.lastTyping) < typingEvery {
		return nil
	}
	c.conn.lastTyping = now
	return c.sh.typingCmd(c.conn.stream)
}

// shutdown closes the stream when the program ends.
func (c *chatScreen) shutdown() {
	if c.conn.stream != nil {
		_ = c.conn.stream.Close()
		c.conn.stream = nil
	}
}

func roomLabel(r api.Room) string { return "#" + r.Name }

// roleHandle is the role's @handle, derived from its name when unset.
func roleHandle(r api.Role) string {
	if r.Handle != "" {
		return r.Handle
	}
	return strings.ToLower(strings.Join(strings.Fields(r.Name), "-"))
}

// findRole finds a role by id, @handle or name.
func findRole(roles []api.Role, s string) (api.Role, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "@")
	for _, r := range roles {
		if strings.EqualFold(roleHandle(r), s) || strings.EqualFold(r.Name, s) {
			return r, true
		}
	}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		for _, r := range roles {
			if r.ID == id {
				return r, true
			}
		}
	}
	return api.Role{}, false
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
