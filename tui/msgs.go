package tui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// requestTimeout bounds every REST call the TUI makes.
const requestTimeout = 20 * time.Second

// maxBatch is how many queued stream events one message carries: under a
// fast AI stream one Update (and one frame) absorbs many deltas.
const maxBatch = 512

// Messages produced by commands. A gen field ties an answer to the room it
// was asked for; answers for a room the user already left are dropped.
type (
	meMsg struct {
		user api.User
		err  error
	}
	loginDoneMsg struct {
		user api.User
		err  error
	}
	roomsMsg struct {
		rooms []api.Room
		err   error
		poll  bool // from the periodic refresh, which it re-arms
	}
	// scanMsg carries the new messages of a room that is not open, looked
	// at for my own messages and mentions of me.
	scanMsg struct {
		roomID int64
		msgs   []api.Message
		err    error
	}
	// memberChangedMsg is the outcome of /invite or /kick.
	memberChangedMsg struct {
		gen  int
		text string // what happened, for the info line
		err  error
	}
	roomsTickMsg  struct{}
	tickMsg       struct{}
	roomOpenedMsg struct {
		gen       int
		room      api.Room
		msgs      []api.Message
		members   []api.Member
		roles     []api.Role
		stream    Stream
		meeting   *api.Meeting // the meeting running in the room, if any
		err       error        // history could not be loaded
		streamErr error        // the socket could not be opened
	}
	olderMsg struct {
		gen  int
		msgs []api.Message
		err  error
	}
	// streamMsg carries what the room stream produced since the last one.
	streamMsg struct {
		gen      int
		events   []wsproto.Event
		statuses []client.StreamStatus
		ended    bool
	}
	sendResultMsg struct {
		gen      int
		clientID string
		err      error
	}
	peopleMsg struct {
		gen     int
		members []api.Member
		roles   []api.Role
		err     error
	}
	roomCreatedMsg struct {
		room api.Room
		err  error
	}
	roleSeatedMsg struct {
		gen  int
		role api.Role
		err  error
	}
	noticeMsg struct {
		text string
		err  bool
	}
	// meetingStartedMsg is the outcome of /meet.
	meetingStartedMsg struct {
		gen     int
		meeting api.Meeting
		err     error
	}
	// meetingLoadedMsg carries a meeting with its minutes (/minutes, or the
	// end of a meeting started here).
	meetingLoadedMsg struct {
		gen     int
		meeting api.Meeting
		err     error
	}
)

// errText is what a user reads for err: the server's detail when there is one.
func errText(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Detail != "" {
		return ce.Detail
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		host := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			host = u.Host
		}
		cause := ue.Err.Error()
		var oe *net.OpError
		if errors.As(ue.Err, &oe) && oe.Err != nil {
			cause = oe.Err.Error()
		}
		if ue.Timeout() {
			cause = "timed out"
		}
		return "cannot reach " + host + " (" + cause + ")"
	}
	return err.Error()
}

func (sh *shared) reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(sh.opts.Context, requestTimeout)
}

func (sh *shared) meCmd() tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		u, err := sh.be.Me(ctx)
		return meMsg{user: u, err: err}
	}
}

// roomsCmd refreshes the room list now (the periodic refresh goes on).
func (sh *shared) roomsCmd() tea.Cmd { return sh.listRoomsCmd(false) }

// pollRoomsCmd is one round of the periodic refresh.
func (sh *shared) pollRoomsCmd() tea.Cmd { return sh.listRoomsCmd(true) }

func (sh *shared) listRoomsCmd(poll bool) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		rooms, err := sh.be.ListRooms(ctx)
		return roomsMsg{rooms: rooms, err: err, poll: poll}
	}
}

// scanPages bounds one scan of a room's new messages (pages of
// HistoryPage): past it, the rest count as unread.
const scanPages = 10

// scanCmd loads the messages of a room after seq from, so that my own are
// not counted as unread and mentions of me are seen. With After the server
// pages oldest first, so the scan walks forward.
func (sh *shared) scanCmd(roomID, from int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		var all []api.Message
		for range scanPages {
			msgs, err := sh.be.ListMessages(ctx, roomID, MessageQuery{After: from, Limit: sh.opts.HistoryPage})
			if err != nil {
				return scanMsg{roomID: roomID, msgs: all, err: err}
			}
			all = append(all, msgs...)
			if len(msgs) < sh.opts.HistoryPage || from == 0 {
				break // the end, or a room that was empty (After 0 pages newest first)
			}
			from = msgs[len(msgs)-1].Seq
		}
		return scanMsg{roomID: roomID, msgs: all}
	}
}

// inviteCmd adds username to the room (/invite).
func (sh *shared) inviteCmd(gen int, room api.Room, label, username string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		if _, err := sh.be.AddMember(ctx, room.ID, username); err != nil {
			return memberChangedMsg{gen: gen, err: fmt.Errorf("invite %s: %s", username, errText(err))}
		}
		return memberChangedMsg{gen: gen, text: "added " + username + " to " + label}
	}
}

// kickCmd removes a member from the room (/kick).
func (sh *shared) kickCmd(gen int, room api.Room, label string, m api.Member) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		if err := sh.be.RemoveMember(ctx, room.ID, m.UserID); err != nil {
			return memberChangedMsg{gen: gen, err: fmt.Errorf("kick %s: %s", m.Username, errText(err))}
		}
		return memberChangedMsg{gen: gen, text: "removed " + m.Username + " from " + label}
	}
}

// bellCmd rings the terminal bell (Options.Bell) off the UI loop.
func (sh *shared) bellCmd() tea.Cmd {
	return func() tea.Msg {
		sh.opts.Bell()
		return nil
	}
}

func (sh *shared) openRoomCmd(gen int, room api.Room) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		r := roomOpenedMsg{gen: gen, room: room}
		r.msgs, r.err = sh.be.ListMessages(ctx, room.ID, MessageQuery{Limit: sh.opts.HistoryPage})
		if r.err != nil {
			r.err = fmt.Errorf("load history of %s: %w", room.Name, r.err)
			return r
		}
		var err error
		if r.members, err = sh.be.ListMembers(ctx, room.ID); err != nil {
			sh.logger.Warn("list members", "room_id", room.ID, "err", err)
		}
		if r.roles, err = sh.be.ListRoomRoles(ctx, room.ID); err != nil {
			sh.logger.Warn("list room roles", "room_id", room.ID, "err", err)
		}
		if ms, err := sh.be.Meetings(ctx, room.ID); err != nil {
			sh.logger.Warn("list meetings", "room_id", room.ID, "err", err)
		} else if len(ms) > 0 && ms[0].Running() {
			r.meeting = &ms[0]
		}
		var after int64
		if n := len(r.msgs); n > 0 {
			after = r.msgs[n-1].Seq
		}
		r.stream, r.streamErr = sh.be.OpenStream(ctx, room.ID, client.StreamOptions{After: after, Resume: true, Logger: sh.logger})
		return r
	}
}

func (sh *shared) olderCmd(gen int, roomID, before int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		msgs, err := sh.be.ListMessages(ctx, roomID, MessageQuery{Limit: sh.opts.HistoryPage, Before: before})
		return olderMsg{gen: gen, msgs: msgs, err: err}
	}
}

func (sh *shared) peopleCmd(gen int, roomID int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		members, err := sh.be.ListMembers(ctx, roomID)
		if err != nil {
			return peopleMsg{gen: gen, err: err}
		}
		roles, err := sh.be.ListRoomRoles(ctx, roomID)
		return peopleMsg{gen: gen, members: members, roles: roles, err: err}
	}
}

// waitStream waits for the next thing the stream produces and returns it
// with whatever else is already queued. It is re-armed after every streamMsg.
func waitStream(gen int, s Stream) tea.Cmd {
	return func() tea.Msg {
		m := streamMsg{gen: gen}
		select {
		case ev, ok := <-s.Events():
			if !ok {
				m.ended = true
				return m
			}
			m.events = append(m.events, ev)
		case st, ok := <-s.Status():
			if !ok {
				m.ended = true
			} else {
				m.statuses = append(m.statuses, st)
			}
		}
		for len(m.events) < maxBatch {
			select {
			case ev, ok := <-s.Events():
				if !ok {
					m.ended = true
					return m
				}
				m.events = append(m.events, ev)
				continue
			default:
			}
			break
		}
		for {
			select {
			case st, ok := <-s.Status():
				if ok {
					m.statuses = append(m.statuses, st)
					continue
				}
			default:
			}
			return m
		}
	}
}

func closeStreamCmd(s Stream) tea.Cmd {
	return func() tea.Msg {
		_ = s.Close()
		return nil
	}
}

func (sh *shared) sendCmd(gen int, s Stream, f wsproto.ClientFrame) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		_, err := s.Send(ctx, f)
		return sendResultMsg{gen: gen, clientID: f.ClientID, err: err}
	}
}

func (sh *shared) typingCmd(s Stream) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sh.opts.Context, 5*time.Second)
		defer cancel()
		_ = s.Typing(ctx) // best effort: not queued while offline
		return nil
	}
}

func (sh *shared) cancelAICmd(s Stream, streamID string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(sh.opts.Context, 5*time.Second)
		defer cancel()
		if err := s.CancelAI(ctx, streamID); err != nil {
			return noticeMsg{text: "could not stop the reply: " + errText(err), err: true}
		}
		return noticeMsg{text: "stopping the reply…"}
	}
}

func (sh *shared) createRoomCmd(name string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		r, err := sh.be.CreateRoom(ctx, name)
		return roomCreatedMsg{room: r, err: err}
	}
}

// seatRoleCmd finds one of the user's roles by id, handle or name and seats
// it in the room.
func (sh *shared) seatRoleCmd(gen int, roomID int64, which string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		roles, err := sh.be.ListRoles(ctx)
		if err != nil {
			return roleSeatedMsg{gen: gen, err: fmt.Errorf("list your roles: %w", err)}
		}
		r, ok := findRole(roles, which)
		if !ok {
			return roleSeatedMsg{gen: gen, err: fmt.Errorf("you have no role %q (vc roles list)", which)}
		}
		seated, err := sh.be.SeatRole(ctx, roomID, r.ID)
		return roleSeatedMsg{gen: gen, role: seated, err: err}
	}
}

// startMeetingCmd starts a meeting in the room (/meet).
func (sh *shared) startMeetingCmd(gen int, roomID int64, req api.StartMeetingRequest) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		m, err := sh.be.StartMeeting(ctx, roomID, req)
		return meetingStartedMsg{gen: gen, meeting: m, err: err}
	}
}

// stopMeetingCmd stops the room's meeting (/stop); its end arrives on the
// stream.
func (sh *shared) stopMeetingCmd(roomID, meetingID int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		if _, err := sh.be.StopMeeting(ctx, roomID, meetingID); err != nil {
			return noticeMsg{text: "could not stop the meeting: " + errText(err), err: true}
		}
		return noticeMsg{text: "stopping the meeting…"}
	}
}

// meetingCmd loads meeting id of the room, or its latest meeting when id
// is 0 (/minutes).
func (sh *shared) meetingCmd(gen int, roomID, id int64) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := sh.reqCtx()
		defer cancel()
		if id == 0 {
			ms, err := sh.be.Meetings(ctx, roomID)
			if err != nil {
				return meetingLoadedMsg{gen: gen, err: err}
			}
			if len(ms) == 0 {
				return meetingLoadedMsg{gen: gen, err: errors.New("no meeting in this room yet (/meet TOPIC @role @role)")}
			}
			id = ms[0].ID
		}
		m, err := sh.be.Meeting(ctx, roomID, id)
		return meetingLoadedMsg{gen: gen, meeting: m, err: err}
	}
}

func tickCmd() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} })
}

func roomsTickCmd(d time.Duration) tea.Cmd {
	return tea.Tick(d, func(time.Time) tea.Msg { return roomsTickMsg{} })
}
