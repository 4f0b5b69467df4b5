package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// maxMessageBytes is the server's limit on a message's content.
const maxMessageBytes = 16 << 10

func newClientID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "vc-" + hex.EncodeToString(b)
}

// messageContent is the MESSAGE argument, stdin when it is "-" or missing
// and stdin is piped, else a prompt.
func (a *app) messageContent(ctx context.Context, args []string) (string, error) {
	var content string
	switch {
	case len(args) == 1 && args[0] == "-", len(args) == 0 && !a.stdinTTY:
		s, err := a.readStdin(maxMessageBytes)
		if err != nil {
			return "", err
		}
		content = strings.TrimRight(s, "\r\n")
	case len(args) > 0:
		content = strings.Join(args, " ")
	default:
		s, err := a.promptLine(ctx, "Message", "", "a MESSAGE argument or stdin")
		if err != nil {
			return "", err
		}
		content = s
	}
	if strings.TrimSpace(content) == "" {
		return "", errors.New("the message is empty")
	}
	return content, nil
}

func newSendCmd(a *app) *cobra.Command {
	var o outputFlags
	var roleArg, model string
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "send ROOM [MESSAGE|-]",
		Short: "Send one message to a room",
		Long: `Send one message to a room. The message is the argument, or stdin when it is
"-" or when stdin is piped. --role addresses one of the room's roles, which
answers; --wait waits for an AI reply to the message and prints it (streamed
as it arrives on a terminal).`,
		Example: `  vc send general "hello everyone"
  echo "deploy finished" | vc send ops
  vc send general --role pm --wait "what should we build next?"`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			content, err := a.messageContent(ctx, args[1:])
			if err != nil {
				return err
			}
			c, room, err := a.clientAndRoom(ctx, args[0])
			if err != nil {
				return err
			}
			req := api.CreateMessageRequest{Content: content, ClientID: newClientID(), Model: model}
			var role api.Role
			if roleArg != "" {
				seated, err := c.ListRoomRoles(ctx, room.ID)
				if err != nil {
					return fmt.Errorf("list roles of %q: %w", room.Name, err)
				}
				// The room's roles first, then your own (the seed lets a
				// message name any role_id).
				if role, err = resolveRole(ctx, c, roleArg, seated); err != nil {
					if role, err = resolveRole(ctx, c, roleArg, nil); err != nil {
						return err
					}
				}
				req.RoleID = &role.ID
			}
			if wait && req.RoleID == nil {
				// Without a role to answer, --wait would wait out --timeout
				// for a reply nobody was asked for.
				seated, err := c.ListRoomRoles(ctx, room.ID)
				if err != nil {
					return fmt.Errorf("list roles of %q: %w", room.Name, err)
				}
				if len(mentionedRoles(content, seated)) == 0 {
					return errNoRoleAddressed
				}
			}
			if !wait {
				msg, err := c.SendMessage(ctx, room.ID, req)
				if err != nil {
					return fmt.Errorf("send to %q: %w", room.Name, err)
				}
				if o.enabled() {
					return a.writeJSON(&o, msg, false)
				}
				if a.stdoutTTY {
					fmt.Fprintf(a.out, "%s Sent to %s (message %d)\n", a.outStyles().ok.Render("✓"), room.Name, msg.ID)
				}
				return nil
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			reply, err := a.sendAndStream(ctx, c, room, req, !o.enabled())
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && cmd.Context().Err() == nil {
					return fmt.Errorf("no AI reply within %s (is a role seated and addressed?)", timeout)
				}
				return err
			}
			if o.enabled() {
				return a.writeJSON(&o, reply, false)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&roleArg, "role", "", "address the message to `ROLE` (seated in the room), which answers")
	cmd.Flags().StringVarP(&model, "model", "m", "", "the `model` for the reply this message triggers")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the AI reply and print it")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "with --wait, give up after this `duration`")
	addOutputFlags(cmd, &o, api.Message{})
	return cmd
}

// errNoRoleAddressed is the error of vc send --wait on a message no AI role
// will answer.
var errNoRoleAddressed = errors.New("no AI role addressed: seat one with vc rooms roles add, or @mention one")

// mentionRE finds @handles as vcd does: letters, digits, '_', '-' and '.'
// (a trailing '.' or '-' is punctuation).
var mentionRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_][A-Za-z0-9_.-]*)`)

// mentionedRoles returns the seated roles whose @handle text mentions: the
// roles vcd asks to answer a message without a role_id.
func mentionedRoles(text string, seated []api.Role) []api.Role {
	want := map[string]bool{}
	for _, m := range mentionRE.FindAllStringSubmatch(text, -1) {
		want[strings.ToLower(strings.TrimRight(m[1], ".-"))] = true
	}
	var out []api.Role
	for _, r := range seated {
		if r.Handle != "" && want[strings.ToLower(r.Handle)] {
			out = append(out, r)
		}
	}
	return out
}

// sendAndStream opens the room's stream, sends req and streams the AI reply
// to it: deltas go to stdout as they arrive when printing. It returns the
// stored reply. Cancelling ctx cancels the reply on the server.
func (a *app) sendAndStream(ctx context.Context, c *client.Client, room api.Room, req api.CreateMessageRequest, printing bool) (api.Message, error) {
	return a.sendAndStreamWith(ctx, c, room, req, &replyPrinter{a: a, st: a.outStyles(), enabled: printing})
}

// sendAndStreamWith is sendAndStream printing through p.
func (a *app) sendAndStreamWith(ctx context.Context, c *client.Client, room api.Room, req api.CreateMessageRequest, p *replyPrinter) (api.Message, error) {
	stop := a.spin("Connecting")
	s, err := c.OpenStream(ctx, room.ID, client.StreamOptions{})
	stop()
	if err != nil {
		return api.Message{}, fmt.Errorf("open the stream of %q: %w", room.Name, err)
	}
	defer s.Close()
	msg, err := c.SendMessage(ctx, room.ID, req)
	if err != nil {
		return api.Message{}, fmt.Errorf("send to %q: %w", room.Name, err)
	}
	return a.awaitPrinted(ctx, s, msg, req.RoleID, p)
}

// awaitPrinted waits for the reply to msg with a spinner until it starts.
func (a *app) awaitPrinted(ctx context.Context, s *client.Stream, msg api.Message, roleID *int64, w *replyPrinter) (api.Message, error) {
	stop := a.spin("Waiting for the reply")
	w.onStart = stop
	defer stop()
	reply, err := awaitReply(ctx, s, msg, roleID, w)
	if err != nil {
		return api.Message{}, err
	}
	return reply, nil
}

// replyPrinter prints a streamed AI reply: a header on a terminal, then the
// deltas, then a final newline.
type replyPrinter struct {
	a       *app
	st      *styles
	enabled bool
	raw     bool
	onStart func()
	started bool
	last    string // the last byte written, to end with a newline
}

func (p *replyPrinter) start(role string) {
	if p.onStart != nil {
		p.onStart()
	}
	if p.started {
		return
	}
	p.started = true
	if p.enabled && !p.raw && p.a.stdoutTTY && role != "" {
		fmt.Fprint(p.a.out, p.st.ai.Render(role)+"\n")
	}
}

func (p *replyPrinter) delta(s string) {
	if !p.enabled || s == "" {
		return
	}
	io.WriteString(p.a.out, s)
	p.last = s[len(s)-1:]
}

// finish ends the reply; whole is the stored content, printed when no delta
// was (a server that does not stream).
func (p *replyPrinter) finish(whole string) {
	if !p.enabled {
		return
	}
	if p.last == "" && whole != "" {
		p.delta(whole)
	}
	if !p.raw && p.last != "\n" && p.last != "" {
		io.WriteString(p.a.out, "\n")
	}
}

// awaitReply reads s until the AI reply to msg is complete and returns it.
// It follows the ai_start whose reply_to is msg; a server that does not
// stream is covered by the first ai_response message after msg (from roleID
// when set). On cancellation it asks the server to stop the reply.
func awaitReply(ctx context.Context, s *client.Stream, msg api.Message, roleID *int64, p *replyPrinter) (api.Message, error) {
	var streamID string
	var streamRole *int64
	var reply *api.Message
	status := s.Status()
	for {
		select {
		case <-ctx.Done():
			if streamID != "" {
				cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = s.CancelAI(cctx, streamID)
				cancel()
			}
			return api.Message{}, ctx.Err()
		case st, ok := <-status:
			if !ok {
				status = nil // closed with Events, which reports the end
				continue
			}
			if st.State == client.StateGaveUp {
				return api.Message{}, fmt.Errorf("room stream gave up: %w", st.Err)
			}
		case ev, ok := <-s.Events():
			if !ok {
				return api.Message{}, errors.New("the room stream closed before the reply arrived")
			}
			switch ev.Type {
			case wsproto.TypeAIStart:
				if streamID == "" && ev.ReplyTo == msg.ID {
					streamID, streamRole = ev.StreamID, ev.RoleID
					p.start(ev.Role)
				}
			case wsproto.TypeAIDelta:
				if streamID != "" && ev.StreamID == streamID {
					p.delta(ev.Delta)
				}
			case wsproto.TypeAIError:
				// A reply refused before it started (limits, budget) has no
				// ai_start: it is matched by reply_to.
				if (streamID != "" && ev.StreamID == streamID) || (streamID == "" && ev.ReplyTo == msg.ID) {
					p.finish("")
					return api.Message{}, fmt.Errorf("AI reply failed: %s", ev.Detail)
				}
			case wsproto.TypeMessage:
				if ev.MessageType != api.MessageAIResponse || ev.Seq <= msg.Seq || ev.RoleID == nil {
					continue
				}
				want := streamRole
				if want == nil {
					want = roleID
				}
				if want != nil && *ev.RoleID != *want {
					continue
				}
				m := eventMessage(ev)
				reply = &m
				if streamID == "" {
					// No ai_start: the server does not stream.
					p.start(ev.User)
					p.finish(m.Content)
					return m, nil
				}
			case wsproto.TypeAIDone:
				if streamID != "" && ev.StreamID == streamID {
					if reply == nil {
						// The message event should have come first; fetch it.
						p.finish("")
						return api.Message{ID: ev.MessageID, RoomID: msg.RoomID, RoleID: streamRole, MessageType: api.MessageAIResponse}, nil
					}
					p.finish(reply.Content)
					return *reply, nil
				}
			}
		}
	}
}

// eventMessage converts a message event to the REST message shape.
func eventMessage(ev wsproto.Event) api.Message {
	return api.Message{ID: ev.ID, RoomID: ev.RoomID, UserID: ev.UserID, RoleID: ev.RoleID, Content: ev.Content,
		MessageType: ev.MessageType, Timestamp: ev.Timestamp, Seq: ev.Seq, User: ev.User,
		ClientID: ev.ClientID, Truncated: ev.Truncated}
}

// messageEvent converts a stored message to a message event.
func messageEvent(m api.Message) wsproto.Event {
	return wsproto.Event{Type: wsproto.TypeMessage, RoomID: m.RoomID, ID: m.ID, Seq: m.Seq, User: m.User,
		UserID: m.UserID, RoleID: m.RoleID, Content: m.Content, MessageType: m.MessageType,
		Timestamp: m.Timestamp, ClientID: m.ClientID, Truncated: m.Truncated}
}

// formatMessage renders one message as a chat line for people.
func (a *app) formatMessage(st *styles, m api.Message) string {
	ts := ""
	if !m.Timestamp.IsZero() {
		ts = st.dim.Render(a.msgTime(m.Timestamp)) + " "
	}
	body := m.Content
	if m.Truncated {
		body += st.dim.Render(" [truncated]")
	}
	var author string
	switch m.MessageType {
	case api.MessageSystem:
		return ts + st.system.Render("* "+indentRest(body, "  "))
	case api.MessageAIResponse:
		author = st.ai.Render(m.User)
	default:
		author = st.accent.Render(m.User)
	}
	return ts + author + ": " + indentRest(body, "  ")
}

// msgTime formats a message's time: RFC 3339 in UTC off a terminal (for
// scripts and logs, where a bare HH:MM is ambiguous), else the local HH:MM,
// with the date when it is not today.
func (a *app) msgTime(t time.Time) string {
	if !a.stdoutTTY {
		return t.UTC().Format(time.RFC3339)
	}
	t = t.Local()
	now := time.Now()
	if a.now != nil {
		now = a.now()
	}
	if y, m, d := t.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		return t.Format("2006-01-02 15:04")
	}
	return t.Format("15:04")
}

// indentRest indents every line of s but the first.
func indentRest(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

func newHistoryCmd(a *app) *cobra.Command {
	var o outputFlags
	var q client.MessageQuery
	cmd := &cobra.Command{
		Use:   "history ROOM",
		Short: "Print a room's messages",
		Long: `Print a page of a room's messages, oldest first: the newest --limit ones, or
those between --after and --before (message seq numbers, exclusive).`,
		Example: `  vc history general
  vc history general --limit 20 --json id,user,content
  vc history general --after 120 --jq '.[].content'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, room, err := a.clientAndRoom(ctx, args[0])
			if err != nil {
				return err
			}
			// --after 0 asks for the room's first messages.
			q.AfterSet = cmd.Flags().Changed("after")
			msgs, err := c.ListMessages(ctx, room.ID, q)
			if err != nil {
				return fmt.Errorf("history of %q: %w", room.Name, err)
			}
			if o.enabled() {
				return a.writeJSON(&o, msgs, false)
			}
			st := a.outStyles()
			var sb strings.Builder
			for _, m := range msgs {
				sb.WriteString(a.formatMessage(st, m))
				sb.WriteByte('\n')
			}
			_, err = io.WriteString(a.out, sb.String())
			return err
		},
	}
	cmd.Flags().IntVar(&q.Limit, "limit", 50, "at most `N` messages")
	cmd.Flags().Int64Var(&q.Before, "before", 0, "only messages before this `seq`")
	cmd.Flags().Int64Var(&q.After, "after", 0, "only messages after this `seq`")
	addOutputFlags(cmd, &o, []api.Message{})
	return cmd
}
