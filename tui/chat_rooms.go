package tui

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

// Rooms as the screen sees them: the periodic listing, opening and leaving
// a room, /join, and rooms that go away. The room list component keeps the
// rooms and their read state; the screen moves the other components along.

func (c *chatScreen) onRooms(msg roomsMsg) tea.Cmd {
	var next tea.Cmd
	if msg.poll {
		next = roomsTickCmd(c.sh.opts.RoomsRefresh)
	}
	rl := c.rooms
	if msg.err != nil {
		if !rl.loaded {
			c.notices.set("could not list rooms: "+errText(msg.err), true)
		}
		return next
	}
	scans, lost, lostIdx := rl.merge(msg.rooms)
	c.syncRoomLabel()
	cmds := []tea.Cmd{next}
	for _, s := range scans {
		cmds = append(cmds, c.sh.scanCmd(s[0], s[1]))
	}
	if rl.loaded {
		if lost.room.ID != 0 {
			// Removed from the room, or it was deleted: the room list no
			// longer has it.
			cmds = append(cmds, c.leaveRoom(), c.lostRoom(lost.label, true, "", lostIdx))
		}
		if rl.added != 0 {
			if i := rl.roomIndex(rl.added); i >= 0 {
				rl.added = 0
				c.notices.set("you were added to "+rl.items[i].label+" (/join "+strings.TrimPrefix(rl.items[i].label, "#")+")", false)
			}
		}
		if want := rl.pendingJoin; want != "" {
			rl.pendingJoin = ""
			cmds = append(cmds, c.join(want, true))
		}
		return tea.Batch(cmds...)
	}
	rl.loaded = true
	if len(rl.items) == 0 {
		c.notices.set("no rooms yet: /create NAME", false)
		return tea.Batch(cmds...)
	}
	idx := 0
	if want := c.sh.opts.Room; want != "" {
		i, matches := rl.lookupRoom(want)
		switch {
		case i >= 0:
			idx = i
		case len(matches) > 1:
			idx = matches[0]
			c.notices.set(rl.ambiguous(want, matches)+"; opened "+rl.items[idx].label, true)
		default:
			c.notices.set(rl.noRoom(want), true)
		}
	}
	return tea.Batch(append(cmds, c.switchTo(idx))...)
}

// syncRoomLabel tells the timeline the open room's label (the "beginning
// of #room" line); labels change when another room takes the same name.
func (c *chatScreen) syncRoomLabel() {
	if l := c.rooms.label(); l != "" {
		c.tl.env.room = l
	}
}

// onScan marks mentions of me in rooms that are not open.
func (c *chatScreen) onScan(msg scanMsg) tea.Cmd {
	rang, label := c.rooms.onScan(msg)
	if !rang {
		return nil
	}
	c.notices.set("you were mentioned in "+label, false)
	if c.settings.bell {
		return c.sh.bellCmd()
	}
	return nil
}

// leaveRoom closes the current room's stream and clears its state.
func (c *chatScreen) leaveRoom() tea.Cmd {
	cmd := c.conn.leave()
	c.tl.reset()
	c.members.reset()
	c.notices.resetTyping()
	c.input.target = nil
	c.notices.unstick()
	c.search.reset()
	c.meeting.reset()
	return cmd
}

// switchTo opens room i.
func (c *chatScreen) switchTo(i int) tea.Cmd {
	if i < 0 || i >= len(c.rooms.items) {
		return nil
	}
	closeCmd := c.leaveRoom()
	c.rooms.open(i)
	r := c.rooms.items[i]
	c.tl.env.room = r.label
	c.tl.loadingOlder = true
	c.conn.state = client.StateConnecting
	return tea.Batch(closeCmd, c.sh.openRoomCmd(c.conn.gen, r.room))
}

func (c *chatScreen) reconnect() tea.Cmd {
	if c.rooms.cur < 0 {
		return c.sh.roomsCmd()
	}
	return c.switchTo(c.rooms.cur)
}

func (c *chatScreen) onRoomOpened(msg roomOpenedMsg) tea.Cmd {
	if msg.gen != c.conn.gen {
		if msg.stream != nil {
			return closeStreamCmd(msg.stream)
		}
		return nil
	}
	c.tl.loadingOlder = false
	if why, gone := goneReason(msg.err); gone {
		return c.roomGone(c.rooms.cur, why)
	}
	if why, gone := goneReason(msg.streamErr); gone {
		return c.roomGone(c.rooms.cur, why)
	}
	if msg.err != nil {
		c.conn.gaveUp(errText(msg.err))
		c.notices.set(errText(msg.err)+" (ctrl+r retries)", true)
		return nil
	}
	c.setPeople(msg.members, msg.roles)
	if msg.meeting != nil {
		c.meeting.set(*msg.meeting)
	}
	for _, m := range msg.msgs {
		c.tl.addMessage(m)
	}
	c.tl.complete = len(msg.msgs) < c.sh.opts.HistoryPage
	c.tl.toBottom()
	c.markRead()
	if msg.streamErr != nil {
		c.conn.gaveUp(errText(msg.streamErr))
		return nil
	}
	c.conn.opened(msg.stream)
	return waitStream(c.conn.gen, c.conn.stream)
}

func (c *chatScreen) onOlder(msg olderMsg) tea.Cmd {
	if msg.gen != c.conn.gen {
		return nil
	}
	c.tl.loadingOlder = false
	if msg.err != nil {
		c.notices.set("older messages: "+errText(msg.err), true)
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
	r, ok := c.rooms.current()
	if !ok || c.tl.complete || c.tl.loadingOlder {
		return nil
	}
	before := c.tl.oldestSeq()
	if before == 0 {
		c.tl.complete = true
		return nil
	}
	c.tl.loadingOlder = true
	return c.sh.olderCmd(c.conn.gen, r.ID, before)
}

// markRead marks the open room read up to the newest loaded message.
func (c *chatScreen) markRead() { c.rooms.markRead(c.tl.newestSeq()) }

// setPeople replaces the open room's members and roles.
func (c *chatScreen) setPeople(members []api.Member, roles []api.Role) {
	c.members.set(members, roles)
	for _, r := range roles {
		c.tl.env.roles[r.ID] = r
	}
}

// join opens the room named s. A name not found triggers one refresh of the
// room list first (the user may have been added a moment ago); refreshed
// says that refresh already happened.
func (c *chatScreen) join(s string, refreshed bool) tea.Cmd {
	rl := c.rooms
	i, matches := rl.lookupRoom(s)
	switch {
	case len(matches) > 1:
		c.notices.set(rl.ambiguous(s, matches), true)
		return nil
	case i < 0 && !refreshed:
		rl.pendingJoin = s
		return c.sh.roomsCmd()
	case i < 0:
		c.notices.set(rl.noRoom(s), true)
		return nil
	case i == rl.cur && c.conn.stream != nil:
		c.notices.set("already in "+rl.items[i].label, false)
		return nil
	}
	return c.switchTo(i)
}

// roomGone takes room i out of the list after the user lost it: why is
// "deleted", "removed" or "" (unknown). When it was the open room, the
// room that takes its place in the list opens instead.
func (c *chatScreen) roomGone(i int, why string) tea.Cmd {
	rl := c.rooms
	if i < 0 || i >= len(rl.items) {
		return nil
	}
	label := rl.items[i].label
	wasCur := i == rl.cur
	var cmd tea.Cmd
	if wasCur {
		cmd = c.leaveRoom()
	}
	rl.remove(i)
	c.syncRoomLabel()
	return tea.Batch(cmd, c.lostRoom(label, wasCur, why, i))
}

// lostRoom says that the room called label is gone and, when it was the
// open one (already left), opens the room at index next instead.
func (c *chatScreen) lostRoom(label string, wasCur bool, why string, next int) tea.Cmd {
	rl := c.rooms
	rl.clampSel()
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
		c.notices.set(text, true)
		return nil
	case len(rl.items) == 0:
		c.tl.env.room = ""
		c.notices.set(text+" · no rooms left: /create NAME", true)
		return nil
	}
	next = min(max(next, 0), len(rl.items)-1)
	c.notices.set(text+" · now in "+rl.items[next].label, true)
	return c.switchTo(next)
}
