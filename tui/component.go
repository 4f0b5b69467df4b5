package tui

import (
	tea "github.com/charmbracelet/bubbletea"
)

// component is one part of the chat screen (room list, members panel,
// search, notices, composer, timeline, help, switcher): it owns its state
// and its keys, and draws itself at the size it was given. The chat screen
// composes them: it gives each its area, routes messages to the one with the
// focus, and handles what crosses components.
//
// A component never reaches into another one or into the screen. When it
// needs something outside itself (open a room, move the focus, show a
// notice) it posts an intent message through its post function; the screen
// handles posted messages right after the Update that posted them, in
// order, before the next message from the runtime. Intents are therefore
// as synchronous as the direct calls they replace (a key typed right after
// Enter in the search prompt already lands in the message view), while the
// components stay unaware of each other.
type component interface {
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
}

// post hands an intent to the chat screen (see component).
type post func(tea.Msg)

// Intents posted by components to the chat screen.
type (
	// focusMsg moves the focus to area; when key is set, the key is then
	// handled there (typing in a panel goes to the input).
	focusMsg struct {
		area focusArea
		key  *tea.KeyMsg
	}
	// overlayMsg opens an overlay over the panels.
	overlayMsg struct{ kind overlayKind }
	// openRoomMsg opens room index of the room list.
	openRoomMsg struct{ index int }
	// addressMsg puts @name in the input (the members panel's Enter).
	addressMsg struct{ name string }
	// submitMsg is the input's Enter: a message or a slash command.
	submitMsg struct{ text string }
	// typedMsg says the input's text changed (for the typing notification).
	typedMsg struct{}
	// escapeMsg is Esc in the input: it undoes the innermost of search
	// highlight, /role target and scrolling.
	escapeMsg struct{}
	// scrolledMsg says the message view moved: older history is wanted
	// (top) or the newest message is on screen (bottom).
	scrolledMsg struct{ top, bottom bool }
	// searchKeyMsg is a search key pressed in the message view: open the
	// prompt, move to the next hit (dir), or clear the hits.
	searchKeyMsg struct {
		open  bool
		dir   int
		clear bool
	}
)

// focusOn asks for the focus (and hands it key, if any).
func focusOn(area focusArea, key *tea.KeyMsg) tea.Msg { return focusMsg{area: area, key: key} }

// Every part of the chat screen is a component.
var (
	_ component = (*roomList)(nil)
	_ component = (*timeline)(nil)
	_ component = (*memberList)(nil)
	_ component = (*search)(nil)
	_ component = (*notices)(nil)
	_ component = (*composer)(nil)
	_ component = (*helpOverlay)(nil)
	_ component = (*switcher)(nil)
)
