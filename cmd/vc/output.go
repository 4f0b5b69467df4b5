package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/itchyny/gojq"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"
)

// jsonAll is the value of --json given without fields: every field.
const jsonAll = "*"

// outputFlags are the --json [FIELDS] and --jq EXPR flags of a command that
// prints data, in the manner of gh.
type outputFlags struct {
	json   string
	jq     string
	fields []string // the valid fields, from the printed type's JSON tags
}

// enabled reports whether JSON output was asked for.
func (o *outputFlags) enabled() bool { return o.json != "" || o.jq != "" }

// selected returns the fields asked for, nil for all.
func (o *outputFlags) selected() []string {
	if o.json == "" || o.json == jsonAll {
		return nil
	}
	var out []string
	for f := range strings.SplitSeq(o.json, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// validate checks the fields and compiles nothing yet; an unknown field lists
// the valid ones.
func (o *outputFlags) validate() error {
	for _, f := range o.selected() {
		if !slices.Contains(o.fields, f) {
			return fmt.Errorf("unknown JSON field %q; available fields:\n  %s", f, strings.Join(o.fields, "\n  "))
		}
	}
	if o.jq != "" {
		if _, err := gojq.Parse(o.jq); err != nil {
			return fmt.Errorf("--jq: %w", err)
		}
	}
	return nil
}

// addOutputFlags adds --json and --jq to cmd; sample is a value of the type
// the command prints (a struct, or a slice of structs), whose JSON tags are
// the valid fields.
func addOutputFlags(cmd *cobra.Command, o *outputFlags, sample any) {
	o.fields = jsonFields(reflect.TypeOf(sample))
	cmd.Flags().StringVar(&o.json, "json", "", "print JSON; optionally only these comma-separated `fields` ("+strings.Join(o.fields, ", ")+")")
	cmd.Flags().Lookup("json").NoOptDefVal = jsonAll
	cmd.Flags().StringVar(&o.jq, "jq", "", "filter the JSON output with a jq `expression` (implies --json)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if err := o.validate(); err != nil {
			return err
		}
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
}

// jsonFields lists the JSON field names of a struct type (or of the element
// type of a slice of structs).
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// jsonFieldRE matches a --json value given as a separate argument.
var jsonFieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(,[A-Za-z_][A-Za-z0-9_]*)*$`)

// normalizeJSONFlag lets `--json id,name` work like `--json=id,name` (pflag
// only attaches optional values with '='), as in gh.
func normalizeJSONFlag(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			out = append(out, args[i:]...)
			break
		}
		if args[i] == "--json" && i+1 < len(args) && jsonFieldRE.MatchString(args[i+1]) {
			out = append(out, "--json="+args[i+1])
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// toGeneric turns v into the generic JSON value (maps, slices, json.Number).
func toGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return out, nil
}

// pick keeps only fields of each object in v.
func pick(v any, fields []string) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(fields))
		for _, f := range fields {
			if x, ok := t[f]; ok {
				m[f] = x
			} else {
				m[f] = nil
			}
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = pick(x, fields)
		}
		return out
	}
	return v
}

// gojqValue converts json.Number values (which gojq does not accept) to
// int or float64.
func gojqValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = gojqValue(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = gojqValue(x)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i)
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// orderedObject is a JSON object that keeps its keys in the order the user
// asked for them in --json.
type orderedObject struct {
	keys []string
	vals map[string]any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ordered wraps the objects of a picked value so they marshal in field order.
func ordered(v any, fields []string) any {
	switch t := v.(type) {
	case map[string]any:
		return orderedObject{keys: fields, vals: t}
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = ordered(x, fields)
		}
		return out
	}
	return v
}

// writeJSON prints v as JSON according to o: indented on a terminal,
// compact otherwise (compact always when oneLine, for streams); with --jq,
// each result on its own line, strings raw. Objects keep the field order of
// the type, or of --json FIELDS.
func (a *app) writeJSON(o *outputFlags, v any, oneLine bool) error {
	out := v
	fs := o.selected()
	if fs != nil || o.jq != "" {
		g, err := toGeneric(v)
		if err != nil {
			return err
		}
		if fs != nil {
			g = pick(g, fs)
		}
		if o.jq != "" {
			return runJQ(a.out, o.jq, gojqValue(g))
		}
		out = ordered(g, fs)
	}
	var b []byte
	var err error
	if a.stdoutTTY && !oneLine {
		b, err = json.MarshalIndent(out, "", "  ")
	} else {
		b, err = json.Marshal(out)
	}
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = a.out.Write(append(b, '\n'))
	return err
}

// runJQ applies expr to v and prints every result.
func runJQ(w io.Writer, expr string, v any) error {
	q, err := gojq.Parse(expr)
	if err != nil {
		return fmt.Errorf("--jq: %w", err)
	}
	iter := q.Run(v)
	for {
		x, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := x.(error); ok {
			var halt *gojq.HaltError
			if asHalt(err, &halt) && halt.Value() == nil {
				return nil
			}
			return fmt.Errorf("--jq: %w", err)
		}
		if s, ok := x.(string); ok {
			fmt.Fprintln(w, s)
			continue
		}
		b, err := gojq.Marshal(x)
		if err != nil {
			return fmt.Errorf("--jq: %w", err)
		}
		fmt.Fprintln(w, string(b))
	}
}

func asHalt(err error, target **gojq.HaltError) bool {
	h, ok := err.(*gojq.HaltError)
	if ok {
		*target = h
	}
	return ok
}

// colorEnabled applies NO_COLOR (wins), CLICOLOR_FORCE, then whether stdout
// is a terminal whose TERM is not "dumb". Like every one-shot command's
// decision about the terminal, it reads only the environment: querying the
// terminal (as the TUI may) hangs in terminals that never answer.
func (a *app) colorEnabled() bool {
	if a.getenv("NO_COLOR") != "" {
		return false
	}
	if f := a.getenv("CLICOLOR_FORCE"); f != "" && f != "0" {
		return true
	}
	return a.stdoutTTY && a.getenv("TERM") != "dumb"
}

// tableLayout reports whether data is printed as an aligned table (a
// terminal, or forced colour) rather than tab-separated lines for scripts.
func (a *app) tableLayout() bool {
	if a.stdoutTTY {
		return true
	}
	f := a.getenv("CLICOLOR_FORCE")
	return f != "" && f != "0" && a.getenv("NO_COLOR") == ""
}

// styles are the CLI's lipgloss styles for one output stream.
type styles struct {
	r      *lipgloss.Renderer
	header lipgloss.Style
	dim    lipgloss.Style
	accent lipgloss.Style
	ai     lipgloss.Style
	system lipgloss.Style
	ok     lipgloss.Style
	bold   lipgloss.Style
	cell   lipgloss.Style
}

// colorProfile is the colour depth the environment announces: COLORTERM
// (truecolor or 24bit), else a TERM naming 256 colours, else the 16 ANSI
// colours every colour terminal has.
func colorProfile(getenv func(string) string) termenv.Profile {
	switch ct := strings.ToLower(getenv("COLORTERM")); {
	case ct == "truecolor" || ct == "24bit":
		return termenv.TrueColor
	case strings.Contains(getenv("TERM"), "256color"):
		return termenv.ANSI256
	}
	return termenv.ANSI
}

// newStyles returns styles for w in profile (termenv.Ascii: no colour).
// Only fixed ANSI colours are used: adaptive colours would query the
// terminal for its background.
func newStyles(w io.Writer, profile termenv.Profile) *styles {
	r := lipgloss.NewRenderer(w)
	r.SetColorProfile(profile)
	return &styles{
		r:      r,
		header: r.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		dim:    r.NewStyle().Foreground(lipgloss.Color("8")),
		accent: r.NewStyle().Bold(true).Foreground(lipgloss.Color("4")),
		ai:     r.NewStyle().Bold(true).Foreground(lipgloss.Color("5")),
		system: r.NewStyle().Italic(true).Foreground(lipgloss.Color("3")),
		ok:     r.NewStyle().Foreground(lipgloss.Color("2")),
		bold:   r.NewStyle().Bold(true),
		cell:   r.NewStyle().PaddingRight(2),
	}
}

// outStyles returns the styles of stdout.
func (a *app) outStyles() *styles { return newStyles(a.out, a.profileIf(a.colorEnabled())) }

// profileIf is the environment's colour profile when color, else Ascii.
func (a *app) profileIf(color bool) termenv.Profile {
	if !color {
		return termenv.Ascii
	}
	return colorProfile(a.getenv)
}

// errStyles returns the styles of stderr.
func (a *app) errStyles() *styles {
	color := a.getenv("NO_COLOR") == "" && a.stderrTTY && a.getenv("TERM") != "dumb"
	return newStyles(a.errOut, a.profileIf(color))
}

// printTable prints rows under headers: a lipgloss table on a terminal,
// tab-separated lines without the header otherwise.
func (a *app) printTable(headers []string, rows [][]string) error {
	if !a.tableLayout() {
		var sb strings.Builder
		for _, r := range rows {
			sb.WriteString(strings.Join(r, "\t"))
			sb.WriteByte('\n')
		}
		_, err := io.WriteString(a.out, sb.String())
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	st := a.outStyles()
	t := table.New().
		Border(lipgloss.NormalBorder()).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderColumn(false).BorderRow(false).BorderHeader(true).
		BorderStyle(st.dim).
		Headers(headers...).
		Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return st.header.PaddingRight(2)
			}
			return st.cell
		})
	_, err := fmt.Fprintln(a.out, t.String())
	return err
}
