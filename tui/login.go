package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/virtual-company/vc/pkg/api"
)

// Login form fields.
const (
	fieldEmail = iota
	fieldUsername
	fieldName
	fieldPassword
	fieldCount
)

// loginScreen signs in or registers, then hands over to the chat screen.
type loginScreen struct {
	sh       *shared
	w, h     int
	register bool
	fields   [fieldCount]textinput.Model
	focus    int
	busy     bool
	err      string
	note     string
}

func newLoginScreen(sh *shared, note string) *loginScreen {
	l := &loginScreen{sh: sh, note: note}
	mk := func(label, ph string) textinput.Model {
		t := textinput.New()
		t.Prompt = padRight(label, 10)
		t.Placeholder = ph
		t.CharLimit = 256
		t.Width = 30
		t.PromptStyle = sh.st.Muted
		return t
	}
	l.fields[fieldEmail] = mk("Email", "you@example.com")
	l.fields[fieldUsername] = mk("Username", "username or email")
	l.fields[fieldName] = mk("Name", "how others see you")
	l.fields[fieldPassword] = mk("Password", "at least 8 characters")
	l.fields[fieldPassword].EchoMode = textinput.EchoPassword
	l.fields[fieldPassword].EchoCharacter = '•'
	l.focus = fieldUsername
	l.fields[fieldUsername].Focus()
	return l
}

func (l *loginScreen) Init() tea.Cmd { return textinput.Blink }

func (l *loginScreen) SetSize(w, h int) { l.w, l.h = w, h }

func (l *loginScreen) KeyBindings() []key.Binding {
	k := l.sh.keys
	return []key.Binding{k.FocusNext, k.Send, k.ToggleForm, k.Quit}
}

// visible lists the fields of the current mode in order.
func (l *loginScreen) visible() []int {
	if l.register {
		return []int{fieldEmail, fieldUsername, fieldName, fieldPassword}
	}
	return []int{fieldUsername, fieldPassword}
}

func (l *loginScreen) move(dir int) {
	vis := l.visible()
	pos := 0
	for i, f := range vis {
		if f == l.focus {
			pos = i
		}
	}
	pos = (pos + dir + len(vis)) % len(vis)
	l.setFocus(vis[pos])
}

func (l *loginScreen) setFocus(f int) {
	for i := range l.fields {
		l.fields[i].Blur()
	}
	l.focus = f
	l.fields[f].Focus()
}

func (l *loginScreen) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loginDoneMsg:
		l.busy = false
		if msg.err != nil {
			l.err = errText(msg.err)
		}
		return nil
	case tea.KeyMsg:
		if l.busy {
			return nil
		}
		k := l.sh.keys
		switch {
		case keyIs(msg, k.ToggleForm):
			l.register = !l.register
			l.err = ""
			if l.register {
				l.fields[fieldUsername].Placeholder = "letters, digits, . _ -"
				l.setFocus(fieldEmail)
			} else {
				l.fields[fieldUsername].Placeholder = "username or email"
				l.setFocus(fieldUsername)
			}
			return nil
		case msg.Type == tea.KeyTab, msg.Type == tea.KeyDown:
			l.move(1)
			return nil
		case msg.Type == tea.KeyShiftTab, msg.Type == tea.KeyUp:
			l.move(-1)
			return nil
		case msg.Type == tea.KeyEnter:
			vis := l.visible()
			if l.focus != vis[len(vis)-1] {
				l.move(1)
				return nil
			}
			return l.submit()
		}
	}
	var cmd tea.Cmd
	if k, ok := msg.(tea.KeyMsg); ok {
		l.fields[l.focus], cmd = feedRunes(l.fields[l.focus], k, textinput.Model.Update)
		return cmd
	}
	l.fields[l.focus], cmd = l.fields[l.focus].Update(msg)
	return cmd
}

func (l *loginScreen) val(f int) string { return strings.TrimSpace(l.fields[f].Value()) }

func (l *loginScreen) submit() tea.Cmd {
	for _, f := range l.visible() {
		if l.val(f) == "" && l.fields[f].Value() == "" {
			l.err = strings.TrimSpace(l.fields[f].Prompt) + " is empty"
			l.setFocus(f)
			return nil
		}
	}
	l.busy, l.err = true, ""
	sh := l.sh
	register := l.register
	req := api.RegisterRequest{
		Email: l.val(fieldEmail), Username: l.val(fieldUsername),
		Name: l.val(fieldName), Password: l.fields[fieldPassword].Value(),
	}
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		if register {
			if _, err := sh.be.Register(ctx, req); err != nil {
				return loginDoneMsg{err: fmt.Errorf("register: %w", err)}
			}
		}
		tok, err := sh.be.Login(ctx, req.Username, req.Password)
		if err != nil {
			return loginDoneMsg{err: err}
		}
		if sh.opts.OnLogin != nil {
			if err := sh.opts.OnLogin(ctx, req.Username, tok); err != nil {
				return loginDoneMsg{err: fmt.Errorf("store the token: %w", err)}
			}
		}
		u, err := sh.be.Me(ctx)
		return loginDoneMsg{user: u, err: err}
	}
}

func (l *loginScreen) View() string {
	st := l.sh.st
	title := "Sign in"
	other := "ctrl+r: create an account instead"
	if l.register {
		title = "Create an account"
		other = "ctrl+r: sign in instead"
	}
	var rows []string
	rows = append(rows, st.OverlayTitle.Render("vc · "+title))
	if l.sh.opts.Server != "" {
		rows = append(rows, st.Muted.Render(l.sh.opts.Server))
	}
	if l.note != "" {
		rows = append(rows, st.Notice.Render(l.note))
	}
	rows = append(rows, "")
	for _, f := range l.visible() {
		rows = append(rows, l.fields[f].View())
	}
	rows = append(rows, "")
	switch {
	case l.busy:
		rows = append(rows, st.Muted.Render("signing in…"))
	case l.err != "":
		rows = append(rows, st.ErrorText.Render(truncate(l.err, 44)))
	default:
		rows = append(rows, st.Muted.Render("enter: next / submit · tab: next field"))
	}
	rows = append(rows, st.Muted.Render(other), st.Muted.Render("ctrl+c: quit"))
	box := st.Overlay.Render(strings.Join(rows, "\n"))
	return lipgloss.Place(l.w, l.h, lipgloss.Center, lipgloss.Center, box)
}
