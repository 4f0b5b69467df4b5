package tui

import (
	"fmt"
	"strconv"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/tui/styles"
)

// meetingBar is the component of the open room's meeting: while a meeting
// of AI roles runs it draws a banner (topic, round, who speaks) above the
// messages. It follows the meeting events the screen routes to it
// (meetingEventMsg) and the meeting started or loaded with the room.
type meetingBar struct {
	st   *styles.Styles
	post post
	// roleName names a role by id (the room's seated roles).
	roleName func(id int64) string

	m       *api.Meeting // the running meeting, nil when none
	speaker string       // the role speaking now ("" between turns)
	ours    int64        // the meeting started from here (its minutes open at the end)
	w       int
}

// meetingEventMsg is a meeting event of the open room's stream:
// meeting_start, meeting_turn, meeting_end, or the ai_start of a turn.
type meetingEventMsg struct{ ev wsproto.Event }

func newMeetingBar(st *styles.Styles, roleName func(int64) string, p post) *meetingBar {
	return &meetingBar{st: st, roleName: roleName, post: p}
}

// SetSize sets the banner's width.
func (b *meetingBar) SetSize(w, _ int) { b.w = w }

// running is the running meeting, if any.
func (b *meetingBar) running() (api.Meeting, bool) {
	if b.m == nil {
		return api.Meeting{}, false
	}
	return *b.m, true
}

// height is the banner's height: one line while a meeting runs.
func (b *meetingBar) height() int {
	if b.m == nil {
		return 0
	}
	return 1
}

// set shows m (started here, or running when the room was opened); an
// ended meeting clears the banner. m is a snapshot that the room's events
// may have overtaken (the meeting_turn of a meeting started here can come
// before the answer to the request that started it): of the same meeting,
// the newer round and its speaker stay.
func (b *meetingBar) set(m api.Meeting) {
	if !m.Running() {
		b.reset()
		return
	}
	if b.m != nil && b.m.ID == m.ID && b.m.Round > m.Round {
		m.Round = b.m.Round
		b.m = &m
		return
	}
	b.m = &m
	if m.Speaker != nil {
		b.speaker = b.name(*m.Speaker)
	}
}

// reset forgets the meeting (the room was left).
func (b *meetingBar) reset() { b.m, b.speaker = nil, "" }

func (b *meetingBar) name(id int64) string {
	if b.m != nil {
		for _, r := range b.m.Roles {
			if r.ID == id {
				return r.Name
			}
		}
	}
	if n := b.roleName(id); n != "" {
		return n
	}
	return "role " + strconv.FormatInt(id, 10)
}

// Update follows the meeting events. At the end it posts a notice, and
// meetingEndedMsg for the screen to fetch the minutes.
func (b *meetingBar) Update(msg tea.Msg) tea.Cmd {
	me, ok := msg.(meetingEventMsg)
	if !ok {
		return nil
	}
	ev := me.ev
	switch ev.Type {
	case wsproto.TypeMeetingStart:
		if b.m != nil && b.m.ID == ev.MeetingID {
			return nil // started here: already known, with names
		}
		m := api.Meeting{ID: ev.MeetingID, RoomID: ev.RoomID, Status: api.MeetingRunning, Topic: ev.Topic,
			Mode: ev.Mode, Rounds: ev.Rounds}
		for _, id := range ev.RoleIDs {
			m.Roles = append(m.Roles, api.MeetingRole{ID: id, Name: b.roleName(id)})
		}
		b.m, b.speaker = &m, ""
	case wsproto.TypeMeetingTurn:
		if b.m == nil || b.m.ID != ev.MeetingID {
			return nil
		}
		b.m.Round = ev.Round
		if ev.RoleID != nil {
			b.speaker = b.name(*ev.RoleID)
		}
	case wsproto.TypeAIStart:
		if b.m != nil && b.m.ID == ev.MeetingID && ev.Role != "" {
			b.speaker = ev.Role
		}
	case wsproto.TypeMeetingEnd:
		if b.m == nil || b.m.ID != ev.MeetingID {
			return nil
		}
		topic := b.m.Topic
		b.reset()
		text := "meeting " + quote(topic) + " ended: " + strings.ReplaceAll(ev.Status, "_", " ")
		if ev.Status == api.MeetingDone || ev.Status == api.MeetingBudgetExhausted || ev.Status == api.MeetingStopped {
			text += " · /minutes shows the minutes"
		}
		b.post(noticeMsg{text: text, err: ev.Status == api.MeetingFailed})
		b.post(meetingEndedMsg{id: ev.MeetingID, status: ev.Status})
	}
	return nil
}

// meetingEndedMsg says the open room's meeting ended.
type meetingEndedMsg struct {
	id     int64
	status string
}

// View renders the banner ("" when no meeting runs).
func (b *meetingBar) View() string {
	if b.m == nil {
		return ""
	}
	m := b.m
	s := " ◆ Meeting " + quote(m.Topic)
	if m.Round > 0 {
		s += fmt.Sprintf(" · round %d/%d", m.Round, m.Rounds)
	} else {
		s += fmt.Sprintf(" · %d round%s", m.Rounds, plural(m.Rounds))
	}
	if b.speaker != "" {
		s += " · " + b.speaker + " speaking"
	}
	s += " · /stop ends it"
	return padRight(b.st.Meeting.Render(truncate(s, b.w)), b.w)
}

// parseMeet reads "/meet TOPIC @pm @cto [rounds=N] [chair=@pm]
// [mode=chaired] [budget=N]": the @words are the roles in speaking order,
// key=value words the options, the rest the topic. roles are the room's
// seated roles: a handle they know becomes the role's id.
func parseMeet(args []string, roles []api.Role) (api.StartMeetingRequest, error) {
	var req api.StartMeetingRequest
	ref := func(s string) api.RoleRef {
		if r, ok := findRole(roles, s); ok {
			return api.RoleByID(r.ID)
		}
		return api.ParseRoleRef(strings.TrimPrefix(s, "@"))
	}
	var topic []string
	for _, w := range args {
		key, val, isOpt := strings.Cut(w, "=")
		switch {
		case strings.HasPrefix(w, "@") && len(w) > 1:
			req.Roles = append(req.Roles, ref(w))
		case isOpt && key == "rounds":
			n, err := strconv.Atoi(val)
			if err != nil || n < api.MeetingMinRounds || n > api.MeetingMaxRounds {
				return req, fmt.Errorf("rounds= takes %d to %d, not %q", api.MeetingMinRounds, api.MeetingMaxRounds, val)
			}
			req.Rounds = n
		case isOpt && key == "chair":
			r := ref(val)
			req.Chair = &r
		case isOpt && key == "mode":
			if val != api.MeetingRoundRobin && val != api.MeetingChaired {
				return req, fmt.Errorf("mode= takes %s or %s, not %q", api.MeetingRoundRobin, api.MeetingChaired, val)
			}
			req.Mode = val
		case isOpt && key == "budget":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return req, fmt.Errorf("budget= takes a number of tokens, not %q", val)
			}
			req.TokenBudget = n
		default:
			topic = append(topic, w)
		}
	}
	req.Topic = strings.Join(topic, " ")
	switch {
	case req.Topic == "":
		return req, fmt.Errorf("usage: /meet TOPIC @role @role [rounds=N] [chair=@role]")
	case len(req.Roles) == 0:
		return req, fmt.Errorf("/meet needs the roles that take part: /meet %s @role @role", req.Topic)
	}
	return req, nil
}
