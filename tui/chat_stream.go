package tui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// Room stream events: connection state and chat events into the screen.

func (c *chatScreen) onStream(msg streamMsg) tea.Cmd {
	if msg.gen != c.conn.gen || c.conn.stream == nil {
		return nil
	}
	var cmds []tea.Cmd
	gone, why := false, ""
	for _, st := range msg.statuses {
		c.onStatus(st)
		if st.State == client.StateGaveUp {
			if w, ok := goneReason(st.Err); ok {
				gone, why = true, w
			}
		}
	}
	for _, ev := range msg.events {
		if cmd := c.onEvent(ev); cmd != nil {
			cmds = append(cmds, cmd)
		}
	}
	if gone {
		// Closed with 4003 (or refused with 404): the room was deleted or
		// we were removed; retrying cannot help, so move on (leaving the
		// room closes the stream that gave up).
		return tea.Batch(append(cmds, c.roomGone(c.rooms.cur, why))...)
	}
	if msg.ended {
		c.conn.stream = nil
		c.conn.open = false
		if c.conn.state != client.StateGaveUp {
			c.conn.state = client.StateGaveUp
		}
		return tea.Batch(cmds...)
	}
	cmds = append(cmds, waitStream(c.conn.gen, c.conn.stream))
	return tea.Batch(cmds...)
}

func (c *chatScreen) onStatus(st client.StreamStatus) {
	c.conn.status(st)
	queued := st.State != client.StateConnected
	for _, e := range c.tl.tail() {
		if e.kind == entryPending && e.queued != queued && e.failed == "" {
			e.queued = queued
			e.invalidate()
		}
	}
}

func (c *chatScreen) onEvent(ev wsproto.Event) tea.Cmd {
	me := c.sh.me.Username
	switch ev.Type {
	case wsproto.TypeMessage:
		m := messageFromEvent(ev)
		if c.tl.addMessage(m) {
			if c.tl.offset == 0 {
				c.markRead()
			} else {
				c.rooms.seen(m) // read while scrolled up: mine never count
			}
		}
		c.notices.stopped(ev.User)
	case wsproto.TypePresence:
		users := make([]string, len(ev.Online))
		for i, u := range ev.Online {
			users[i] = u.Username
		}
		c.members.setOnline(users)
	case wsproto.TypeJoin, wsproto.TypeLeave:
		if ev.User == "" {
			return nil
		}
		if ev.Type == wsproto.TypeJoin {
			if !c.members.arrived(ev.User) {
				return nil // another socket of someone already here
			}
		} else {
			c.members.departed(ev.User)
			c.notices.stopped(ev.User)
		}
		if ev.User != me && c.settings.joins {
			verb := "joined"
			if ev.Type == wsproto.TypeLeave {
				verb = "left"
			}
			c.tl.presence(ev.User, verb, c.eventTime(ev))
		}
		if !c.members.isMember(ev.User) {
			if r, ok := c.rooms.current(); ok {
				return c.sh.peopleCmd(c.conn.gen, r.ID)
			}
		}
	case wsproto.TypeTyping:
		if ev.User != "" && ev.User != me {
			c.notices.typed(ev.User)
		}
	case wsproto.TypeMeetingStart, wsproto.TypeMeetingTurn, wsproto.TypeMeetingEnd:
		return c.meeting.Update(meetingEventMsg{ev: ev})
	case wsproto.TypeAIStart:
		c.aiEntry(ev)
		if ev.MeetingID != 0 {
			return c.meeting.Update(meetingEventMsg{ev: ev})
		}
	case wsproto.TypeAIDelta:
		e := c.aiEntry(ev)
		e.buf.WriteString(ev.Delta)
		e.invalidate()
	case wsproto.TypeAIDone:
		if ev.Usage != nil {
			// The stored reply usually came first; else the stream keeps
			// the usage until it does.
			if m := c.tl.message(ev.MessageID); m != nil {
				m.usage = ev.Usage
				if m.model == "" {
					if e := c.tl.aiStream(ev.StreamID); e != nil {
						m.model = e.model
					}
				}
				m.invalidate()
			} else if e := c.tl.aiStream(ev.StreamID); e != nil {
				e.usage = ev.Usage
			}
		}
		if e := c.tl.aiStream(ev.StreamID); e != nil {
			if (ev.MessageID != 0 && c.tl.ids[ev.MessageID]) || e.buf.Len() == 0 {
				c.tl.remove(e)
			} else {
				// Keep the streamed text, finished, until its message arrives.
				e.aiDone = true
				e.invalidate()
			}
		}
	case wsproto.TypeAIError:
		if e := c.tl.aiStream(ev.StreamID); e != nil {
			c.tl.remove(e)
			name := e.roleName
			c.notices.set(name+": "+firstNonEmpty(ev.Detail, "the reply failed"), true)
		}
	case wsproto.TypeAck:
		// The message event that follows replaces the pending entry.
	case wsproto.TypeError:
		if ev.ClientID != "" {
			if p := c.tl.pending(ev.ClientID); p != nil {
				p.failed = firstNonEmpty(ev.Detail, "refused")
				p.invalidate()
				return nil
			}
		}
		c.notices.set(firstNonEmpty(ev.Detail, "the server refused that"), true)
	case wsproto.TypeRoomAdded:
		// We were added to a room: it is in the room list at once.
		if ev.RoomID != 0 && c.rooms.roomIndex(ev.RoomID) < 0 {
			c.rooms.added = ev.RoomID
		}
		return c.sh.roomsCmd()
	case wsproto.TypeMembers:
		if r, ok := c.rooms.current(); ok {
			return c.sh.peopleCmd(c.conn.gen, r.ID)
		}
	}
	return nil
}

func (c *chatScreen) eventTime(ev wsproto.Event) time.Time {
	if !ev.Timestamp.IsZero() {
		return ev.Timestamp
	}
	return c.now()
}

// aiEntry returns the streaming entry of ev's reply, creating it (also for
// a delta of a reply that started before we joined).
func (c *chatScreen) aiEntry(ev wsproto.Event) *entry {
	if e := c.tl.aiStream(ev.StreamID); e != nil {
		return e
	}
	e := &entry{kind: entryAI, streamID: ev.StreamID, roleName: ev.Role, model: ev.Model, msg: api.Message{Timestamp: c.eventTime(ev)}}
	if ev.RoleID != nil {
		e.roleID = *ev.RoleID
		if e.roleName == "" {
			e.roleName = c.tl.env.roles[e.roleID].Name
		}
	}
	if e.roleName == "" {
		e.roleName = "AI"
	}
	c.tl.insert(e)
	return e
}

func messageFromEvent(ev wsproto.Event) api.Message {
	mt := ev.MessageType
	if mt == "" {
		mt = api.MessageText
	}
	return api.Message{
		ID: ev.ID, RoomID: ev.RoomID, UserID: ev.UserID, RoleID: ev.RoleID,
		Content: ev.Content, MessageType: mt, Timestamp: ev.Timestamp,
		Seq: ev.Seq, User: ev.User, ClientID: ev.ClientID, Truncated: ev.Truncated,
	}
}
