package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// meetFlags are vc meet's flags.
type meetFlags struct {
	topic, roles, chair, mode string
	rounds                    int
	budget                    int64
}

// request checks the flags and builds the start request.
func (f *meetFlags) request() (api.StartMeetingRequest, error) {
	req := api.StartMeetingRequest{Topic: strings.TrimSpace(f.topic), Rounds: f.rounds, Mode: f.mode, TokenBudget: f.budget}
	if req.Topic == "" {
		return req, errors.New("a meeting needs a topic: --topic TEXT")
	}
	for _, r := range strings.Split(f.roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			req.Roles = append(req.Roles, api.ParseRoleRef(r))
		}
	}
	if len(req.Roles) == 0 {
		return req, errors.New("a meeting needs roles: --roles pm,cto,law (handles or ids of roles seated in the room)")
	}
	if f.rounds < api.MeetingMinRounds || f.rounds > api.MeetingMaxRounds {
		return req, fmt.Errorf("--rounds takes %d to %d, not %d", api.MeetingMinRounds, api.MeetingMaxRounds, f.rounds)
	}
	switch f.mode {
	case api.MeetingRoundRobin, api.MeetingChaired:
	default:
		return req, fmt.Errorf("--mode takes %s or %s, not %q", api.MeetingRoundRobin, api.MeetingChaired, f.mode)
	}
	if f.budget < 0 {
		return req, errors.New("--budget takes a number of tokens (0: no meeting budget)")
	}
	if c := strings.TrimSpace(f.chair); c != "" {
		ref := api.ParseRoleRef(c)
		req.Chair = &ref
	}
	return req, nil
}

func newMeetCmd(a *app) *cobra.Command {
	f := meetFlags{rounds: api.MeetingDefaultRounds, mode: api.MeetingRoundRobin}
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "meet ROOM --topic TEXT --roles ROLE,ROLE...",
		Short: "Hold a meeting of AI roles in a room and stream it",
		Long: `Start a meeting of AI roles (seated in ROOM) on a topic and stream it: each
role's reply as it is written, labelled with the role and the round; people in
the room can join in from vc chat. At the end the chair (the first role unless
--chair) writes the minutes: summary, decisions, action items and open
questions, printed last. --json prints the meeting object with its minutes.

Round robin: every role speaks once per round, in the order given. Chaired:
after each turn the chair picks who speaks next, or ends the meeting.
--budget ends the meeting (with minutes) once its turns used that many tokens.

Ctrl-C stops the meeting (vc asks first on a terminal).`,
		Example: `  vc meet general --topic "Launch plan for the beta" --roles pm,cto,law
  vc meet general --topic "Pricing" --roles pm,cfo --rounds 3 --mode chaired --chair pm
  vc meet general --topic "Hiring" --roles pm,cto --json --jq .minutes.action_items`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			_, err := f.request()
			return err
		},
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			return a.runMeeting(ctx, c, r, req, &o)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.topic, "topic", "", "what the meeting is about (`TEXT`)")
	fl.StringVar(&f.roles, "roles", "", "the roles taking part in speaking order, by handle or id (`ROLE,ROLE...`)")
	fl.IntVar(&f.rounds, "rounds", f.rounds, fmt.Sprintf("the number of rounds, `N` from %d to %d", api.MeetingMinRounds, api.MeetingMaxRounds))
	fl.StringVar(&f.chair, "chair", "", "the `ROLE` that chairs and writes the minutes (default: the first role)")
	fl.Int64Var(&f.budget, "budget", 0, "end the meeting with minutes after `TOKENS` tokens (0: no meeting budget)")
	fl.StringVar(&f.mode, "mode", f.mode, "`MODE`: round_robin, or chaired (the chair picks each next speaker)")
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions([]string{api.MeetingRoundRobin, api.MeetingChaired}, cobra.ShellCompDirectiveNoFileComp))
	addOutputFlags(cmd, &o, api.Meeting{})
	return cmd
}

// runMeeting starts the meeting and streams it until it ends. The work runs
// on a context that Ctrl-C does not cancel: Ctrl-C asks to stop the meeting
// instead (on a terminal; off one it stops it), and vc then waits for the
// end so that the minutes of a stopped meeting are still printed.
func (a *app) runMeeting(ctx context.Context, c *client.Client, room api.Room, req api.StartMeetingRequest, o *outputFlags) error {
	intr := make(chan os.Signal, 2)
	signal.Notify(intr, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(intr)
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	stop := a.spin("Connecting")
	s, err := c.OpenStream(wctx, room.ID, client.StreamOptions{})
	stop()
	if err != nil {
		return fmt.Errorf("open the stream of %q: %w", room.Name, err)
	}
	defer s.Close()
	m, err := c.StartMeeting(wctx, room.ID, req)
	if err != nil {
		return fmt.Errorf("start a meeting in %q: %w", room.Name, err)
	}
	p := newMeetingPrinter(a, m, !o.enabled())
	p.header(room)
	stoppedByUs := false
	var asked chan bool
	var held []wsproto.Event // events that came while vc asked whether to stop
	waiting := a.spin("Waiting for the first turn")
	p.onOutput = waiting
	defer waiting()
	for ended := false; !ended; {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return fmt.Errorf("the stream of %q closed before the meeting ended", room.Name)
			}
			if asked != nil {
				held = append(held, ev)
				continue
			}
			ended = p.event(ev)
		case st := <-s.Status():
			if st.State == client.StateGaveUp {
				return fmt.Errorf("lost the stream of %q: %v (the meeting goes on: vc meetings show %s %d)", room.Name, st.Err, room.Name, m.ID)
			}
		case sig := <-intr:
			if stoppedByUs || asked != nil {
				continue
			}
			if sig == syscall.SIGTERM || !a.stdinTTY {
				stoppedByUs = true
				if err := a.stopMeeting(wctx, c, m); err != nil {
					return err
				}
				continue
			}
			// The transcript waits (its events are held) while vc asks.
			p.endTurn()
			asked = make(chan bool, 1)
			go func(ch chan<- bool) { ch <- a.confirm(wctx, "Stop the meeting?", "") == nil }(asked)
		case yes := <-asked:
			asked = nil
			if yes {
				stoppedByUs = true
				if err := a.stopMeeting(wctx, c, m); err != nil {
					return err
				}
			}
			for len(held) > 0 && !ended {
				ended = p.event(held[0])
				held = held[1:]
			}
		}
	}
	p.endTurn()
	final, err := c.Meeting(wctx, room.ID, m.ID)
	if err != nil {
		return fmt.Errorf("read meeting %d: %w", m.ID, err)
	}
	if o.enabled() {
		if err := a.writeJSON(o, final, false); err != nil {
			return err
		}
	} else {
		p.footer(final)
	}
	switch {
	case final.Status == api.MeetingFailed:
		return fmt.Errorf("the meeting failed: %s", firstNonEmpty(final.Detail, "see the room for what went wrong"))
	case stoppedByUs:
		return &silentError{code: exitCancelled}
	}
	return nil
}

// stopMeeting stops m on the server; the stream then brings its end.
func (a *app) stopMeeting(ctx context.Context, c *client.Client, m api.Meeting) error {
	fmt.Fprintln(a.errOut, a.errStyles().dim.Render("stopping the meeting…"))
	if _, err := c.StopMeeting(ctx, m.RoomID, m.ID); err != nil {
		return fmt.Errorf("stop meeting %d: %w", m.ID, err)
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// meetingPrinter prints a meeting's events as a transcript: a label per
// turn (role and round), the reply as it streams, people's messages, and
// the minutes at the end. Disabled (for --json) it only follows the events.
type meetingPrinter struct {
	a       *app
	w       io.Writer
	st      *styles
	enabled bool
	m       api.Meeting
	names   map[int64]string // role id -> name

	round   int
	turn    *int64          // the role of the turn announced and not started
	streams map[string]bool // meeting reply streams: true when printed (false: the minutes)
	printed bool            // the current turn printed a delta
	midLine bool
	// onOutput is called before anything is printed (it stops the spinner).
	onOutput func()
}

func newMeetingPrinter(a *app, m api.Meeting, enabled bool) *meetingPrinter {
	p := &meetingPrinter{a: a, w: a.out, st: a.outStyles(), enabled: enabled, m: m,
		names: map[int64]string{}, streams: map[string]bool{}}
	for _, r := range m.Roles {
		p.names[r.ID] = r.Name
	}
	return p
}

func (p *meetingPrinter) out(s string) {
	if !p.enabled || s == "" {
		return
	}
	if p.onOutput != nil {
		p.onOutput()
	}
	io.WriteString(p.w, s)
	p.midLine = !strings.HasSuffix(s, "\n")
}

// header says what meeting started.
func (p *meetingPrinter) header(room api.Room) {
	p.out(p.st.bold.Render(fmt.Sprintf("Meeting %d in %s: %s", p.m.ID, room.Name, p.m.Topic)) + "\n" +
		p.st.dim.Render(meetingSummary(p.m)) + "\n")
}

// meetingSummary is "round robin · 2 rounds · PM, CTO (chair PM)".
func meetingSummary(m api.Meeting) string {
	names := make([]string, len(m.Roles))
	chair := ""
	for i, r := range m.Roles {
		names[i] = r.Name
		if r.ID == m.Chair {
			chair = r.Name
		}
	}
	s := strings.ReplaceAll(m.Mode, "_", " ") + " · " + strconv.Itoa(m.Rounds) + " round" + plural(m.Rounds) + " · " + strings.Join(names, ", ")
	if chair != "" {
		s += " (chair " + chair + ")"
	}
	if m.TokenBudget > 0 {
		s += " · budget " + strconv.FormatInt(m.TokenBudget, 10) + " tokens"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// endTurn ends the line of a reply printed inline.
func (p *meetingPrinter) endTurn() {
	if p.midLine {
		p.out("\n")
	}
}

// label starts a block: a blank line, then the label.
func (p *meetingPrinter) label(s string) {
	p.endTurn()
	p.out("\n" + s + "\n")
}

// event handles one room event; it reports the end of the meeting.
func (p *meetingPrinter) event(ev wsproto.Event) (ended bool) {
	mine := ev.MeetingID == p.m.ID
	switch ev.Type {
	case wsproto.TypeMeetingTurn:
		if mine {
			p.round = ev.Round
			p.turn = ev.RoleID
		}
	case wsproto.TypeAIStart:
		if !mine {
			return false
		}
		// A turn's reply follows its meeting_turn; the reply without one is
		// the minutes, printed from the meeting object at the end.
		turn := p.turn != nil
		p.streams[ev.StreamID] = turn
		if turn {
			name := firstNonEmpty(ev.Role, p.names[*p.turn])
			p.turn = nil
			p.printed = false
			p.label(p.st.ai.Render(name) + p.st.dim.Render(fmt.Sprintf(" · round %d", p.round)))
		}
	case wsproto.TypeAIDelta:
		if p.streams[ev.StreamID] {
			p.printed = true
			p.out(ev.Delta)
		}
	case wsproto.TypeMessage:
		switch {
		case ev.MessageType == api.MessageMeetingMinutes:
		case ev.MessageType == api.MessageAIResponse && mine:
			if !p.printed {
				// A reply that did not stream (or began before we listened).
				name := p.names[derefID(ev.RoleID)]
				p.label(p.st.ai.Render(firstNonEmpty(name, ev.User)) + p.st.dim.Render(fmt.Sprintf(" · round %d", p.round)))
				p.out(ev.Content)
			}
			p.printed, p.turn = false, nil // the turn is over, streamed or not
			p.endTurn()
		case ev.MessageType == api.MessageSystem:
			p.label(p.st.system.Render("⚙ " + ev.Content))
		case ev.MessageType == api.MessageText || ev.MessageType == "":
			// People take part: their messages are part of the meeting.
			p.label(p.st.bold.Render(ev.User) + "\n" + ev.Content)
		}
	case wsproto.TypeMeetingEnd:
		return mine
	}
	return false
}

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// footer prints how the meeting ended and its minutes.
func (p *meetingPrinter) footer(m api.Meeting) {
	p.endTurn()
	status := "ended: " + strings.ReplaceAll(m.Status, "_", " ")
	if m.Detail != "" {
		status += " (" + m.Detail + ")"
	}
	status += fmt.Sprintf(" · %d turn%s", m.Turns, plural(m.Turns))
	if m.TokensUsed > 0 {
		status += fmt.Sprintf(" · %d tokens", m.TokensUsed)
	}
	p.out("\n" + p.st.dim.Render("Meeting "+status) + "\n")
	if m.Minutes != nil {
		p.out("\n" + minutesText(p.st, *m.Minutes))
	}
}

// minutesText renders minutes for the terminal: the four sections, "none"
// where a section is empty.
func minutesText(st *styles, m api.MeetingMinutes) string {
	var b strings.Builder
	b.WriteString(st.header.Render("Minutes") + "\n")
	section := func(title string, items []string) {
		b.WriteString(st.bold.Render(title) + "\n")
		if len(items) == 0 {
			b.WriteString("  " + st.dim.Render("none") + "\n")
		}
		for _, it := range items {
			b.WriteString("  • " + it + "\n")
		}
	}
	b.WriteString(st.bold.Render("Summary") + "\n")
	b.WriteString(indent(strings.TrimSpace(firstNonEmpty(m.Summary, "(none)")), "  ") + "\n")
	section("Decisions", m.Decisions)
	items := make([]string, len(m.ActionItems))
	for i, ai := range m.ActionItems {
		items[i] = actionItemText(ai)
	}
	section("Action items", items)
	section("Open questions", m.OpenQuestions)
	return b.String()
}

// actionItemText is "owner: task (due when)".
func actionItemText(ai api.ActionItem) string {
	s := ai.Task
	if ai.Owner != "" {
		s = ai.Owner + ": " + s
	}
	if ai.Due != "" {
		s += " (due " + ai.Due + ")"
	}
	return s
}
