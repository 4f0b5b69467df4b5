//go:build linux

package main_test

import (
	"testing"
)

// TestPTY_MeetCtrlCAsks: on a terminal Ctrl-C asks before stopping the
// meeting; "n" lets it go on to its end (exit 0), "y" stops it (exit 2).
func TestPTY_MeetCtrlCAsks(t *testing.T) {
	t.Parallel()
	_, c, p := meetRoom(t)
	p.mu.Lock()
	p.slow = true
	p.mu.Unlock()

	m := c.startPTY("meet", "general", "--topic", "Go on", "--roles", "pm", "--rounds", "1")
	m.waitFor("round 1")
	_, err := m.master.WriteString("\x03")
	if err != nil {
		t.Fatal(err)
	}
	m.waitFor("Stop the meeting?")
	m.typeLine("n")
	m.waitFor("Meeting ended: done")
	if code := m.exitCode(); code != 0 {
		t.Fatalf("exit %d after declining; terminal:\n%s", code, m.output())
	}

	m = c.startPTY("meet", "general", "--topic", "Stop it", "--roles", "pm", "--rounds", "1")
	m.waitFor("round 1")
	_, _ = m.master.WriteString("\x03")
	m.waitFor("Stop the meeting?")
	m.typeLine("y")
	m.waitFor("Meeting ended: stopped")
	if code := m.exitCode(); code != 2 {
		t.Fatalf("exit %d after stopping; terminal:\n%s", code, m.output())
	}
}
