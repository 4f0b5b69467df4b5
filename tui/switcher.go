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

// switcher is the Ctrl-K room switcher component: a filter line over a
// fuzzy-ranked list of the rooms of the room list. Enter posts openRoomMsg.
type switcher struct {
	st      *styles.Styles
	keys    keys.KeyMap
	post    post
	rl      *roomList
	input   textinput.Model
	matches []int // indices into the room list, best first
	sel     int
	w, h    int
	rooms   []string
}

func newSwitcher(st *styles.Styles, km keys.KeyMap, rl *roomList, p post) *switcher {
	return &switcher{st: st, keys: km, rl: rl, post: p}
}

// start opens the switcher over the rooms listed now, with an empty filter.
func (s *switcher) start() {
	ti := textinput.New()
	ti.Prompt = "› "
	ti.Placeholder = "room name"
	ti.Focus()
	names := make([]string, len(s.rl.items))
	for i, r := range s.rl.items {
		names[i] = strings.TrimPrefix(r.label, "#")
	}
	s.input, s.rooms, s.matches, s.sel = ti, names, nil, 0
	s.filter()
}

// SetSize sets the area the overlay is centred in.
func (s *switcher) SetSize(w, h int) { s.w, s.h = w, h }

// Update handles a key: esc or ctrl+k close, enter opens the selected
// room, the rest filter.
func (s *switcher) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case keyIs(k, s.keys.Back), keyIs(k, s.keys.Switcher):
		s.post(overlayMsg{kind: overlayNone})
	case k.Type == tea.KeyEnter:
		s.post(overlayMsg{kind: overlayNone})
		if len(s.matches) > 0 {
			s.post(openRoomMsg{index: s.matches[s.sel]})
		}
	case k.Type == tea.KeyUp, k.Type == tea.KeyCtrlP:
		s.sel = max(s.sel-1, 0)
	case k.Type == tea.KeyDown, k.Type == tea.KeyCtrlN, k.Type == tea.KeyTab:
		s.sel = min(s.sel+1, max(len(s.matches)-1, 0))
	default:
		s.input, _ = feedRunes(s.input, k, textinput.Model.Update)
		s.filter()
	}
	return nil
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

// View renders the overlay's box.
func (s *switcher) View() string {
	st, rooms, cur, unread := s.st, s.rl.items, s.rl.cur, s.rl.unread
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
