package tui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// roomConn is the open room's connection: its stream, what the status line
// says about it, and the frames waiting for the one send in flight. gen is
// bumped on every room switch; answers carrying an older gen are for a room
// already left and are dropped.
type roomConn struct {
	gen    int
	stream Stream

	state   client.StreamState
	attempt int
	retryIn time.Duration
	err     string
	open    bool // a stream exists

	outbox     []wsproto.ClientFrame
	sending    bool
	lastTyping time.Time // our last typing notification
}

// leave closes the stream (in a command) and forgets the room's state.
func (rc *roomConn) leave() tea.Cmd {
	var cmd tea.Cmd
	if rc.stream != nil {
		cmd = closeStreamCmd(rc.stream)
	}
	*rc = roomConn{gen: rc.gen + 1, lastTyping: rc.lastTyping}
	return cmd
}

// gaveUp records that the room could not be opened.
func (rc *roomConn) gaveUp(err string) {
	rc.state, rc.attempt, rc.retryIn, rc.err, rc.open = client.StateGaveUp, 0, 0, err, false
}

// opened records the room's new stream.
func (rc *roomConn) opened(s Stream) {
	rc.stream = s
	rc.state, rc.attempt, rc.retryIn, rc.err, rc.open = client.StateConnected, 0, 0, "", true
}

// status records a change of the stream's state.
func (rc *roomConn) status(st client.StreamStatus) {
	rc.state, rc.attempt, rc.retryIn = st.State, st.Attempt, st.RetryIn
	rc.err = ""
	if st.Err != nil {
		rc.err = errText(st.Err)
	}
}

// next takes the next frame to send, unless one is in flight.
func (rc *roomConn) next() (wsproto.ClientFrame, bool) {
	if rc.sending || len(rc.outbox) == 0 || rc.stream == nil {
		return wsproto.ClientFrame{}, false
	}
	f := rc.outbox[0]
	rc.outbox = rc.outbox[1:]
	rc.sending = true
	return f, true
}
