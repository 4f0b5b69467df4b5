package tui

import (
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

// asciiRenderer renders without colour, as on a NO_COLOR terminal.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

func testOptions() Options {
	return Options{
		LoggedIn: true, Server: "http://127.0.0.1:8000",
		Now: fixedNow, Location: time.UTC, Renderer: asciiRenderer(),
		RoomsRefresh: time.Hour,
	}
}

// harness drives the root model like the Bubble Tea runtime does: commands
// run in goroutines and their messages come back through inbox, but only
// the test goroutine calls Update.
type harness struct {
	t     *testing.T
	m     *Model
	be    *fakeBackend
	inbox chan tea.Msg
	quit  bool
}

func newHarness(t *testing.T, be *fakeBackend, opts Options, w, h int) *harness {
	t.Helper()
	hs := &harness{t: t, m: New(be, opts), be: be, inbox: make(chan tea.Msg, 4096)}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.exec(hs.m.Init())
	return hs
}

func (h *harness) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { h.inbox <- cmd() }()
}

func (h *harness) send(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	h.exec(cmd)
}

func (h *harness) handle(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.exec(c)
		}
	case tea.QuitMsg:
		h.quit = true
	default:
		h.send(msg)
	}
}

// waitFor processes messages until cond holds, failing after a deadline.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case msg := <-h.inbox:
			h.handle(msg)
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, h.screen())
		}
	}
}

// screen is the current frame without escape sequences.
func (h *harness) screen() string { return ansi.Strip(h.m.View()) }

func (h *harness) waitScreen(sub string) {
	h.t.Helper()
	h.waitFor("screen to show "+sub, func() bool { return strings.Contains(h.screen(), sub) })
}

func (h *harness) chat() *chatScreen { return h.m.chat }

// ready waits until the chat screen shows a connected room.
func (h *harness) ready() *fakeStream {
	h.t.Helper()
	h.waitFor("a connected room", func() bool {
		c := h.m.chat
		return c != nil && c.conn.stream != nil
	})
	return h.be.lastStream()
}

// typeText sends keystrokes for s.
func (h *harness) typeText(s string) {
	for _, r := range s {
		switch r {
		case '\n':
			h.key(tea.KeyMsg{Type: tea.KeyEnter})
		default:
			h.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		}
	}
}

func (h *harness) key(k tea.KeyMsg) { h.send(k) }

func (h *harness) keyType(t tea.KeyType) { h.send(tea.KeyMsg{Type: t}) }
