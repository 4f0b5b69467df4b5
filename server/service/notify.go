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

// SessionRevoker is optionally implemented by a Notifier whose sockets
// outlive the request that opened them: UserRevoked closes every socket of
// the user (chat and signaling, close 4001) because their tokens were
// revoked. It must not block.
type SessionRevoker interface {
	UserRevoked(userID int64)
}

// Presence is optionally implemented by a Notifier that knows who is
// connected; GET /api/rooms/{id}/members uses it to fill Member.Online.
type Presence interface {
	IsOnline(roomID, userID int64) bool
}

// UserNotifier is optionally implemented by a Notifier that can reach one
// user's sockets whatever room they are open in (per-user events such as
// wsproto.TypeRoomAdded).
type UserNotifier interface {
	PublishUser(userID int64, ev wsproto.Event)
}

// Responder lets AI roles answer messages (server/ai implements it; no-op
// until then). A reply is prepared while its question commits, so that the
// store's commit and the provider's first token overlap instead of adding
// up: Create calls MessagePosting once the message passed its checks and
// before it is stored, then exactly one of the returned Posting's methods.
// Nothing of a reply may be published before Committed: persistence first
// holds for the question and everything that answers it.
type Responder interface {
	// MessagePosting announces a message about to be stored; draft has no
	// id, seq or timestamp yet. ctx is detached from the request's
	// cancellation. named is the role the message names (its role_id) as
	// Create read it while checking the author may use it; nil when it
	// names none. It must not block.
	MessagePosting(ctx context.Context, room api.Room, draft api.Message, req api.CreateMessageRequest, named *store.Role) Posting
}

// AICaches is told about the writes that change what the reply engine
// caches for a reply's preamble (server/ai's Orchestrator implements it):
// the roles seated in a room and a user's stored API keys. The seats, keys
// and usage services call it after their writes commit.
type AICaches interface {
	// SeatsChanged says the roles seated in roomID changed.
	SeatsChanged(roomID int64)
	// KeyChanged says userID's key for provider was stored or deleted.
	KeyChanged(userID int64, provider string)
}

// Posting is the outcome of a message announced with MessagePosting.
type Posting interface {
	// Committed says the message is stored and its event published.
	Committed(msg api.Message)
	// Dropped says it was not stored (an error, or a resend of a message
	// stored before): replies prepared for it end without a trace.
	Dropped()
}

// NopNotifier drops every notification.
type NopNotifier struct{}

// Publish implements Notifier.
func (NopNotifier) Publish(int64, wsproto.Event) {}

// MemberRemoved implements Notifier.
func (NopNotifier) MemberRemoved(int64, int64) {}

// RoomDeleted implements Notifier.
func (NopNotifier) RoomDeleted(int64) {}

// nopCaches is the AICaches of a server whose reply engine caches nothing.
type nopCaches struct{}

func (nopCaches) SeatsChanged(int64)       {}
func (nopCaches) KeyChanged(int64, string) {}

// NopResponder never answers.
type NopResponder struct{}

// MessagePosting implements Responder.
func (NopResponder) MessagePosting(context.Context, api.Room, api.Message, api.CreateMessageRequest, *store.Role) Posting {
	return NopPosting{}
}

// NopPosting is the Posting of a message nothing answers.
type NopPosting struct{}

// Committed implements Posting.
func (NopPosting) Committed(api.Message) {}

// Dropped implements Posting.
func (NopPosting) Dropped() {}

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
