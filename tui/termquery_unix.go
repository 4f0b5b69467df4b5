//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tui

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// queryDarkBackground asks the terminal for its background colour (OSC 11,
// then DA1, which every terminal answers, so that one answering DA1 only
// ends the wait at once) and waits at most timeout for the answers. ok is
// false when in or out is not a terminal or no answer came in time.
func queryDarkBackground(in, out *os.File, timeout time.Duration) (dark, ok bool) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) || !term.IsTerminal(int(out.Fd())) {
		return false, false
	}
	state, err := term.MakeRaw(fd)
	if err != nil {
		return false, false
	}
	defer func() { _ = term.Restore(fd, state) }()
	if _, err := out.WriteString("\x1b]11;?\x07\x1b[c"); err != nil {
		return false, false
	}
	deadline := time.Now().Add(timeout)
	var got []byte
	buf := make([]byte, 256)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return dark, ok
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return dark, ok
		}
		r, err := unix.Read(fd, buf)
		if err != nil || r <= 0 {
			return dark, ok
		}
		got = append(got, buf[:r]...)
		var done bool
		dark, ok, done = parseBackground(got)
		if done {
			return dark, ok
		}
	}
}
