//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package tui

import (
	"os"
	"time"
)

// queryDarkBackground never asks on this platform: the background counts
// as dark.
func queryDarkBackground(in, out *os.File, timeout time.Duration) (dark, ok bool) {
	return false, false
}
