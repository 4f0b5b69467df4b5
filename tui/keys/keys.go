// Package keys holds the key bindings of the vc chat TUI, in one place so that
// the help overlay, the status line hint and the update logic agree.
package keys

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every binding of the chat screen.
type KeyMap struct {
	Quit       key.Binding
	Help       key.Binding
	Switcher   key.Binding
	FocusNext  key.Binding
	FocusPrev  key.Binding
	Send       key.Binding
	Newline    key.Binding
	HistPrev   key.Binding
	HistNext   key.Binding
	Complete   key.Binding
	StopAI     key.Binding
	PageUp     key.Binding
	PageDown   key.Binding
	LineUp     key.Binding
	LineDown   key.Binding
	Top        key.Binding
	Bottom     key.Binding
	Search     key.Binding
	NextMatch  key.Binding
	PrevMatch  key.Binding
	Select     key.Binding
	Back       key.Binding
	Reconnect  key.Binding
	ToggleForm key.Binding
}

// Default returns the default bindings.
func Default() KeyMap {
	b := func(keys []string, k, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, help))
	}
	return KeyMap{
		Quit:       b([]string{"ctrl+c"}, "ctrl+c", "quit"),
		Help:       b([]string{"?", "f1"}, "?", "this help"),
		Switcher:   b([]string{"ctrl+k"}, "ctrl+k", "switch room"),
		FocusNext:  b([]string{"tab"}, "tab", "next panel"),
		FocusPrev:  b([]string{"shift+tab"}, "shift+tab", "previous panel"),
		Send:       b([]string{"enter"}, "enter", "send"),
		Newline:    b([]string{"alt+enter", "ctrl+j"}, "alt+enter", "new line"),
		HistPrev:   b([]string{"up"}, "↑", "history back"),
		HistNext:   b([]string{"down"}, "↓", "history forward"),
		Complete:   b([]string{"tab"}, "tab", "complete @name"),
		StopAI:     b([]string{"ctrl+x"}, "ctrl+x", "stop AI reply"),
		PageUp:     b([]string{"pgup"}, "pgup", "scroll up"),
		PageDown:   b([]string{"pgdown"}, "pgdn", "scroll down"),
		LineUp:     b([]string{"up", "k"}, "↑/k", "line up"),
		LineDown:   b([]string{"down", "j"}, "↓/j", "line down"),
		Top:        b([]string{"home", "g"}, "home", "oldest loaded"),
		Bottom:     b([]string{"end", "G"}, "end", "newest"),
		Search:     b([]string{"/", "ctrl+f"}, "/ ctrl+f", "search history"),
		NextMatch:  b([]string{"n"}, "n", "older match"),
		PrevMatch:  b([]string{"N"}, "N", "newer match"),
		Select:     b([]string{"enter"}, "enter", "open"),
		Back:       b([]string{"esc"}, "esc", "close / back"),
		Reconnect:  b([]string{"ctrl+r"}, "ctrl+r", "reconnect"),
		ToggleForm: b([]string{"ctrl+r"}, "ctrl+r", "login / register"),
	}
}

// HelpGroups returns the bindings grouped for the help overlay.
func (k KeyMap) HelpGroups() [][]key.Binding {
	return [][]key.Binding{
		{k.Send, k.Newline, k.HistPrev, k.HistNext, k.Complete, k.StopAI},
		{k.PageUp, k.PageDown, k.Top, k.Bottom, k.Search, k.NextMatch, k.PrevMatch},
		{k.Switcher, k.FocusNext, k.FocusPrev, k.Reconnect, k.Help, k.Back, k.Quit},
	}
}
