package tui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/charmbracelet/x/ansi"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// roomList is the room list component: the user's rooms with their read
// state (unread counts that leave out my own messages, mentions of me), the
// open one and the selection, lookups by name, id or NAME#ID, and the panel
// on the left. Opening a room is the screen's job: the list posts
// openRoomMsg.
type roomList struct {
	st   *styles.Styles
	keys keys.KeyMap
	post post
	me   *api.User

	items   []roomItem
	cur     int // index of the open room, -1 when none
	sel     int // the selection while the panel has the focus
	focused bool
	loaded  bool // the first listing arrived

	added       int64  // a room_added event's room, until the list has it
	pendingJoin string // a /join waiting for the list to refresh

	w, h int
}

func newRoomList(st *styles.Styles, km keys.KeyMap, me *api.User, p post) *roomList {
	return &roomList{st: st, keys: km, me: me, post: p, cur: -1}
}

// SetSize sets the panel's size (without its separator column).
func (rl *roomList) SetSize(w, h int) { rl.w, rl.h = w, h }

// setFocused gives or takes the focus; the selection starts at the open
// room.
func (rl *roomList) setFocused(f bool) {
	if f && !rl.focused {
		rl.sel = max(rl.cur, 0)
	}
	rl.focused = f
}

// current is the open room.
func (rl *roomList) current() (api.Room, bool) {
	if rl.cur < 0 || rl.cur >= len(rl.items) {
		return api.Room{}, false
	}
	return rl.items[rl.cur].room, true
}

// label is the open room's label ("" when none).
func (rl *roomList) label() string {
	if rl.cur < 0 || rl.cur >= len(rl.items) {
		return ""
	}
	return rl.items[rl.cur].label
}

// Update handles the panel's keys: ↑/↓ move, enter opens; every other
// printable key goes to the input (panelKey).
func (rl *roomList) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok || panelKey(k, rl.keys, rl.post) {
		return nil
	}
	switch {
	case keyIs(k, rl.keys.LineUp):
		rl.sel = max(rl.sel-1, 0)
	case keyIs(k, rl.keys.LineDown):
		rl.sel = min(rl.sel+1, max(len(rl.items)-1, 0))
	case keyIs(k, rl.keys.Select):
		rl.post(focusOn(focusInput, nil))
		if rl.sel != rl.cur {
			rl.post(openRoomMsg{index: rl.sel})
		}
	}
	return nil
}

// panelKey handles what the side panels share: typing goes to the input
// (the panels keep only ↑/↓, enter, esc and ?, so j and k are typed too),
// ? opens the help and esc returns to the input. It reports whether the
// key was one of these.
func panelKey(k tea.KeyMsg, km keys.KeyMap, p post) bool {
	switch {
	case isTyping(k) && k.String() != "?":
		p(focusOn(focusInput, &k))
	case keyIs(k, km.Help):
		p(overlayMsg{kind: overlayHelp})
	case keyIs(k, km.Back):
		p(focusOn(focusInput, nil))
	default:
		return false
	}
	return true
}

// View renders the panel.
func (rl *roomList) View() string { return strings.Join(rl.lines(), "\n") }

// lines renders the panel: w wide, exactly h lines.
func (rl *roomList) lines() []string {
	st, w, h := rl.st, rl.w, rl.h
	lines := make([]string, 0, h)
	title := "Rooms"
	if rl.focused {
		title = "Rooms ◂"
	}
	lines = append(lines, padRight(st.PanelTitle.Render(" "+title), w))
	for i, r := range rl.items {
		if len(lines) >= h {
			break
		}
		mark := "  "
		if i == rl.cur {
			mark = "• "
		}
		if rl.focused && i == rl.sel {
			mark = "▸ "
		}
		count := ""
		if n := rl.unread(i); n > 0 {
			count = fmt.Sprintf(" %d", n)
			if n > 99 {
				count = " 99+"
			}
		}
		if r.mention && i != rl.cur {
			count = " @" + strings.TrimPrefix(count, " ") // a mention of me
		}
		name := truncate(r.label, w-len(mark)-ansi.StringWidth(count)-1)
		line := mark + name
		line = padRight(line, w-ansi.StringWidth(count)-1) + count + " "
		switch {
		case rl.focused && i == rl.sel:
			line = st.RoomSelected.Render(line)
		case i == rl.cur:
			line = st.RoomCurrent.Render(line)
		case count != "":
			line = st.Unread.Render(line)
		default:
			line = st.RoomItem.Render(line)
		}
		lines = append(lines, line)
	}
	for len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	return lines
}

// merge takes a fresh listing from the server, keeping the read state of
// the rooms already known. It returns the rooms with new messages to scan
// (id and the seq scanned up to) and, when the open room is no longer
// listed, its id and label and its former index.
func (rl *roomList) merge(rooms []api.Room) (scans [][2]int64, lost roomItem, lostIdx int) {
	known := make(map[int64]roomItem, len(rl.items))
	for _, r := range rl.items {
		known[r.room.ID] = r
	}
	var curID int64
	lostIdx = rl.cur
	if r, ok := rl.current(); ok {
		curID = r.ID
	}
	items := make([]roomItem, 0, len(rooms))
	rl.cur = -1
	for _, r := range rooms {
		it, ok := known[r.ID]
		if !ok {
			// Unknown so far: nothing in it counts as unread.
			it = roomItem{lastRead: r.LastSeq, checked: r.LastSeq}
		}
		it.room = r
		if r.ID == curID {
			rl.cur = len(items)
			it.room.LastSeq = max(r.LastSeq, known[r.ID].room.LastSeq)
			it.read()
		} else if r.LastSeq > it.checked {
			// New messages: look at who wrote them and whom they mention.
			scans = append(scans, [2]int64{r.ID, it.checked})
			it.checked = r.LastSeq
		}
		items = append(items, it)
	}
	rl.items = items
	rl.relabel()
	rl.clampSel()
	if curID != 0 && rl.cur < 0 {
		lost = known[curID]
	}
	return scans, lost, lostIdx
}

func (rl *roomList) clampSel() { rl.sel = min(max(rl.sel, 0), max(len(rl.items)-1, 0)) }

// add appends a room the user just created.
func (rl *roomList) add(r api.Room) int {
	rl.items = append(rl.items, roomItem{room: r, lastRead: r.LastSeq, checked: r.LastSeq})
	rl.relabel()
	return len(rl.items) - 1
}

// remove takes room i out of the list (the open room is left first).
func (rl *roomList) remove(i int) {
	if i == rl.cur {
		rl.cur = -1
	} else if rl.cur > i {
		rl.cur--
	}
	rl.items = append(rl.items[:i], rl.items[i+1:]...)
	rl.relabel()
}

// open makes room i the open one and marks it read.
func (rl *roomList) open(i int) {
	rl.cur, rl.sel = i, i
	rl.items[i].read()
}

// seen records a live message of the open room that arrived while the view
// was scrolled up: the room's newest seq moves without marking it read, and
// my own messages never count as unread.
func (rl *roomList) seen(m api.Message) {
	if rl.cur < 0 || m.Seq <= rl.items[rl.cur].room.LastSeq {
		return
	}
	r := &rl.items[rl.cur]
	r.room.LastSeq, r.checked = m.Seq, m.Seq
	if rl.isMine(m) {
		r.own++
	}
}

// roomItem is a room of the room list with its read state.
type roomItem struct {
	room     api.Room
	label    string // "#name", or "#name#id" when another room has the name
	lastRead int64
	checked  int64 // the newest seq whose messages were looked at
	own      int   // my messages after lastRead: never unread
	mention  bool  // a message after lastRead mentions me
}

// read marks everything up to the room's newest message as read.
func (r *roomItem) read() {
	r.lastRead = max(r.lastRead, r.room.LastSeq)
	r.checked = max(r.checked, r.lastRead)
	r.own, r.mention = 0, false
}

// roomNames are the /join completions: room names, NAME#ID where several
// rooms share a name.
func (rl *roomList) roomNames() []string {
	names := make([]string, len(rl.items))
	for i, r := range rl.items {
		names[i] = strings.TrimPrefix(r.label, "#")
	}
	return names
}

// roomIndex finds a room of the list by id (-1: none).
func (rl *roomList) roomIndex(id int64) int {
	for i, r := range rl.items {
		if r.room.ID == id {
			return i
		}
	}
	return -1
}

// relabel names every room "#name", or "#name#id" when several of the
// user's rooms share the name (rooms are shared through membership).
func (rl *roomList) relabel() {
	count := make(map[string]int, len(rl.items))
	for _, r := range rl.items {
		count[strings.ToLower(r.room.Name)]++
	}
	for i := range rl.items {
		r := &rl.items[i]
		r.label = roomLabel(r.room)
		if count[strings.ToLower(r.room.Name)] > 1 {
			r.label += "#" + strconv.FormatInt(r.room.ID, 10)
		}
	}
}

// lookupRoom finds a room by name, id or NAME#ID (with or without a leading
// '#'). It returns -1 and the candidates when the name matches several rooms.
func (rl *roomList) lookupRoom(s string) (int, []int) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if name, idText, ok := cutLast(s, "#"); ok {
		if id, err := strconv.ParseInt(idText, 10, 64); err == nil {
			for i, r := range rl.items {
				if r.room.ID == id && (name == "" || strings.EqualFold(r.room.Name, name)) {
					return i, nil
				}
			}
			return -1, nil
		}
	}
	var matches []int
	for i, r := range rl.items {
		if strings.EqualFold(r.room.Name, s) {
			matches = append(matches, i)
		}
	}
	if len(matches) == 1 {
		return matches[0], nil
	}
	if len(matches) > 1 {
		return -1, matches
	}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i := rl.roomIndex(id); i >= 0 {
			return i, nil
		}
	}
	return -1, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// ambiguous says which rooms share a name and how to pick one.
func (rl *roomList) ambiguous(name string, matches []int) string {
	labels := make([]string, len(matches))
	for k, i := range matches {
		labels[k] = strings.TrimPrefix(rl.items[i].label, "#")
	}
	return strconv.Itoa(len(matches)) + " rooms are called " + quote(strings.TrimPrefix(name, "#")) +
		": /join " + strings.Join(labels, " or ")
}

// noRoom says that none of the user's rooms is called s. It suggests
// /create only for a name no room of theirs has (NAME#ID with a wrong id
// names an existing room).
func (rl *roomList) noRoom(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	name, _, hasID := cutLast(s, "#")
	if !hasID {
		name = s
	}
	var same []int
	for i, r := range rl.items {
		if strings.EqualFold(r.room.Name, name) {
			same = append(same, i)
		}
	}
	if len(same) > 0 {
		labels := make([]string, len(same))
		for k, i := range same {
			labels[k] = strings.TrimPrefix(rl.items[i].label, "#")
		}
		return "no room " + quote(s) + " among yours; " + quote(name) + " is " + strings.Join(labels, ", ")
	}
	return "no room " + quote(s) + " among yours: /create " + name + " makes it"
}

// goneReason reads why the server refused the open room: the close reason
// of 4003 ("room deleted", "removed from the room") or a 404.
func goneReason(err error) (why string, gone bool) {
	if err == nil || !client.IsNotFound(err) {
		return "", false
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		switch d := strings.ToLower(ce.Detail); {
		case strings.Contains(d, "deleted"):
			return "deleted", true
		case strings.Contains(d, "removed"):
			return "removed", true
		}
	}
	return "", true
}

// markRead marks the open room read up to newest, the newest loaded
// message.
func (rl *roomList) markRead(newest int64) {
	if rl.cur < 0 {
		return
	}
	r := &rl.items[rl.cur]
	if s := newest; s > r.room.LastSeq {
		r.room.LastSeq = s
	}
	r.read()
}

// unread counts the messages of room i after the last one read, less my
// own.
func (rl *roomList) unread(i int) int {
	if i == rl.cur {
		return 0
	}
	r := rl.items[i]
	return int(max(0, r.room.LastSeq-r.lastRead-int64(r.own)))
}

// onScan counts my own messages among a room's new ones and notices
// mentions of me: the room is marked, and rang reports the first mention
// (the screen says so and rings the bell).
func (rl *roomList) onScan(msg scanMsg) (rang bool, label string) {
	i := rl.roomIndex(msg.roomID)
	if i < 0 || i == rl.cur {
		return false, ""
	}
	r := &rl.items[i]
	// A scan may fail part way: the messages it did not reach count as
	// unread, and the next poll does not look at them again.
	for _, m := range msg.msgs {
		if m.Seq <= r.lastRead {
			continue
		}
		switch {
		case rl.isMine(m):
			r.own++
		case mentions(m.Content, rl.me.Username):
			if !r.mention {
				rang = true
			}
			r.mention = true
		}
	}
	return rang, r.label
}

// isMine reports whether I wrote m (AI replies to me are not mine).
func (rl *roomList) isMine(m api.Message) bool {
	if m.MessageType == api.MessageAIResponse || m.MessageType == api.MessageSystem {
		return false
	}
	if m.UserID != nil {
		return *m.UserID == rl.me.ID
	}
	return m.User == rl.me.Username
}

// mentions reports whether text mentions @name as a whole word.
func mentions(text, name string) bool {
	if name == "" {
		return false
	}
	lt, at := strings.ToLower(text), "@"+strings.ToLower(name)
	for off := 0; ; {
		k := strings.Index(lt[off:], at)
		if k < 0 {
			return false
		}
		end := off + k + len(at)
		if end == len(lt) {
			return true
		}
		if r, _ := utf8.DecodeRuneInString(lt[end:]); !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' {
			return true
		}
		off = end
	}
}
