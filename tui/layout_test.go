package tui

import (
	"os/exec"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/wsproto"
)

// TestLayout_Resize: at every size from 60x20 up (and below, without
// crashing) each frame is exactly the terminal's height and no line is wider
// than the terminal; panels collapse as the width shrinks.
func TestLayout_Resize(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	role := int64(7)
	s.events <- wsproto.Event{Type: wsproto.TypeAIStart, StreamID: "s1", RoleID: &role, Role: "CTO"}
	s.events <- wsproto.Event{Type: wsproto.TypeAIDelta, StreamID: "s1", Delta: strings.Repeat("long words stream in ", 20)}
	hs.waitFor("the stream", func() bool { return aiEntries(hs.chat()) == 1 })
	for _, overlay := range []string{"", "?", "ctrl+k"} {
		switch overlay {
		case "?":
			hs.typeText("?")
		case "ctrl+k":
			hs.keyType(tea.KeyEsc)
			hs.keyType(tea.KeyCtrlK)
		}
		for _, sz := range [][2]int{{200, 60}, {120, 40}, {100, 30}, {99, 30}, {80, 24}, {79, 24}, {60, 20}, {40, 12}, {20, 6}} {
			hs.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			lines := strings.Split(hs.m.View(), "\n")
			if sz[0] >= 60 && sz[1] >= 20 {
				require.Len(t, lines, sz[1], "height at %dx%d overlay %q", sz[0], sz[1], overlay)
			}
			for i, l := range lines {
				require.LessOrEqual(t, ansi.StringWidth(l), sz[0], "line %d at %dx%d overlay %q: %q", i, sz[0], sz[1], overlay, l)
			}
		}
	}
	hs.keyType(tea.KeyEsc)
	for _, c := range []struct {
		w             int
		rooms, member bool
	}{{120, true, true}, {90, true, false}, {70, false, false}} {
		hs.send(tea.WindowSizeMsg{Width: c.w, Height: 30})
		scr := hs.screen()
		require.Equal(t, c.rooms, strings.Contains(scr, "Rooms"), "rooms panel at width %d", c.w)
		require.Equal(t, c.member, strings.Contains(scr, "Members"), "members panel at width %d", c.w)
	}
	// /members shows the panel on a narrow terminal too.
	hs.typeText("/members\n")
	require.Contains(t, hs.screen(), "Members")
}

func TestScroll_MouseWheel(t *testing.T) {
	hs, _ := startChat(t, 80, 24)
	c := hs.chat()
	hs.send(tea.MouseMsg{Button: tea.MouseButtonWheelUp, Action: tea.MouseActionPress})
	require.Equal(t, wheelLines, c.tl.offset)
	hs.send(tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	require.Equal(t, 0, c.tl.offset)
}

// TestImports: the TUI reaches the server only through client/.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		require.False(t, strings.HasPrefix(p, "github.com/virtual-company/vc/server"), "tui imports %s", p)
		require.False(t, strings.HasPrefix(p, "github.com/virtual-company/vc/cmd"), "tui imports %s", p)
	}
}

func TestMouse_ClickRoom(t *testing.T) {
	hs, _ := startChat(t, 120, 40)
	c := hs.chat()
	hs.send(tea.MouseMsg{X: 5, Y: 3, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	hs.waitFor("#random open", func() bool { r, _ := c.rooms.current(); return r.ID == 2 && c.conn.stream != nil })
}

// TestHelp_ScrollsOnShortTerminals: at 60x20 the ? overlay does not fit, so
// it shows a window that ↓ and pgdn move down to the last line and ↑ back.
func TestHelp_ScrollsOnShortTerminals(t *testing.T) {
	hs, _ := startChat(t, 60, 20)
	hs.typeText("?")
	hs.waitScreen("Keys")
	require.Contains(t, hs.screen(), "↓/pgdn more")
	require.NotContains(t, hs.screen(), "/quit")
	for i := 0; i < 40 && !strings.Contains(hs.screen(), "/quit"); i++ {
		hs.keyType(tea.KeyPgDown)
	}
	require.Contains(t, hs.screen(), "/quit", "pgdn reaches the end of the help")
	require.Contains(t, hs.screen(), "↑/pgup back")
	require.NotContains(t, hs.screen(), "Keys", "the window moved past the first line")
	for i := 0; i < 40 && !strings.Contains(hs.screen(), "Keys"); i++ {
		hs.keyType(tea.KeyUp)
	}
	require.Contains(t, hs.screen(), "Keys")
	for _, l := range strings.Split(hs.m.View(), "\n") {
		require.LessOrEqual(t, ansi.StringWidth(l), 60)
	}
}
