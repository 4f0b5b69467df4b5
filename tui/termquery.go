package tui

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// queryTimeout bounds the background colour query at start: a terminal
// that does not answer (script(1), some CI and IDE terminals) costs at most
// this, instead of termenv's 5 s.
const queryTimeout = 100 * time.Millisecond

// newRenderer returns the renderer for the terminal out, with the
// background decided up front: asked of the terminal (OSC 11) with a
// queryTimeout bound, dark when it does not answer. Deciding it here keeps
// lipgloss from asking itself later, with its 5 s timeout, at the first
// adaptive colour. Without colour (NO_COLOR, TERM=dumb) nothing is asked.
func newRenderer(in, out *os.File) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(out)
	dark := true
	if r.ColorProfile() != termenv.Ascii {
		if d, ok := queryDarkBackground(in, out, queryTimeout); ok {
			dark = d
		}
	}
	r.SetHasDarkBackground(dark)
	return r
}

// parseBackground reads the terminal's answers to OSC 11 and DA1: it
// reports whether the background is dark, whether an OSC 11 answer was
// there, and whether the DA1 answer (which terminals send after every
// earlier answer) arrived, so that nothing more is to come.
func parseBackground(b []byte) (dark, ok, done bool) {
	if i := bytes.Index(b, []byte("\x1b[?")); i >= 0 && bytes.IndexByte(b[i:], 'c') > 0 {
		done = true
	}
	i := bytes.Index(b, []byte("]11;rgb:"))
	if i < 0 {
		return false, false, done
	}
	rest := b[i+len("]11;rgb:"):]
	end := bytes.IndexAny(rest, "\x07\x1b")
	if end < 0 {
		return false, false, done
	}
	parts := strings.Split(string(rest[:end]), "/")
	if len(parts) != 3 {
		return false, false, done
	}
	var c [3]float64
	for k, p := range parts {
		if p == "" || len(p) > 4 {
			return false, false, done
		}
		v, err := strconv.ParseUint(p, 16, 16)
		if err != nil {
			return false, false, done
		}
		c[k] = float64(v) / float64(uint64(1)<<(4*len(p))-1)
	}
	// Lightness as in HSL (what termenv uses): dark below one half.
	hi, lo := max(c[0], c[1], c[2]), min(c[0], c[1], c[2])
	return (hi+lo)/2 < 0.5, true, done
}
