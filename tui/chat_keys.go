package tui

import (
	"github.com/charmbracelet/bubbles/textinput"
	"strings"

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
		return c.scroll(wheelLines)
	case tea.MouseButtonWheelDown:
		return c.scroll(-wheelLines)
	case tea.MouseButtonLeft:
		// A click on a room of the room list opens it (row 0 is the
		// header, row 1 the panel title).
		l := c.layout()
		if i := msg.Y - 2; msg.X < l.roomsW && i >= 0 && i < len(c.rooms) && msg.Y-1 < l.bodyH && i != c.cur {
			return c.switchTo(i)
		}
	}
	return nil
}

// scroll moves the message view and fetches older history at the top.
func (c *chatScreen) scroll(delta int) tea.Cmd {
	if c.tl.scroll(delta) {
		return c.loadOlder()
	}
	if c.tl.offset == 0 {
		c.markRead()
	}
	return nil
}

func (c *chatScreen) page() int { return max(c.tl.height-2, 1) }

func (c *chatScreen) handleKey(msg tea.KeyMsg) tea.Cmd {
	k := c.sh.keys
	switch c.overlay {
	case overlayHelp:
		switch {
		case keyIs(msg, k.Back, k.Help, k.Select) || msg.String() == "q":
			c.overlay, c.helpOff = overlayNone, 0
		case keyIs(msg, k.LineDown) || msg.String() == "down":
			c.helpOff++
		case keyIs(msg, k.LineUp) || msg.String() == "up":
			c.helpOff = max(c.helpOff-1, 0)
		case keyIs(msg, k.PageDown):
			c.helpOff += 5
		case keyIs(msg, k.PageUp):
			c.helpOff = max(c.helpOff-5, 0)
		}
		return nil
	case overlaySwitcher:
		done, pick := c.switcher.update(msg, c.sh.keys)
		if done {
			c.overlay = overlayNone
			if pick >= 0 {
				return c.switchTo(pick)
			}
		}
		return nil
	}
	if c.searching {
		return c.searchKey(msg)
	}

	switch {
	case keyIs(msg, k.Switcher):
		c.openSwitcher()
		return nil
	case keyIs(msg, k.StopAI):
		return c.stopAI()
	case keyIs(msg, k.Reconnect):
		c.setNotice("reconnecting…", false)
		return c.reconnect()
	case keyIs(msg, k.PageUp):
		return c.scroll(c.page())
	case keyIs(msg, k.PageDown):
		return c.scroll(-c.page())
	case keyIs(msg, k.FocusNext):
		if c.focus == focusInput && c.input.complete(c.completionNames(), c.roomNames()) {
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
		c.openSearch()
		return nil
	}

	switch c.focus {
	case focusInput:
		return c.inputKey(msg)
	case focusTimeline:
		return c.timelineKey(msg)
	case focusRooms:
		return c.roomsKey(msg)
	case focusMembers:
		return c.membersKey(msg)
	}
	return nil
}

func (c *chatScreen) inputKey(msg tea.KeyMsg) tea.Cmd {
	k := c.sh.keys
	switch {
	case keyIs(msg, k.Send):
		return c.submit()
	case keyIs(msg, k.Help) && c.input.value() == "":
		c.overlay = overlayHelp
		return nil
	case keyIs(msg, k.Back):
		switch {
		case c.tl.hl != nil:
			c.tl.clearHighlight()
			c.hits = nil
		case c.target != nil:
			if c.notice == roleNotice(*c.target) {
				c.notice = ""
			}
			c.target = nil
		case c.tl.offset > 0:
			c.tl.toBottom()
			c.markRead()
		}
		return nil
	}
	before := c.input.value()
	_, cmd := c.input.update(msg)
	if c.input.value() != before {
		return tea.Batch(cmd, c.typed())
	}
	return cmd
}

func (c *chatScreen) timelineKey(msg tea.KeyMsg) tea.Cmd {
	k := c.sh.keys
	switch {
	case keyIs(msg, k.LineUp):
		return c.scroll(1)
	case keyIs(msg, k.LineDown):
		return c.scroll(-1)
	case keyIs(msg, k.Top):
		return c.scroll(1 << 30)
	case keyIs(msg, k.Bottom):
		c.tl.toBottom()
		c.markRead()
		return nil
	case keyIs(msg, k.Search):
		c.openSearch()
		return nil
	case keyIs(msg, k.NextMatch):
		c.nextHit(1)
		return nil
	case keyIs(msg, k.PrevMatch):
		c.nextHit(-1)
		return nil
	case keyIs(msg, k.Help):
		c.overlay = overlayHelp
		return nil
	case keyIs(msg, k.Back):
		c.tl.clearHighlight()
		c.hits = nil
		c.focusInput()
		return nil
	case keyIs(msg, k.Select):
		c.focusInput()
		return nil
	case isTyping(msg):
		// Typing anywhere goes to the input.
		c.focusInput()
		return c.inputKey(msg)
	}
	return nil
}

// isTyping reports whether msg is text typed (printable runes or a space).
func isTyping(msg tea.KeyMsg) bool {
	return (msg.Type == tea.KeyRunes || msg.Type == tea.KeySpace) && !msg.Alt
}

// panelTyping reports whether a key in the Rooms or Members panel is
// typing: the panels keep only ↑/↓, enter, esc and ? (help); every other
// printable key, j and k included, goes to the input.
func panelTyping(msg tea.KeyMsg) bool {
	return isTyping(msg) && msg.String() != "?"
}

// focusInput gives the focus to the input (the textarea ignores keys while
// blurred, so both change together).
func (c *chatScreen) focusInput() {
	c.focus = focusInput
	c.input.ta.Focus()
}

func (c *chatScreen) roomsKey(msg tea.KeyMsg) tea.Cmd {
	if panelTyping(msg) {
		c.focusInput()
		return c.inputKey(msg)
	}
	k := c.sh.keys
	switch {
	case keyIs(msg, k.LineUp):
		c.sel = max(c.sel-1, 0)
	case keyIs(msg, k.LineDown):
		c.sel = min(c.sel+1, max(len(c.rooms)-1, 0))
	case keyIs(msg, k.Select):
		c.focusInput()
		if c.sel != c.cur {
			return c.switchTo(c.sel)
		}
	case keyIs(msg, k.Help):
		c.overlay = overlayHelp
	case keyIs(msg, k.Back):
		c.focusInput()
	}
	return nil
}

func (c *chatScreen) membersKey(msg tea.KeyMsg) tea.Cmd {
	if panelTyping(msg) {
		c.focusInput()
		return c.inputKey(msg)
	}
	k := c.sh.keys
	n := len(c.members) + len(c.roles)
	switch {
	case keyIs(msg, k.LineUp):
		c.memberSel = max(c.memberSel-1, 0)
	case keyIs(msg, k.LineDown):
		c.memberSel = min(c.memberSel+1, max(n-1, 0))
	case keyIs(msg, k.Select):
		// Address the selected person or role in the input.
		var name string
		if c.memberSel < len(c.roles) {
			name = roleHandle(c.roles[c.memberSel])
		} else if i := c.memberSel - len(c.roles); i < len(c.members) {
			name = c.members[i].Username
		}
		if name != "" {
			v := c.input.value()
			if v != "" && !strings.HasSuffix(v, " ") {
				v += " "
			}
			c.input.setValue(v + "@" + name + " ")
		}
		c.focusInput()
	case keyIs(msg, k.Help):
		c.overlay = overlayHelp
	case keyIs(msg, k.Back):
		c.focusInput()
	}
	return nil
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
	c.focus = order[(i+dir+len(order))%len(order)]
	if c.focus == focusInput {
		c.input.ta.Focus()
	} else {
		c.input.ta.Blur()
	}
	if c.focus == focusRooms {
		c.sel = max(c.cur, 0)
	}
}

// ---- search ----

func (c *chatScreen) openSearch() {
	c.searching = true
	c.search.SetValue("")
	c.search.Focus()
}

func (c *chatScreen) searchKey(msg tea.KeyMsg) tea.Cmd {
	k := c.sh.keys
	switch {
	case keyIs(msg, k.Back):
		c.searching = false
		c.search.Blur()
		return nil
	case msg.Type == tea.KeyEnter:
		c.searching = false
		c.search.Blur()
		c.query = c.search.Value()
		c.hits = c.tl.search(c.query)
		c.hitIdx = 0
		c.focus = focusTimeline
		c.input.ta.Blur()
		if len(c.hits) == 0 {
			c.tl.clearHighlight()
			c.setNotice("no loaded message matches "+quote(c.query), false)
			return nil
		}
		c.tl.jumpTo(c.hits[0])
		return nil
	}
	var cmd tea.Cmd
	c.search, cmd = feedRunes(c.search, msg, textinput.Model.Update)
	return cmd
}

func (c *chatScreen) nextHit(dir int) {
	if len(c.hits) == 0 {
		return
	}
	c.hitIdx = (c.hitIdx + dir + len(c.hits)) % len(c.hits)
	c.tl.jumpTo(c.hits[c.hitIdx])
}

func quote(s string) string { return "“" + s + "”" }
