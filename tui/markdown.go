package tui

import (
	mdrender "github.com/virtual-company/vc/tui/markdown"
	"github.com/virtual-company/vc/tui/styles"
)

// markdown renders message bodies with tui/markdown in the TUI's theme.
// Rendered output is cached by the timeline per message and width, never
// re-rendered per frame.
type markdown struct {
	r *mdrender.Renderer
}

func newMarkdown(st *styles.Styles) *markdown {
	return &markdown{r: mdrender.New(st)}
}

// render returns src as terminal lines at most width cells wide.
func (m *markdown) render(src string, width int) []string {
	return m.r.Render(src, width)
}
