package tui

import (
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// maxInputLines is how tall the input grows before it scrolls.
const maxInputLines = 5

// composer is the input component: a multi-line textarea (Enter sends,
// Alt-Enter breaks the line), the history of sent lines, @ and room
// completion, and the /role target of the next message, drawn on its
// border. Enter posts submitMsg; the screen sends or runs the command.
type composer struct {
	ta   textarea.Model
	st   *styles.Styles
	keys keys.KeyMap
	post post
	// names lists the completions: @names and rooms.
	names func() (people, rooms []string)

	target *api.Role // /role: the role the next message goes to
	w      int

	history []string
	histIdx int    // len(history) when not browsing
	draft   string // what was typed before browsing the history

	// @ completion: candidates for the word being typed.
	cands   []string
	candIdx int
	prefix  string // the value before the word being completed
	mark    string // "@" when completing a name, "" for a room

	cacheKey viewKey
	cached   string
}

func newComposer(st *styles.Styles, km keys.KeyMap, names func() (people, rooms []string), p post) *composer {
	ta := textarea.New()
	ta.Placeholder = "Message… (enter sends, alt+enter new line, / for commands)"
	ta.ShowLineNumbers = false
	ta.Prompt = "› "
	ta.CharLimit = 16 << 10
	ta.SetHeight(1)
	ta.MaxHeight = maxInputLines
	ta.KeyMap.InsertNewline = km.Newline
	fs, bs := textarea.DefaultStyles()
	fs.CursorLine = st.Renderer.NewStyle()
	fs.Prompt = st.Prompt
	fs.Placeholder = st.Muted
	bs.Prompt = st.Muted
	bs.Placeholder = st.Muted
	ta.FocusedStyle, ta.BlurredStyle = fs, bs
	ta.Focus()
	return &composer{ta: ta, st: st, keys: km, names: names, post: p}
}

// SetSize sets the input's width (its height follows the text).
func (c *composer) SetSize(w, _ int) {
	c.w = w
	c.setWidth(w)
}

// setFocused focuses or blurs the textarea (it ignores keys while blurred).
func (c *composer) setFocused(f bool) {
	if f {
		c.ta.Focus()
	} else {
		c.ta.Blur()
	}
}

// Update handles the input's keys while it has the focus, and Shift-Enter.
func (c *composer) Update(msg tea.Msg) tea.Cmd {
	if isShiftEnter(msg) {
		c.ta.InsertRune('\n')
		c.fit()
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case keyIs(k, c.keys.Send):
		text := strings.TrimRight(c.value(), " \n\t")
		if strings.TrimSpace(text) == "" {
			return nil
		}
		c.remember(text)
		c.reset()
		c.post(submitMsg{text: text})
		return nil
	case keyIs(k, c.keys.Help) && c.value() == "":
		c.post(overlayMsg{kind: overlayHelp})
		return nil
	case keyIs(k, c.keys.Back):
		c.post(escapeMsg{})
		return nil
	}
	before := c.value()
	_, cmd := c.update(k)
	if c.value() != before {
		c.post(typedMsg{})
	}
	return cmd
}

// tab completes the word being typed; false when there is nothing to
// complete (Tab then moves the focus).
func (c *composer) tab() bool {
	people, rooms := c.names()
	return c.complete(people, rooms)
}

// address appends @name to the input.
func (c *composer) address(name string) {
	v := c.value()
	if v != "" && !strings.HasSuffix(v, " ") {
		v += " "
	}
	c.setValue(v + "@" + name + " ")
}

// suggestionsView is the hint line of completions for the word being typed
// ("" when none).
func (c *composer) suggestionsView() string {
	people, rooms := c.names()
	mark, names := c.suggestions(people, rooms)
	if len(names) == 0 {
		return ""
	}
	return c.st.Completion.Render(" tab: " + mark + strings.Join(names, "  "+mark))
}

// View renders the border line (with the /role target) and the input.
func (c *composer) View() string {
	st := c.st
	label := ""
	if c.target != nil {
		label = " to " + avatar(*c.target, c.target.Name) + " " + c.target.Name + " "
	}
	border := st.Muted
	if c.ta.Focused() {
		border = st.Accent
	}
	lw := ansi.StringWidth(label)
	top := border.Render(strings.Repeat("─", 2)) + st.AIName.Render(label) + border.Render(strings.Repeat("─", max(c.w-2-lw, 0)))
	return top + "\n" + c.view()
}

func (c *composer) value() string { return c.ta.Value() }

func (c *composer) setValue(s string) {
	c.ta.SetValue(s)
	c.fit()
}

func (c *composer) reset() {
	c.ta.Reset()
	c.histIdx = len(c.history)
	c.cands = nil
	c.fit()
}

func (c *composer) setWidth(w int) { c.ta.SetWidth(max(w, 10)) }

// fit grows the box with its content, up to maxInputLines.
func (c *composer) fit() {
	n := c.ta.LineCount()
	c.ta.SetHeight(min(max(n, 1), maxInputLines))
}

func (c *composer) height() int { return c.ta.Height() }

// remember adds a sent line to the history.
func (c *composer) remember(s string) {
	if n := len(c.history); n == 0 || c.history[n-1] != s {
		c.history = append(c.history, s)
	}
	c.histIdx = len(c.history)
}

// update handles a key for the input. It reports whether the key was used.
func (c *composer) update(msg tea.KeyMsg) (bool, tea.Cmd) {
	switch {
	case keyIs(msg, c.keys.HistPrev) && c.ta.Line() == 0 && len(c.history) > 0:
		if c.histIdx == len(c.history) {
			c.draft = c.ta.Value()
		}
		if c.histIdx > 0 {
			c.histIdx--
			c.setValue(c.history[c.histIdx])
		}
		return true, nil
	case keyIs(msg, c.keys.HistNext) && c.ta.Line() == c.ta.LineCount()-1 && c.histIdx < len(c.history):
		c.histIdx++
		if c.histIdx == len(c.history) {
			c.setValue(c.draft)
		} else {
			c.setValue(c.history[c.histIdx])
		}
		return true, nil
	}
	var cmd tea.Cmd
	if text, ok := typedText(msg); ok {
		c.ta.InsertString(text)
	} else {
		c.ta, cmd = c.ta.Update(msg)
	}
	c.fit()
	if msg.Type != tea.KeyTab {
		c.cands = nil
	}
	return true, cmd
}

// atWord returns the @word at the end of the input ("" when none) and the
// text before it.
func atWord(v string) (prefix, word string, ok bool) {
	i := strings.LastIndexAny(v, " \n\t")
	w := v[i+1:]
	if !strings.HasPrefix(w, "@") {
		return "", "", false
	}
	return v[:i+1], w[1:], true
}

// roomWord returns the room name being typed after /join (the only
// argument so far, '#' dropped) and the text before it.
func roomWord(v string) (prefix, word string, ok bool) {
	for _, cmd := range []string{"/join ", "/j "} {
		if rest, found := strings.CutPrefix(v, cmd); found && !strings.ContainsAny(rest, " \n\t") {
			return cmd, strings.TrimPrefix(rest, "#"), true
		}
	}
	return "", "", false
}

// completing finds what Tab would complete: the @word at the end of the
// input (from names), or the room after /join (from rooms).
func (c *composer) completing(names, rooms []string) (prefix, mark, word string, pool []string, ok bool) {
	v := c.ta.Value()
	if prefix, word, ok = atWord(v); ok {
		return prefix, "@", word, names, true
	}
	if prefix, word, ok = roomWord(v); ok {
		return prefix, "", word, rooms, true
	}
	return "", "", "", nil, false
}

// complete handles Tab: it completes the @word at the end of the input from
// names, or the room after /join from rooms, cycling on repeated presses.
// It reports false when there is nothing to complete.
func (c *composer) complete(names, rooms []string) bool {
	if len(c.cands) > 0 {
		c.candIdx = (c.candIdx + 1) % len(c.cands)
		c.setValue(c.prefix + c.mark + c.cands[c.candIdx] + " ")
		return true
	}
	prefix, mark, word, pool, ok := c.completing(names, rooms)
	if !ok {
		return false
	}
	cands := matchNames(pool, word)
	if len(cands) == 0 {
		return true // a word with no match: keep the Tab, do nothing
	}
	c.prefix, c.mark, c.cands, c.candIdx = prefix, mark, cands, 0
	c.setValue(prefix + mark + cands[0] + " ")
	if len(cands) == 1 {
		c.cands = nil
	}
	return true
}

// suggestions lists the candidates for the word being typed (with their
// mark, "@" for names), for the hint line above the input.
func (c *composer) suggestions(names, rooms []string) (mark string, cands []string) {
	if len(c.cands) > 0 {
		return c.mark, c.cands
	}
	_, mark, word, pool, ok := c.completing(names, rooms)
	if !ok {
		return "", nil
	}
	return mark, matchNames(pool, word)
}

// matchNames returns the names starting with prefix (case-insensitive),
// sorted, without duplicates.
func matchNames(names []string, prefix string) []string {
	prefix = strings.ToLower(prefix)
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		if strings.HasPrefix(strings.ToLower(n), prefix) {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// view renders the input. The textarea's View is costly (its placeholder
// path especially) and the cursor does not blink, so the frame is cached
// until the text, the cursor, the size or the focus change.
func (c *composer) view() string {
	li := c.ta.LineInfo()
	k := viewKey{value: c.ta.Value(), line: c.ta.Line(), col: li.ColumnOffset, row: li.RowOffset,
		w: c.ta.Width(), h: c.ta.Height(), focused: c.ta.Focused()}
	if c.cached == "" || k != c.cacheKey {
		c.cacheKey, c.cached = k, c.ta.View()
	}
	return c.cached
}

// viewKey is what the input's frame depends on.
type viewKey struct {
	value          string
	line, col, row int
	w, h           int
	focused        bool
}
