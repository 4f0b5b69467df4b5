// Package termguard keeps Bubble Tea v1 from asking the terminal anything
// while vc starts.
//
// Bubble Tea v1 has an init function that asks the terminal for its
// background colour (through lipgloss and termenv) in every program that
// links it, with a 5 s timeout: in a pseudo-terminal that does not answer
// (script(1), some CI and IDE terminals) every vc command, one-shot or not,
// stalled 5 s and printed the raw query. Only `vc chat` needs the answer,
// and it asks itself with a 100 ms bound (tui/termquery.go).
//
// This package's init sets TERM=dumb, which termenv takes as "do not ask",
// and package restore (which imports Bubble Tea, so it runs after Bubble
// Tea's init) puts TERM back. The order is Go's: packages are initialized
// in import-path order among those whose imports are done, and this
// package, importing only os, is ready as soon as os is, ahead of
// os/signal, which Bubble Tea needs ("github.com/v..." sorts before
// "os/signal").
package termguard

import "os"

var (
	term    string
	hadTerm bool
	armed   bool
)

func init() {
	term, hadTerm = os.LookupEnv("TERM")
	armed = os.Setenv("TERM", "dumb") == nil
}

// Restore puts TERM back as vc found it. Package restore calls it.
func Restore() {
	if !armed {
		return
	}
	armed = false
	if hadTerm {
		_ = os.Setenv("TERM", term)
	} else {
		_ = os.Unsetenv("TERM")
	}
}
