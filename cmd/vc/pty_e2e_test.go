//go:build linux

package main_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/servertest"
)

// ptyProc is vc running on a pseudo-terminal that, like a bare pty in CI or
// under script(1), answers no terminal query: only what the test types
// arrives.
type ptyProc struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
}

// openPTY opens a pseudo-terminal pair with the kernel's ioctls.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		t.Fatalf("pty number: %v", e)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("open pty: %v", err)
	}
	return m, s
}

// startPTY runs vc with stdin, stdout and stderr on a new pseudo-terminal.
func (c *cli) startPTY(args ...string) *ptyProc {
	c.t.Helper()
	master, slave := openPTY(c.t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, vcBinary, args...)
	cmd.Env = c.environ("TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	require.NoError(c.t, cmd.Start())
	slave.Close()
	p := &ptyProc{t: c.t, master: master, cmd: cmd, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				close(p.done)
				return
			}
		}
	}()
	c.t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		master.Close()
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the terminal shows sub, failing after a deadline.
func (p *ptyProc) waitFor(sub string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.output(), sub) {
		if time.Now().After(deadline) {
			p.t.Fatalf("the terminal did not show %q; it shows:\n%s", sub, p.output())
		}
		time.Sleep(20 * time.Millisecond) // polling the pty's output, bounded by the deadline
	}
}

func (p *ptyProc) typeLine(s string) {
	p.t.Helper()
	_, err := p.master.WriteString(s + "\r")
	require.NoError(p.t, err)
}

// exitCode waits for the process to end.
func (p *ptyProc) exitCode() int {
	p.t.Helper()
	err := p.cmd.Wait()
	<-p.done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(p.t, err)
	return 0
}

func TestPTY_RegisterChecksThePasswordAsItIsEntered(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	p := c.startPTY("auth", "register", "--server", d.URL, "--username", "gina", "--email", "gina@example.com", "--name", "Gina")
	p.waitFor("Password (at least 8 characters)")
	p.typeLine("short")
	// Told at once, before any other question.
	p.waitFor("at least 8 characters: try again")
	require.NotContains(t, p.output(), "Password again")
	p.typeLine("long-enough-1")
	p.waitFor("Password again")
	p.typeLine("long-enough-1")
	require.Equal(t, 0, p.exitCode(), p.output())
	require.Contains(t, p.output(), "Registered gina")
	require.NotContains(t, p.output(), "long-enough-1", "no echo")

	// Off a terminal, a short password fails before reaching the server.
	r := c.run("short\n", "auth", "register", "--username", "hal", "--email", "hal@example.com", "--password-stdin")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "at least 8 characters")
}

func TestPTY_DestructiveCommandsAsk(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("ivy")
	c.ok("", "rooms", "create", "scratch")

	// No: nothing happens, exit 2 (cancelled).
	p := c.startPTY("rooms", "leave", "scratch")
	p.waitFor("Leave room scratch")
	p.typeLine("n")
	require.Equal(t, 2, p.exitCode(), p.output())
	require.Equal(t, "scratch\n", c.ok("", "rooms", "list", "--jq", ".[].name"))

	p = c.startPTY("rooms", "delete", "scratch")
	p.waitFor("Delete room scratch")
	p.typeLine("y")
	require.Equal(t, 0, p.exitCode(), p.output())
	require.Equal(t, "", c.ok("", "rooms", "list", "--jq", ".[].name"))
}

// TestPTY_NoTerminalQuery: in a terminal that answers no query, vc asks
// nothing at start (Bubble Tea v1's init used to ask for the background
// colour and wait 5 s for an answer that never came, printing the query).
func TestPTY_NoTerminalQuery(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "http://127.0.0.1:1")
	p := c.startPTY("version")
	require.Equal(t, 0, p.exitCode(), p.output())
	out := p.output()
	require.Contains(t, out, "vc ")
	require.NotContains(t, out, "\x1b]11;?", "the OSC 11 background query")
	require.NotContains(t, out, "\x1b[6n", "the cursor position query")
}
