package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/virtual-company/vc/client"
)

// Layout thresholds: panels collapse below these widths.
const (
	wideWidth   = 100 // rooms + messages + members
	mediumWidth = 80  // rooms + messages
)

// chatLayout is where things go at the current size.
type chatLayout struct {
	roomsW, membersW int // 0 when hidden; each includes its separator column
	tlW, bodyH       int
}

func (c *chatScreen) layout() chatLayout {
	var l chatLayout
	showMembers := (c.w >= wideWidth) != c.members.flipped
	switch {
	case c.w >= wideWidth:
		l.roomsW = roomsWidth
	case c.w >= mediumWidth && !showMembers:
		l.roomsW = roomsWidth - 2
	}
	if showMembers {
		l.membersW = membersW
		if c.w < mediumWidth {
			l.membersW = min(membersW, c.w/3)
		}
	}
	l.tlW = max(c.w-l.roomsW-l.membersW, 10)
	// header, meeting banner, info line, input border, input, status line.
	l.bodyH = max(c.h-4-c.meeting.height()-c.input.height(), 1)
	return l
}

func (c *chatScreen) SetSize(w, h int) {
	c.w, c.h = w, h
	c.resize()
}

// resize gives every component its area, and the focus to the input when
// the panel that had it is no longer on screen.
func (c *chatScreen) resize() {
	l := c.sizeComponents()
	if (c.focus == focusRooms && l.roomsW == 0) || (c.focus == focusMembers && l.membersW == 0) {
		c.setFocus(focusInput)
	}
}

func (c *chatScreen) sizeComponents() chatLayout {
	c.input.SetSize(c.w, 0)
	c.notices.SetSize(c.w, 1)
	c.search.SetSize(c.w, 1)
	l := c.layout()
	c.tl.SetSize(l.tlW, l.bodyH)
	c.rooms.SetSize(max(l.roomsW-1, 0), l.bodyH)
	c.members.SetSize(max(l.membersW-1, 0), l.bodyH)
	c.switcher.SetSize(c.w, l.bodyH)
	c.help.SetSize(c.w, l.bodyH)
	c.meeting.SetSize(c.w, 1)
	c.minutes.SetSize(c.w, l.bodyH)
	return l
}

// View draws the screen.
func (c *chatScreen) View() string {
	if c.w == 0 || c.h == 0 {
		return ""
	}
	// The input may have grown or shrunk since the last resize.
	if l := c.layout(); l.bodyH != c.tl.height || l.tlW != c.tl.width {
		c.sizeComponents()
	}
	l := c.layout()
	var b strings.Builder
	b.Grow(c.w * c.h * 2)
	b.WriteString(c.header())
	b.WriteByte('\n')
	if c.meeting.height() > 0 {
		b.WriteString(c.meeting.View())
		b.WriteByte('\n')
	}
	b.WriteString(c.body(l))
	b.WriteByte('\n')
	b.WriteString(c.infoLine())
	b.WriteByte('\n')
	b.WriteString(c.input.View())
	b.WriteByte('\n')
	b.WriteString(c.statusLine())
	return b.String()
}

func (c *chatScreen) header() string {
	st := c.sh.st
	left := st.Header.Render(" vc")
	if _, ok := c.rooms.current(); ok {
		left += " " + st.Header.Render(c.rooms.label())
		ml := c.members
		info := fmt.Sprintf(" · %d member%s, %d online", len(ml.members), plural(len(ml.members)), len(ml.online))
		if len(ml.roles) > 0 {
			info += fmt.Sprintf(" · %d role%s", len(ml.roles), plural(len(ml.roles)))
		}
		left += st.HeaderDim.Render(info)
	}
	right := st.HeaderDim.Render(c.sh.me.Username + " ")
	if c.sh.opts.Server != "" {
		right = st.HeaderDim.Render(c.sh.me.Username + " @ " + c.sh.opts.Server + " ")
	}
	return spread(left, right, c.w)
}

// spread puts left and right on one line of width w.
func spread(left, right string, w int) string {
	lw, rw := ansi.StringWidth(left), ansi.StringWidth(right)
	if lw+rw+1 > w {
		return padRight(left, w)
	}
	return left + strings.Repeat(" ", w-lw-rw) + right
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// body lays the panels side by side, or an overlay over them.
func (c *chatScreen) body(l chatLayout) string {
	if c.overlay != overlayNone {
		var box string
		switch c.overlay {
		case overlayHelp:
			box = c.help.View()
		case overlaySwitcher:
			box = c.switcher.View()
		case overlayMinutes:
			box = c.minutes.View()
		}
		return lipgloss.Place(c.w, l.bodyH, lipgloss.Center, lipgloss.Center, box,
			lipgloss.WithWhitespaceChars(" "))
	}
	tl := strings.Split(c.tl.View(), "\n")
	var rooms, members []string
	if l.roomsW > 0 {
		rooms = c.rooms.lines()
	}
	if l.membersW > 0 {
		members = c.members.lines()
	}
	sepRooms := c.sep(focusRooms)
	sepMembers := c.sep(focusMembers)
	var b strings.Builder
	for i := 0; i < l.bodyH; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if rooms != nil {
			b.WriteString(rooms[i])
			b.WriteString(sepRooms)
		}
		if i < len(tl) {
			b.WriteString(tl[i])
		}
		if members != nil {
			b.WriteString(sepMembers)
			b.WriteString(members[i])
		}
	}
	return b.String()
}

func (c *chatScreen) sep(f focusArea) string {
	if c.focus == f {
		return c.sh.st.Accent.Render("│")
	}
	return c.sh.st.Muted.Render("│")
}

// infoLine is the line above the input: search prompt, connection banner,
// completion, notice, search hits or typing indicator, in that order of
// importance.
func (c *chatScreen) infoLine() string {
	st := c.sh.st
	var s, hint string
	if c.focus == focusInput && !c.search.open {
		hint = c.input.suggestionsView()
	}
	switch {
	case c.search.open:
		s = c.search.View()
	case c.banner() != "":
		s = st.Banner.Render(c.banner())
	case hint != "":
		s = hint
	case c.notices.shown():
		s = c.notices.View()
	case c.search.showingHits():
		s = c.search.View()
	default:
		s = c.notices.typingView()
	}
	return padRight(s, c.w)
}

// banner describes a connection problem ("" when connected).
func (c *chatScreen) banner() string {
	if c.rooms.cur < 0 {
		return ""
	}
	queued := 0
	for _, e := range c.tl.tail() {
		if e.kind == entryPending && e.failed == "" {
			queued++
		}
	}
	q := ""
	if queued > 0 && c.conn.state != client.StateConnected {
		q = fmt.Sprintf(" · %d message%s queued", queued, plural(queued))
	}
	switch c.conn.state {
	case client.StateReconnecting:
		s := " ⚠ connection lost, reconnecting"
		if c.conn.attempt > 0 {
			s += fmt.Sprintf(" (attempt %d", c.conn.attempt)
			if c.conn.retryIn > 0 {
				s += ", next in " + c.conn.retryIn.Round(100*time.Millisecond).String()
			}
			s += ")"
		}
		return s + "…" + q
	case client.StateGaveUp, client.StateClosed:
		s := " ✕ disconnected"
		if c.conn.err != "" {
			s += ": " + c.conn.err
		}
		return s + " · ctrl+r reconnects" + q
	}
	return ""
}

func (c *chatScreen) statusLine() string {
	st := c.sh.st
	var state string
	switch c.conn.state {
	case client.StateConnected:
		state = st.StatusOK.Render("● connected")
	case client.StateConnecting:
		state = st.StatusWarn.Render("◌ connecting")
	case client.StateReconnecting:
		state = st.StatusWarn.Render("⟳ reconnecting")
	default:
		state = st.StatusErr.Render("✕ offline")
	}
	if c.rooms.cur < 0 {
		state = st.Muted.Render("○ no room")
	}
	left := " " + state
	if _, ok := c.rooms.current(); ok {
		left += st.StatusBar.Render("  " + c.rooms.label())
	}
	if c.tl.offset > 0 {
		left += st.StatusBar.Render("  (scrolled)")
	}
	var hint string
	switch {
	case c.w >= mediumWidth:
		hint = "? help · ctrl+k rooms · tab focus · ctrl+c quit "
	default:
		hint = "? help · ctrl+k rooms "
	}
	return spread(left, st.StatusBar.Render(hint), c.w)
}
