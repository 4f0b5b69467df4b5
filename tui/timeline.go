package tui

import (
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// entryKind says what a line group of the message view is.
type entryKind int

const (
	entryMessage entryKind = iota // a stored message
	entryPending                  // sent by me, not stored yet (or queued while offline)
	entryAI                       // an AI reply streaming in
	entryEvent                    // join/leave and local notices: never stored
)

// groupGap is how far apart two messages of one author may be and still
// share a header.
const groupGap = 5 * time.Minute

// gutter is the width of the marker column plus the "15:04 " time column.
const gutter = 7

// entry is one item of the message view with its render cache.
type entry struct {
	kind entryKind
	msg  api.Message // message, pending (Content, User, Timestamp, ClientID)

	// entryAI
	streamID string
	roleID   int64
	roleName string
	buf      strings.Builder
	aiDone   bool // ai_done came before the stored message

	// AI replies (streaming or stored while we watched): the model that
	// answered (ai_start) and the tokens it used (ai_done); history loaded
	// from the server has neither.
	model string
	usage *wsproto.Usage

	// entryAI: the wrapped lines of the text up to its last line break,
	// kept across deltas so that each delta re-wraps only the last paragraph.
	headW     int
	headLen   int
	headLines []string

	// entryPending
	queued bool
	failed string

	// entryEvent
	text  string
	burst *presenceBurst // a join/leave line

	// render cache: valid for width rw, header flag rhead and highlight rhl.
	rw    int
	rhead bool
	rhl   bool
	lines []string
}

func (e *entry) invalidate() { e.lines = nil }

// authorKey says who wrote e for grouping: ai is set for AI roles; ok is
// false for entries that never group (system messages, events).
func (e *entry) authorKey() (name string, ai, ok bool) {
	switch {
	case e.kind == entryAI:
		return e.roleName, true, true
	case e.kind == entryEvent, e.msg.MessageType == api.MessageSystem, e.msg.MessageType == api.MessageMeetingMinutes:
		return "", false, false
	case e.msg.MessageType == api.MessageAIResponse:
		return e.msg.User, true, true
	}
	return e.msg.User, false, true
}

// sameAuthor reports whether e continues p's group (without allocating:
// it runs for every entry scrolled past).
func sameAuthor(e, p *entry) bool {
	en, eai, eok := e.authorKey()
	pn, pai, pok := p.authorKey()
	return eok && pok && en == pn && eai == pai
}

func (e *entry) when() time.Time { return e.msg.Timestamp }

// addressed reports whether e is a person's message addressed to a role
// (role_id set, the seed's way); it always shows its header with the role.
func (e *entry) addressed() bool {
	return e.kind != entryAI && e.kind != entryEvent && e.msg.RoleID != nil &&
		e.msg.MessageType != api.MessageAIResponse && e.msg.MessageType != api.MessageMeetingMinutes
}

func (e *entry) content() string {
	if e.kind == entryAI {
		return e.buf.String()
	}
	if e.kind == entryEvent {
		return e.text
	}
	return e.msg.Content
}

// streamLines wraps a streaming reply at width w with cursor appended.
func (e *entry) streamLines(w int, cursor string) []string {
	text := e.buf.String()
	cut := strings.LastIndexByte(text, '\n')
	if cut < 0 {
		return wrapPlain(text+cursor, w)
	}
	if e.headW != w || e.headLen != cut {
		e.headLines = wrapPlain(text[:cut], w)
		e.headW, e.headLen = w, cut
	}
	last := wrapPlain(text[cut+1:]+cursor, w)
	out := make([]string, 0, len(e.headLines)+len(last))
	return append(append(out, e.headLines...), last...)
}

// renderEnv is what rendering needs from the chat screen.
type renderEnv struct {
	st    *styles.Styles
	md    *markdown
	loc   *time.Location
	roles map[int64]api.Role // seated and own roles by id, for avatars
	room  string
}

// timeline is the message view component: entries oldest first, a
// bottom-anchored scroll offset, on-demand history and search. Only the
// entries on screen are rendered, and each rendering is cached per width.
// Its keys scroll; reaching the top or the bottom is posted (scrolledMsg)
// for the screen to fetch history or mark the room read.
type timeline struct {
	env     *renderEnv
	keys    keys.KeyMap
	post    post
	entries []*entry
	ids     map[int64]bool

	width, height int
	offset        int // lines scrolled up from the bottom
	newBelow      int // messages that arrived while scrolled up

	loadingOlder bool
	complete     bool // the oldest message of the room is loaded

	hl *entry // the current search hit

	segs [][]string // scratch for layout
}

func newTimeline(env *renderEnv, km keys.KeyMap, p post) *timeline {
	return &timeline{env: env, keys: km, post: p, ids: map[int64]bool{}}
}

// SetSize sets the view's size (the width includes no panel separators).
func (tl *timeline) SetSize(w, h int) { tl.setSize(w, h) }

// Update handles the keys of the message view while it has the focus.
func (tl *timeline) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	km := tl.keys
	switch {
	case keyIs(k, km.LineUp):
		tl.scrollBy(1)
	case keyIs(k, km.LineDown):
		tl.scrollBy(-1)
	case keyIs(k, km.Top):
		tl.scrollBy(1 << 30)
	case keyIs(k, km.Bottom):
		tl.toBottom()
		tl.post(scrolledMsg{bottom: true})
	case keyIs(k, km.Search):
		tl.post(searchKeyMsg{open: true})
	case keyIs(k, km.NextMatch):
		tl.post(searchKeyMsg{dir: 1})
	case keyIs(k, km.PrevMatch):
		tl.post(searchKeyMsg{dir: -1})
	case keyIs(k, km.Help):
		tl.post(overlayMsg{kind: overlayHelp})
	case keyIs(k, km.Back):
		tl.post(searchKeyMsg{clear: true})
		tl.post(focusOn(focusInput, nil))
	case keyIs(k, km.Select):
		tl.post(focusOn(focusInput, nil))
	case isTyping(k):
		// Typing anywhere goes to the input.
		tl.post(focusOn(focusInput, &k))
	}
	return nil
}

// scrollBy moves the view by delta lines (positive: towards older) and
// posts where it arrived: the top of what is loaded (fetch older history)
// or the bottom (the room is read).
func (tl *timeline) scrollBy(delta int) {
	if tl.scroll(delta) {
		tl.post(scrolledMsg{top: true})
	} else if tl.offset == 0 {
		tl.post(scrolledMsg{bottom: true})
	}
}

// page is how far PgUp/PgDn scroll.
func (tl *timeline) page() int { return max(tl.height-2, 1) }

// View renders the visible window with the "new messages below" or
// "scrolled" marker on its last line.
func (tl *timeline) View() string {
	v := tl.view()
	if tl.newBelow == 0 && tl.offset == 0 {
		return v
	}
	cut := strings.LastIndexByte(v, '\n') + 1
	st := tl.env.st
	if tl.newBelow > 0 {
		marker := " ↓ " + strconv.Itoa(tl.newBelow) + " new message" + plural(tl.newBelow) + " below (end) "
		return v[:cut] + lipgloss.PlaceHorizontal(tl.width, lipgloss.Center, st.Marker.Render(marker))
	}
	return v[:cut] + lipgloss.PlaceHorizontal(tl.width, lipgloss.Right, st.Muted.Render("↓ end "))
}

func (tl *timeline) reset() {
	tl.entries = nil
	tl.ids = map[int64]bool{}
	tl.offset, tl.newBelow = 0, 0
	tl.loadingOlder, tl.complete = false, false
	tl.hl = nil
}

func (tl *timeline) setSize(w, h int) {
	tl.width, tl.height = max(w, 10), max(h, 1)
	tl.clamp()
}

// oldestSeq is the seq of the oldest loaded message (0 when none).
func (tl *timeline) oldestSeq() int64 {
	for _, e := range tl.entries {
		if e.kind == entryMessage && e.msg.Seq > 0 {
			return e.msg.Seq
		}
	}
	return 0
}

// newestSeq is the seq of the newest loaded message (0 when none).
func (tl *timeline) newestSeq() int64 {
	for i := len(tl.entries) - 1; i >= 0; i-- {
		if e := tl.entries[i]; e.kind == entryMessage && e.msg.Seq > 0 {
			return e.msg.Seq
		}
	}
	return 0
}

// messageCount counts stored messages loaded.
func (tl *timeline) messageCount() int { return len(tl.ids) }

// isTail reports whether e belongs at the bottom, below stored messages.
func isTail(e *entry) bool { return e.kind == entryPending || e.kind == entryAI }

// insert puts e in place: stored messages in seq order above the tail of
// pending sends and streaming replies; everything else at the end of the
// stored part.
func (tl *timeline) insert(e *entry) {
	i := len(tl.entries)
	for i > 0 {
		p := tl.entries[i-1]
		if isTail(p) || (e.kind == entryMessage && p.kind == entryMessage && p.msg.Seq > e.msg.Seq) {
			i--
			continue
		}
		break
	}
	if isTail(e) {
		i = len(tl.entries)
	}
	tl.entries = append(tl.entries, nil)
	copy(tl.entries[i+1:], tl.entries[i:])
	tl.entries[i] = e
	if i+1 < len(tl.entries) {
		tl.entries[i+1].invalidate() // its header may change
	}
	if tl.offset > 0 {
		// Keep the view still while scrolled up.
		tl.offset += len(tl.linesOf(i))
		if e.kind == entryMessage {
			tl.newBelow++
		}
	}
}

func (tl *timeline) remove(e *entry) {
	for i, x := range tl.entries {
		if x == e {
			tl.entries = append(tl.entries[:i], tl.entries[i+1:]...)
			if i < len(tl.entries) {
				tl.entries[i].invalidate()
			}
			if tl.hl == e {
				tl.hl = nil
			}
			return
		}
	}
}

// addMessage adds a live message; it replaces the pending send with the same
// client_id and the streaming reply it completes. It reports whether the
// message was new.
func (tl *timeline) addMessage(m api.Message) bool {
	if m.ID != 0 && tl.ids[m.ID] {
		return false
	}
	if m.ClientID != "" {
		if p := tl.pending(m.ClientID); p != nil {
			tl.remove(p)
		}
	}
	ne := &entry{kind: entryMessage, msg: m}
	if m.RoleID != nil && (m.MessageType == api.MessageAIResponse || m.MessageType == api.MessageMeetingMinutes) {
		for _, e := range tl.tail() {
			if e.kind == entryAI && e.roleID == *m.RoleID {
				ne.model, ne.usage = e.model, e.usage
				tl.remove(e)
				break
			}
		}
	}
	if m.ID != 0 {
		tl.ids[m.ID] = true
	}
	tl.insert(ne)
	return true
}

// prepend adds older history (oldest first) in front.
func (tl *timeline) prepend(msgs []api.Message) int {
	fresh := make([]*entry, 0, len(msgs))
	for _, m := range msgs {
		if tl.ids[m.ID] {
			continue
		}
		tl.ids[m.ID] = true
		fresh = append(fresh, &entry{kind: entryMessage, msg: m})
	}
	if len(fresh) == 0 {
		return 0
	}
	if len(tl.entries) > 0 {
		tl.entries[0].invalidate()
	}
	tl.entries = append(fresh, tl.entries...)
	return len(fresh)
}

// tail returns the pending sends and streaming replies: they always sit
// after the stored messages, so per-frame questions about them never walk
// the whole history.
func (tl *timeline) tail() []*entry {
	i := len(tl.entries)
	for i > 0 && isTail(tl.entries[i-1]) {
		i--
	}
	return tl.entries[i:]
}

func (tl *timeline) pending(clientID string) *entry {
	for _, e := range tl.tail() {
		if e.kind == entryPending && e.msg.ClientID == clientID {
			return e
		}
	}
	return nil
}

// message finds the entry of a stored message by id, newest first (it is
// asked for replies that just arrived).
func (tl *timeline) message(id int64) *entry {
	if !tl.ids[id] {
		return nil
	}
	for i := len(tl.entries) - 1; i >= 0; i-- {
		if e := tl.entries[i]; e.kind == entryMessage && e.msg.ID == id {
			return e
		}
	}
	return nil
}

func (tl *timeline) aiStream(id string) *entry {
	for _, e := range tl.tail() {
		if e.kind == entryAI && e.streamID == id {
			return e
		}
	}
	return nil
}

// replying names the roles whose replies are streaming.
func (tl *timeline) replying() []string {
	var names []string
	for _, e := range tl.tail() {
		if e.kind == entryAI && !e.aiDone {
			names = append(names, e.roleName)
		}
	}
	return names
}

// activeStreams returns the ids of replies still streaming, newest last.
func (tl *timeline) activeStreams() []string {
	var ids []string
	for _, e := range tl.tail() {
		if e.kind == entryAI && !e.aiDone {
			ids = append(ids, e.streamID)
		}
	}
	return ids
}

// linesOf renders entry i (cached).
func (tl *timeline) linesOf(i int) []string {
	e := tl.entries[i]
	head := true
	if i > 0 {
		p := tl.entries[i-1]
		head = !sameAuthor(e, p) || e.when().Sub(p.when()) > groupGap || e.when().Before(p.when()) || e.addressed()
	}
	hl := e == tl.hl
	if e.lines != nil && e.rw == tl.width && e.rhead == head && e.rhl == hl {
		return e.lines
	}
	e.lines = tl.render(e, head, hl)
	e.rw, e.rhead, e.rhl = tl.width, head, hl
	return e.lines
}

// render draws one entry at the timeline's width.
func (tl *timeline) render(e *entry, head, hl bool) []string {
	st := tl.env.st
	bodyW := max(tl.width-gutter, 8)
	mark := " "
	if hl {
		mark = st.MatchLine.Render("▌")
	}
	indent := mark + strings.Repeat(" ", gutter-1)
	clock := st.Time.Render(e.when().In(tl.env.loc).Format("15:04"))
	var lines []string

	switch {
	case e.kind == entryEvent:
		return []string{indent + st.Event.Render(truncate(e.text, bodyW))}

	case e.kind == entryMessage && e.msg.MessageType == api.MessageSystem:
		for j, l := range wrapPlain(e.msg.Content, bodyW-2) {
			pre := indent + "  "
			if j == 0 {
				pre = mark + clock + " ⚙ "
			}
			lines = append(lines, pre+st.System.Render(l))
		}
		return lines

	case e.kind == entryAI || e.msg.MessageType == api.MessageAIResponse || e.msg.MessageType == api.MessageMeetingMinutes:
		name, roleID := e.roleName, e.roleID
		if e.kind != entryAI {
			name = e.msg.User
			if e.msg.RoleID != nil {
				roleID = *e.msg.RoleID
			}
		}
		if head {
			h := mark + clock + " " + avatar(tl.env.roles[roleID], name) + " " + st.AIName.Render(name)
			if e.kind == entryAI && !e.aiDone {
				h += " " + st.Typing.Render("typing… (ctrl+x stops)")
			}
			if e.msg.MessageType == api.MessageMeetingMinutes {
				h += " " + st.Marker.Render("· meeting minutes")
			}
			if d := replyDetails(e.model, e.usage); d != "" {
				h += st.Muted.Render(" · " + d)
			}
			lines = append(lines, h)
		}
		var body []string
		if e.kind == entryAI {
			// Plain while streaming: Markdown per delta would be too slow.
			cursor := "▍"
			if e.aiDone {
				cursor = ""
			}
			body = e.streamLines(bodyW, cursor)
		} else {
			body = tl.env.md.render(e.msg.Content, bodyW)
		}
		for _, l := range body {
			lines = append(lines, indent+l)
		}
		if e.kind == entryMessage && e.msg.Truncated {
			lines = append(lines, indent+st.Muted.Render("⋯ (cut short)"))
		}
		return lines

	default: // people, and my pending sends
		if head {
			h := mark + clock + " " + st.User(e.msg.User).Render(e.msg.User)
			if e.addressed() {
				to := tl.env.roles[*e.msg.RoleID].Name
				if to == "" {
					to = "a role"
				}
				h += st.Muted.Render(" → " + to)
			}
			lines = append(lines, h)
		}
		body := wrapPlain(e.msg.Content, bodyW)
		style := st.Body
		if e.kind == entryPending {
			style = st.Pending
			switch {
			case e.failed != "":
				body = append(body, st.ErrorText.Render("✕ not sent: "+e.failed))
			case e.queued:
				body[len(body)-1] += st.Muted.Render("  ⧗ queued")
			default:
				body[len(body)-1] += st.Muted.Render("  ⧗")
			}
		}
		for _, l := range body {
			lines = append(lines, indent+style.Render(l))
		}
		return lines
	}
}

// avatar is a role's avatar when it is a short symbol (an emoji), else the
// role's initial in brackets.
func avatar(r api.Role, name string) string {
	if a := strings.TrimSpace(r.Avatar); a != "" && ansi.StringWidth(a) <= 2 && !strings.ContainsAny(a, "/.:") {
		return a
	}
	if name == "" {
		name = r.Name
	}
	if name == "" {
		return "[?]"
	}
	return "[" + strings.ToUpper(string([]rune(name)[:1])) + "]"
}

// measure walks up from the bottom until want lines are covered; it returns
// the lines counted and whether it reached the oldest loaded entry.
func (tl *timeline) measure(want int) (total int, top bool) {
	i := len(tl.entries) - 1
	for ; i >= 0 && total < want; i-- {
		total += len(tl.linesOf(i))
	}
	return total, i < 0
}

// maxOffset is the largest useful offset given what is loaded, or -1 when
// the content above reaches further than want lines.
func (tl *timeline) clamp() (atTop bool) {
	if tl.offset < 0 {
		tl.offset = 0
	}
	total, top := tl.measure(tl.offset + tl.height)
	if top {
		total++ // the "beginning" / "loading" line above the oldest entry
		if limit := max(0, total-tl.height); tl.offset >= limit {
			tl.offset = limit
			atTop = true
		}
	}
	if tl.offset == 0 {
		tl.newBelow = 0
	}
	return atTop
}

// scroll moves by delta lines (positive: towards older) and reports whether
// older history should be fetched.
func (tl *timeline) scroll(delta int) (loadOlder bool) {
	tl.offset += delta
	atTop := tl.clamp()
	return atTop && !tl.complete && !tl.loadingOlder
}

func (tl *timeline) toBottom() {
	tl.offset, tl.newBelow = 0, 0
}

// view renders the visible window: exactly height lines of width cells.
func (tl *timeline) view() string {
	h := tl.height
	need := tl.offset + h
	segs := tl.segs[:0]
	total := 0
	i := len(tl.entries) - 1
	for ; i >= 0 && total < need; i-- {
		ls := tl.linesOf(i)
		segs = append(segs, ls)
		total += len(ls)
	}
	if i < 0 {
		var top string
		switch {
		case tl.loadingOlder:
			top = "  loading older messages…"
		case tl.complete && len(tl.entries) == 0:
			top = "  no messages yet: say hello"
		case tl.complete:
			top = "  · beginning of " + tl.env.room + " ·"
		default:
			top = "  ↑ older messages (pgup)"
		}
		segs = append(segs, []string{tl.env.st.Muted.Render(top)})
		total++
	}
	tl.segs = segs
	off := min(tl.offset, max(0, total-h))
	// Lines from the top of the collected block: skip total-off-h, take h.
	skip := total - off - h
	out := make([]string, 0, h)
	for pad := skip; pad < 0; pad++ {
		out = append(out, "")
	}
	idx := 0
	for s := len(segs) - 1; s >= 0 && len(out) < h; s-- {
		for _, l := range segs[s] {
			if idx >= skip && len(out) < h {
				out = append(out, l)
			}
			idx++
		}
	}
	for len(out) < h {
		out = append(out, "")
	}
	for k, l := range out {
		out[k] = padRight(l, tl.width)
	}
	return strings.Join(out, "\n")
}

// search returns the entries whose text contains q (case-insensitive),
// newest first.
func (tl *timeline) search(q string) []*entry {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return nil
	}
	var hits []*entry
	for i := len(tl.entries) - 1; i >= 0; i-- {
		e := tl.entries[i]
		if e.kind == entryEvent {
			continue
		}
		if strings.Contains(strings.ToLower(e.content()), q) || strings.Contains(strings.ToLower(e.msg.User), q) {
			hits = append(hits, e)
		}
	}
	return hits
}

// jumpTo scrolls so that e is on screen and highlights it.
func (tl *timeline) jumpTo(e *entry) {
	if tl.hl != nil {
		tl.hl.invalidate()
	}
	tl.hl = e
	below := 0
	for i := len(tl.entries) - 1; i >= 0; i-- {
		if tl.entries[i] == e {
			n := len(tl.linesOf(i))
			// Put the hit's first line a third of the way down the view.
			tl.offset = max(0, below+n-(tl.height-tl.height/3))
			if n > tl.height {
				tl.offset = below + n - tl.height
			}
			tl.clamp()
			return
		}
		below += len(tl.linesOf(i))
	}
}

func (tl *timeline) clearHighlight() {
	if tl.hl != nil {
		tl.hl.invalidate()
		tl.hl = nil
	}
}

// replyDetails is what an AI reply's header says about it, as vc ask does:
// "openai/gpt-4o-mini · 120 tokens in, 45 out" ("" when nothing is known).
func replyDetails(model string, u *wsproto.Usage) string {
	var parts []string
	if model != "" {
		parts = append(parts, model)
	}
	if u != nil && (u.InputTokens > 0 || u.OutputTokens > 0) {
		parts = append(parts, strconv.FormatInt(u.InputTokens, 10)+" tokens in, "+strconv.FormatInt(u.OutputTokens, 10)+" out")
	}
	return strings.Join(parts, " · ")
}
