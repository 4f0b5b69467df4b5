package service

import (
	"context"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/store"
)

// Notifier is how services tell connected clients about changes. The
// realtime hub implements it; NopNotifier is used until one is set.
type Notifier interface {
	// Publish sends ev to every socket in the room. Stored messages are
	// published only after their transaction committed.
	Publish(roomID int64, ev wsproto.Event)
	// MemberRemoved closes the user's sockets in the room.
	MemberRemoved(roomID, userID int64)
	// RoomDeleted closes every socket in the room.
	RoomDeleted(roomID int64)
}

// Presence is optionally implemented by a Notifier that knows who is
// connected; GET /api/rooms/{id}/members uses it to fill Member.Online.
type Presence interface {
	IsOnline(roomID, userID int64) bool
}

// Responder lets AI roles answer stored messages (server/ai implements it;
// no-op until then). Called after commit and after Publish, must not block.
// ctx is detached from the request's cancellation. named is the role the
// message names (its role_id) as Create read it while checking the author may
// use it, so the responder need not read it again before its first token; nil
// when the message names none.
type Responder interface {
	MessageCreated(ctx context.Context, room api.Room, msg api.Message, req api.CreateMessageRequest, named *store.Role)
}

// NopNotifier drops every notification.
type NopNotifier struct{}

// Publish implements Notifier.
func (NopNotifier) Publish(int64, wsproto.Event) {}

// MemberRemoved implements Notifier.
func (NopNotifier) MemberRemoved(int64, int64) {}

// RoomDeleted implements Notifier.
func (NopNotifier) RoomDeleted(int64) {}

// NopResponder never answers.
type NopResponder struct{}

// MessageCreated implements Responder.
func (NopResponder) MessageCreated(context.Context, api.Room, api.Message, api.CreateMessageRequest, *store.Role) {
}

// hooks holds the late-bound collaborators shared by all services. They are
// set while the server is wired (before it serves) and only read afterwards.
type hooks struct {
	notifier  Notifier
	responder Responder
}

// MessageEvent converts a stored message into its chat event.
func MessageEvent(m api.Message) wsproto.Event {
	return wsproto.Event{
		Type: wsproto.TypeMessage, RoomID: m.RoomID, ID: m.ID, Seq: m.Seq, User: m.User,
		UserID: m.UserID, RoleID: m.RoleID, Content: m.Content, MessageType: m.MessageType,
		Timestamp: m.Timestamp, ClientID: m.ClientID, Truncated: m.Truncated,
	}
}
