package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

func newTailCmd(a *app) *cobra.Command {
	var o outputFlags
	var lines int
	var noJoins bool
	cmd := &cobra.Command{
		Use:   "tail ROOM",
		Short: "Follow a room live, like tail -f",
		Long: `Print the room's last messages, then follow it live until Ctrl-C: new messages,
AI replies streamed as they are written, joins and leaves (a burst of them
on one line, "ada, bob and 3 others joined"; --no-joins hides them). The
connection is resumed after network failures without losing or repeating a
message.

With --json every event is printed as one JSON object per line, in the chat
socket's format (docs: type, room_id, and the fields of that type; message
events carry id, seq, user, user_id, role_id, content, message_type and
timestamp).`,
		Example: `  vc tail general
  vc tail general -n 0 --json
  vc tail general --no-joins
  vc tail general --jq 'select(.type=="message") | .content'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, room api.Room, args []string) error {
			t := &tailer{a: a, o: &o, st: a.outStyles(), errSt: a.errStyles(), streams: map[string]*tailStream{}, noJoins: noJoins}
			defer t.flushJoins()
			after := room.LastSeq
			if lines > 0 && room.LastSeq > 0 {
				msgs, err := c.ListMessages(ctx, room.ID, client.MessageQuery{Limit: lines})
				if err != nil {
					return fmt.Errorf("history of %q: %w", room.Name, err)
				}
				for _, m := range msgs {
					if err := t.event(messageEvent(m)); err != nil {
						return err
					}
					after = max(after, m.Seq)
				}
			}
			s, err := c.OpenStream(ctx, room.ID, client.StreamOptions{After: after, Resume: true})
			if err != nil {
				return fmt.Errorf("follow %q: %w", room.Name, err)
			}
			defer s.Close()
			status := s.Status()
			lost := false
			for {
				select {
				case <-t.joinTimer():
					t.flushJoins()
				case <-ctx.Done():
					t.endLine()
					return ctx.Err()
				case st, ok := <-status:
					if !ok {
						status = nil // closed with Events, which reports the end
						continue
					}
					switch st.State {
					case client.StateReconnecting:
						lost = true
						t.note(fmt.Sprintf("connection lost (%v); reconnecting in %s (attempt %d)", st.Err, st.RetryIn.Round(1e6), st.Attempt))
					case client.StateConnected:
						if lost {
							t.note("reconnected")
							lost = false
						}
					case client.StateGaveUp:
						t.endLine()
						return fmt.Errorf("follow %q: %w", room.Name, st.Err)
					}
				case ev, ok := <-s.Events():
					if !ok {
						t.endLine()
						if ctx.Err() != nil {
							return ctx.Err()
						}
						return fmt.Errorf("follow %q: the stream closed", room.Name)
					}
					if err := t.event(ev); err != nil {
						return err
					}
				}
			}
		}),
	}
	cmd.Flags().IntVarP(&lines, "lines", "n", 10, "print the last `N` messages first (0: only new ones)")
	cmd.Flags().BoolVar(&noJoins, "no-joins", false, "do not print joins and leaves")
	addOutputFlags(cmd, &o, wsproto.Event{})
	return cmd
}

// tailer prints the events of vc tail.
type tailer struct {
	a       *app
	o       *outputFlags
	st      *styles
	errSt   *styles
	streams map[string]*tailStream
	// inline is the AI reply being printed delta by delta, "" when none.
	inline  string
	midLine bool
	// newlines is the count of line breaks of the inline reply not written
	// yet: written (indented) only when more text follows, so that a reply
	// ending with a newline leaves no blank line.
	newlines int

	// noJoins hides join and leave events.
	noJoins bool
	// joined and left are the burst of joins and leaves not printed yet:
	// printed as one line when another event comes or the burst has been
	// quiet for joinBurstWindow.
	joined, left []string
	burst        *time.Timer
}

// joinBurstWindow is how long vc tail waits for more joins and leaves
// before printing a burst: long enough to gather a reconnecting team, short
// enough that a single join still shows at once to a person watching.
const joinBurstWindow = 500 * time.Millisecond

// joinTimer fires when the pending burst of joins and leaves is due (nil,
// never, when there is none).
func (t *tailer) joinTimer() <-chan time.Time {
	if t.burst == nil {
		return nil
	}
	return t.burst.C
}

// addJoin adds a join or leave to the pending burst.
func (t *tailer) addJoin(user string, join bool) {
	list := &t.left
	other := &t.joined
	if join {
		list, other = &t.joined, &t.left
	}
	// Someone who left and came back within the burst is simply there.
	if i := slices.Index(*other, user); i >= 0 {
		*other = slices.Delete(*other, i, i+1)
	} else if !slices.Contains(*list, user) {
		*list = append(*list, user)
	}
	if t.burst == nil {
		t.burst = time.NewTimer(joinBurstWindow)
	} else {
		t.burst.Reset(joinBurstWindow)
	}
}

// flushJoins prints the pending burst of joins and leaves as one line.
func (t *tailer) flushJoins() {
	if t.burst != nil {
		t.burst.Stop()
		t.burst = nil
	}
	var parts []string
	if len(t.joined) > 0 {
		parts = append(parts, joinList(t.joined)+" joined")
	}
	if len(t.left) > 0 {
		parts = append(parts, joinList(t.left)+" left")
	}
	t.joined, t.left = nil, nil
	if len(parts) == 0 || t.midLine {
		return
	}
	fmt.Fprintln(t.a.out, t.st.dim.Render("→ "+strings.Join(parts, "; ")))
}

// joinList names people the way a person would: "ada", "ada and bob",
// "ada, bob and cyd", "ada, bob and 3 others".
func joinList(names []string) string {
	switch n := len(names); {
	case n == 1:
		return names[0]
	case n <= 3:
		return strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	default:
		return names[0] + ", " + names[1] + " and " + strconv.Itoa(n-2) + " others"
	}
}

// writeDelta prints a piece of the inline reply, continuation lines indented.
func (t *tailer) writeDelta(d string) error {
	var sb strings.Builder
	for _, r := range d {
		if r == '\n' {
			t.newlines++
			continue
		}
		for ; t.newlines > 0; t.newlines-- {
			sb.WriteString("\n  ")
		}
		sb.WriteRune(r)
	}
	_, err := io.WriteString(t.a.out, sb.String())
	return err
}

// tailStream is an AI reply in progress.
type tailStream struct {
	role   string
	roleID *int64
}

// endLine ends a reply printed inline.
func (t *tailer) endLine() {
	t.newlines = 0
	if t.midLine {
		fmt.Fprintln(t.a.out)
		t.midLine = false
	}
}

// note prints a connection notice on stderr.
func (t *tailer) note(s string) {
	fmt.Fprintln(t.a.errOut, t.errSt.dim.Render(s))
}

func (t *tailer) event(ev wsproto.Event) error {
	isJoin := ev.Type == wsproto.TypeJoin || ev.Type == wsproto.TypeLeave
	if isJoin && t.noJoins {
		return nil
	}
	if t.o.enabled() {
		return t.a.writeJSON(t.o, ev, true)
	}
	if isJoin {
		t.addJoin(ev.User, ev.Type == wsproto.TypeJoin)
		return nil
	}
	if ev.Type == wsproto.TypeMessage || ev.Type == wsproto.TypeAIStart {
		t.flushJoins()
	}
	out := t.a.out
	switch ev.Type {
	case wsproto.TypeMessage:
		m := eventMessage(ev)
		if m.MessageType == api.MessageAIResponse && t.inline != "" {
			if s := t.streams[t.inline]; s != nil && s.roleID != nil && m.RoleID != nil && *s.roleID == *m.RoleID {
				// Already printed delta by delta.
				t.endLine()
				delete(t.streams, t.inline)
				t.inline = ""
				return nil
			}
		}
		t.endLine()
		_, err := fmt.Fprintln(out, t.a.formatMessage(t.st, m))
		return err
	case wsproto.TypeAIStart:
		t.streams[ev.StreamID] = &tailStream{role: ev.Role, roleID: ev.RoleID}
		if t.inline == "" {
			t.endLine()
			t.inline = ev.StreamID
			ts := ev.Timestamp
			if ts.IsZero() {
				ts = time.Now()
			}
			fmt.Fprint(out, t.st.dim.Render(t.a.msgTime(ts))+" "+t.st.ai.Render(ev.Role)+": ")
			t.midLine = true
		}
	case wsproto.TypeAIDelta:
		if ev.StreamID == t.inline {
			return t.writeDelta(ev.Delta)
		}
	case wsproto.TypeAIDone, wsproto.TypeAIError:
		// A failed reply is also stored as a system message, which follows;
		// a cancelled one is not.
		if ev.Type == wsproto.TypeAIError && ev.StreamID == t.inline && ev.Code == api.CodeCanceled {
			t.endLine()
			fmt.Fprintln(out, t.st.system.Render("* "+ev.Detail))
		}
		if ev.StreamID == t.inline {
			t.endLine()
			t.inline = ""
		}
		delete(t.streams, ev.StreamID)
	}
	return nil
}
