package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// wrapPlain wraps text to width cells, keeping its own line breaks.
func wrapPlain(s string, width int) []string {
	if width < 1 {
		width = 1
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		if para == "" {
			out = append(out, "")
			continue
		}
		w := ansi.Wrap(para, width, " -")
		out = append(out, strings.Split(w, "\n")...)
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// truncate cuts s to width cells with an ellipsis.
func truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	return ansi.Truncate(s, width, "…")
}

// padRight pads s with spaces to exactly width cells (truncating if longer).
func padRight(s string, width int) string {
	w := ansi.StringWidth(s)
	if w > width {
		s = ansi.Truncate(s, width, "…")
		w = ansi.StringWidth(s)
	}
	if w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}
