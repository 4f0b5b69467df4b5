package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/stretchr/testify/require"
)

// Tests for what tripped a new user (issue 16).

// TestChat_TypingInPanelsGoesToInput: printable keys typed while the Rooms
// or Members panel (or the messages) has the focus go to the input, j and k
// included, and move the focus there; the panels keep their arrow keys.
func TestChat_TypingInPanelsGoesToInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		tabs int
		want focusArea
		text string
	}{
		// The message panel keeps j/k/g/G/n/N and / (see the help).
		{"messages", 1, focusTimeline, "hello there"},
		{"rooms", 2, focusRooms, "jk hello"},
		{"members", 3, focusMembers, "jk hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, s := startChat(t, 120, 40)
			c := hs.chat()
			for i := 0; i < tc.tabs; i++ {
				hs.keyType(tea.KeyTab)
			}
			require.Equal(t, tc.want, c.focus)
			if tc.want == focusRooms {
				hs.keyType(tea.KeyDown) // the panel's own key still works
				require.Equal(t, 1, c.sel)
				require.Equal(t, focusRooms, c.focus)
			}
			hs.typeText(tc.text)
			require.Equal(t, focusInput, c.focus)
			require.Equal(t, tc.text, c.input.value())
			hs.keyType(tea.KeyEnter)
			hs.waitFor("the send", func() bool { return len(s.sentFrames()) == 1 })
			require.Equal(t, tc.text, s.sentFrames()[0].Content)
		})
	}
}

// TestChat_RoleAddressesOneMessage: /role says it addresses the next
// message only, and the line stops saying so once that message is sent.
func TestChat_RoleAddressesOneMessage(t *testing.T) {
	hs, s := startChat(t, 120, 40)
	c := hs.chat()
	hs.typeText("/role cto\n")
	require.Contains(t, hs.screen(), "your next message (only) goes to CTO")
	hs.typeText("ship?\n")
	hs.waitFor("the send", func() bool { return len(s.sentFrames()) == 1 })
	require.NotNil(t, s.sentFrames()[0].RoleID)
	require.Nil(t, c.target)
	require.NotContains(t, hs.screen(), "goes to CTO")
	require.NotContains(t, hs.screen(), "to 🤖 CTO")
	hs.typeText("and now?\n")
	hs.waitFor("the second send", func() bool { return len(s.sentFrames()) == 2 })
	require.Nil(t, s.sentFrames()[1].RoleID, "the second message goes to the room")

	// Esc cancels it, and the line with it.
	hs.typeText("/role cto\n")
	hs.keyType(tea.KeyEsc)
	require.Nil(t, c.target)
	require.NotContains(t, hs.screen(), "goes to CTO")
}
