package tui

import (
	"context"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// Backend is everything the TUI asks of the server. Its methods carry the
// names and signatures of *client.Client (docs/architecture.md), except that
// OpenStream returns the Stream interface; ClientBackend adapts a
// *client.Client and tests pass fakes.
type Backend interface {
	Me(ctx context.Context) (api.User, error)
	Login(ctx context.Context, username, password string) (api.Token, error)
	Register(ctx context.Context, req api.RegisterRequest) (api.User, error)
	ListRooms(ctx context.Context) ([]api.Room, error)
	CreateRoom(ctx context.Context, name string) (api.Room, error)
	ListMembers(ctx context.Context, roomID int64) ([]api.Member, error)
	AddMember(ctx context.Context, roomID int64, username string) (api.Member, error)
	RemoveMember(ctx context.Context, roomID, userID int64) error
	ListMessages(ctx context.Context, roomID int64, q MessageQuery) ([]api.Message, error)
	ListRoomRoles(ctx context.Context, roomID int64) ([]api.Role, error)
	SeatRole(ctx context.Context, roomID, roleID int64) (api.Role, error)
	ListRoles(ctx context.Context) ([]api.Role, error)
	StartMeeting(ctx context.Context, roomID int64, req api.StartMeetingRequest) (api.Meeting, error)
	StopMeeting(ctx context.Context, roomID, meetingID int64) (api.Meeting, error)
	Meetings(ctx context.Context, roomID int64) ([]api.Meeting, error)
	Meeting(ctx context.Context, roomID, meetingID int64) (api.Meeting, error)
	OpenStream(ctx context.Context, roomID int64, opts client.StreamOptions) (Stream, error)
}

// Stream is the part of *client.Stream the TUI uses: a reconnecting room
// socket whose Send queues while disconnected.
type Stream interface {
	Events() <-chan wsproto.Event
	Status() <-chan client.StreamStatus
	Send(ctx context.Context, f wsproto.ClientFrame) (clientID string, err error)
	Typing(ctx context.Context) error
	CancelAI(ctx context.Context, streamID string) error
	Close() error
}

// Compile-time check that the client's stream fits.
var _ Stream = (*client.Stream)(nil)

// MessageQuery selects a page of history (client.MessageQuery).
type MessageQuery = client.MessageQuery

// ClientBackend adapts a *client.Client to Backend: every REST method is the
// client's own; OpenStream wraps the concrete *client.Stream.
type ClientBackend struct {
	*client.Client
}

// OpenStream opens the room stream of the wrapped client.
func (b ClientBackend) OpenStream(ctx context.Context, roomID int64, opts client.StreamOptions) (Stream, error) {
	s, err := b.Client.OpenStream(ctx, roomID, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

var _ Backend = ClientBackend{}
