package markdown_test

import (
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/tui/markdown"
	"github.com/virtual-company/vc/tui/styles"
)

func newRenderer(p termenv.Profile) *markdown.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(p)
	r.SetHasDarkBackground(true)
	return markdown.New(styles.New(r))
}

func TestRender_Ascii(t *testing.T) {
	md := newRenderer(termenv.Ascii)
	for _, tc := range []struct {
		name, in string
		width    int
		want     string
	}{
		{"paragraph wraps", "The quick brown fox jumps over the lazy dog again and again.", 20,
			"The quick brown fox\njumps over the lazy\ndog again and again."},
		{"soft breaks join", "one\ntwo\nthree", 40, "one two three"},
		{"hard break", "one  \ntwo", 40, "one\ntwo"},
		{"emphasis", "a *b* **c** ~~d~~ `e f`, g", 40, "a b c ~~d~~ `e f`, g"},
		{"punctuation stays glued", "aaaaaa **bold**, x", 11, "aaaaaa\nbold, x"},
		{"headings", "# One\n\n## Two\n\n### Three\n\ntext", 40, "# One\n\n## Two\n\n### Three\n\ntext"},
		{"fenced code", "```go\nfunc main() {\n\tx := 1\n}\n```", 40, "[go]\n  func main() {\n      x := 1\n  }"},
		{"indented code", "para\n\n    code line\n    second", 40, "para\n\n  code line\n  second"},
		{"long code continues", "```\n" + strings.Repeat("x", 25) + "\n```", 12, "  xxxxxxxxxx\n↪ xxxxxxxxxx\n↪ xxxxx"},
		{"code wraps at spaces", "```\nfoo bar baz qux quux\n```", 12, "  foo bar\n↪ baz qux\n↪ quux"},
		{"bullets nested", "- one\n- two\n  - inner item that wraps\n- three", 16,
			"• one\n• two\n  ◦ inner item\n    that wraps\n• three"},
		{"numbered hanging indent", "1. first item wraps here\n2. second", 14,
			"1. first item\n   wraps here\n2. second"},
		{"numbers aligned", "8. a\n9. b\n10. c", 20, " 8. a\n 9. b\n10. c"},
		{"loose list", "- a\n\n- b", 20, "• a\n\n• b"},
		{"task list", "- [x] done\n- [ ] todo", 20, "• [x] done\n• [ ] todo"},
		{"blockquote", "> quoted text that wraps", 12, "│ quoted\n│ text that\n│ wraps"},
		{"link", "see [the docs](https://x.io/d) and <https://x.io>", 80, "see the docs (https://x.io/d) and https://x.io"},
		{"link same text", "[https://x.io](https://x.io)", 80, "https://x.io"},
		{"rule", "a\n\n---\n\nb", 10, "a\n\n──────────\n\nb"},
		{"entities and escapes", "a &amp; b \\*c\\*", 40, "a & b *c*"},
		{"wide runes", "日本語の文章です 日本語の文章です", 16, "日本語の文章です\n日本語の文章です"},
		{"long word cut", "abcdefghijklmnopqrstuvwxyz", 10, "abcdefghij\nklmnopqrst\nuvwxyz"},
		{"table", "| Name | Qty |\n|:-----|----:|\n| apple | 3 |\n| kiwi | 12 |", 40,
			"Name  │ Qty\n──────┼────\napple │   3\nkiwi  │  12"},
		{"table shrinks", "| a | b |\n|---|---|\n| one two three | four |", 14,
			"a       │ b\n────────┼─────\none two │ four\nthree   │"},
		{"table stacked", "| a | b | c | d |\n|---|---|---|---|\n| 1 | 2 | 3 | 4 |", 10,
			"a: 1\nb: 2\nc: 3\nd: 4"},
		{"empty", "", 20, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(md.Render(tc.in, tc.width), "\n")
			require.Equal(t, tc.want, got)
			require.NotContains(t, got, "\x1b[", "Ascii has no escapes")
		})
	}
}

func TestRender_ColourStylesAndFits(t *testing.T) {
	md := newRenderer(termenv.TrueColor)
	lines := md.Render("# Title\n\nsome **bold** and `code`\n\n```go\nx := 1\n```", 30)
	joined := strings.Join(lines, "\n")
	require.Contains(t, joined, "\x1b[", "colours on a colour profile")
	require.Equal(t, "Title", ansi.Strip(lines[0]))
	require.Contains(t, ansi.Strip(joined), "some bold and code")
	for _, l := range lines {
		require.LessOrEqual(t, ansi.StringWidth(l), 30, "%q", l)
	}
}

// TestRender_NeverPanicsOrOverflows feeds generated Markdown-ish input:
// rendering never panics and no line is wider than asked.
func TestRender_NeverPanicsOrOverflows(t *testing.T) {
	pieces := []string{"# ", "## ", "- ", "1. ", "  ", "> ", "```", "`", "*", "**", "~~", "_", "[", "](", ")", "<", ">",
		"|", "---", "\n", "\n\n", "\t", "word ", "longlonglonglonglonglonglongword", "日本語", "🤖", "\\", "&amp;", "http://x.io/a",
		"| a | b |\n|---|---|\n", "- [ ] ", "    ", "![alt](u)", "<b>", "\r\n"}
	for _, p := range []termenv.Profile{termenv.Ascii, termenv.TrueColor} {
		md := newRenderer(p)
		seed := uint64(1)
		for i := 0; i < 3000; i++ {
			var b strings.Builder
			n := int(next(&seed) % 40)
			for j := 0; j < n; j++ {
				b.WriteString(pieces[next(&seed)%uint64(len(pieces))])
			}
			width := int(next(&seed)%70) + 1
			in := b.String()
			lines := md.Render(in, width)
			require.NotEmpty(t, lines)
			for _, l := range lines {
				require.LessOrEqual(t, ansi.StringWidth(l), max(width, markdown.MinWidth), "input %q width %d line %q", in, width, l)
			}
		}
	}
}

func FuzzRender(f *testing.F) {
	f.Add("# x\n\n- a\n  - b\n\n| a | b |\n|---|---|\n| c | d |", 20)
	md := newRenderer(termenv.Ascii)
	f.Fuzz(func(t *testing.T, in string, width int) {
		width = width%200 + 1
		if width < 1 {
			width = -width + 1
		}
		for _, l := range md.Render(in, width) {
			if ansi.StringWidth(l) > max(width, markdown.MinWidth) {
				t.Fatalf("line %q wider than %d", l, width)
			}
		}
	})
}

func next(s *uint64) uint64 { // xorshift: deterministic "random" input
	*s ^= *s << 13
	*s ^= *s >> 7
	*s ^= *s << 17
	return *s
}

// BenchmarkRender_HugeToken: a 200 kB word (a base64 blob in a reply) must
// cost linear time, not a quadratic freeze of the TUI.
func BenchmarkRender_HugeToken(b *testing.B) {
	md := newRenderer(termenv.TrueColor)
	in := "see **" + strings.Repeat("QUJD", 50_000) + "** and\n\n```\n" + strings.Repeat("x", 200_000) + "\n```"
	for b.Loop() {
		md.Render(in, 80)
	}
}

func BenchmarkRender_Reply(b *testing.B) {
	md := newRenderer(termenv.TrueColor)
	in := "# Plan\n\nWe should **ship** on *Friday* if the `load test` passes; see [the runbook](https://wiki/run).\n\n" +
		"1. Migrate the `messages` table\n2. Deploy\n   - [x] build\n   - [ ] smoke test\n\n> careful\n\n```go\nfmt.Println(\"ok\")\n```\n\n" +
		"| Step | Owner |\n|---|---|\n| Migrate | Alice |\n| Deploy | Bob |\n"
	for b.Loop() {
		md.Render(in, 80)
	}
}
