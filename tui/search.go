package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// search is the component that finds text in the loaded messages: the
// prompt on the info line while it is open, then the hits, which n and N
// walk in the message view (it highlights and scrolls the timeline it
// searches).
type search struct {
	st   *styles.Styles
	keys keys.KeyMap
	post post
	tl   *timeline

	open   bool // the prompt is open
	input  textinput.Model
	hits   []*entry
	hitIdx int
	query  string

	w int
}

func newSearch(st *styles.Styles, km keys.KeyMap, tl *timeline, p post) *search {
	si := textinput.New()
	si.Prompt = "/ "
	si.Placeholder = "search loaded messages"
	return &search{st: st, keys: km, tl: tl, post: p, input: si}
}

// SetSize sets the prompt's width.
func (s *search) SetSize(w, _ int) { s.w = w }

// start opens the prompt, empty.
func (s *search) start() {
	s.open = true
	s.input.SetValue("")
	s.input.Focus()
}

// Update handles the prompt's keys while it is open: enter searches, esc
// closes.
func (s *search) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case keyIs(k, s.keys.Back):
		s.open = false
		s.input.Blur()
		return nil
	case k.Type == tea.KeyEnter:
		s.open = false
		s.input.Blur()
		s.query = s.input.Value()
		s.hits = s.tl.search(s.query)
		s.hitIdx = 0
		s.post(focusOn(focusTimeline, nil))
		if len(s.hits) == 0 {
			s.tl.clearHighlight()
			s.post(noticeMsg{text: "no loaded message matches " + quote(s.query)})
			return nil
		}
		s.tl.jumpTo(s.hits[0])
		return nil
	}
	var cmd tea.Cmd
	s.input, cmd = feedRunes(s.input, k, textinput.Model.Update)
	return cmd
}

// next moves to the next hit (dir 1: older, -1: newer).
func (s *search) next(dir int) {
	if len(s.hits) == 0 {
		return
	}
	s.hitIdx = (s.hitIdx + dir + len(s.hits)) % len(s.hits)
	s.tl.jumpTo(s.hits[s.hitIdx])
}

// clear drops the hits and the highlight.
func (s *search) clear() {
	s.tl.clearHighlight()
	s.hits = nil
}

// reset forgets the hits (the room was left; its timeline is reset).
func (s *search) reset() { s.hits, s.query = nil, "" }

// showingHits reports whether a hit is highlighted.
func (s *search) showingHits() bool { return len(s.hits) > 0 && s.tl.hl != nil }

// View renders the prompt, or where the walk through the hits is.
func (s *search) View() string {
	if s.open {
		return s.input.View() + s.st.Muted.Render("  enter find · esc cancel")
	}
	return s.st.Muted.Render(fmt.Sprintf(" match %d/%d for %s · n older · N newer · esc clears", s.hitIdx+1, len(s.hits), quote(s.query)))
}

func quote(s string) string { return "“" + s + "”" }
