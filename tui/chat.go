package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// typingTTL is how long a "typing" event from someone else is shown.
const typingTTL = 6 * time.Second

// noticeTTL is how long a notice stays on the info line.
const noticeTTL = 8 * time.Second

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
)

// connState is what the status line says about the socket.
type connState struct {
	state   client.StreamState
	attempt int
	retryIn time.Duration
	err     string
	open    bool // a stream exists
}

// chatScreen is the main screen: rooms, messages, members, input, status.
type chatScreen struct {
	sh *shared
	w  int
	h  int

	rooms  []roomItem
	cur    int // index into rooms, -1 when none
	sel    int // selection in the room list
	loaded bool

	gen     int // bumped on every room switch
	stream  Stream
	conn    connState
	outbox  []wsproto.ClientFrame // frames waiting for the one send in flight
	sending bool

	env     *renderEnv
	tl      *timeline
	members []api.Member
	online  map[string]bool
	roles   []api.Role
	typing  map[string]time.Time
	ticking bool

	input       composer
	focus       focusArea
	overlay     overlayKind
	helpOff     int // first row of the help overlay shown (it scrolls on short terminals)
	switcher    switcher
	memberSel   int
	membersFlip bool // the user toggled the members panel (/members)

	searching bool // the search prompt is open
	search    textinput.Model
	hits      []*entry
	hitIdx    int
	query     string

	target     *api.Role // /role: the role the next message goes to
	notice     string
	noticeErr  bool
	noticeAt   time.Time
	lastTyping time.Time

	call CallPanel

	settings    chatSettings
	added       int64  // a room_added event's room, until the room list has it
	pendingJoin string // a /join waiting for the room list to refresh

	panelKey   panelKey // the members panel's cached frame
	panelLines []string
}

func newChatScreen(sh *shared) *chatScreen {
	env := &renderEnv{st: sh.st, md: sh.md, loc: sh.opts.Location, roles: map[int64]api.Role{}}
	si := textinput.New()
	si.Prompt = "/ "
	si.Placeholder = "search loaded messages"
	c := &chatScreen{
		sh: sh, cur: -1, env: env, tl: newTimeline(env),
		online: map[string]bool{}, typing: map[string]time.Time{},
		input: newComposer(sh.st, sh.keys), search: si,
		call: sh.opts.CallPanel, settings: defaultSettings(),
	}
	return c
}

func (c *chatScreen) Init() tea.Cmd {
	return c.sh.pollRoomsCmd()
}

func (c *chatScreen) KeyBindings() []key.Binding {
	k := c.sh.keys
	return []key.Binding{k.Send, k.Switcher, k.FocusNext, k.Help, k.Quit}
}

func (c *chatScreen) curRoom() (api.Room, bool) {
	if c.cur < 0 || c.cur >= len(c.rooms) {
		return api.Room{}, false
	}
	return c.rooms[c.cur].room, true
}

func (c *chatScreen) now() time.Time { return c.sh.opts.Now() }

func (c *chatScreen) setNotice(text string, isErr bool) {
	c.notice, c.noticeErr, c.noticeAt = text, isErr, c.now()
}

// Update handles one message.
func (c *chatScreen) Update(msg tea.Msg) tea.Cmd {
	cmd := c.update(msg)
	if t := c.ensureTick(); t != nil {
		return tea.Batch(cmd, t)
	}
	return cmd
}

// ensureTick keeps a one-second tick running while something on screen
// expires with time (typing indicators, notices).
func (c *chatScreen) ensureTick() tea.Cmd {
	if c.ticking || (len(c.typing) == 0 && !c.noticeActive()) {
		return nil
	}
	c.ticking = true
	return tickCmd()
}

func (c *chatScreen) noticeActive() bool {
	if c.target != nil && c.notice == roleNotice(*c.target) {
		return true // true until the message it announces is sent
	}
	return c.notice != "" && c.now().Sub(c.noticeAt) < noticeTTL
}

func (c *chatScreen) update(msg tea.Msg) tea.Cmd {
	if c.call != nil {
		if _, isKey := msg.(tea.KeyMsg); !isKey || c.focus != focusInput {
			if handled, cmd := c.call.Update(msg); handled {
				return cmd
			}
		}
	}
	if isShiftEnter(msg) && c.focus == focusInput && c.overlay == overlayNone && !c.searching {
		c.input.ta.InsertRune('\n')
		c.input.fit()
		return nil
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
			c.setNotice(msg.err.Error(), true)
		} else {
			c.setNotice(msg.text, false)
		}
	case roomOpenedMsg:
		return c.onRoomOpened(msg)
	case olderMsg:
		return c.onOlder(msg)
	case streamMsg:
		return c.onStream(msg)
	case sendResultMsg:
		if msg.gen != c.gen {
			return nil
		}
		c.sending = false
		if msg.err != nil {
			if p := c.tl.pending(msg.clientID); p != nil {
				p.failed = errText(msg.err)
				p.invalidate()
			}
		}
		return c.flushOutbox()
	case peopleMsg:
		if msg.gen == c.gen && msg.err == nil {
			c.setPeople(msg.members, msg.roles)
		}
	case roomCreatedMsg:
		if msg.err != nil {
			c.setNotice("create room: "+errText(msg.err), true)
			return nil
		}
		c.rooms = append(c.rooms, roomItem{room: msg.room, lastRead: msg.room.LastSeq, checked: msg.room.LastSeq})
		c.relabel()
		c.setNotice("created "+c.rooms[len(c.rooms)-1].label, false)
		return c.switchTo(len(c.rooms) - 1)
	case roleSeatedMsg:
		if msg.err != nil {
			c.setNotice("seat: "+errText(msg.err), true)
			return nil
		}
		c.setNotice("seated "+msg.role.Name+" (@"+roleHandle(msg.role)+")", false)
		if r, ok := c.curRoom(); ok && msg.gen == c.gen {
			return c.sh.peopleCmd(c.gen, r.ID)
		}
	case noticeMsg:
		c.setNotice(msg.text, msg.err)
	case tickMsg:
		c.ticking = false
		c.pruneTyping()
	}
	return nil
}

// ---- rooms ----

// leaveRoom closes the current room's stream and clears its state.
func (c *chatScreen) leaveRoom() tea.Cmd {
	var cmd tea.Cmd
	if c.stream != nil {
		cmd = closeStreamCmd(c.stream)
		c.stream = nil
	}
	c.gen++
	c.conn = connState{}
	c.tl.reset()
	c.members, c.roles = nil, nil
	c.online = map[string]bool{}
	c.typing = map[string]time.Time{}
	c.target = nil
	c.hits, c.query = nil, ""
	c.outbox, c.sending = nil, false
	return cmd
}

// switchTo opens room i.
func (c *chatScreen) switchTo(i int) tea.Cmd {
	if i < 0 || i >= len(c.rooms) {
		return nil
	}
	closeCmd := c.leaveRoom()
	c.cur, c.sel = i, i
	r := &c.rooms[i]
	r.read()
	c.env.room = r.label
	c.tl.loadingOlder = true
	c.conn = connState{state: client.StateConnecting}
	return tea.Batch(closeCmd, c.sh.openRoomCmd(c.gen, r.room))
}

func (c *chatScreen) reconnect() tea.Cmd {
	if c.cur < 0 {
		return c.sh.roomsCmd()
	}
	return c.switchTo(c.cur)
}

func (c *chatScreen) onRoomOpened(msg roomOpenedMsg) tea.Cmd {
	if msg.gen != c.gen {
		if msg.stream != nil {
			return closeStreamCmd(msg.stream)
		}
		return nil
	}
	c.tl.loadingOlder = false
	if why, gone := goneReason(msg.err); gone {
		return c.roomGone(c.cur, why)
	}
	if why, gone := goneReason(msg.streamErr); gone {
		return c.roomGone(c.cur, why)
	}
	if msg.err != nil {
		c.conn = connState{state: client.StateGaveUp, err: errText(msg.err)}
		c.setNotice(errText(msg.err)+" (ctrl+r retries)", true)
		return nil
	}
	c.setPeople(msg.members, msg.roles)
	for _, m := range msg.msgs {
		c.tl.addMessage(m)
	}
	c.tl.complete = len(msg.msgs) < c.sh.opts.HistoryPage
	c.tl.toBottom()
	c.markRead()
	if msg.streamErr != nil {
		c.conn = connState{state: client.StateGaveUp, err: errText(msg.streamErr)}
		return nil
	}
	c.stream = msg.stream
	c.conn = connState{state: client.StateConnected, open: true}
	return waitStream(c.gen, c.stream)
}

func (c *chatScreen) onOlder(msg olderMsg) tea.Cmd {
	if msg.gen != c.gen {
		return nil
	}
	c.tl.loadingOlder = false
	if msg.err != nil {
		c.setNotice("older messages: "+errText(msg.err), true)
		return nil
	}
	c.tl.prepend(msg.msgs)
	if len(msg.msgs) < c.sh.opts.HistoryPage {
		c.tl.complete = true
	}
	return nil
}

// loadOlder asks for the page before the oldest loaded message.
func (c *chatScreen) loadOlder() tea.Cmd {
	r, ok := c.curRoom()
	if !ok || c.tl.complete || c.tl.loadingOlder {
		return nil
	}
	before := c.tl.oldestSeq()
	if before == 0 {
		c.tl.complete = true
		return nil
	}
	c.tl.loadingOlder = true
	return c.sh.olderCmd(c.gen, r.ID, before)
}

// ---- people ----

func (c *chatScreen) setPeople(members []api.Member, roles []api.Role) {
	c.members, c.roles = members, roles
	c.online = make(map[string]bool, len(members))
	for _, m := range members {
		if m.Online {
			c.online[m.Username] = true
		}
	}
	for _, r := range roles {
		c.env.roles[r.ID] = r
	}
	c.memberSel = min(c.memberSel, max(len(members)+len(roles)-1, 0))
}

// completionNames are the @names: seated roles' handles and members.
func (c *chatScreen) completionNames() []string {
	names := make([]string, 0, len(c.roles)+len(c.members))
	for _, r := range c.roles {
		names = append(names, roleHandle(r))
	}
	for _, m := range c.members {
		if m.Username != c.sh.me.Username {
			names = append(names, m.Username)
		}
	}
	return names
}

func (c *chatScreen) pruneTyping() {
	now := c.now()
	for u, t := range c.typing {
		if now.Sub(t) > typingTTL {
			delete(c.typing, u)
		}
	}
}

// ---- sending ----

// submit sends the input as a message or runs it as a slash command.
func (c *chatScreen) submit() tea.Cmd {
	text := strings.TrimRight(c.input.value(), " \n\t")
	if strings.TrimSpace(text) == "" {
		return nil
	}
	c.input.remember(text)
	c.input.reset()
	if strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//") {
		return c.command(text)
	}
	text = strings.TrimPrefix(text, "/")
	return c.send(text)
}

func (c *chatScreen) send(text string) tea.Cmd {
	if c.stream == nil {
		if c.cur < 0 {
			c.setNotice("join a room first: /join ROOM or /create ROOM", true)
		} else {
			c.setNotice("not connected: ctrl+r reconnects", true)
		}
		c.input.setValue(text)
		return nil
	}
	f := wsproto.ClientFrame{Content: text, ClientID: uuid.NewString()}
	if c.target != nil {
		id := c.target.ID
		f.RoleID = &id
		if c.notice == roleNotice(*c.target) {
			c.notice = "" // it was true for this message only
		}
		c.target = nil
	}
	e := &entry{kind: entryPending, msg: api.Message{
		Content: text, User: c.sh.me.Username, Timestamp: c.now(), ClientID: f.ClientID, MessageType: api.MessageText,
	}, queued: c.conn.state != client.StateConnected}
	c.tl.insert(e)
	c.tl.toBottom()
	c.outbox = append(c.outbox, f)
	return c.flushOutbox()
}

// flushOutbox hands the next frame to the stream. One send is in flight at
// a time so that lines typed quickly reach the room in the order typed.
func (c *chatScreen) flushOutbox() tea.Cmd {
	if c.sending || len(c.outbox) == 0 || c.stream == nil {
		return nil
	}
	f := c.outbox[0]
	c.outbox = c.outbox[1:]
	c.sending = true
	return c.sh.sendCmd(c.gen, c.stream, f)
}

// stopAI cancels the newest reply still streaming.
func (c *chatScreen) stopAI() tea.Cmd {
	ids := c.tl.activeStreams()
	if len(ids) == 0 {
		c.setNotice("no AI reply is running", false)
		return nil
	}
	if c.stream == nil {
		c.setNotice("not connected", true)
		return nil
	}
	return c.sh.cancelAICmd(c.stream, ids[len(ids)-1])
}

// typed notes a keystroke in the input and tells the room, throttled.
func (c *chatScreen) typed() tea.Cmd {
	if c.stream == nil || c.conn.state != client.StateConnected || strings.HasPrefix(c.input.value(), "/") {
		return nil
	}
	now := c.now()
	if now.Sub(c.lastTyping) < typingEvery {
		return nil
	}
	c.lastTyping = now
	return c.sh.typingCmd(c.stream)
}

// shutdown closes the stream when the program ends.
func (c *chatScreen) shutdown() {
	if c.stream != nil {
		_ = c.stream.Close()
		c.stream = nil
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
