package tui

import (
	tea "github.com/charmbracelet/bubbletea"
)

// wheelLines is how far one mouse wheel notch scrolls.
const wheelLines = 3

func (c *chatScreen) handleMouse(msg tea.MouseMsg) tea.Cmd {
	if c.overlay != overlayNone || msg.Action != tea.MouseActionPress {
		return nil
	}
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		c.tl.scrollBy(wheelLines)
	case tea.MouseButtonWheelDown:
		c.tl.scrollBy(-wheelLines)
	case tea.MouseButtonLeft:
		// A click on a room of the room list opens it (row 0 is the
		// header, row 1 the panel title).
		l := c.layout()
		if i := msg.Y - 2; msg.X < l.roomsW && i >= 0 && i < len(c.rooms.items) && msg.Y-1 < l.bodyH && i != c.rooms.cur {
			return c.switchTo(i)
		}
	}
	return nil
}

// handleKey routes a key: to the open overlay or search prompt, else the
// screen's own keys (those that work whatever has the focus), else the
// component with the focus.
func (c *chatScreen) handleKey(msg tea.KeyMsg) tea.Cmd {
	switch c.overlay {
	case overlayHelp:
		return c.help.Update(msg)
	case overlaySwitcher:
		return c.switcher.Update(msg)
	case overlayMinutes:
		return c.minutes.Update(msg)
	}
	if c.search.open {
		return c.search.Update(msg)
	}
	k := c.sh.keys
	switch {
	case keyIs(msg, k.Switcher):
		c.openSwitcher()
		return nil
	case keyIs(msg, k.StopAI):
		return c.stopAI()
	case keyIs(msg, k.Reconnect):
		c.notices.set("reconnecting…", false)
		return c.reconnect()
	case keyIs(msg, k.PageUp):
		c.tl.scrollBy(c.tl.page())
		return nil
	case keyIs(msg, k.PageDown):
		c.tl.scrollBy(-c.tl.page())
		return nil
	case keyIs(msg, k.FocusNext):
		if c.focus == focusInput && c.input.tab() {
			return nil
		}
		c.cycleFocus(1)
		return nil
	case keyIs(msg, k.FocusPrev):
		c.cycleFocus(-1)
		return nil
	case msg.String() == "f1":
		c.overlay = overlayHelp
		return nil
	case msg.String() == "ctrl+f":
		c.search.start()
		return nil
	}
	return c.routeKey(msg)
}

// routeKey gives a key to the component with the focus.
func (c *chatScreen) routeKey(msg tea.KeyMsg) tea.Cmd {
	switch c.focus {
	case focusTimeline:
		return c.tl.Update(msg)
	case focusRooms:
		return c.rooms.Update(msg)
	case focusMembers:
		return c.members.Update(msg)
	}
	return c.input.Update(msg)
}

func (c *chatScreen) openSwitcher() {
	c.switcher.start()
	c.overlay = overlaySwitcher
}

// isTyping reports whether msg is text typed (printable runes or a space).
func isTyping(msg tea.KeyMsg) bool {
	return (msg.Type == tea.KeyRunes || msg.Type == tea.KeySpace) && !msg.Alt
}

// cycleFocus moves the focus over the panels on screen.
func (c *chatScreen) cycleFocus(dir int) {
	l := c.layout()
	order := []focusArea{focusInput, focusTimeline}
	if l.roomsW > 0 {
		order = append(order, focusRooms)
	}
	if l.membersW > 0 {
		order = append(order, focusMembers)
	}
	i := 0
	for j, f := range order {
		if f == c.focus {
			i = j
		}
	}
	c.setFocus(order[(i+dir+len(order))%len(order)])
}
