// Package markdown renders the Markdown of chat messages (AI replies above
// all) as terminal lines of a given width, with the colours of the TUI theme.
//
// It is a small renderer written directly on goldmark (CommonMark plus the
// GFM tables, strikethrough, task lists and autolinks) and Lip Gloss. It
// replaces glamour, whose dependencies (the chroma syntax highlighter and
// bluemonday) cost about 25 ms of package initialisation on every vc command,
// not only on vc chat. Under the Ascii colour profile (NO_COLOR, tests) the
// output is plain readable text: inline code keeps its backticks,
// strikethrough its tildes and headings their hashes.
package markdown

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/virtual-company/vc/tui/styles"
)

// MinWidth is the narrowest width Render lays out for; narrower requests
// are rendered at MinWidth.
const MinWidth = 10

// maxDepth bounds nesting (lists in quotes in lists...): deeper blocks are
// laid out at the width of this depth so that pathological input cannot
// shrink the width to nothing.
const maxDepth = 8

// Renderer turns Markdown into styled terminal lines. The TUI calls it from
// its update loop only; it keeps no state between calls.
type Renderer struct {
	st    *styles.Styles
	ascii bool
	md    goldmark.Markdown
}

// New returns a renderer drawing with the theme st (whose renderer decides
// the colour profile).
func New(st *styles.Styles) *Renderer {
	md := goldmark.New(goldmark.WithExtensions(
		extension.Table, extension.Strikethrough, extension.TaskList, extension.Linkify,
	))
	return &Renderer{
		st:    st,
		ascii: st.Renderer.ColorProfile() == termenv.Ascii,
		md:    md,
	}
}

// Render returns src as lines at most width cells wide (MinWidth at least),
// without trailing blank lines. Paragraphs are word-wrapped; a word wider
// than the line is cut hard; code block lines that do not fit continue on
// marked rows.
func (r *Renderer) Render(src string, width int) []string {
	if width < MinWidth {
		width = MinWidth
	}
	source := []byte(sanitize(src))
	doc := r.md.Parser().Parse(text.NewReader(source))
	w := &walker{r: r, src: source}
	lines := w.blocks(doc, width, 0)
	for len(lines) > 0 && strings.TrimSpace(ansi.Strip(lines[len(lines)-1])) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return []string{""}
	}
	return lines
}

// walker renders one document.
type walker struct {
	r   *Renderer
	src []byte
}

// blocks renders the block children of n, separated by blank lines (none
// between the items' blocks of a tight list).
func (w *walker) blocks(n ast.Node, width, depth int) []string {
	var out []string
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		b := w.block(c, width, depth)
		if b == nil {
			continue
		}
		if len(out) > 0 && !tightPair(c) {
			out = append(out, "")
		}
		out = append(out, b...)
	}
	return out
}

// tightPair says whether c follows its previous sibling without a blank
// line: inside the items of tight lists.
func tightPair(c ast.Node) bool {
	if _, ok := c.Parent().(*ast.ListItem); ok {
		if l, ok := c.Parent().Parent().(*ast.List); ok && l.IsTight {
			return true
		}
	}
	return false
}

func (w *walker) block(n ast.Node, width, depth int) []string {
	if depth > maxDepth {
		depth = maxDepth
	}
	st := w.r.st
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		return wrap(w.inline(n), width)
	case *ast.Heading:
		lvl := min(n.Level, 3) - 1
		toks := w.inlineStyled(n, st.MDHeading[lvl])
		if w.r.ascii && len(toks) > 0 {
			toks[0].space = true
			toks = append([]token{{s: strings.Repeat("#", n.Level), w: n.Level}}, toks...)
		}
		return wrap(toks, width)
	case *ast.ThematicBreak:
		return []string{st.MDRule.Render(strings.Repeat("─", width))}
	case *ast.FencedCodeBlock:
		return w.code(n.Lines(), string(n.Language(w.src)), width)
	case *ast.CodeBlock:
		return w.code(n.Lines(), "", width)
	case *ast.HTMLBlock:
		var b strings.Builder
		for i := 0; i < n.Lines().Len(); i++ {
			seg := n.Lines().At(i)
			b.Write(seg.Value(w.src))
		}
		if n.HasClosure() {
			b.Write(n.ClosureLine.Value(w.src))
		}
		return wrap(words(strings.TrimRight(b.String(), "\n"), lipgloss.Style{}, false), width)
	case *ast.Blockquote:
		bar := st.MDQuote.Render("│") + " "
		inner := w.blocks(n, max(width-2, 1), depth+1)
		for i, l := range inner {
			inner[i] = bar + l
		}
		return inner
	case *ast.List:
		return w.list(n, width, depth)
	case *east.Table:
		return w.table(n, width)
	default:
		if n.HasChildren() {
			return w.blocks(n, width, depth)
		}
		return nil
	}
}

var bullets = []string{"•", "◦", "▪"}

// list renders a list with hanging indents: continuation lines of an item
// start under its text, not under its marker.
func (w *walker) list(l *ast.List, width, depth int) []string {
	n := l.ChildCount()
	markers := make([]string, 0, n)
	mw := 0
	for i := 0; i < n; i++ {
		var m string
		if l.IsOrdered() {
			m = strconv.Itoa(l.Start+i) + "."
		} else {
			m = bullets[listLevel(l)%len(bullets)]
		}
		markers = append(markers, m)
		mw = max(mw, ansi.StringWidth(m))
	}
	indent := mw + 1
	if width-indent < 4 || depth >= maxDepth {
		indent = min(indent, 2)
	}
	var out []string
	i := 0
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		if i > 0 && !l.IsTight {
			out = append(out, "")
		}
		body := w.blocks(item, max(width-indent, 1), depth+1)
		if len(body) == 0 {
			body = []string{""}
		}
		m := markers[i]
		pad := indent - ansi.StringWidth(m)
		if l.IsOrdered() { // right-align the numbers
			m = strings.Repeat(" ", max(pad-1, 0)) + m + " "
		} else {
			m += strings.Repeat(" ", max(pad, 1))
		}
		m = ansi.Truncate(m, indent, "")
		for j, b := range body {
			if j == 0 {
				body[j] = w.r.st.MDBullet.Render(m) + b
			} else if b != "" {
				body[j] = strings.Repeat(" ", indent) + b
			}
		}
		out = append(out, body...)
		i++
	}
	return out
}

// listLevel counts the lists enclosing l.
func listLevel(l ast.Node) int {
	lvl := 0
	for p := l.Parent(); p != nil; p = p.Parent() {
		if _, ok := p.(*ast.List); ok {
			lvl++
		}
	}
	return lvl
}

// code renders a code block: a language label, then its lines kept as they
// are (tabs expanded), indented by two cells on the code background. A line
// wider than the block is cut into rows, the continuation rows marked with
// "↪" in the margin, so that nothing is lost and nothing is re-flowed.
func (w *walker) code(lines *text.Segments, lang string, width int) []string {
	st := w.r.st
	inner := max(width-2, 1)
	var src []string
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		l := strings.TrimRight(string(seg.Value(w.src)), "\r\n")
		src = append(src, strings.ReplaceAll(l, "\t", "    "))
	}
	for len(src) > 0 && strings.TrimSpace(src[len(src)-1]) == "" {
		src = src[:len(src)-1]
	}
	type row struct {
		s    string
		cont bool
	}
	var rows []row
	bw := 0
	for _, l := range src {
		l = strings.TrimRight(l, " ")
		first := true
		for _, part := range strings.Split(ansi.Wrap(l, inner, ""), "\n") {
			// ansi.Wrap may leave runs of spaces over the limit: cut those.
			for _, p := range strings.Split(ansi.Hardwrap(part, inner, true), "\n") {
				rows = append(rows, row{s: p, cont: !first})
				bw = max(bw, ansi.StringWidth(p))
				first = false
			}
		}
	}
	var out []string
	if lang != "" {
		label := ansi.Truncate("["+lang+"]", width, "…")
		out = append(out, st.MDCodeLabel.Render(label))
	}
	for _, r := range rows {
		margin := "  "
		if r.cont {
			margin = st.MDCodeLabel.Render("↪") + " "
		}
		if w.r.ascii {
			out = append(out, strings.TrimRight(margin+r.s, " "))
			continue
		}
		pad := strings.Repeat(" ", bw-ansi.StringWidth(r.s))
		out = append(out, margin+st.MDCodeBlock.Render(r.s+pad))
	}
	return out
}

// token is one unbreakable piece of a paragraph: a styled word, or a hard
// line break.
type token struct {
	s     string // styled text
	w     int    // cells
	space bool   // a space precedes it
	brk   bool   // a hard line break
	code  bool   // part of a code span (may be cut hard)
}

// inline flattens the inline children of n into tokens.
func (w *walker) inline(n ast.Node) []token {
	return w.inlineStyled(n, w.r.st.Renderer.NewStyle())
}

// inlineStyled is inline with a base style (headings, table headers).
func (w *walker) inlineStyled(n ast.Node, base lipgloss.Style) []token {
	var toks []token
	w.inlineInto(&toks, n, base, false)
	return toks
}

// sanitize replaces invalid UTF-8 and drops control characters other than
// tab and newline: raw escape sequences in a message must neither reach the
// terminal nor confuse width computations.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	clean := true
	for _, r := range s {
		if isControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || (r >= 0x7f && r < 0xa0)
}

func (w *walker) inlineInto(toks *[]token, n ast.Node, style lipgloss.Style, code bool) {
	st := w.r.st
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Segment.Value(w.src)
			if !code && !c.IsRaw() {
				v = unescape(v)
			}
			appendWords(toks, words(string(v), style, code))
			if c.HardLineBreak() {
				*toks = append(*toks, token{brk: true})
			} else if c.SoftLineBreak() {
				markSpace(toks)
			}
		case *ast.String:
			appendWords(toks, words(string(c.Value), style, code))
		case *ast.CodeSpan:
			var b bytes.Buffer
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if tt, ok := t.(*ast.Text); ok {
					b.Write(tt.Segment.Value(w.src))
				} else if s, ok := t.(*ast.String); ok {
					b.Write(s.Value)
				}
			}
			s := b.String()
			cs := st.MDCode
			if w.r.ascii {
				s = "`" + s + "`"
			}
			appendWords(toks, words(s, cs, true))
		case *ast.Emphasis:
			s := style.Italic(true)
			if c.Level >= 2 {
				s = style.Bold(true)
			}
			w.inlineInto(toks, c, s, code)
		case *east.Strikethrough:
			if w.r.ascii {
				appendWords(toks, words("~~", style, code))
				w.inlineInto(toks, c, style, code)
				appendWords(toks, words("~~", style, code))
			} else {
				w.inlineInto(toks, c, style.Strikethrough(true), code)
			}
		case *east.TaskCheckBox:
			box := "[ ]"
			if c.IsChecked {
				box = "[x]"
			}
			*toks = append(*toks, token{s: st.MDBullet.Render(box), w: 3})
			markSpace(toks)
		case *ast.Link:
			before := len(*toks)
			w.inlineInto(toks, c, st.MDLink.Inherit(style), code)
			label := plainText(c, w.src)
			dest := string(c.Destination)
			if dest != "" && dest != label && "mailto:"+label != dest {
				if len(*toks) > before {
					markSpace(toks)
				}
				appendWords(toks, words("("+dest+")", st.MDURL, false))
			}
		case *ast.AutoLink:
			appendWords(toks, words(string(c.Label(w.src)), st.MDLink.Inherit(style), false))
		case *ast.Image:
			alt := plainText(c, w.src)
			if alt == "" {
				alt = "image"
			}
			appendWords(toks, words("["+alt+"]", style, false))
			markSpace(toks)
			appendWords(toks, words("("+string(c.Destination)+")", st.MDURL, false))
		case *ast.RawHTML:
			var b strings.Builder
			for i := 0; i < c.Segments.Len(); i++ {
				seg := c.Segments.At(i)
				b.Write(seg.Value(w.src))
			}
			appendWords(toks, words(b.String(), style, code))
		default:
			w.inlineInto(toks, c, style, code)
		}
	}
}

// plainText is the unstyled text of an inline subtree.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
			if c.SoftLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

func unescape(v []byte) []byte {
	return util.UnescapePunctuations(util.ResolveNumericReferences(util.ResolveEntityNames(v)))
}

// markSpace records a break opportunity before the next token.
func markSpace(toks *[]token) {
	*toks = append(*toks, token{space: true})
}

// words splits s at white space into styled tokens. A token with space set
// and no text is a pending break opportunity.
func words(s string, style lipgloss.Style, code bool) []token {
	var out []token
	pendingSpace := false
	for {
		i := strings.IndexAny(s, " \t\n\r")
		word := s
		if i >= 0 {
			word = s[:i]
		}
		if word != "" {
			out = append(out, token{s: style.Render(word), w: ansi.StringWidth(word), space: pendingSpace, code: code})
			pendingSpace = false
		}
		if i < 0 {
			break
		}
		pendingSpace = true
		s = s[i+1:]
	}
	if pendingSpace {
		out = append(out, token{space: true})
	}
	return out
}

// appendWords adds ws to toks, folding empty space markers into the next
// word, and gluing a word without a preceding space onto the previous word so
// that "**bold**," never breaks before the comma.
func appendWords(toks *[]token, ws []token) {
	for _, t := range ws {
		n := len(*toks)
		if n > 0 && (*toks)[n-1].s == "" && !(*toks)[n-1].brk && (*toks)[n-1].space {
			if t.s == "" {
				continue
			}
			t.space = true
			(*toks)[n-1] = t
			continue
		}
		*toks = append(*toks, t)
	}
}

// wrap lays tokens out greedily in lines of at most width cells. Adjacent
// tokens without a space between them stay together where possible; a
// single run wider than the line is cut hard.
func wrap(toks []token, width int) []string {
	// Merge glued tokens into runs.
	type run struct {
		s     string
		w     int
		space bool
		brk   bool
	}
	var runs []run
	for _, t := range toks {
		if t.brk {
			runs = append(runs, run{brk: true})
			continue
		}
		if t.s == "" {
			if t.space && len(runs) > 0 {
				runs = append(runs, run{space: true})
			}
			continue
		}
		n := len(runs)
		if n > 0 && !t.space && !runs[n-1].brk && runs[n-1].s != "" {
			runs[n-1].s += t.s
			runs[n-1].w += t.w
			continue
		}
		if n > 0 && runs[n-1].s == "" && !runs[n-1].brk {
			runs[n-1] = run{s: t.s, w: t.w, space: true}
			continue
		}
		runs = append(runs, run{s: t.s, w: t.w, space: t.space})
	}
	var lines []string
	var cur strings.Builder
	cw := 0
	flush := func() {
		lines = append(lines, cur.String())
		cur.Reset()
		cw = 0
	}
	for _, r := range runs {
		if r.brk {
			flush()
			continue
		}
		if r.s == "" {
			continue
		}
		sep := 0
		if cw > 0 && r.space {
			sep = 1
		}
		if cw > 0 && cw+sep+r.w > width {
			flush()
			sep = 0
		}
		if r.w > width-cw-sep {
			// Cut hard: fill this line, then whole lines.
			if cw+sep >= width {
				flush()
				sep = 0
			}
			if sep == 1 {
				cur.WriteByte(' ')
				cw++
			}
			// One pass over the run (a huge token must stay linear).
			head := ansi.Truncate(r.s, width-cw, "")
			cur.WriteString(head)
			cw += ansi.StringWidth(head)
			rest := ansi.TruncateLeft(r.s, ansi.StringWidth(head), "")
			flush()
			parts := strings.Split(ansi.Hardwrap(rest, width, true), "\n")
			for i, p := range parts {
				if i < len(parts)-1 {
					cur.WriteString(p)
					flush()
					continue
				}
				cur.WriteString(p)
				cw = ansi.StringWidth(p)
			}
			continue
		}
		if sep == 1 {
			cur.WriteByte(' ')
		}
		cur.WriteString(r.s)
		cw += sep + r.w
	}
	if cw > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}
