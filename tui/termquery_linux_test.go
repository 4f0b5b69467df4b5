package tui

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the test plays the terminal on
// master, the code under test sees slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return m, s
}

// TestQueryBackground_SilentTerminal: a terminal that never answers costs
// the 100 ms bound, not termenv's 5 s, and the query reports no answer.
func TestQueryBackground_SilentTerminal(t *testing.T) {
	m, s := openPTY(t)
	go func() { _, _ = m.Read(make([]byte, 256)) }() // takes the query, never answers
	start := time.Now()
	_, ok := queryDarkBackground(s, s, queryTimeout)
	elapsed := time.Since(start)
	require.False(t, ok)
	require.Less(t, elapsed, 2*time.Second, "bounded by queryTimeout, far below termenv's 5 s")
}

// TestQueryBackground_Answers: a light terminal's OSC 11 answer is read and
// the DA1 answer ends the wait.
func TestQueryBackground_Answers(t *testing.T) {
	m, s := openPTY(t)
	go func() {
		var got []byte
		buf := make([]byte, 64)
		for !bytes.Contains(got, []byte("\x1b[c")) {
			n, err := m.Read(buf)
			if err != nil {
				return
			}
			got = append(got, buf[:n]...)
		}
		_, _ = m.WriteString("\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[?62;22c")
	}()
	dark, ok := queryDarkBackground(s, s, 10*time.Second)
	require.True(t, ok)
	require.False(t, dark)
}
