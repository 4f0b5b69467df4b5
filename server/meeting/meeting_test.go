package meeting_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/server/store"
)

// script answers a meeting's provider calls: turns by speaker, the chair's
// decisions in order, and the minutes. It records the speakers and prompts
// of the turns in the order the provider saw them.
type script struct {
	mu        sync.Mutex
	turns     []string         // handles, in request order
	prompts   []aitest.Request // the turn requests
	decisions []string         // JSON answers to next_speaker, in order
	decided   int
	minutes   int
	// turn programs a turn's answer (default: a short text naming the speaker).
	turn func(handle string, n int, r aitest.Request) aitest.Response
}

var speakerRE = regexp.MustCompile(`You are [^\n]*? \(@([a-z0-9_-]+)\), in a meeting`)

const minutesJSON = `{"summary":"We agreed to ship the beta on Friday.","decisions":["Ship the beta on Friday"],` +
	`"action_items":[{"owner":"CTO","task":"Freeze the API","due":"Thursday"}],"open_questions":["Which price tier?"]}`

func (s *script) handle(r aitest.Request) aitest.Response {
	s.mu.Lock()
	switch r.Tool {
	case "next_speaker":
		ans := `{"done":false,"next":"nobody","reason":"malformed by default"}`
		if s.decided < len(s.decisions) {
			ans = s.decisions[s.decided]
		}
		s.decided++
		s.mu.Unlock()
		return aitest.Response{JSON: ans}
	case "meeting_minutes":
		s.minutes++
		s.mu.Unlock()
		return aitest.Response{JSON: minutesJSON}
	}
	h := "?"
	if m := speakerRE.FindStringSubmatch(r.System); m != nil {
		h = m[1]
	}
	n := len(s.turns)
	s.turns = append(s.turns, h)
	s.prompts = append(s.prompts, r)
	turn := s.turn
	s.mu.Unlock()
	if turn != nil {
		return turn(h, n, r)
	}
	return aitest.Response{Text: fmt.Sprintf("%s speaking in turn %d.", h, n+1)}
}

func (s *script) speakers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.turns...)
}

func (s *script) prompt(i int) aitest.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prompts[i]
}

// env is a real vcd wired to fake providers: alice (room creator, with keys
// and three roles seated) and bob in a room.
type env struct {
	d          *servertest.Daemon
	oa, an     *aitest.Server
	sc         *script
	alice, bob *client.Client
	room       api.Room
	roles      map[string]api.Role // by handle
}

func startEnv(t testing.TB, provider string, mutate func(*config.Config), opts ...servertest.Option) *env {
	t.Helper()
	e := &env{oa: aitest.New(t, aitest.OpenAI), an: aitest.New(t, aitest.Anthropic), sc: &script{}, roles: map[string]api.Role{}}
	e.oa.SetHandler(e.sc.handle)
	e.an.SetHandler(e.sc.handle)
	opts = append(opts, servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = e.oa.URL
		c.LLM.Anthropic.BaseURL = e.an.URL
		c.LLM.AllowServerKey = false
		c.LLM.MaxRetries = 0
		if mutate != nil {
			mutate(c)
		}
	}))
	e.d = servertest.Start(t, opts...)
	ctx := context.Background()
	a, b := e.d.Register("alice"), e.d.Register("bob")
	var err error
	e.alice, err = client.New(e.d.URL, client.WithToken(a.Token))
	require.NoError(t, err)
	e.bob, err = client.New(e.d.URL, client.WithToken(b.Token))
	require.NoError(t, err)
	for _, p := range []string{"openai", "anthropic"} {
		_, err = e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: p, APIKey: "sk-alice-" + p + "-1234"})
		require.NoError(t, err)
	}
	e.room = e.newRoom(t, "Launch")
	model := "openai/gpt-4o-mini"
	if provider == "anthropic" {
		model = "anthropic/claude-sonnet-4-5"
	}
	for _, r := range []struct{ name, handle, instr string }{
		{"PM", "pm", "You are a pragmatic product manager."},
		{"CTO", "cto", "You are a careful CTO."},
		{"Lawyer", "law", "You are the company's lawyer."},
	} {
		role, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: r.name, Handle: r.handle, AIInstructions: r.instr, Model: model})
		require.NoError(t, err)
		e.roles[r.handle] = role
		_, err = e.alice.SeatRole(ctx, e.room.ID, role.ID)
		require.NoError(t, err)
	}
	return e
}

func (e *env) newRoom(t testing.TB, name string) api.Room {
	t.Helper()
	ctx := context.Background()
	room, err := e.alice.CreateRoom(ctx, name)
	require.NoError(t, err)
	_, err = e.alice.AddMember(ctx, room.ID, "bob")
	require.NoError(t, err)
	return room
}

// watcher collects a member's stream events of one room.
type watcher struct {
	t      testing.TB
	s      *client.Stream
	events []wsproto.Event
}

func watch(t testing.TB, c *client.Client, roomID int64) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := c.OpenStream(ctx, roomID, client.StreamOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return &watcher{t: t, s: s}
}

// until reads events until pred holds over all events so far.
func (w *watcher) until(what string, pred func([]wsproto.Event) bool) []wsproto.Event {
	w.t.Helper()
	deadline := time.After(30 * time.Second)
	for !pred(w.events) {
		select {
		case ev, ok := <-w.s.Events():
			if !ok {
				w.t.Fatalf("stream closed while waiting for %s; events: %s", what, describe(w.events))
			}
			w.events = append(w.events, ev)
		case <-deadline:
			w.t.Fatalf("timed out waiting for %s; events: %s", what, describe(w.events))
		}
	}
	return w.events
}

func (w *watcher) close() { _ = w.s.Close() }

func (w *watcher) ended() []wsproto.Event {
	return w.until("meeting_end", func(evs []wsproto.Event) bool { return len(ofType(evs, wsproto.TypeMeetingEnd)) > 0 })
}

func describe(evs []wsproto.Event) string {
	var parts []string
	for _, ev := range evs {
		s := ev.Type
		if ev.MeetingID != 0 {
			s += fmt.Sprintf("[m%d]", ev.MeetingID)
		}
		if ev.Status != "" {
			s += "(" + ev.Status + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func ofType(evs []wsproto.Event, typ string) []wsproto.Event {
	var out []wsproto.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// turnOrder is the handles of the meeting_turn events, with their rounds.
func (e *env) turnOrder(evs []wsproto.Event) (handles []string, rounds []int) {
	byID := map[int64]string{}
	for h, r := range e.roles {
		byID[r.ID] = h
	}
	for _, ev := range ofType(evs, wsproto.TypeMeetingTurn) {
		handles = append(handles, byID[*ev.RoleID])
		rounds = append(rounds, ev.Round)
	}
	return handles, rounds
}

func (e *env) start(t testing.TB, c *client.Client, req api.StartMeetingRequest) api.Meeting {
	t.Helper()
	m, err := c.StartMeeting(context.Background(), e.room.ID, req)
	require.NoError(t, err)
	require.Equal(t, api.MeetingRunning, m.Status)
	return m
}

func refs(handles ...string) []api.RoleRef {
	out := make([]api.RoleRef, len(handles))
	for i, h := range handles {
		out[i] = api.RoleByHandle(h)
	}
	return out
}

func status(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.StatusCode
	}
	return 0
}

// TestMeeting_RoundRobinOrderAndMinutes runs a 3-role, 2-round meeting on
// each provider's wire format: every role speaks once per round in order,
// each turn is an ordinary reply carrying meeting_id that sees the earlier
// turns by name, and the chair's minutes end it (Markdown message and
// structured minutes).
func TestMeeting_RoundRobinOrderAndMinutes(t *testing.T) {
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			e := startEnv(t, provider, nil)
			ctx := context.Background()
			w, wb := watch(t, e.alice, e.room.ID), watch(t, e.bob, e.room.ID)
			m := e.start(t, e.bob, api.StartMeetingRequest{Topic: "Ship the beta?", Roles: []api.RoleRef{
				api.RoleByHandle("@pm"), api.RoleByID(e.roles["cto"].ID), api.RoleByHandle("law")}})
			require.Equal(t, 2, m.Rounds, "default rounds")
			require.Equal(t, api.MeetingRoundRobin, m.Mode)
			require.Equal(t, e.roles["pm"].ID, m.Chair, "the chair defaults to the first role")
			require.Len(t, m.Roles, 3)
			require.Equal(t, "cto", m.Roles[1].Handle)

			evs := w.ended()
			handles, rounds := e.turnOrder(evs)
			require.Equal(t, []string{"pm", "cto", "law", "pm", "cto", "law"}, handles)
			require.Equal(t, []int{1, 1, 1, 2, 2, 2}, rounds)
			require.Equal(t, handles, e.sc.speakers(), "the provider saw the turns in the same order")
			start := ofType(evs, wsproto.TypeMeetingStart)
			require.Len(t, start, 1)
			require.Equal(t, m.ID, start[0].MeetingID)
			require.Equal(t, "Ship the beta?", start[0].Topic)
			for _, typ := range []string{wsproto.TypeAIStart, wsproto.TypeAIDone} {
				got := ofType(evs, typ)
				require.Len(t, got, 6, typ)
				for _, ev := range got {
					require.Equal(t, m.ID, ev.MeetingID, "%s carries meeting_id", typ)
				}
			}
			for _, ev := range ofType(evs, wsproto.TypeAIDelta) {
				require.Equal(t, m.ID, ev.MeetingID)
			}
			var minutes *wsproto.Event
			replies := 0
			for _, ev := range ofType(evs, wsproto.TypeMessage) {
				require.Equal(t, m.ID, ev.MeetingID, "meeting messages carry meeting_id")
				switch ev.MessageType {
				case api.MessageAIResponse:
					replies++
				case api.MessageMeetingMinutes:
					minutes = &ev
				}
			}
			require.Equal(t, 6, replies)
			require.NotNil(t, minutes, "the minutes message")
			require.Equal(t, e.roles["pm"].ID, *minutes.RoleID, "the chair writes the minutes")
			for _, section := range []string{"## Summary", "## Decisions", "## Action items", "## Open questions", "Ship the beta on Friday", "**CTO**: Freeze the API (due: Thursday)"} {
				require.Contains(t, minutes.Content, section)
			}
			end := ofType(evs, wsproto.TypeMeetingEnd)[0]
			require.Equal(t, api.MeetingDone, end.Status)
			require.Equal(t, minutes.ID, end.MessageID)
			wb.ended() // every socket gets the meeting's events

			// The second turn (CTO) sees the PM's words by name; the PM's
			// second turn sees its own first words as its own.
			p := e.sc.prompt(1)
			require.Contains(t, p.System, "You are a careful CTO.")
			require.Contains(t, p.System, "Topic: Ship the beta?")
			require.Contains(t, p.System, "PM (@pm)")
			require.Contains(t, allText(p), "PM: pm speaking in turn 1.")
			p = e.sc.prompt(3)
			require.Contains(t, p.System, "round 2 of 2")
			require.True(t, hasTurn(p, "assistant", "pm speaking in turn 1."), "own words are assistant turns: %+v", p.Messages)

			got, err := e.alice.Meeting(ctx, e.room.ID, m.ID)
			require.NoError(t, err)
			require.Equal(t, api.MeetingDone, got.Status)
			require.Equal(t, 6, got.Turns)
			require.Equal(t, 2, got.Round)
			require.False(t, got.EndedAt.IsZero())
			require.NotNil(t, got.Minutes)
			require.Equal(t, "We agreed to ship the beta on Friday.", got.Minutes.Summary)
			require.Equal(t, []api.ActionItem{{Owner: "CTO", Task: "Freeze the API", Due: "Thursday"}}, got.Minutes.ActionItems)
			require.Equal(t, []string{"Which price tier?"}, got.Minutes.OpenQuestions)
			require.Equal(t, minutes.ID, got.MinutesMessageID)
			require.Positive(t, got.TokensUsed)
			require.GreaterOrEqual(t, got.EndSeq, minutes.Seq)
			// The turns' tokens were booked to the starter (bob).
			usage, err := e.bob.Usage(ctx)
			require.NoError(t, err)
			require.Positive(t, usage.UsedToday)
		})
	}
}

func allText(r aitest.Request) string {
	var sb strings.Builder
	for _, m := range r.Messages {
		sb.WriteString(m.Content)
		sb.WriteString("\n")
	}
	return sb.String()
}

func hasTurn(r aitest.Request, role, text string) bool {
	for _, m := range r.Messages {
		if m.Role == role && strings.Contains(m.Content, text) {
			return true
		}
	}
	return false
}

// TestMeeting_Validation checks the endpoints' status codes: 422 with the
// field, 409 for a second running meeting, 403 for a stop by someone else,
// 404 outside the room, and the list newest first.
func TestMeeting_Validation(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := startEnv(t, "openai", nil, opts...)
		ctx := context.Background()
		release := make(chan struct{})
		e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
			<-release // the meeting stays running until the test lets it go
			return aitest.Response{Text: "ok."}
		}
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		for _, c := range []struct {
			req   api.StartMeetingRequest
			field string
		}{
			{api.StartMeetingRequest{Roles: refs("pm")}, "topic"},
			{api.StartMeetingRequest{Topic: "t"}, "roles"},
			{api.StartMeetingRequest{Topic: "t", Roles: refs("nobody")}, "roles"},
			{api.StartMeetingRequest{Topic: "t", Roles: refs("pm", "pm")}, "roles"},
			{api.StartMeetingRequest{Topic: "t", Roles: []api.RoleRef{api.RoleByID(999999)}}, "roles"},
			{api.StartMeetingRequest{Topic: "t", Roles: refs("pm"), Rounds: 11}, "rounds"},
			{api.StartMeetingRequest{Topic: "t", Roles: refs("pm"), Rounds: -1}, "rounds"},
			{api.StartMeetingRequest{Topic: "t", Roles: refs("pm"), Mode: "anarchy"}, "mode"},
			{api.StartMeetingRequest{Topic: "t", Roles: refs("pm", "cto"), Chair: &api.RoleRef{Handle: "law"}}, "chair"},
			{api.StartMeetingRequest{Topic: "t", Roles: refs("pm"), TokenBudget: -5}, "token_budget"},
		} {
			_, err := e.alice.StartMeeting(ctx, e.room.ID, c.req)
			var ce *client.Error
			require.True(t, errors.As(err, &ce), "%+v: %v", c.req, err)
			require.Equal(t, http.StatusUnprocessableEntity, ce.StatusCode, "%+v", c.req)
			require.Equal(t, c.field, ce.Field, "%+v: %s", c.req, ce.Detail)
			require.NotEmpty(t, ce.Detail)
		}
		code, body := e.d.Do("POST", fmt.Sprintf("/api/rooms/%d/meetings", e.room.ID), e.alice.Token(), map[string]any{"topic": "t", "roles": []any{true}})
		require.Equal(t, http.StatusBadRequest, code, "%s", body)

		w := watch(t, e.alice, e.room.ID)
		first := e.start(t, e.alice, api.StartMeetingRequest{Topic: "first", Roles: refs("pm", "cto"), Rounds: 1})
		_, err := e.bob.StartMeeting(ctx, e.room.ID, api.StartMeetingRequest{Topic: "second", Roles: refs("law")})
		require.Equal(t, http.StatusConflict, status(err), "one running meeting per room: %v", err)

		// A stranger sees nothing; bob (not the starter, not the creator)
		// may not stop alice's meeting.
		carol, err := client.New(e.d.URL, client.WithToken(e.d.Register("carol").Token))
		require.NoError(t, err)
		_, err = carol.Meeting(ctx, e.room.ID, first.ID)
		require.Equal(t, http.StatusNotFound, status(err))
		_, err = carol.Meetings(ctx, e.room.ID)
		require.Equal(t, http.StatusNotFound, status(err))
		_, err = e.bob.StopMeeting(ctx, e.room.ID, first.ID)
		require.Equal(t, http.StatusForbidden, status(err))
		other := e.newRoom(t, "Other")
		_, err = e.alice.Meeting(ctx, other.ID, first.ID)
		require.Equal(t, http.StatusNotFound, status(err), "a meeting is found only in its room")

		got, err := e.bob.Meeting(ctx, e.room.ID, first.ID)
		require.NoError(t, err)
		require.Equal(t, api.MeetingRunning, got.Status)
		close(release)
		w.ended()

		// Bob starts one now; as the starter he may stop it, and alice
		// (the room's creator) too.
		e.sc.mu.Lock()
		e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
			return aitest.Response{TokenCount: 5000, TokenDelay: 5 * time.Millisecond}
		}
		e.sc.mu.Unlock()
		second := e.start(t, e.bob, api.StartMeetingRequest{Topic: "second", Roles: refs("law"), Rounds: 1, Mode: api.MeetingChaired})
		stopped, err := e.alice.StopMeeting(ctx, e.room.ID, second.ID)
		require.NoError(t, err)
		require.Equal(t, api.MeetingStopped, stopped.Status)
		again, err := e.bob.StopMeeting(ctx, e.room.ID, second.ID)
		require.NoError(t, err, "stopping an ended meeting answers it unchanged")
		require.Equal(t, api.MeetingStopped, again.Status)

		list, err := e.bob.Meetings(ctx, e.room.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, second.ID, list[0].ID, "newest first")
		require.Equal(t, api.MeetingDone, list[1].Status)
	})
}

// TestMeeting_ChairedOrderFromDecisions lets the chair pick the speakers
// (tool use on Anthropic, a json_schema response on OpenAI) and end the
// meeting before its last possible turn.
func TestMeeting_ChairedOrderFromDecisions(t *testing.T) {
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			e := startEnv(t, provider, nil)
			e.sc.decisions = []string{
				`{"done":false,"next":"law","reason":"legal first"}`,
				`{"done":false,"next":"cto","reason":"then tech"}`,
				`{"done":true,"next":"","reason":"we agree"}`,
			}
			w := watch(t, e.alice, e.room.ID)
			m := e.start(t, e.alice, api.StartMeetingRequest{Topic: "GDPR", Roles: refs("cto", "pm", "law"), Mode: api.MeetingChaired,
				Chair: &api.RoleRef{Handle: "pm"}, Rounds: 3})
			require.Equal(t, e.roles["pm"].ID, m.Chair)
			evs := w.ended()
			handles, _ := e.turnOrder(evs)
			require.Equal(t, []string{"pm", "law", "cto"}, handles, "the chair opens, then its choices")
			end := ofType(evs, wsproto.TypeMeetingEnd)[0]
			require.Equal(t, api.MeetingDone, end.Status)
			require.NotZero(t, end.MessageID, "minutes")
			for _, r := range append(e.oa.Received(), e.an.Received()...) {
				if r.Tool == "next_speaker" {
					require.Contains(t, string(r.Schema), `"enum"`)
					require.Contains(t, r.System, "you chair a meeting")
				}
			}
		})
	}
}

// TestMeeting_MalformedDecisionFallsBack: a decision naming nobody (or not
// JSON) falls back to round robin for that turn; the meeting never takes
// more than rounds x roles turns.
func TestMeeting_MalformedDecisionFallsBack(t *testing.T) {
	e := startEnv(t, "openai", nil)
	e.sc.decisions = []string{`not json at all`, `{"done":false,"next":"ghost","reason":"?"}`}
	w := watch(t, e.alice, e.room.ID)
	e.start(t, e.alice, api.StartMeetingRequest{Topic: "Budget", Roles: refs("pm", "cto", "law"), Mode: api.MeetingChaired,
		Chair: &api.RoleRef{Handle: "cto"}, Rounds: 1})
	evs := w.ended()
	handles, _ := e.turnOrder(evs)
	require.Equal(t, []string{"cto", "law", "pm"}, handles, "round robin after the chair")
	require.Equal(t, api.MeetingDone, ofType(evs, wsproto.TypeMeetingEnd)[0].Status)
}

// gate holds the turn of one speaker until released.
type gate struct {
	arrived chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{arrived: make(chan struct{}, 1), release: make(chan struct{})} }

func (g *gate) hold(r aitest.Request) {
	g.arrived <- struct{}{}
	<-g.release
}

func (g *gate) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the held turn never reached the provider")
	}
}

// TestMeeting_PeopleTakePart: a person's message during a turn reaches the
// next turn's prompt, and an @handle of a meeting role gives it the next
// turn (and no ordinary reply).
func TestMeeting_PeopleTakePart(t *testing.T) {
	e := startEnv(t, "openai", nil)
	ctx := context.Background()
	g := newGate()
	e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
		if n == 0 {
			g.hold(r)
		}
		return aitest.Response{Text: h + " has spoken."}
	}
	w := watch(t, e.alice, e.room.ID)
	e.start(t, e.alice, api.StartMeetingRequest{Topic: "Launch in the EU", Roles: refs("pm", "cto", "law"), Rounds: 1})
	g.waitArrived(t)
	_, err := e.bob.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "Mind the fines, they are steep."})
	require.NoError(t, err)
	_, err = e.bob.SendMessage(ctx, e.room.ID, api.CreateMessageRequest{Content: "@law what does GDPR say?"})
	require.NoError(t, err)
	close(g.release)
	evs := w.ended()
	handles, _ := e.turnOrder(evs)
	require.Equal(t, []string{"pm", "law", "cto"}, handles, "@law took the floor; the round robin goes on")
	p := e.sc.prompt(1)
	require.Contains(t, allText(p), "bob: Mind the fines, they are steep.")
	require.Contains(t, allText(p), "bob: @law what does GDPR say?")
	for _, ev := range ofType(evs, wsproto.TypeAIStart) {
		require.NotZero(t, ev.MeetingID, "no ordinary reply to the @law message during the meeting")
	}
	require.Len(t, e.sc.speakers(), 3)
}

// TestMeeting_StopMidTurn ends a meeting in the middle of a turn, by the
// stop endpoint and by ai_cancel of the turn: the text so far is kept,
// meeting_end says stopped, no minutes, no further turn.
func TestMeeting_StopMidTurn(t *testing.T) {
	for _, how := range []string{"endpoint", "ai_cancel"} {
		t.Run(how, func(t *testing.T) {
			e := startEnv(t, "openai", nil)
			ctx := context.Background()
			e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
				return aitest.Response{TokenCount: 2000, TokenDelay: 5 * time.Millisecond}
			}
			w := watch(t, e.alice, e.room.ID)
			m := e.start(t, e.alice, api.StartMeetingRequest{Topic: "Stop me", Roles: refs("pm", "cto")})
			evs := w.until("deltas", func(evs []wsproto.Event) bool { return len(ofType(evs, wsproto.TypeAIDelta)) >= 3 })
			if how == "endpoint" {
				got, err := e.alice.StopMeeting(ctx, e.room.ID, m.ID)
				require.NoError(t, err)
				require.Equal(t, api.MeetingStopped, got.Status)
			} else {
				sid := ofType(evs, wsproto.TypeAIStart)[0].StreamID
				wb := watch(t, e.bob, e.room.ID)
				require.NoError(t, wb.s.CancelAI(ctx, sid))
			}
			evs = w.ended()
			end := ofType(evs, wsproto.TypeMeetingEnd)[0]
			require.Equal(t, api.MeetingStopped, end.Status)
			require.Zero(t, end.MessageID, "no minutes")
			var partial *wsproto.Event
			for _, ev := range ofType(evs, wsproto.TypeMessage) {
				require.NotEqual(t, api.MessageMeetingMinutes, ev.MessageType)
				if ev.MessageType == api.MessageAIResponse {
					partial = &ev
				}
			}
			require.NotNil(t, partial, "the text so far is kept")
			require.True(t, partial.Truncated)
			require.Equal(t, m.ID, partial.MeetingID)
			require.Equal(t, []string{"pm"}, e.sc.speakers(), "no turn after the stop")
			got, err := e.bob.Meeting(ctx, e.room.ID, m.ID)
			require.NoError(t, err)
			require.Equal(t, api.MeetingStopped, got.Status)
			require.Nil(t, got.Minutes)
			require.Equal(t, 0, e.sc.minutes)
		})
	}
}

// TestMeeting_TokenBudgetEndsWithMinutes: reaching token_budget ends the
// meeting as budget_exhausted, with minutes.
func TestMeeting_TokenBudgetEndsWithMinutes(t *testing.T) {
	e := startEnv(t, "anthropic", nil)
	e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
		return aitest.Response{TokenCount: 40, InputTokens: 100}
	}
	w := watch(t, e.alice, e.room.ID)
	m := e.start(t, e.alice, api.StartMeetingRequest{Topic: "Cheap", Roles: refs("pm", "cto", "law"), Rounds: 3, TokenBudget: 250})
	evs := w.ended()
	end := ofType(evs, wsproto.TypeMeetingEnd)[0]
	require.Equal(t, api.MeetingBudgetExhausted, end.Status)
	require.NotZero(t, end.MessageID, "minutes even when the budget ends it")
	require.Len(t, e.sc.speakers(), 2, "140 tokens per turn: the budget of 250 is reached after two")
	got, err := e.alice.Meeting(context.Background(), e.room.ID, m.ID)
	require.NoError(t, err)
	require.Equal(t, api.MeetingBudgetExhausted, got.Status)
	require.NotNil(t, got.Minutes)
	require.GreaterOrEqual(t, got.TokensUsed, int64(250))
}

// TestMeeting_ProviderFailure: a failed turn skips its role with a system
// message; three failures in a row end the meeting as failed.
func TestMeeting_ProviderFailure(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		e := startEnv(t, "openai", nil)
		e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
			if h == "cto" {
				return aitest.Response{Status: 500, ErrorMessage: "boom"}
			}
			return aitest.Response{Text: h + " speaks."}
		}
		w := watch(t, e.alice, e.room.ID)
		e.start(t, e.alice, api.StartMeetingRequest{Topic: "Flaky", Roles: refs("pm", "cto", "law"), Rounds: 2})
		evs := w.ended()
		handles, _ := e.turnOrder(evs)
		require.Equal(t, []string{"pm", "cto", "law", "pm", "cto", "law"}, handles)
		require.Equal(t, api.MeetingDone, ofType(evs, wsproto.TypeMeetingEnd)[0].Status)
		notices := 0
		for _, ev := range ofType(evs, wsproto.TypeMessage) {
			if ev.MessageType == api.MessageSystem && strings.HasPrefix(ev.Content, "CTO could not answer") {
				notices++
			}
		}
		require.Equal(t, 2, notices, "a system message for each skipped turn")
		require.Len(t, ofType(evs, wsproto.TypeAIError), 2)
	})
	t.Run("three in a row", func(t *testing.T) {
		e := startEnv(t, "openai", nil)
		e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
			return aitest.Response{Status: 503, ErrorMessage: "down"}
		}
		w := watch(t, e.alice, e.room.ID)
		m := e.start(t, e.alice, api.StartMeetingRequest{Topic: "Down", Roles: refs("pm", "cto"), Rounds: 5})
		evs := w.ended()
		require.Equal(t, api.MeetingFailed, ofType(evs, wsproto.TypeMeetingEnd)[0].Status)
		require.Len(t, e.sc.speakers(), 3)
		got, err := e.alice.Meeting(context.Background(), e.room.ID, m.ID)
		require.NoError(t, err)
		require.Contains(t, got.Detail, "3 turns in a row failed")
		require.Nil(t, got.Minutes)
	})
}

// TestMeeting_RestartContinuesAtNextTurn stops vcd in the middle of the
// second turn: the restarted vcd takes the meeting over and goes on with
// the third turn; every turn reaches the provider exactly once.
func TestMeeting_RestartContinuesAtNextTurn(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := startEnv(t, "openai", nil, opts...)
		ctx := context.Background()
		g := newGate()
		e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
			if n == 1 {
				g.arrived <- struct{}{}
				// Stream slowly until the daemon goes away.
				return aitest.Response{TokenCount: 100000, TokenDelay: 2 * time.Millisecond}
			}
			return aitest.Response{Text: h + " in turn " + fmt.Sprint(n+1) + "."}
		}
		w := watch(t, e.alice, e.room.ID)
		m := e.start(t, e.alice, api.StartMeetingRequest{Topic: "Survive a restart", Roles: refs("pm", "cto", "law"), Rounds: 2})
		g.waitArrived(t)
		w.until("the second turn's first words", func(evs []wsproto.Event) bool {
			starts := ofType(evs, wsproto.TypeAIStart)
			if len(starts) < 2 {
				return false
			}
			n := 0
			for _, ev := range ofType(evs, wsproto.TypeAIDelta) {
				if ev.StreamID == starts[1].StreamID {
					n++
				}
			}
			return n >= 3
		})
		e.d.Restart()

		deadline := time.Now().Add(30 * time.Second)
		var got api.Meeting
		for {
			var err error
			got, err = e.alice.Meeting(ctx, e.room.ID, m.ID)
			require.NoError(t, err)
			if got.Status != api.MeetingRunning || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling the REST state; no event to wait on across the restart
		}
		require.Equal(t, api.MeetingDone, got.Status, "%+v", got)
		require.Equal(t, 6, got.Turns)
		require.Equal(t, []string{"pm", "cto", "law", "pm", "cto", "law"}, e.sc.speakers(), "the interrupted turn is not run again")
		require.NotNil(t, got.Minutes)
		// The interrupted turn's text so far is in the room, truncated.
		msgs, err := e.alice.ListMessages(ctx, e.room.ID, client.MessageQuery{Limit: 100})
		require.NoError(t, err)
		truncated := 0
		for _, msg := range msgs {
			if msg.Truncated {
				truncated++
				require.Equal(t, e.roles["cto"].ID, *msg.RoleID)
			}
		}
		require.Equal(t, 1, truncated)
	})
}

// TestMeeting_TwoRoomsAtOnce runs meetings in two rooms at the same time;
// each room sees only its own.
func TestMeeting_TwoRoomsAtOnce(t *testing.T) {
	e := startEnv(t, "openai", nil)
	ctx := context.Background()
	e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
		return aitest.Response{Text: h + " talks for a while here.", TokenDelay: 3 * time.Millisecond}
	}
	room2 := e.newRoom(t, "Second")
	for _, h := range []string{"pm", "cto", "law"} {
		_, err := e.alice.SeatRole(ctx, room2.ID, e.roles[h].ID)
		require.NoError(t, err)
	}
	w1, w2 := watch(t, e.alice, e.room.ID), watch(t, e.alice, room2.ID)
	m1 := e.start(t, e.alice, api.StartMeetingRequest{Topic: "Room one", Roles: refs("pm", "cto"), Rounds: 2})
	m2, err := e.bob.StartMeeting(ctx, room2.ID, api.StartMeetingRequest{Topic: "Room two", Roles: refs("law", "pm"), Rounds: 2})
	require.NoError(t, err)
	// Both run at once.
	got1, err := e.alice.Meeting(ctx, e.room.ID, m1.ID)
	require.NoError(t, err)
	require.Equal(t, api.MeetingRunning, got1.Status)
	require.Equal(t, api.MeetingRunning, m2.Status)
	for _, c := range []struct {
		w     *watcher
		id    int64
		order []string
	}{{w1, m1.ID, []string{"pm", "cto", "pm", "cto"}}, {w2, m2.ID, []string{"law", "pm", "law", "pm"}}} {
		evs := c.w.ended()
		handles, _ := e.turnOrder(evs)
		require.Equal(t, c.order, handles)
		for _, ev := range evs {
			if ev.MeetingID != 0 {
				require.Equal(t, c.id, ev.MeetingID, "a room sees only its own meeting")
			}
		}
		require.Equal(t, api.MeetingDone, ofType(evs, wsproto.TypeMeetingEnd)[0].Status)
	}
}

// TestMeeting_TakeOverFromDeadNode: a running meeting held by a node that
// died (its lease ran out) is taken over by this vcd and run to its end,
// going on after the turns already taken.
func TestMeeting_TakeOverFromDeadNode(t *testing.T) {
	e := startEnv(t, "openai", func(c *config.Config) { c.Meetings.LeaseTTL = time.Second })
	ctx := context.Background()
	w := watch(t, e.alice, e.room.ID)
	st := e.d.Server().Store()
	m := store.Meeting{RoomID: e.room.ID, Topic: "Orphaned", RoleIDs: []int64{e.roles["pm"].ID, e.roles["cto"].ID}, Mode: api.MeetingRoundRobin,
		Rounds: 2, ChairID: e.roles["pm"].ID, CreatedBy: e.roles["pm"].UserID, Owner: "dead-node", LeaseUntil: time.Now().Add(-time.Second)}
	require.NoError(t, st.CreateMeeting(ctx, &m))
	// The dead node had taken the first turn and was in the second.
	cto := e.roles["cto"].ID
	m.Turns, m.Cursor, m.Speaker = 1, 2, &cto
	require.NoError(t, st.SaveMeeting(ctx, m, "dead-node", time.Now().Add(-time.Second)))
	evs := w.ended()
	handles, rounds := e.turnOrder(evs)
	require.Equal(t, []string{"pm", "cto"}, handles, "turns 3 and 4 only")
	require.Equal(t, []int{2, 2}, rounds)
	got, err := e.alice.Meeting(ctx, e.room.ID, m.ID)
	require.NoError(t, err)
	require.Equal(t, api.MeetingDone, got.Status)
	require.Equal(t, 4, got.Turns)
}

// TestMeeting_StarterDailyBudget: the turns count against the starter's
// daily token budget; when it is spent the meeting ends budget_exhausted.
func TestMeeting_StarterDailyBudget(t *testing.T) {
	e := startEnv(t, "openai", func(c *config.Config) { c.LLM.DailyTokenBudget = 250 })
	e.sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
		return aitest.Response{TokenCount: 40, InputTokens: 100}
	}
	w := watch(t, e.alice, e.room.ID)
	m := e.start(t, e.bob, api.StartMeetingRequest{Topic: "Spend", Roles: refs("pm", "cto"), Rounds: 3})
	evs := w.ended()
	end := ofType(evs, wsproto.TypeMeetingEnd)[0]
	require.Equal(t, api.MeetingBudgetExhausted, end.Status)
	require.Len(t, e.sc.speakers(), 2, "140 tokens per turn: bob's 250 are spent after two")
	got, err := e.bob.Meeting(context.Background(), e.room.ID, m.ID)
	require.NoError(t, err)
	require.Contains(t, got.Detail, "daily AI token budget")
	usage, err := e.bob.Usage(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(280), usage.UsedToday)
}
