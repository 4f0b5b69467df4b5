package tui

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// switcher is the Ctrl-K room switcher: a filter line over a fuzzy-ranked
// room list.
type switcher struct {
	input   textinput.Model
	matches []int // indices into the room list, best first
	sel     int
	w, h    int
	rooms   []string
}

func (c *chatScreen) openSwitcher() {
	ti := textinput.New()
	ti.Prompt = "› "
	ti.Placeholder = "room name"
	ti.Focus()
	names := make([]string, len(c.rooms))
	for i, r := range c.rooms {
		names[i] = strings.TrimPrefix(r.label, "#")
	}
	c.switcher = switcher{input: ti, rooms: names, w: c.switcher.w, h: c.switcher.h}
	c.switcher.filter()
	c.overlay = overlaySwitcher
}

func (s *switcher) setSize(w, h int) { s.w, s.h = w, h }

// update handles a key; done reports the switcher closed, pick the chosen
// room (-1 for none).
func (s *switcher) update(msg tea.KeyMsg, km keys.KeyMap) (done bool, pick int) {
	switch {
	case keyIs(msg, km.Back), keyIs(msg, km.Switcher):
		return true, -1
	case msg.Type == tea.KeyEnter:
		if len(s.matches) == 0 {
			return true, -1
		}
		return true, s.matches[s.sel]
	case msg.Type == tea.KeyUp, msg.Type == tea.KeyCtrlP:
		s.sel = max(s.sel-1, 0)
		return false, -1
	case msg.Type == tea.KeyDown, msg.Type == tea.KeyCtrlN, msg.Type == tea.KeyTab:
		s.sel = min(s.sel+1, max(len(s.matches)-1, 0))
		return false, -1
	}
	s.input, _ = feedRunes(s.input, msg, textinput.Model.Update)
	s.filter()
	return false, -1
}

func (s *switcher) filter() {
	q := s.input.Value()
	type scored struct{ idx, score int }
	var hits []scored
	for i, n := range s.rooms {
		if sc, ok := fuzzyScore(n, q); ok {
			hits = append(hits, scored{i, sc})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].score > hits[b].score })
	s.matches = s.matches[:0]
	for _, h := range hits {
		s.matches = append(s.matches, h.idx)
	}
	s.sel = min(s.sel, max(len(s.matches)-1, 0))
}

// fuzzyScore matches q as a subsequence of s (case-insensitive). Consecutive
// letters, word starts and a prefix match score higher.
func fuzzyScore(s, q string) (int, bool) {
	if q == "" {
		return 0, true
	}
	sr := []rune(strings.ToLower(s))
	qr := []rune(strings.ToLower(q))
	score, qi, prev := 0, 0, -2
	for i, r := range sr {
		if qi < len(qr) && r == qr[qi] {
			score++
			if i == prev+1 {
				score += 3
			}
			if i == 0 || !unicode.IsLetter(sr[i-1]) && !unicode.IsDigit(sr[i-1]) {
				score += 2
			}
			prev = i
			qi++
		}
	}
	if qi < len(qr) {
		return 0, false
	}
	score -= len(sr) / 8 // shorter names first among equals
	return score, true
}

func (s *switcher) view(st *styles.Styles, rooms []roomItem, cur int, unread func(int) int) string {
	w := min(max(s.w/2, 36), s.w-4)
	var b strings.Builder
	b.WriteString(st.OverlayTitle.Render("Switch room") + "\n")
	s.input.Width = w - 4
	b.WriteString(s.input.View() + "\n")
	rows := max(min(s.h-6, 12), 1)
	start := 0
	if s.sel >= rows {
		start = s.sel - rows + 1
	}
	if len(s.matches) == 0 {
		b.WriteString(st.Muted.Render("no room matches (/create NAME)"))
	}
	for k := start; k < len(s.matches) && k < start+rows; k++ {
		i := s.matches[k]
		mark := "  "
		if k == s.sel {
			mark = "▸ "
		}
		line := mark + rooms[i].label
		if i == cur {
			line += " (current)"
		}
		if n := unread(i); n > 0 {
			line += fmt.Sprintf("  %d new", n)
		}
		if rooms[i].mention && i != cur {
			line += "  @ mentions you"
		}
		line = padRight(line, w-4)
		if k == s.sel {
			line = st.RoomSelected.Render(line)
		}
		b.WriteString(line)
		if k < len(s.matches)-1 && k < start+rows-1 {
			b.WriteByte('\n')
		}
	}
	return st.Overlay.Width(w).Render(b.String())
}
