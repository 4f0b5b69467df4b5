// Package restore undoes termguard once Bubble Tea's init has run: it
// imports both, so Go initializes it after them. cmd/vc imports it (blank)
// so that TERM is vc's own again before main runs.
package restore

import (
	_ "github.com/charmbracelet/bubbletea" // initialized before this package

	"github.com/virtual-company/vc/cmd/vc/internal/termguard"
)

func init() { termguard.Restore() }
