package tui

import (
	"strings"

	"github.com/charmbracelet/glamour"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// markdown renders AI replies with glamour. Building a glamour renderer is
// costly, so there is one per wrap width; rendered output is cached by the
// timeline per message and width, never re-rendered per frame.
type markdown struct {
	style     string
	profile   termenv.Profile
	renderers map[int]*glamour.TermRenderer
}

func newMarkdown(style string, profile termenv.Profile) *markdown {
	return &markdown{style: style, profile: profile, renderers: map[int]*glamour.TermRenderer{}}
}

// markdownStyleFor picks the glamour style matching the terminal's
// background; the colour profile (NO_COLOR gives Ascii) is applied separately.
func markdownStyleFor(r *lipgloss.Renderer) string {
	if r.HasDarkBackground() {
		return "dark"
	}
	return "light"
}

// render returns src as terminal lines at most width cells wide. On any
// glamour failure it falls back to the plain text.
func (m *markdown) render(src string, width int) []string {
	if width < 10 {
		width = 10
	}
	r, ok := m.renderers[width]
	if !ok {
		var err error
		r, err = glamour.NewTermRenderer(
			glamour.WithStandardStyle(m.style),
			glamour.WithColorProfile(m.profile),
			glamour.WithWordWrap(width),
			glamour.WithEmoji(),
		)
		if err != nil {
			return wrapPlain(src, width)
		}
		m.renderers[width] = r
	}
	out, err := r.Render(src)
	if err != nil {
		return wrapPlain(src, width)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// glamour frames documents with blank lines and a two-cell margin; the
	// message view has its own indentation.
	for len(lines) > 0 && strings.TrimSpace(stripANSI(lines[0])) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(stripANSI(lines[len(lines)-1])) == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(trimMargin(l, 2), " ")
	}
	if len(lines) == 0 {
		return []string{""}
	}
	return lines
}
