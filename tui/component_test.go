package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// recorder collects what a component posts.
type recorder struct{ msgs []tea.Msg }

func (r *recorder) post(m tea.Msg) { r.msgs = append(r.msgs, m) }

// TestRoomList_AloneKeysAndView drives the room list without a screen: its
// own keys change its state, enter and typing become intents, and it draws
// exactly its size.
func TestRoomList_AloneKeysAndView(t *testing.T) {
	var rec recorder
	me := api.User{ID: 1, Username: "alice"}
	rl := newRoomList(styles.New(asciiRenderer()), keys.Default(), &me, rec.post)
	rl.SetSize(20, 6)
	scans, _, _ := rl.merge([]api.Room{{ID: 1, Name: "general", LastSeq: 3}, {ID: 2, Name: "random", LastSeq: 9}})
	require.Empty(t, scans, "rooms seen for the first time have nothing unread")
	rl.open(0)
	rl.setFocused(true)

	rl.Update(tea.KeyMsg{Type: tea.KeyDown})
	require.Equal(t, 1, rl.sel)
	require.Empty(t, rec.msgs, "arrows are the panel's own")

	rl.Update(tea.KeyMsg{Type: tea.KeyEnter})
	require.Equal(t, []tea.Msg{focusOn(focusInput, nil), openRoomMsg{index: 1}}, rec.msgs)

	rec.msgs = nil
	k := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'j'}}
	rl.Update(k)
	require.Equal(t, []tea.Msg{focusOn(focusInput, &k)}, rec.msgs, "j is typed into the input")

	lines := rl.lines()
	require.Len(t, lines, 6)
	for _, l := range lines {
		require.Equal(t, 20, ansi.StringWidth(l))
	}
	require.Contains(t, ansi.Strip(lines[2]), "▸ #random")
}

// TestComposer_AloneEnterPostsSubmit: Enter posts the trimmed text and
// clears the input; a blank line posts nothing.
func TestComposer_AloneEnterPostsSubmit(t *testing.T) {
	var rec recorder
	c := newComposer(styles.New(asciiRenderer()), keys.Default(), func() ([]string, []string) { return nil, nil }, rec.post)
	c.SetSize(40, 1)
	c.Update(tea.KeyMsg{Type: tea.KeyEnter})
	require.Empty(t, rec.msgs)
	c.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("hi there  ")})
	c.Update(tea.KeyMsg{Type: tea.KeyEnter})
	require.Equal(t, []tea.Msg{typedMsg{}, submitMsg{text: "hi there"}}, rec.msgs)
	require.Equal(t, "", c.value())
}
