package tui

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

// The room list: refresh, read state (unread counts that leave out my own
// messages, mentions of me), lookups by name, id or NAME#ID, and rooms that
// go away.

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

func (c *chatScreen) onRooms(msg roomsMsg) tea.Cmd {
	var next tea.Cmd
	if msg.poll {
		next = roomsTickCmd(c.sh.opts.RoomsRefresh)
	}
	if msg.err != nil {
		if !c.loaded {
			c.setNotice("could not list rooms: "+errText(msg.err), true)
		}
		return next
	}
	known := make(map[int64]roomItem, len(c.rooms))
	for _, r := range c.rooms {
		known[r.room.ID] = r
	}
	var curID int64
	curIdx := c.cur
	if r, ok := c.curRoom(); ok {
		curID = r.ID
	}
	items := make([]roomItem, 0, len(msg.rooms))
	cmds := []tea.Cmd{next}
	c.cur = -1
	for _, r := range msg.rooms {
		it, ok := known[r.ID]
		if !ok {
			// Unknown so far: nothing in it counts as unread.
			it = roomItem{lastRead: r.LastSeq, checked: r.LastSeq}
		}
		it.room = r
		if r.ID == curID {
			c.cur = len(items)
			it.room.LastSeq = max(r.LastSeq, known[r.ID].room.LastSeq)
			it.read()
		} else if r.LastSeq > it.checked {
			// New messages: look at who wrote them and whom they mention.
			cmds = append(cmds, c.sh.scanCmd(r.ID, it.checked))
			it.checked = r.LastSeq
		}
		items = append(items, it)
	}
	c.rooms = items
	c.relabel()
	c.sel = min(max(c.sel, 0), max(len(items)-1, 0))
	if c.loaded {
		if curID != 0 && c.cur < 0 {
			// Removed from the room, or it was deleted: the room list no
			// longer has it.
			cmds = append(cmds, c.leaveRoom(), c.lostRoom(known[curID].label, true, "", curIdx))
		}
		if c.added != 0 {
			if i := c.roomIndex(c.added); i >= 0 {
				c.added = 0
				c.setNotice("you were added to "+c.rooms[i].label+" (/join "+strings.TrimPrefix(c.rooms[i].label, "#")+")", false)
			}
		}
		if want := c.pendingJoin; want != "" {
			c.pendingJoin = ""
			cmds = append(cmds, c.join(want, true))
		}
		return tea.Batch(cmds...)
	}
	c.loaded = true
	if len(items) == 0 {
		c.setNotice("no rooms yet: /create NAME", false)
		return tea.Batch(cmds...)
	}
	idx := 0
	if want := c.sh.opts.Room; want != "" {
		i, matches := c.lookupRoom(want)
		switch {
		case i >= 0:
			idx = i
		case len(matches) > 1:
			idx = matches[0]
			c.setNotice(c.ambiguous(want, matches)+"; opened "+c.rooms[idx].label, true)
		default:
			c.setNotice(c.noRoom(want), true)
		}
	}
	return tea.Batch(append(cmds, c.switchTo(idx))...)
}

// roomNames are the /join completions: room names, NAME#ID where several
// rooms share a name.
func (c *chatScreen) roomNames() []string {
	names := make([]string, len(c.rooms))
	for i, r := range c.rooms {
		names[i] = strings.TrimPrefix(r.label, "#")
	}
	return names
}

func (c *chatScreen) hasSuggestions() bool {
	_, names := c.input.suggestions(c.completionNames(), c.roomNames())
	return len(names) > 0
}

// roomIndex finds a room of the list by id (-1: none).
func (c *chatScreen) roomIndex(id int64) int {
	for i, r := range c.rooms {
		if r.room.ID == id {
			return i
		}
	}
	return -1
}

// relabel names every room "#name", or "#name#id" when several of the
// user's rooms share the name (rooms are shared through membership).
func (c *chatScreen) relabel() {
	count := make(map[string]int, len(c.rooms))
	for _, r := range c.rooms {
		count[strings.ToLower(r.room.Name)]++
	}
	for i := range c.rooms {
		r := &c.rooms[i]
		r.label = roomLabel(r.room)
		if count[strings.ToLower(r.room.Name)] > 1 {
			r.label += "#" + strconv.FormatInt(r.room.ID, 10)
		}
	}
	if c.cur >= 0 && c.cur < len(c.rooms) {
		c.env.room = c.rooms[c.cur].label
	}
}

// lookupRoom finds a room by name, id or NAME#ID (with or without a leading
// '#'). It returns -1 and the candidates when the name matches several rooms.
func (c *chatScreen) lookupRoom(s string) (int, []int) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if name, idText, ok := cutLast(s, "#"); ok {
		if id, err := strconv.ParseInt(idText, 10, 64); err == nil {
			for i, r := range c.rooms {
				if r.room.ID == id && (name == "" || strings.EqualFold(r.room.Name, name)) {
					return i, nil
				}
			}
			return -1, nil
		}
	}
	var matches []int
	for i, r := range c.rooms {
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
		if i := c.roomIndex(id); i >= 0 {
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
func (c *chatScreen) ambiguous(name string, matches []int) string {
	labels := make([]string, len(matches))
	for k, i := range matches {
		labels[k] = strings.TrimPrefix(c.rooms[i].label, "#")
	}
	return strconv.Itoa(len(matches)) + " rooms are called " + quote(strings.TrimPrefix(name, "#")) +
		": /join " + strings.Join(labels, " or ")
}

// noRoom says that none of the user's rooms is called s. It suggests
// /create only for a name no room of theirs has (NAME#ID with a wrong id
// names an existing room).
func (c *chatScreen) noRoom(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	name, _, hasID := cutLast(s, "#")
	if !hasID {
		name = s
	}
	var same []int
	for i, r := range c.rooms {
		if strings.EqualFold(r.room.Name, name) {
			same = append(same, i)
		}
	}
	if len(same) > 0 {
		labels := make([]string, len(same))
		for k, i := range same {
			labels[k] = strings.TrimPrefix(c.rooms[i].label, "#")
		}
		return "no room " + quote(s) + " among yours; " + quote(name) + " is " + strings.Join(labels, ", ")
	}
	return "no room " + quote(s) + " among yours: /create " + name + " makes it"
}

// join opens the room named s. A name not found triggers one refresh of the
// room list first (the user may have been added a moment ago); refreshed
// says that refresh already happened.
func (c *chatScreen) join(s string, refreshed bool) tea.Cmd {
	i, matches := c.lookupRoom(s)
	switch {
	case len(matches) > 1:
		c.setNotice(c.ambiguous(s, matches), true)
		return nil
	case i < 0 && !refreshed:
		c.pendingJoin = s
		return c.sh.roomsCmd()
	case i < 0:
		c.setNotice(c.noRoom(s), true)
		return nil
	case i == c.cur && c.stream != nil:
		c.setNotice("already in "+c.rooms[i].label, false)
		return nil
	}
	return c.switchTo(i)
}

// roomGone takes room i out of the list after the user lost it: why is
// "deleted", "removed" or "" (unknown). When it was the open room, the
// room that takes its place in the list opens instead.
func (c *chatScreen) roomGone(i int, why string) tea.Cmd {
	if i < 0 || i >= len(c.rooms) {
		return nil
	}
	label := c.rooms[i].label
	wasCur := i == c.cur
	var cmd tea.Cmd
	if wasCur {
		cmd = c.leaveRoom()
		c.cur = -1
	} else if c.cur > i {
		c.cur--
	}
	c.rooms = append(c.rooms[:i], c.rooms[i+1:]...)
	c.relabel()
	return tea.Batch(cmd, c.lostRoom(label, wasCur, why, i))
}

// lostRoom says that the room called label is gone and, when it was the
// open one (already left), opens the room at index next instead.
func (c *chatScreen) lostRoom(label string, wasCur bool, why string, next int) tea.Cmd {
	c.sel = min(max(c.sel, 0), max(len(c.rooms)-1, 0))
	var text string
	switch why {
	case "deleted":
		text = "room " + label + " was deleted"
	case "removed":
		text = "you were removed from " + label
	default:
		text = "you are no longer in " + label + " (removed, or the room was deleted)"
	}
	switch {
	case !wasCur:
		c.setNotice(text, true)
		return nil
	case len(c.rooms) == 0:
		c.env.room = ""
		c.setNotice(text+" · no rooms left: /create NAME", true)
		return nil
	}
	next = min(max(next, 0), len(c.rooms)-1)
	c.setNotice(text+" · now in "+c.rooms[next].label, true)
	return c.switchTo(next)
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

// markRead marks the open room read up to the newest loaded message.
func (c *chatScreen) markRead() {
	if c.cur < 0 {
		return
	}
	r := &c.rooms[c.cur]
	if s := c.tl.newestSeq(); s > r.room.LastSeq {
		r.room.LastSeq = s
	}
	r.read()
}

// unread counts the messages of room i after the last one read, less my
// own.
func (c *chatScreen) unread(i int) int {
	if i == c.cur {
		return 0
	}
	r := c.rooms[i]
	return int(max(0, r.room.LastSeq-r.lastRead-int64(r.own)))
}

// onScan counts my own messages among a room's new ones and notices
// mentions of me: the room is marked and the bell rings (/set bell).
func (c *chatScreen) onScan(msg scanMsg) tea.Cmd {
	i := c.roomIndex(msg.roomID)
	if i < 0 || i == c.cur {
		return nil
	}
	r := &c.rooms[i]
	rang := false
	// A scan may fail part way: the messages it did not reach count as
	// unread, and the next poll does not look at them again.
	for _, m := range msg.msgs {
		if m.Seq <= r.lastRead {
			continue
		}
		switch {
		case c.isMine(m):
			r.own++
		case mentions(m.Content, c.sh.me.Username):
			if !r.mention {
				rang = true
			}
			r.mention = true
		}
	}
	if rang {
		c.setNotice("you were mentioned in "+r.label, false)
		if c.settings.bell {
			return c.sh.bellCmd()
		}
	}
	return nil
}

// isMine reports whether I wrote m (AI replies to me are not mine).
func (c *chatScreen) isMine(m api.Message) bool {
	if m.MessageType == api.MessageAIResponse || m.MessageType == api.MessageSystem {
		return false
	}
	if m.UserID != nil {
		return *m.UserID == c.sh.me.ID
	}
	return m.User == c.sh.me.Username
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
