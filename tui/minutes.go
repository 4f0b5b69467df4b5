package tui

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// minutesOverlay is the component that shows a meeting's minutes over the
// panels: summary, decisions, action items (owner, task, due) and open
// questions, from the meeting's structured minutes. It opens by itself when
// a meeting started here ends, and with /minutes; esc closes it.
type minutesOverlay struct {
	st   *styles.Styles
	keys keys.KeyMap
	post post
	m    api.Meeting
	off  int // first line shown
	w, h int
}

func newMinutesOverlay(st *styles.Styles, km keys.KeyMap, p post) *minutesOverlay {
	return &minutesOverlay{st: st, keys: km, post: p}
}

// SetSize sets the area the overlay is centred in.
func (o *minutesOverlay) SetSize(w, h int) { o.w, o.h = w, h }

// show sets the meeting to show, from its first line.
func (o *minutesOverlay) show(m api.Meeting) { o.m, o.off = m, 0 }

// Update handles the overlay's keys: it scrolls, and closes on esc, enter
// or q.
func (o *minutesOverlay) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	km := o.keys
	switch {
	case keyIs(k, km.Back, km.Select) || k.String() == "q":
		o.post(overlayMsg{kind: overlayNone})
	case keyIs(k, km.LineDown) || keyIs(k, km.HistNext):
		o.off++
	case keyIs(k, km.LineUp) || keyIs(k, km.HistPrev):
		o.off = max(o.off-1, 0)
	case keyIs(k, km.PageDown):
		o.off += 5
	case keyIs(k, km.PageUp):
		o.off = max(o.off-5, 0)
	}
	return nil
}

// View renders the overlay's box.
func (o *minutesOverlay) View() string {
	st := o.st
	w := min(max(o.w*2/3, 40), o.w-4)
	inner := max(w-4, 10)
	lines := []string{st.OverlayTitle.Render(truncate("Minutes · "+o.m.Topic, inner))}
	lines = append(lines, st.Muted.Render(truncate(strings.ReplaceAll(o.m.Status, "_", " ")+
		fmt.Sprintf(" · %d turn%s", o.m.Turns, plural(o.m.Turns)), inner)))
	lines = append(lines, minutesLines(st, o.m.Minutes, inner)...)
	rows := max(o.h-2, 3)
	if len(lines) > rows {
		maxOff := len(lines) - (rows - 1)
		o.off = min(o.off, maxOff)
		win := append([]string(nil), lines[o.off:o.off+rows-1]...)
		lines = append(win, st.Muted.Render(fmt.Sprintf("… ↑↓ scroll (%d-%d of %d) · esc closes", o.off+1, o.off+rows-1, len(lines))))
	} else {
		lines = append(lines, st.Muted.Render("esc closes"))
	}
	return st.Overlay.Width(w).Render(strings.Join(lines, "\n"))
}

// minutesLines renders minutes wrapped at width: the four sections, "none"
// where one is empty.
func minutesLines(st *styles.Styles, m *api.MeetingMinutes, width int) []string {
	if m == nil {
		return []string{"", st.Muted.Render("no minutes: the meeting ended without them")}
	}
	var out []string
	para := func(prefix, text string) {
		for i, l := range wrapPlain(strings.TrimSpace(text), width-len([]rune(prefix))) {
			if i == 0 {
				out = append(out, prefix+l)
			} else {
				out = append(out, strings.Repeat(" ", len([]rune(prefix)))+l)
			}
		}
	}
	section := func(title string, items []string) {
		out = append(out, "", st.OverlayTitle.Render(title))
		if len(items) == 0 {
			out = append(out, st.Muted.Render("  none"))
		}
		for _, it := range items {
			para("  • ", it)
		}
	}
	out = append(out, "", st.OverlayTitle.Render("Summary"))
	para("  ", firstNonEmpty(m.Summary, "none"))
	section("Decisions", m.Decisions)
	items := make([]string, len(m.ActionItems))
	for i, ai := range m.ActionItems {
		s := ai.Task
		if ai.Owner != "" {
			s = ai.Owner + ": " + s
		}
		if ai.Due != "" {
			s += " (due " + ai.Due + ")"
		}
		items[i] = s
	}
	section("Action items", items)
	section("Open questions", m.OpenQuestions)
	return out
}
