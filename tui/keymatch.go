package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// keyIs reports whether msg is one of the bindings. Unlike key.Matches it
// never treats typed text as a named key: terminals deliver fast typing and
// pastes as one KeyMsg with several runes, whose String() of "up", "down"
// or "end" would otherwise match the arrow and End bindings.
func keyIs(msg tea.KeyMsg, b ...key.Binding) bool {
	if msg.Type == tea.KeyRunes && len(msg.Runes) != 1 {
		return false
	}
	return key.Matches(msg, b...)
}

// typedText returns the text of a multi-rune KeyMsg (fast typing or a
// paste), which must be inserted as text and never given to a bubbles
// component's Update: their key maps match by String() too.
func typedText(msg tea.KeyMsg) (string, bool) {
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Alt {
		return string(msg.Runes), true
	}
	return "", false
}

// feedRunes gives a text input a multi-rune KeyMsg one rune at a time.
func feedRunes[M any](m M, msg tea.KeyMsg, update func(M, tea.Msg) (M, tea.Cmd)) (M, tea.Cmd) {
	if _, ok := typedText(msg); !ok {
		return update(m, msg)
	}
	var cmds []tea.Cmd
	for _, r := range msg.Runes {
		var cmd tea.Cmd
		m, cmd = update(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		cmds = append(cmds, cmd)
	}
	return m, tea.Batch(cmds...)
}

// isShiftEnter recognises Shift-Enter from terminals that report it (the
// kitty protocol's CSI 13;2u, xterm's modifyOtherKeys CSI 27;2;13~). Bubble
// Tea v1 has no key for them and delivers them as unknown CSI sequences,
// which print as "?CSI[bytes]?". Most terminals send a plain Enter for
// Shift-Enter; Alt-Enter and Ctrl-J always work.
func isShiftEnter(msg tea.Msg) bool {
	s, ok := msg.(fmt.Stringer)
	if !ok {
		return false
	}
	switch s.String() {
	case "?CSI[49 51 59 50 117]?", "?CSI[50 55 59 50 59 49 51 126]?":
		return true
	}
	return false
}
