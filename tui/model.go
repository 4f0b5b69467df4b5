package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/virtual-company/vc/client"
)

// screen is one full-screen view of the TUI.
type screen interface {
	Init() tea.Cmd
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	KeyBindings() []key.Binding
}

// Model is the root Bubble Tea model: it owns the screens, routes messages
// to the active one and handles what is global (size, Ctrl-C).
type Model struct {
	sh     *shared
	w, h   int
	active screen
	chat   *chatScreen
	// startErr is shown while the first contact with the server failed.
	startErr string
}

// Init starts at the login screen or, with a token, checks it first.
func (m *Model) Init() tea.Cmd {
	if !m.sh.opts.LoggedIn {
		return m.show(newLoginScreen(m.sh, ""))
	}
	return m.sh.meCmd()
}

func (m *Model) show(s screen) tea.Cmd {
	m.active = s
	if m.w > 0 {
		s.SetSize(m.w, m.h)
	}
	return s.Init()
}

func (m *Model) startChat() tea.Cmd {
	m.chat = newChatScreen(m.sh)
	return m.show(m.chat)
}

// Update routes msg.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		if m.active != nil {
			m.active.SetSize(m.w, m.h)
		}
		return m, nil
	case tea.KeyMsg:
		if keyIs(msg, m.sh.keys.Quit) {
			return m, tea.Quit
		}
		if m.active == nil && msg.String() == "r" && m.startErr != "" {
			m.startErr = ""
			return m, m.sh.meCmd()
		}
	case meMsg:
		if msg.err != nil {
			if client.IsUnauthorized(msg.err) {
				return m, m.show(newLoginScreen(m.sh, "Your session has expired: sign in again."))
			}
			m.startErr = errText(msg.err)
			return m, nil
		}
		m.sh.me = msg.user
		return m, m.startChat()
	case loginDoneMsg:
		if msg.err == nil {
			m.sh.me = msg.user
			return m, m.startChat()
		}
	}
	if m.active == nil {
		return m, nil
	}
	return m, m.active.Update(msg)
}

// View draws the active screen.
func (m *Model) View() string {
	if m.active == nil {
		st := m.sh.st
		text := st.Muted.Render("connecting to " + m.sh.opts.Server + "…")
		if m.startErr != "" {
			text = st.ErrorText.Render(m.startErr) + "\n" + st.Muted.Render("r retries · ctrl+c quits")
		}
		return lipgloss.Place(m.w, m.h, lipgloss.Center, lipgloss.Center, text)
	}
	return m.active.View()
}

// shutdown releases what the program held (the room stream).
func (m *Model) shutdown() {
	if m.chat != nil {
		m.chat.shutdown()
	}
}
