package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

func newMeetingsCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:     "meetings ROOM",
		Aliases: []string{"meeting"},
		Short:   "List a room's meetings; show one's minutes or transcript",
		Example: `  vc meetings general
  vc meetings show general 4
  vc meetings show general 4 --markdown > meeting.md`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			ms, err := c.Meetings(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("list meetings of %q: %w", r.Name, err)
			}
			return a.show(&o, ms, func() error { return a.printMeetings(r, ms) })
		}),
	}
	addOutputFlags(cmd, &o, []api.Meeting{})
	cmd.AddCommand(newMeetingsShowCmd(a))
	return cmd
}

func (a *app) printMeetings(r api.Room, ms []api.Meeting) error {
	if len(ms) == 0 && a.stdoutTTY {
		fmt.Fprintf(a.errOut, "No meetings in %s yet: start one with `vc meet %s --topic TEXT --roles ROLE,ROLE`.\n", r.Name, r.Name)
		return nil
	}
	rows := make([][]string, len(ms))
	for i, m := range ms {
		handles := make([]string, len(m.Roles))
		for k, role := range m.Roles {
			handles[k] = firstNonEmpty(role.Handle, role.Name)
		}
		rows[i] = []string{strconv.FormatInt(m.ID, 10), m.Status, oneLine(m.Topic, 40), strings.Join(handles, ","),
			fmt.Sprintf("%d/%d", m.Round, m.Rounds), a.fmtTime(m.CreatedAt)}
	}
	return a.printTable([]string{"ID", "STATUS", "TOPIC", "ROLES", "ROUND", "STARTED"}, rows)
}

func newMeetingsShowCmd(a *app) *cobra.Command {
	var o outputFlags
	var markdown bool
	cmd := &cobra.Command{
		Use:   "show ROOM ID",
		Short: "Show a meeting's minutes, or its whole transcript with --markdown",
		Example: `  vc meetings show general 4
  vc meetings show general 4 --markdown
  vc meetings show general 4 --json minutes --jq '.minutes.action_items[]'`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			id, err := parseID("the meeting", args[1])
			if err != nil {
				return err
			}
			m, err := c.Meeting(ctx, r.ID, id)
			if err != nil {
				return fmt.Errorf("meeting %d of %q: %w", id, r.Name, err)
			}
			if o.enabled() {
				return a.writeJSON(&o, m, false)
			}
			if markdown {
				msgs, err := meetingMessages(ctx, c, m)
				if err != nil {
					return err
				}
				_, err = io.WriteString(a.out, meetingMarkdown(r, m, msgs))
				return err
			}
			st := a.outStyles()
			fmt.Fprintln(a.out, st.bold.Render(fmt.Sprintf("Meeting %d in %s: %s", m.ID, r.Name, m.Topic)))
			fmt.Fprintln(a.out, st.dim.Render(meetingSummary(m)+" · "+strings.ReplaceAll(m.Status, "_", " ")+" · "+a.fmtTime(m.CreatedAt)))
			if m.Minutes == nil {
				why := "no minutes yet: the meeting is still running"
				if !m.Running() {
					why = "this meeting has no minutes (" + strings.ReplaceAll(m.Status, "_", " ") + ")"
				}
				fmt.Fprintln(a.out, st.dim.Render(why))
				return nil
			}
			_, err = io.WriteString(a.out, "\n"+minutesText(st, *m.Minutes))
			return err
		}),
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the whole transcript and the minutes as Markdown")
	addOutputFlags(cmd, &o, api.Meeting{})
	cmd.MarkFlagsMutuallyExclusive("markdown", "json")
	return cmd
}

// meetingMessages loads the meeting's messages: the room's messages after
// its start up to its end (people's messages included, they are part of
// the discussion).
func meetingMessages(ctx context.Context, c *client.Client, m api.Meeting) ([]api.Message, error) {
	const page = 200
	var out []api.Message
	after := m.StartSeq
	for {
		msgs, err := c.ListMessages(ctx, m.RoomID, client.MessageQuery{After: after, AfterSet: true, Limit: page})
		if err != nil {
			return nil, fmt.Errorf("messages of meeting %d: %w", m.ID, err)
		}
		for _, msg := range msgs {
			if m.EndSeq > 0 && msg.Seq > m.EndSeq {
				return out, nil
			}
			out = append(out, msg)
		}
		if len(msgs) < page {
			return out, nil
		}
		after = msgs[len(msgs)-1].Seq
	}
}

// meetingMarkdown is the whole meeting as Markdown: what it was, the
// transcript with authors, and the minutes.
func meetingMarkdown(r api.Room, m api.Meeting, msgs []api.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Meeting: %s\n\n", m.Topic)
	fmt.Fprintf(&b, "- Room: %s\n- %s\n- Status: %s\n- Started: %s\n", r.Name, meetingSummary(m),
		strings.ReplaceAll(m.Status, "_", " "), m.CreatedAt.UTC().Format("2006-01-02 15:04 MST"))
	if m.Detail != "" {
		fmt.Fprintf(&b, "- Detail: %s\n", m.Detail)
	}
	b.WriteString("\n## Transcript\n")
	var minutesMsg string
	for _, msg := range msgs {
		switch msg.MessageType {
		case api.MessageMeetingMinutes:
			minutesMsg = msg.Content
		case api.MessageSystem:
			fmt.Fprintf(&b, "\n_%s_\n", strings.TrimSpace(msg.Content))
		default:
			fmt.Fprintf(&b, "\n**%s**:\n\n%s\n", msg.User, strings.TrimSpace(msg.Content))
		}
	}
	switch {
	case m.Minutes != nil:
		b.WriteString("\n## Minutes\n\n" + minutesMarkdown(*m.Minutes))
	case minutesMsg != "":
		b.WriteString("\n## Minutes\n\n" + strings.TrimSpace(minutesMsg) + "\n")
	}
	return b.String()
}

// minutesMarkdown renders minutes as the four Markdown sections.
func minutesMarkdown(m api.MeetingMinutes) string {
	var b strings.Builder
	list := func(title string, items []string) {
		fmt.Fprintf(&b, "\n### %s\n\n", title)
		if len(items) == 0 {
			b.WriteString("None.\n")
		}
		for _, it := range items {
			b.WriteString("- " + it + "\n")
		}
	}
	fmt.Fprintf(&b, "### Summary\n\n%s\n", strings.TrimSpace(firstNonEmpty(m.Summary, "None.")))
	list("Decisions", m.Decisions)
	items := make([]string, len(m.ActionItems))
	for i, ai := range m.ActionItems {
		items[i] = actionItemText(ai)
	}
	list("Action items", items)
	list("Open questions", m.OpenQuestions)
	return b.String()
}
