package tui

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// helpOverlay is the ? overlay component: keys and slash commands, laid
// out in as many columns as the terminal allows, scrolling on short
// terminals.
type helpOverlay struct {
	st   *styles.Styles
	keys keys.KeyMap
	post post
	call CallPanel
	off  int // first row shown
	w, h int
}

func newHelpOverlay(st *styles.Styles, km keys.KeyMap, call CallPanel, p post) *helpOverlay {
	return &helpOverlay{st: st, keys: km, call: call, post: p}
}

// SetSize sets the area the overlay is centred in.
func (c *helpOverlay) SetSize(w, h int) { c.w, c.h = w, h }

// Update handles the overlay's keys: it scrolls, and closes on esc, ?,
// enter or q.
func (c *helpOverlay) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	km := c.keys
	switch {
	case keyIs(k, km.Back, km.Help, km.Select) || k.String() == "q":
		c.off = 0
		c.post(overlayMsg{kind: overlayNone})
	case keyIs(k, km.LineDown) || k.String() == "down":
		c.off++
	case keyIs(k, km.LineUp) || k.String() == "up":
		c.off = max(c.off-1, 0)
	case keyIs(k, km.PageDown):
		c.off += 5
	case keyIs(k, km.PageUp):
		c.off = max(c.off-5, 0)
	}
	return nil
}

// View renders the overlay's box.
func (c *helpOverlay) View() string {
	st, maxH := c.st, c.h
	maxW := max(c.w-6, 1)
	var keyRows []string
	seen := map[string]bool{}
	for _, group := range c.keys.HelpGroups() {
		for _, b := range group {
			h := b.Help()
			if seen[h.Key+h.Desc] {
				continue
			}
			seen[h.Key+h.Desc] = true
			keyRows = append(keyRows, st.Key.Render(padRight(h.Key, 10))+" "+st.KeyDesc.Render(h.Desc))
		}
	}
	var cmdRows []string
	cmds := slashCommands()
	if h, ok := c.call.(CallHelp); ok {
		for _, x := range h.HelpCommands() {
			cmds = append(cmds, slashCommand{x.Name, x.Args, x.Help})
		}
	}
	for _, sc := range cmds {
		use := "/" + sc.name
		if sc.args != "" {
			use += " " + sc.args
		}
		cmdRows = append(cmdRows, st.Key.Render(padRight(use, 13))+" "+st.KeyDesc.Render(sc.help))
	}
	rows := []string{st.OverlayTitle.Render("Keys")}
	rows = append(rows, grid(keyRows, maxW)...)
	rows = append(rows, st.OverlayTitle.Render("Commands"))
	rows = append(rows, grid(cmdRows, maxW)...)
	rows = append(rows, st.Muted.Render("esc closes · //text sends a line starting with /"))
	if inner := max(maxH-2, 3); len(rows) > inner {
		// Too tall for the terminal: show a window that ↑/↓ and pgup/pgdn move.
		maxOff := len(rows) - (inner - 1)
		c.off = min(c.off, maxOff)
		win := rows[c.off : c.off+inner-1]
		more := "↓/pgdn more"
		switch {
		case c.off == maxOff:
			more = "↑/pgup back"
		case c.off > 0:
			more = "↑↓ scroll"
		}
		rows = append(append([]string(nil), win...), st.Muted.Render(fmt.Sprintf("… %s (%d-%d of %d)", more, c.off+1, c.off+inner-1, len(rows))))
	}
	for i, r := range rows {
		rows[i] = truncate(r, maxW)
	}
	return st.Overlay.Render(strings.Join(rows, "\n"))
}

// grid lays items out in up to three columns (filled top to bottom) that fit
// in width.
func grid(items []string, width int) []string {
	colW := 0
	for _, it := range items {
		colW = max(colW, ansi.StringWidth(it))
	}
	const gap = 3
	cols := 1
	for cols < 3 && (cols+1)*colW+cols*gap <= width {
		cols++
	}
	per := (len(items) + cols - 1) / cols
	out := make([]string, 0, per)
	for r := 0; r < per; r++ {
		var b strings.Builder
		for k := 0; k < cols; k++ {
			i := k*per + r
			if i >= len(items) {
				break
			}
			if k > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			if k < cols-1 {
				b.WriteString(padRight(items[i], colW))
			} else {
				b.WriteString(items[i])
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}
