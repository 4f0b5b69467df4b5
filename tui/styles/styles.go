// Package styles holds the Lip Gloss theme of the vc chat TUI. Every colour is
// an AdaptiveColor so the theme reads on dark and light terminals, and every
// style comes from one lipgloss.Renderer so that NO_COLOR (which the renderer
// honours) and tests (which force the Ascii profile) affect the whole screen.
package styles

import (
	"hash/fnv"

	"github.com/charmbracelet/lipgloss"
)

// Styles is the theme: one style per kind of thing on screen.
type Styles struct {
	Renderer *lipgloss.Renderer

	userColours []lipgloss.AdaptiveColor

	App        lipgloss.Style
	Header     lipgloss.Style
	HeaderDim  lipgloss.Style
	StatusBar  lipgloss.Style
	StatusOK   lipgloss.Style
	StatusWarn lipgloss.Style
	StatusErr  lipgloss.Style
	Banner     lipgloss.Style
	Meeting    lipgloss.Style // the banner of a running meeting
	Notice     lipgloss.Style
	ErrorText  lipgloss.Style

	Panel        lipgloss.Style // an unfocused side panel
	PanelFocused lipgloss.Style
	PanelTitle   lipgloss.Style

	RoomItem     lipgloss.Style
	RoomSelected lipgloss.Style
	RoomCurrent  lipgloss.Style
	Unread       lipgloss.Style

	Time       lipgloss.Style
	Body       lipgloss.Style
	AIName     lipgloss.Style
	AIBody     lipgloss.Style
	System     lipgloss.Style
	Event      lipgloss.Style
	Pending    lipgloss.Style
	Typing     lipgloss.Style
	Marker     lipgloss.Style
	Match      lipgloss.Style
	MatchLine  lipgloss.Style
	Online     lipgloss.Style
	Offline    lipgloss.Style
	InputFocus lipgloss.Style
	InputBlur  lipgloss.Style
	Prompt     lipgloss.Style
	Completion lipgloss.Style

	Overlay      lipgloss.Style
	OverlayTitle lipgloss.Style
	Key          lipgloss.Style
	KeyDesc      lipgloss.Style
	Muted        lipgloss.Style
	Accent       lipgloss.Style

	// Markdown of messages (tui/markdown).
	MDHeading   [3]lipgloss.Style // levels 1, 2 and 3+
	MDCode      lipgloss.Style    // inline code
	MDCodeBlock lipgloss.Style    // fenced and indented code lines
	MDCodeLabel lipgloss.Style    // the language of a code block
	MDQuote     lipgloss.Style    // the bar of a blockquote
	MDLink      lipgloss.Style
	MDURL       lipgloss.Style // a link's target shown after its text
	MDBullet    lipgloss.Style // list markers and task boxes
	MDRule      lipgloss.Style // thematic breaks and table rules
	MDTableHead lipgloss.Style
}

// New builds the theme on r (lipgloss.DefaultRenderer() when nil).
func New(r *lipgloss.Renderer) *Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	n := r.NewStyle
	s := &Styles{Renderer: r}
	// Palette colours, light terminal first.
	colAccent := lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#B7A4FF"}
	colMuted := lipgloss.AdaptiveColor{Light: "#6B6B6B", Dark: "#8A8A8A"}
	colSubtle := lipgloss.AdaptiveColor{Light: "#D0D0D0", Dark: "#3A3A3A"}
	colText := lipgloss.AdaptiveColor{Light: "#1F1F1F", Dark: "#E6E6E6"}
	colAI := lipgloss.AdaptiveColor{Light: "#00796B", Dark: "#5FD7C0"}
	colSystem := lipgloss.AdaptiveColor{Light: "#8A6D00", Dark: "#E0C068"}
	colError := lipgloss.AdaptiveColor{Light: "#B00020", Dark: "#FF6B7A"}
	colOK := lipgloss.AdaptiveColor{Light: "#2E7D32", Dark: "#7BD88F"}
	colWarn := lipgloss.AdaptiveColor{Light: "#B35900", Dark: "#FFB86B"}
	colSelBg := lipgloss.AdaptiveColor{Light: "#E8E2FF", Dark: "#34295E"}
	colMatchBg := lipgloss.AdaptiveColor{Light: "#FFF3B0", Dark: "#5C4E00"}
	s.userColours = []lipgloss.AdaptiveColor{
		{Light: "#1565C0", Dark: "#82AAFF"},
		{Light: "#AD1457", Dark: "#F78FB3"},
		{Light: "#2E7D32", Dark: "#A5D6A7"},
		{Light: "#6A1B9A", Dark: "#CE93D8"},
		{Light: "#E65100", Dark: "#FFB74D"},
		{Light: "#00838F", Dark: "#80DEEA"},
	}
	s.App = n()
	s.Header = n().Bold(true).Foreground(colAccent)
	s.HeaderDim = n().Foreground(colMuted)
	s.StatusBar = n().Foreground(colMuted)
	s.StatusOK = n().Foreground(colOK)
	s.StatusWarn = n().Foreground(colWarn).Bold(true)
	s.StatusErr = n().Foreground(colError).Bold(true)
	s.Banner = n().Foreground(colWarn).Bold(true)
	s.Notice = n().Foreground(colMuted).Italic(true)
	s.ErrorText = n().Foreground(colError)

	s.Panel = n().Border(lipgloss.NormalBorder(), false, true, false, false).BorderForeground(colSubtle)
	s.PanelFocused = s.Panel.BorderForeground(colAccent)
	s.PanelTitle = n().Bold(true).Foreground(colMuted)

	s.RoomItem = n().Foreground(colText)
	s.RoomSelected = n().Background(colSelBg).Foreground(colText)
	s.RoomCurrent = n().Bold(true).Foreground(colAccent)
	s.Unread = n().Bold(true).Foreground(colAccent)

	s.Time = n().Foreground(colMuted)
	s.Body = n().Foreground(colText)
	s.AIName = n().Bold(true).Foreground(colAI)
	s.AIBody = n()
	s.System = n().Foreground(colSystem).Italic(true)
	s.Event = n().Foreground(colMuted).Faint(true)
	s.Pending = n().Foreground(colMuted)
	s.Typing = n().Foreground(colMuted).Italic(true)
	s.Marker = n().Bold(true).Foreground(colAccent)
	s.Meeting = n().Bold(true).Foreground(colAI)
	s.Match = n().Background(colMatchBg).Bold(true)
	s.MatchLine = n().Foreground(colAccent).Bold(true)
	s.Online = n().Foreground(colOK)
	s.Offline = n().Foreground(colMuted)
	s.InputFocus = n().Border(lipgloss.NormalBorder(), true, false, false, false).BorderForeground(colAccent)
	s.InputBlur = n().Border(lipgloss.NormalBorder(), true, false, false, false).BorderForeground(colSubtle)
	s.Prompt = n().Foreground(colAccent).Bold(true)
	s.Completion = n().Foreground(colMuted)

	s.Overlay = n().Border(lipgloss.RoundedBorder()).BorderForeground(colAccent).Padding(0, 1)
	s.OverlayTitle = n().Bold(true).Foreground(colAccent)
	s.Key = n().Bold(true).Foreground(colAccent)
	s.KeyDesc = n().Foreground(colMuted)
	s.Muted = n().Foreground(colMuted)
	s.Accent = n().Foreground(colAccent)

	colCodeBg := lipgloss.AdaptiveColor{Light: "#F0EEF6", Dark: "#26232E"}
	colCode := lipgloss.AdaptiveColor{Light: "#9C2C6B", Dark: "#FF9AC1"}
	s.MDHeading = [3]lipgloss.Style{
		n().Bold(true).Underline(true).Foreground(colAccent),
		n().Bold(true).Foreground(colAccent),
		n().Bold(true).Foreground(colText),
	}
	s.MDCode = n().Foreground(colCode).Background(colCodeBg)
	s.MDCodeBlock = n().Foreground(colText).Background(colCodeBg)
	s.MDCodeLabel = n().Foreground(colMuted).Italic(true)
	s.MDQuote = n().Foreground(colMuted)
	s.MDLink = n().Foreground(colAccent).Underline(true)
	s.MDURL = n().Foreground(colMuted)
	s.MDBullet = n().Foreground(colAccent)
	s.MDRule = n().Foreground(colSubtle)
	s.MDTableHead = n().Bold(true)
	return s
}

// User returns the style of a person's name: bold, in a colour derived from
// the name so that the same person always looks the same.
func (s *Styles) User(name string) lipgloss.Style {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return s.Renderer.NewStyle().Bold(true).Foreground(s.userColours[int(h.Sum32()%uint32(len(s.userColours)))])
}
