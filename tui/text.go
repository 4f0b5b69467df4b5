package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// stripANSI removes escape sequences.
func stripANSI(s string) string { return ansi.Strip(s) }

// trimMargin drops up to n leading spaces (escape sequences in front of them
// are kept).
func trimMargin(s string, n int) string {
	i := 0
	out := make([]byte, 0, len(s))
	for i < len(s) && n > 0 {
		if s[i] == '\x1b' {
			j := i + 1
			if j < len(s) && s[j] == '[' {
				j++
				for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
					j++
				}
				if j < len(s) {
					j++
				}
			}
			out = append(out, s[i:j]...)
			i = j
			continue
		}
		if s[i] != ' ' {
			break
		}
		i++
		n--
	}
	return string(append(out, s[i:]...))
}

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
