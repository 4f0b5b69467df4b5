package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/tui/styles"
)

// typingTTL is how long a "typing" event from someone else is shown.
const typingTTL = 6 * time.Second

// noticeTTL is how long a notice stays on the info line.
const noticeTTL = 8 * time.Second

// notices is the component behind the info line's transient texts: the
// latest notice (an outcome or an error, shown for noticeTTL) and who is
// typing or replying. It keeps a one-second tick running while anything it
// shows expires with time.
type notices struct {
	st  *styles.Styles
	now func() time.Time
	// replying names the AI roles whose replies are streaming.
	replying func() []string

	text   string
	isErr  bool
	at     time.Time
	sticky string // a notice that stays until cleared (the /role target's)

	typing  map[string]time.Time
	ticking bool

	w int
}

func newNotices(st *styles.Styles, now func() time.Time, replying func() []string) *notices {
	return &notices{st: st, now: now, replying: replying, typing: map[string]time.Time{}}
}

// SetSize sets the line's width.
func (n *notices) SetSize(w, _ int) { n.w = w }

// Update handles noticeMsg and the tick; it returns the next tick while
// something on the line will expire.
func (n *notices) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case noticeMsg:
		n.set(msg.text, msg.err)
	case tickMsg:
		n.ticking = false
		n.prune()
	}
	return n.ensureTick()
}

// ensureTick keeps a one-second tick running while something on screen
// expires with time (typing indicators, notices).
func (n *notices) ensureTick() tea.Cmd {
	if n.ticking || (len(n.typing) == 0 && !n.active()) {
		return nil
	}
	n.ticking = true
	return tickCmd()
}

// set shows a notice.
func (n *notices) set(text string, isErr bool) {
	n.text, n.isErr, n.at = text, isErr, n.now()
}

// setSticky shows a notice that stays until clearSticky.
func (n *notices) setSticky(text string) {
	n.set(text, false)
	n.sticky = text
}

// clearSticky ends the sticky notice, and takes it off the line if it is
// still the one shown.
func (n *notices) clearSticky() {
	if n.sticky != "" && n.text == n.sticky {
		n.text = ""
	}
	n.sticky = ""
}

// unstick ends the sticky notice but leaves it on the line until it
// expires (the room was left).
func (n *notices) unstick() { n.sticky = "" }

// active reports whether a notice is on the line.
func (n *notices) active() bool {
	if n.sticky != "" && n.text == n.sticky {
		return true // true until the message it announces is sent
	}
	return n.text != "" && n.now().Sub(n.at) < noticeTTL
}

// shown reports whether the notice wins the line over the typing text:
// errors always do, other notices when nobody is typing.
func (n *notices) shown() bool {
	return n.active() && (n.isErr || n.typingText() == "")
}

// typed notes that user is typing.
func (n *notices) typed(user string) { n.typing[user] = n.now() }

// stopped notes that user stopped typing (sent, or left).
func (n *notices) stopped(user string) { delete(n.typing, user) }

// resetTyping forgets who was typing (the room was left).
func (n *notices) resetTyping() { n.typing = map[string]time.Time{} }

func (n *notices) prune() {
	now := n.now()
	for u, t := range n.typing {
		if now.Sub(t) > typingTTL {
			delete(n.typing, u)
		}
	}
}

// View renders the notice.
func (n *notices) View() string {
	if n.isErr {
		return n.st.ErrorText.Render(" " + n.text)
	}
	return n.st.Notice.Render(" " + n.text)
}

// typingView renders who is typing or replying.
func (n *notices) typingView() string { return n.st.Typing.Render(n.typingText()) }

// typingText says who is typing or replying.
func (n *notices) typingText() string {
	var who []string
	for u, t := range n.typing {
		if n.now().Sub(t) <= typingTTL {
			who = append(who, u)
		}
	}
	sort.Strings(who)
	ai := n.replying()
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
