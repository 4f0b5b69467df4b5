package tui

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

func fixedNow() time.Time { return t0 }

// fakeBackend is an in-memory server.
type fakeBackend struct {
	mu       sync.Mutex
	me       api.User
	rooms    []api.Room
	msgs     map[int64][]api.Message
	members  map[int64][]api.Member
	roles    map[int64][]api.Role
	myRoles  []api.Role
	streams  []*fakeStream
	queries  []MessageQuery
	loginErr error
	token    string

	meetings map[int64][]api.Meeting // per room, newest first
	started  []api.StartMeetingRequest
	stopped  []int64
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		me:      api.User{ID: 1, Username: "alice", Name: "Alice"},
		msgs:    map[int64][]api.Message{},
		members: map[int64][]api.Member{},
		roles:   map[int64][]api.Role{},

		meetings: map[int64][]api.Meeting{},
	}
}

func ptr[T any](v T) *T { return &v }

// addRoom adds a room holding n messages alternating between bob and alice.
func (f *fakeBackend) addRoom(id int64, name string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var msgs []api.Message
	for i := 1; i <= n; i++ {
		u, uid := "bob", int64(2)
		if i%3 == 0 {
			u, uid = "alice", 1
		}
		msgs = append(msgs, api.Message{
			ID: id*100000 + int64(i), RoomID: id, UserID: ptr(uid), Content: fmt.Sprintf("message %d in %s", i, name),
			MessageType: api.MessageText, Timestamp: t0.Add(time.Duration(i-n) * time.Minute), Seq: int64(i), User: u,
		})
	}
	f.msgs[id] = msgs
	f.rooms = append(f.rooms, api.Room{ID: id, Name: name, CreatedBy: 1, LastSeq: int64(n)})
	f.members[id] = []api.Member{
		{UserID: 1, Username: "alice", Name: "Alice", Online: true},
		{UserID: 2, Username: "bob", Name: "Bob", Online: true},
		{UserID: 3, Username: "carol", Name: "Carol"},
	}
	f.roles[id] = []api.Role{{ID: 7, UserID: 1, Name: "CTO", Avatar: "🤖", Handle: "cto"}}
}

func (f *fakeBackend) Me(ctx context.Context) (api.User, error) { return f.me, nil }

func (f *fakeBackend) Login(ctx context.Context, username, password string) (api.Token, error) {
	if f.loginErr != nil {
		return api.Token{}, f.loginErr
	}
	f.token = "tok-" + username
	f.me.Username = username
	return api.Token{AccessToken: f.token, TokenType: "bearer"}, nil
}

func (f *fakeBackend) Register(ctx context.Context, req api.RegisterRequest) (api.User, error) {
	return api.User{ID: 9, Username: req.Username, Email: req.Email, Name: req.Name}, nil
}

func (f *fakeBackend) ListRooms(ctx context.Context) ([]api.Room, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Room(nil), f.rooms...), nil
}

func (f *fakeBackend) CreateRoom(ctx context.Context, name string) (api.Room, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := api.Room{ID: int64(len(f.rooms) + 100), Name: name, CreatedBy: 1}
	f.rooms = append(f.rooms, r)
	return r, nil
}

func (f *fakeBackend) ListMembers(ctx context.Context, roomID int64) ([]api.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Member(nil), f.members[roomID]...), nil
}

func (f *fakeBackend) AddMember(ctx context.Context, roomID int64, username string) (api.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members[roomID] {
		if m.Username == username {
			return api.Member{}, &client.Error{StatusCode: 409, Detail: "User is already a member"}
		}
	}
	m := api.Member{UserID: int64(len(f.members[roomID]) + 10), Username: username}
	f.members[roomID] = append(f.members[roomID], m)
	return m, nil
}

func (f *fakeBackend) RemoveMember(ctx context.Context, roomID, userID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := f.members[roomID]
	for i, m := range ms {
		if m.UserID == userID {
			f.members[roomID] = append(ms[:i:i], ms[i+1:]...)
			return nil
		}
	}
	return &client.Error{StatusCode: 404, Detail: "Member not found"}
}

// ListMessages implements the server's rules: the newest Limit messages
// before Before, or the oldest Limit after After, oldest first.
func (f *fakeBackend) ListMessages(ctx context.Context, roomID int64, q MessageQuery) ([]api.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	var sel []api.Message
	for _, m := range f.msgs[roomID] {
		if (q.Before == 0 || m.Seq < q.Before) && m.Seq > q.After {
			sel = append(sel, m)
		}
	}
	sort.Slice(sel, func(i, j int) bool { return sel[i].Seq < sel[j].Seq })
	if q.Limit > 0 && len(sel) > q.Limit {
		if q.After > 0 {
			sel = sel[:q.Limit] // with After: the oldest after it
		} else {
			sel = sel[len(sel)-q.Limit:]
		}
	}
	return sel, nil
}

func (f *fakeBackend) ListRoomRoles(ctx context.Context, roomID int64) ([]api.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Role(nil), f.roles[roomID]...), nil
}

func (f *fakeBackend) SeatRole(ctx context.Context, roomID, roleID int64) (api.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.myRoles {
		if r.ID == roleID {
			f.roles[roomID] = append(f.roles[roomID], r)
			return r, nil
		}
	}
	return api.Role{}, &client.Error{StatusCode: 404, Detail: "Role not found"}
}

func (f *fakeBackend) ListRoles(ctx context.Context) ([]api.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Role(nil), f.myRoles...), nil
}

func (f *fakeBackend) StartMeeting(ctx context.Context, roomID int64, req api.StartMeetingRequest) (api.Meeting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, req)
	m := api.Meeting{ID: int64(len(f.started)), RoomID: roomID, Status: api.MeetingRunning, Topic: req.Topic,
		Mode: api.MeetingRoundRobin, Rounds: max(req.Rounds, api.MeetingDefaultRounds), CreatedBy: f.me.ID, CreatedAt: t0}
	for _, ref := range req.Roles {
		for _, r := range f.roles[roomID] {
			if r.ID == ref.ID || r.Handle == ref.Handle {
				m.Roles = append(m.Roles, api.MeetingRole{ID: r.ID, Name: r.Name, Handle: r.Handle})
			}
		}
	}
	if len(m.Roles) == 0 {
		return api.Meeting{}, &client.Error{StatusCode: 422, Detail: "roles: none of these roles is seated in the room"}
	}
	m.Chair = m.Roles[0].ID
	f.meetings[roomID] = append([]api.Meeting{m}, f.meetings[roomID]...)
	return m, nil
}

func (f *fakeBackend) StopMeeting(ctx context.Context, roomID, meetingID int64) (api.Meeting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, meetingID)
	return api.Meeting{ID: meetingID, RoomID: roomID, Status: api.MeetingStopped}, nil
}

func (f *fakeBackend) Meetings(ctx context.Context, roomID int64) ([]api.Meeting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Meeting{}, f.meetings[roomID]...), nil
}

func (f *fakeBackend) Meeting(ctx context.Context, roomID, meetingID int64) (api.Meeting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.meetings[roomID] {
		if m.ID == meetingID {
			return m, nil
		}
	}
	return api.Meeting{}, &client.Error{StatusCode: 404, Detail: "Meeting not found"}
}

// setMeeting replaces a stored meeting (a test ends it, with minutes).
func (f *fakeBackend) setMeeting(m api.Meeting) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.meetings[m.RoomID] {
		if x.ID == m.ID {
			f.meetings[m.RoomID][i] = m
			return
		}
	}
	f.meetings[m.RoomID] = append([]api.Meeting{m}, f.meetings[m.RoomID]...)
}

func (f *fakeBackend) startedMeetings() []api.StartMeetingRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.StartMeetingRequest(nil), f.started...)
}

func (f *fakeBackend) stoppedMeetings() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.stopped...)
}

func (f *fakeBackend) OpenStream(ctx context.Context, roomID int64, opts client.StreamOptions) (Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeStream{
		roomID: roomID, after: opts.After,
		events: make(chan wsproto.Event, 1024),
		status: make(chan client.StreamStatus, 16),
	}
	f.streams = append(f.streams, s)
	return s, nil
}

func (f *fakeBackend) lastStream() *fakeStream {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.streams) == 0 {
		return nil
	}
	return f.streams[len(f.streams)-1]
}

// fakeStream records what the TUI sends; tests push events into it.
type fakeStream struct {
	roomID int64
	after  int64
	events chan wsproto.Event
	status chan client.StreamStatus

	mu      sync.Mutex
	sent    []wsproto.ClientFrame
	cancels []string
	typing  int
	closed  bool
}

func (s *fakeStream) Events() <-chan wsproto.Event       { return s.events }
func (s *fakeStream) Status() <-chan client.StreamStatus { return s.status }

func (s *fakeStream) Send(ctx context.Context, f wsproto.ClientFrame) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, f)
	return f.ClientID, nil
}

func (s *fakeStream) Typing(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.typing++
	return nil
}

func (s *fakeStream) CancelAI(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancels = append(s.cancels, id)
	return nil
}

func (s *fakeStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.events)
		close(s.status)
	}
	return nil
}

func (s *fakeStream) sentFrames() []wsproto.ClientFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wsproto.ClientFrame(nil), s.sent...)
}
