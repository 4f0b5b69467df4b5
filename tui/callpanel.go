package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/pkg/api"
)

// CallPanel is the seam for voice calls (issue 7): a component shown at the
// top of the members panel that owns its slash commands (/call) and keys
// (such as m for mute). The chat screen works without one.
type CallPanel interface {
	// Update sees every message before the chat screen (keys only while the
	// input is not focused); handled stops the chat screen from seeing it.
	Update(msg tea.Msg) (handled bool, cmd tea.Cmd)
	// Command runs a slash command the chat screen does not know; ok is false
	// when it is not one of the panel's.
	Command(room api.Room, name string, args []string) (cmd tea.Cmd, ok bool)
	// View renders the panel at most width cells wide; "" hides it.
	View(width int) string
}

// CallHelp is optionally implemented by a CallPanel to list its slash
// commands and keys in the ? help overlay.
type CallHelp interface {
	HelpCommands() []SlashHelp
}

// SlashHelp is one line of the help overlay's command list: "/Name Args"
// and what it does.
type SlashHelp struct{ Name, Args, Help string }
