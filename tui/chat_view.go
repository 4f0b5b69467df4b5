package tui

import (
	"fmt"
	"hash/fnv"
	"sort"
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
	roomsWidth  = 22
	membersW    = 24
)

// chatLayout is where things go at the current size.
type chatLayout struct {
	roomsW, membersW int // 0 when hidden; each includes its separator column
	tlW, bodyH       int
}

func (c *chatScreen) layout() chatLayout {
	var l chatLayout
	showMembers := (c.w >= wideWidth) != c.membersFlip
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
	// header, info line, input border, input, status line.
	l.bodyH = max(c.h-4-c.input.height(), 1)
	return l
}

func (c *chatScreen) SetSize(w, h int) {
	c.w, c.h = w, h
	c.resize()
}

func (c *chatScreen) resize() {
	c.input.setWidth(c.w)
	l := c.layout()
	c.tl.setSize(l.tlW, l.bodyH)
	c.switcher.setSize(c.w, l.bodyH)
	if (c.focus == focusRooms && l.roomsW == 0) || (c.focus == focusMembers && l.membersW == 0) {
		c.focus = focusInput
		c.input.ta.Focus()
	}
}

// View draws the screen.
func (c *chatScreen) View() string {
	if c.w == 0 || c.h == 0 {
		return ""
	}
	// The input may have grown or shrunk since the last resize.
	if l := c.layout(); l.bodyH != c.tl.height || l.tlW != c.tl.width {
		c.tl.setSize(l.tlW, l.bodyH)
	}
	l := c.layout()
	var b strings.Builder
	b.Grow(c.w * c.h * 2)
	b.WriteString(c.header())
	b.WriteByte('\n')
	b.WriteString(c.body(l))
	b.WriteByte('\n')
	b.WriteString(c.infoLine())
	b.WriteByte('\n')
	b.WriteString(c.inputView())
	b.WriteByte('\n')
	b.WriteString(c.statusLine())
	return b.String()
}

func (c *chatScreen) header() string {
	st := c.sh.st
	left := st.Header.Render(" vc")
	if _, ok := c.curRoom(); ok {
		left += " " + st.Header.Render(c.rooms[c.cur].label)
		online := len(c.online)
		info := fmt.Sprintf(" · %d member%s, %d online", len(c.members), plural(len(c.members)), online)
		if len(c.roles) > 0 {
			info += fmt.Sprintf(" · %d role%s", len(c.roles), plural(len(c.roles)))
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

func (c *chatScreen) body(l chatLayout) string {
	if c.overlay != overlayNone {
		var box string
		switch c.overlay {
		case overlayHelp:
			box = c.helpView(l.bodyH)
		case overlaySwitcher:
			box = c.switcher.view(c.sh.st, c.rooms, c.cur, c.unread)
		}
		return lipgloss.Place(c.w, l.bodyH, lipgloss.Center, lipgloss.Center, box,
			lipgloss.WithWhitespaceChars(" "))
	}
	tl := strings.Split(c.tl.view(), "\n")
	if c.tl.newBelow > 0 && len(tl) > 0 {
		marker := fmt.Sprintf(" ↓ %d new message%s below (end) ", c.tl.newBelow, plural(c.tl.newBelow))
		tl[len(tl)-1] = lipgloss.PlaceHorizontal(l.tlW, lipgloss.Center, c.sh.st.Marker.Render(marker))
	} else if c.tl.offset > 0 && len(tl) > 0 {
		tl[len(tl)-1] = lipgloss.PlaceHorizontal(l.tlW, lipgloss.Right, c.sh.st.Muted.Render("↓ end "))
	}
	var rooms, members []string
	if l.roomsW > 0 {
		rooms = c.roomsPanel(l.roomsW-1, l.bodyH)
	}
	if l.membersW > 0 {
		members = c.membersPanel(l.membersW-1, l.bodyH)
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

// roomsPanel renders the room list: w wide, exactly h lines.
func (c *chatScreen) roomsPanel(w, h int) []string {
	st := c.sh.st
	lines := make([]string, 0, h)
	title := "Rooms"
	if c.focus == focusRooms {
		title = "Rooms ◂"
	}
	lines = append(lines, padRight(st.PanelTitle.Render(" "+title), w))
	for i, r := range c.rooms {
		if len(lines) >= h {
			break
		}
		mark := "  "
		if i == c.cur {
			mark = "• "
		}
		if c.focus == focusRooms && i == c.sel {
			mark = "▸ "
		}
		count := ""
		if n := c.unread(i); n > 0 {
			count = fmt.Sprintf(" %d", n)
			if n > 99 {
				count = " 99+"
			}
		}
		if r.mention && i != c.cur {
			count = " @" + strings.TrimPrefix(count, " ") // a mention of me
		}
		name := truncate(r.label, w-len(mark)-ansi.StringWidth(count)-1)
		line := mark + name
		line = padRight(line, w-ansi.StringWidth(count)-1) + count + " "
		switch {
		case c.focus == focusRooms && i == c.sel:
			line = st.RoomSelected.Render(line)
		case i == c.cur:
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

// panelKey is what the members panel's frame depends on.
type panelKey struct {
	w, h, sel int
	focused   bool
	sig       uint64
	call      string
}

// membersPanel renders the call slot, seated roles and members: w wide,
// exactly h lines. The frame is cached: it changes far less often than
// frames are drawn (every AI delta draws one).
func (c *chatScreen) membersPanel(w, h int) []string {
	var call string
	if c.call != nil {
		call = c.call.View(w)
	}
	hash := fnv.New64a()
	for _, m := range c.members {
		_, _ = hash.Write([]byte(m.Username))
		if c.online[m.Username] {
			_, _ = hash.Write([]byte{1})
		}
		_, _ = hash.Write([]byte{0})
	}
	for _, r := range c.roles {
		fmt.Fprintf(hash, "%d\x00%s\x00%s\x00%s\x00", r.ID, r.Name, r.Avatar, r.Handle)
	}
	_, _ = hash.Write([]byte(c.sh.me.Username))
	k := panelKey{w: w, h: h, sel: c.memberSel, focused: c.focus == focusMembers, sig: hash.Sum64(), call: call}
	if c.panelLines == nil || k != c.panelKey {
		c.panelKey, c.panelLines = k, c.renderMembersPanel(w, h, call)
	}
	return c.panelLines
}

func (c *chatScreen) renderMembersPanel(w, h int, call string) []string {
	st := c.sh.st
	var lines []string
	if call != "" {
		for _, l := range strings.Split(call, "\n") {
			lines = append(lines, padRight(l, w))
		}
	}
	idx := 0
	selected := func(s string) string {
		if c.focus == focusMembers && idx == c.memberSel {
			return st.RoomSelected.Render(padRight("▸"+s[1:], w))
		}
		return padRight(s, w)
	}
	if len(c.roles) > 0 {
		lines = append(lines, padRight(st.PanelTitle.Render(" Roles"), w))
		for _, r := range c.roles {
			name := " " + avatar(r, r.Name) + " " + st.AIName.Render(r.Name)
			if hw := ansi.StringWidth(name); hw < w-2 {
				name += " " + st.Muted.Render(truncate("@"+roleHandle(r), w-hw-1))
			}
			lines = append(lines, selected(name))
			idx++
		}
	}
	members := append(c.members[:0:0], c.members...)
	sort.SliceStable(members, func(i, j int) bool {
		oi, oj := c.online[members[i].Username], c.online[members[j].Username]
		if oi != oj {
			return oi
		}
		return members[i].Username < members[j].Username
	})
	lines = append(lines, padRight(st.PanelTitle.Render(fmt.Sprintf(" Members %d/%d", len(c.online), len(members))), w))
	for _, m := range members {
		dot := st.Offline.Render("○")
		if c.online[m.Username] {
			dot = st.Online.Render("●")
		}
		name := m.Username
		if m.Username == c.sh.me.Username {
			name += " (you)"
		}
		lines = append(lines, selected(" "+dot+" "+truncate(name, w-4)))
		idx++
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	return lines
}

// infoLine is the line above the input: connection banner, search prompt,
// completion, notice or typing indicator, in that order of importance.
func (c *chatScreen) infoLine() string {
	st := c.sh.st
	var s string
	switch {
	case c.searching:
		s = c.search.View() + st.Muted.Render("  enter find · esc cancel")
	case c.banner() != "":
		s = st.Banner.Render(c.banner())
	case c.focus == focusInput && c.hasSuggestions():
		mark, names := c.input.suggestions(c.completionNames(), c.roomNames())
		s = st.Completion.Render(" tab: " + mark + strings.Join(names, "  "+mark))
	case c.noticeActive() && (c.noticeErr || c.typingText() == ""):
		if c.noticeErr {
			s = st.ErrorText.Render(" " + c.notice)
		} else {
			s = st.Notice.Render(" " + c.notice)
		}
	case len(c.hits) > 0 && c.tl.hl != nil:
		s = st.Muted.Render(fmt.Sprintf(" match %d/%d for %s · n older · N newer · esc clears", c.hitIdx+1, len(c.hits), quote(c.query)))
	default:
		s = st.Typing.Render(c.typingText())
	}
	return padRight(s, c.w)
}

// banner describes a connection problem ("" when connected).
func (c *chatScreen) banner() string {
	if c.cur < 0 {
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

// typingText says who is typing or replying.
func (c *chatScreen) typingText() string {
	var who []string
	for u := range c.typing {
		if c.now().Sub(c.typing[u]) <= typingTTL {
			who = append(who, u)
		}
	}
	sort.Strings(who)
	var ai []string
	for _, e := range c.tl.tail() {
		if e.kind == entryAI && !e.aiDone {
			ai = append(ai, e.roleName)
		}
	}
	var parts []string
	switch len(who) {
	case 0:
	case 1:
		parts = append(parts, who[0]+" is typing…")
	case 2:
		parts = append(parts, who[0]+" and "+who[1]+" are typing…")
	default:
		parts = append(parts, fmt.Sprintf("%d people are typing…", len(who)))
	}
	if len(ai) > 0 {
		parts = append(parts, strings.Join(ai, ", ")+" replying… (ctrl+x or /stop)")
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " · ")
}

func (c *chatScreen) inputView() string {
	st := c.sh.st
	label := ""
	if c.target != nil {
		label = " to " + avatar(*c.target, c.target.Name) + " " + c.target.Name + " "
	}
	border := st.Muted
	if c.focus == focusInput {
		border = st.Accent
	}
	lw := ansi.StringWidth(label)
	top := border.Render(strings.Repeat("─", 2)) + st.AIName.Render(label) + border.Render(strings.Repeat("─", max(c.w-2-lw, 0)))
	return top + "\n" + c.input.view()
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
	if c.cur < 0 {
		state = st.Muted.Render("○ no room")
	}
	left := " " + state
	if _, ok := c.curRoom(); ok {
		left += st.StatusBar.Render("  " + c.rooms[c.cur].label)
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
