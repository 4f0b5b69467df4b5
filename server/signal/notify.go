package signal

import "github.com/virtual-company/vc/pkg/wsproto"

// ChatNotifier is what the services publish through (service.Notifier).
type ChatNotifier interface {
	Publish(roomID int64, ev wsproto.Event)
	MemberRemoved(roomID, userID int64)
	RoomDeleted(roomID int64)
}

// presence is service.Presence, implemented by the realtime hub.
type presence interface {
	IsOnline(roomID, userID int64) bool
}

// Notifier forwards to the chat notifier and also drops a removed member's
// (or a deleted room's) signaling sockets, so a user who lost access to a
// room also leaves its call.
type Notifier struct {
	next ChatNotifier
	hub  *Hub
}

// Notifier wraps next (the realtime hub) for service.Services.SetNotifier.
func (h *Hub) Notifier(next ChatNotifier) *Notifier { return &Notifier{next: next, hub: h} }

// Publish implements service.Notifier.
func (n *Notifier) Publish(roomID int64, ev wsproto.Event) { n.next.Publish(roomID, ev) }

// MemberRemoved implements service.Notifier.
func (n *Notifier) MemberRemoved(roomID, userID int64) {
	n.hub.MemberRemoved(roomID, userID)
	n.next.MemberRemoved(roomID, userID)
}

// RoomDeleted implements service.Notifier.
func (n *Notifier) RoomDeleted(roomID int64) {
	n.hub.RoomDeleted(roomID)
	n.next.RoomDeleted(roomID)
}

// UserRevoked implements service.SessionRevoker: the user's signaling
// sockets close, and the chat sockets too when the wrapped notifier can.
func (n *Notifier) UserRevoked(userID int64) {
	n.hub.UserRevoked(userID)
	if r, ok := n.next.(interface{ UserRevoked(int64) }); ok {
		r.UserRevoked(userID)
	}
}

// IsOnline implements service.Presence when the wrapped notifier does.
func (n *Notifier) IsOnline(roomID, userID int64) bool {
	if p, ok := n.next.(presence); ok {
		return p.IsOnline(roomID, userID)
	}
	return false
}

// userNotifier is service.UserNotifier, implemented by the realtime hub.
type userNotifier interface {
	PublishUser(userID int64, ev wsproto.Event)
}

// PublishUser implements service.UserNotifier when the wrapped notifier
// does (per-user events go to chat sockets only).
func (n *Notifier) PublishUser(userID int64, ev wsproto.Event) {
	if u, ok := n.next.(userNotifier); ok {
		u.PublishUser(userID, ev)
	}
}
