package markdown

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
	east "github.com/yuin/goldmark/extension/ast"
)

const (
	colSep    = " │ "
	minColumn = 3
)

// table renders a GFM table as aligned columns separated by bars, with a
// rule under the header. Columns wider than the width allows are shrunk
// (widest first) and their cells wrapped; when even narrow columns cannot
// fit, each row becomes a block of "header: value" lines.
func (w *walker) table(t *east.Table, width int) []string {
	var rows [][][]token // rows of cells of tokens; row 0 is the header
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var cells [][]token
		_, head := r.(*east.TableHeader)
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			if head {
				cells = append(cells, w.inlineStyled(c, w.r.st.MDTableHead))
			} else {
				cells = append(cells, w.inline(c))
			}
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		return nil
	}
	ncol := len(t.Alignments)
	for _, r := range rows {
		ncol = max(ncol, len(r))
	}
	if ncol == 0 {
		return nil
	}
	natural := make([]int, ncol)
	for _, r := range rows {
		for i, c := range r {
			natural[i] = max(natural[i], lineWidth(c))
		}
	}
	avail := width - ansi.StringWidth(colSep)*(ncol-1)
	if avail < minColumn*ncol {
		return w.tableStacked(rows, width)
	}
	cols := fitColumns(natural, avail)
	st := w.r.st
	sep := st.MDRule.Render(colSep)
	var out []string
	for ri, r := range rows {
		cellLines := make([][]string, ncol)
		h := 1
		for i := 0; i < ncol; i++ {
			var toks []token
			if i < len(r) {
				toks = r[i]
			}
			cellLines[i] = wrap(toks, cols[i])
			h = max(h, len(cellLines[i]))
		}
		for li := 0; li < h; li++ {
			parts := make([]string, ncol)
			for i := 0; i < ncol; i++ {
				s := ""
				if li < len(cellLines[i]) {
					s = cellLines[i][li]
				}
				var al east.Alignment
				if i < len(t.Alignments) {
					al = t.Alignments[i]
				}
				parts[i] = align(s, cols[i], al)
			}
			out = append(out, strings.TrimRight(strings.Join(parts, sep), " "))
		}
		if ri == 0 {
			rule := make([]string, ncol)
			for i, c := range cols {
				rule[i] = strings.Repeat("─", c)
			}
			out = append(out, st.MDRule.Render(strings.Join(rule, "─┼─")))
		}
	}
	return out
}

// tableStacked renders rows as blocks of "header: value" paragraphs.
func (w *walker) tableStacked(rows [][][]token, width int) []string {
	head := rows[0]
	var out []string
	for ri, r := range rows[1:] {
		if ri > 0 {
			out = append(out, w.r.st.MDRule.Render(strings.Repeat("─", min(width, 3))))
		}
		for i, c := range r {
			var toks []token
			if i < len(head) && len(head[i]) > 0 {
				label := ansi.Strip(joinTokens(head[i])) + ":"
				toks = append(toks, token{s: w.r.st.MDTableHead.Render(label), w: ansi.StringWidth(label)})
			}
			for j, t := range c {
				if j == 0 {
					t.space = true
				}
				toks = append(toks, t)
			}
			out = append(out, wrap(toks, width)...)
		}
	}
	return out
}

// fitColumns shrinks the widest columns until their sum fits avail.
func fitColumns(natural []int, avail int) []int {
	cols := make([]int, len(natural))
	sum := 0
	for i, n := range natural {
		cols[i] = max(n, 1)
		sum += cols[i]
	}
	for sum > avail {
		wi := 0
		for i := range cols {
			if cols[i] > cols[wi] {
				wi = i
			}
		}
		if cols[wi] <= minColumn {
			break
		}
		cols[wi]--
		sum--
	}
	return cols
}

func align(s string, width int, al east.Alignment) string {
	gap := width - ansi.StringWidth(s)
	if gap <= 0 {
		return s
	}
	switch al {
	case east.AlignRight:
		return strings.Repeat(" ", gap) + s
	case east.AlignCenter:
		return strings.Repeat(" ", gap/2) + s + strings.Repeat(" ", gap-gap/2)
	default:
		return s + strings.Repeat(" ", gap)
	}
}

// lineWidth is the width of the tokens laid out on one line.
func lineWidth(toks []token) int {
	return ansi.StringWidth(joinTokens(toks))
}

func joinTokens(toks []token) string {
	lines := wrap(toks, 1<<30)
	return strings.Join(lines, " ")
}
