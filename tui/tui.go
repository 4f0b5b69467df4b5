// Package tui is the full-screen chat client behind `vc chat`: a Bubble Tea
// program with a login screen and a chat screen (room list, message view,
// members and roles, input, status line). It talks to the server only
// through the Backend interface, which *client.Client satisfies via
// ClientBackend; every piece of I/O runs in a tea.Cmd that returns a typed
// message, and room events arrive through a re-arming "wait for the next
// event" command, so Update never blocks.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// Options configures the TUI.
type Options struct {
	// Room is the room to open first: an id or a name. Empty opens the first room.
	Room string
	// Server is shown on the login screen and in the header.
	Server string
	// LoggedIn says whether the backend holds a token; when false the login
	// form comes first.
	LoggedIn bool
	// OnLogin is called (inside a command, off the UI loop) with a fresh
	// token after the login form succeeded, so the caller can store it.
	OnLogin func(ctx context.Context, username string, tok api.Token) error
	// Now is the clock (time.Now when nil); tests pass a fixed one.
	Now func() time.Time
	// Location is the zone times are shown in (time.Local when nil).
	Location *time.Location
	// Renderer carries the colour profile and background (lipgloss's default
	// renderer when nil). NO_COLOR is honoured by lipgloss renderers.
	Renderer *lipgloss.Renderer
	// HistoryPage is how many messages are fetched per history request (100 when 0).
	HistoryPage int
	// RoomsRefresh is how often the room list (and unread counts) is refreshed (5s when 0).
	RoomsRefresh time.Duration
	// Logger receives diagnostics (discarded when nil); never the terminal.
	Logger *slog.Logger
	// CallPanel is the voice call component (nil: no calls).
	CallPanel CallPanel
	// Bell rings the terminal bell when someone mentions you in a room
	// other than the open one (Run writes BEL to the terminal; nil: silent).
	Bell func()
	// Context bounds the lifetime of streams and requests (Background when nil).
	Context context.Context
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Renderer == nil {
		o.Renderer = lipgloss.DefaultRenderer()
	}
	if o.HistoryPage <= 0 {
		o.HistoryPage = 100
	}
	if o.RoomsRefresh <= 0 {
		o.RoomsRefresh = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.Bell == nil {
		o.Bell = func() {}
	}
}

// shared is what every screen needs.
type shared struct {
	be     Backend
	opts   Options
	st     *styles.Styles
	keys   keys.KeyMap
	me     api.User
	md     *markdown
	logger *slog.Logger
}

// New returns the root model of the TUI.
func New(be Backend, opts Options) *Model {
	opts.defaults()
	sh := &shared{
		be: be, opts: opts, st: styles.New(opts.Renderer), keys: keys.Default(),
		logger: opts.Logger.With("component", "tui"),
	}
	sh.md = newMarkdown(sh.st)
	return &Model{sh: sh}
}

// Run starts the TUI full screen on the terminal (in, out) and blocks until
// the user quits. Ctrl-C quits cleanly; Bubble Tea restores the terminal.
func Run(ctx context.Context, be Backend, opts Options, in io.Reader, out io.Writer) error {
	if opts.Renderer == nil {
		inF, inOK := in.(*os.File)
		outF, outOK := out.(*os.File)
		if inOK && outOK {
			opts.Renderer = newRenderer(inF, outF)
		} else {
			opts.Renderer = lipgloss.NewRenderer(out)
			opts.Renderer.SetHasDarkBackground(true) // nothing to ask
		}
	}
	if opts.Context == nil {
		opts.Context = ctx
	}
	if opts.Bell == nil {
		// One byte in one write: it cannot split a frame the renderer writes.
		opts.Bell = func() { _, _ = out.Write([]byte{'\a'}) }
	}
	m := New(be, opts)
	p := tea.NewProgram(m,
		tea.WithContext(ctx),
		tea.WithInput(in),
		tea.WithOutput(out),
		tea.WithAltScreen(),
		tea.WithMouseCellMotion(),
	)
	final, err := p.Run()
	if fm, ok := final.(*Model); ok {
		fm.shutdown()
	}
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("chat: %w", err)
	}
	return nil
}
