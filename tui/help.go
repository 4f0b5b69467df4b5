package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// helpView is the ? overlay: keys and slash commands.
func (c *chatScreen) helpView(maxH int) string {
	st := c.sh.st
	var rows []string
	rows = append(rows, st.OverlayTitle.Render("Keys"))
	for _, group := range c.sh.keys.HelpGroups() {
		for _, b := range group {
			h := b.Help()
			rows = append(rows, st.Key.Render(padRight(h.Key, 11))+" "+st.KeyDesc.Render(h.Desc))
		}
	}
	rows = append(rows, "", st.OverlayTitle.Render("Commands"))
	for _, sc := range slashCommands() {
		use := "/" + sc.name
		if sc.args != "" {
			use += " " + sc.args
		}
		rows = append(rows, st.Key.Render(padRight(use, 15))+" "+st.KeyDesc.Render(sc.help))
	}
	rows = append(rows, "", st.Muted.Render("esc closes · //text sends a line starting with /"))
	// Two columns when tall content meets a wide terminal.
	inner := max(maxH-2, 3)
	if len(rows) > inner && c.w >= 100 {
		half := (len(rows) + 1) / 2
		left, right := rows[:half], rows[half:]
		lw := 0
		for _, r := range left {
			lw = max(lw, ansi.StringWidth(r))
		}
		merged := make([]string, 0, half)
		for i := range left {
			r := padRight(left[i], lw+3)
			if i < len(right) {
				r += right[i]
			}
			merged = append(merged, r)
		}
		rows = merged
	}
	if len(rows) > inner {
		rows = append(rows[:inner-1], st.Muted.Render("… (make the terminal taller for more)"))
	}
	maxW := max(c.w-4, 20)
	for i, r := range rows {
		rows[i] = truncate(r, maxW-4)
	}
	return st.Overlay.Render(strings.Join(rows, "\n"))
}
