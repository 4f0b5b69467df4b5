package service

import (
	"context"
	"errors"
	"log/slog"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/internal/mention"
	"github.com/virtual-company/vc/server/store"
)

// Paging limits of message history.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 1000
)

// SystemAuthor is Message.User of system messages.
const SystemAuthor = "system"

// Messages stores chat messages and tells the room about them once they are
// committed.
type Messages struct {
	store  store.Store
	hooks  *hooks
	rooms  *Rooms
	roles  *Roles
	auth   *Auth
	logger *slog.Logger
	// members, on a cluster node, answers a plain post's membership check
	// (nil: the store does).
	members *MemberCache
}

// MessageOf converts a stored message to its API shape.
func MessageOf(m store.Message) api.Message {
	return api.Message{ID: m.ID, RoomID: m.RoomID, UserID: m.UserID, RoleID: m.RoleID, Content: m.Content,
		MessageType: m.MessageType, Timestamp: m.CreatedAt.UTC(), Seq: m.Seq, User: m.Author,
		ClientID: m.ClientID, Truncated: m.Truncated}
}

// HistoryQuery selects messages for GET /api/rooms/{id}/messages.
type HistoryQuery struct {
	// Limit is the page size (0: DefaultHistoryLimit).
	Limit int
	// Offset skips this many newest messages (ignored with After).
	Offset int
	// After and Before are exclusive seq bounds (0: none). With After (or
	// AfterSet) the page holds the oldest messages after it; otherwise the
	// newest.
	After, Before int64
	// AfterSet says the request named After even when it is 0: "from the
	// start", so that a client paging forward from 0 sees every message.
	AfterSet bool
}

// Create stores a message from userID in roomID, then publishes it and hands
// it to the AI responder. It validates, checks membership and role
// visibility, and is idempotent on (room, user, client_id): a resend returns
// the stored message with created=false and publishes nothing.
func (s *Messages) Create(ctx context.Context, userID, roomID int64, req api.CreateMessageRequest) (api.Message, bool, error) {
	if err := ValidateMessage(req); err != nil {
		return api.Message{}, false, err
	}
	room, err := s.postRoom(ctx, roomID, userID, req)
	if err != nil {
		return api.Message{}, false, err
	}
	var role store.Role
	if req.RoleID != nil {
		if role, err = s.roles.visible(ctx, userID, *req.RoleID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return api.Message{}, false, Invalid("role_id", "no such role")
			}
			return api.Message{}, false, err
		}
	}
	author, err := s.auth.users.username(ctx, s.auth.store, userID)
	if err != nil {
		return api.Message{}, false, internal("create message", err)
	}
	uid := userID
	m := store.Message{RoomID: roomID, UserID: &uid, RoleID: req.RoleID, Content: req.Content,
		MessageType: api.MessageText, Author: author, ClientID: req.ClientID}
	var named *store.Role
	if req.RoleID != nil {
		named = &role
	}
	// Replies start preparing now (their reads, the provider call) and
	// show only once the message is committed and published.
	posting := s.hooks.responder.MessagePosting(context.WithoutCancel(ctx), room, MessageOf(m), req, named)
	committed := false
	defer func() {
		if !committed {
			posting.Dropped() // not stored, a resend, or a panic on the way
		}
	}()
	created, err := s.store.CreateMessage(ctx, &m)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return api.Message{}, false, NotFound(detailRoomNotFound)
		}
		return api.Message{}, false, internal("create message", err)
	}
	msg := MessageOf(m)
	if !created {
		return msg, false, nil // a resend: it was answered the first time
	}
	s.hooks.notifier.Publish(roomID, MessageEvent(msg))
	committed = true
	posting.Committed(msg)
	return msg, true, nil
}

// postRoom checks that userID may post in roomID and returns the room. A
// plain post (no role named, no @handle) that no AI role answers needs only
// the room's id, so on a cluster node the membership may come from the
// MemberCache; every other post reads the room.
func (s *Messages) postRoom(ctx context.Context, roomID, userID int64, req api.CreateMessageRequest) (api.Room, error) {
	plain := s.members != nil && req.RoleID == nil && len(mention.Handles(req.Content)) == 0
	if plain && s.members.has(roomID, userID) {
		return api.Room{ID: roomID}, nil
	}
	gen := s.members.generation()
	room, err := s.rooms.RequireMember(ctx, roomID, userID)
	if err == nil && plain {
		s.members.add(roomID, userID, gen)
	}
	return room, err
}

// CreateSystem stores and publishes a system message in a room.
func (s *Messages) CreateSystem(ctx context.Context, roomID int64, content string) (api.Message, error) {
	return s.createServer(ctx, store.Message{RoomID: roomID, Content: content, MessageType: api.MessageSystem, Author: SystemAuthor})
}

// CreateAIResponse stores and publishes a role's answer in a room; author is
// the role's name. truncated marks an answer that was cancelled or cut.
func (s *Messages) CreateAIResponse(ctx context.Context, roomID int64, role api.Role, content string, truncated bool) (api.Message, error) {
	rid := role.ID
	return s.createServer(ctx, store.Message{RoomID: roomID, RoleID: &rid, Content: content,
		MessageType: api.MessageAIResponse, Author: role.Name, Truncated: truncated})
}

// CreateMeetingMessage stores and publishes a role's message in a meeting
// (a turn's reply, or the minutes with api.MessageMeetingMinutes): its
// message event carries meeting_id.
func (s *Messages) CreateMeetingMessage(ctx context.Context, roomID, meetingID int64, role api.Role, content, messageType string) (api.Message, error) {
	return s.CreateMeetingReply(ctx, roomID, meetingID, role, content, messageType, false)
}

// CreateMeetingReply is CreateMeetingMessage for a reply that may be
// truncated (cancelled or cut).
func (s *Messages) CreateMeetingReply(ctx context.Context, roomID, meetingID int64, role api.Role, content, messageType string, truncated bool) (api.Message, error) {
	rid := role.ID
	return s.createServerIn(ctx, store.Message{RoomID: roomID, RoleID: &rid, Content: content,
		MessageType: messageType, Author: role.Name, Truncated: truncated}, meetingID)
}

func (s *Messages) createServer(ctx context.Context, m store.Message) (api.Message, error) {
	return s.createServerIn(ctx, m, 0)
}

// createServerIn stores a message the server writes and publishes it;
// meetingID (0: none) goes on its event.
func (s *Messages) createServerIn(ctx context.Context, m store.Message, meetingID int64) (api.Message, error) {
	if m.Content == "" {
		return api.Message{}, Invalid("content", "must not be empty")
	}
	if _, err := s.store.CreateMessage(ctx, &m); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return api.Message{}, NotFound(detailRoomNotFound)
		}
		return api.Message{}, internal("create "+m.MessageType+" message", err)
	}
	msg := MessageOf(m)
	ev := MessageEvent(msg)
	ev.MeetingID = meetingID
	s.hooks.notifier.Publish(m.RoomID, ev)
	return msg, nil
}

// After returns up to limit messages of the room with seq > afterSeq, oldest
// first. It does not check membership (the caller has).
func (s *Messages) After(ctx context.Context, roomID, afterSeq int64, limit int) ([]api.Message, error) {
	if limit <= 0 {
		limit = MaxHistoryLimit
	}
	ms, err := s.store.Messages(ctx, roomID, store.MessageQuery{After: afterSeq, Limit: limit})
	if err != nil {
		return nil, internal("read messages", err)
	}
	return messagesOf(ms), nil
}

// History returns a page of a room's messages for a member, oldest first.
func (s *Messages) History(ctx context.Context, userID, roomID int64, q HistoryQuery) ([]api.Message, error) {
	if q.Limit == 0 {
		q.Limit = DefaultHistoryLimit
	}
	switch {
	case q.Limit < 1 || q.Limit > MaxHistoryLimit:
		return nil, Invalid("limit", "must be between 1 and %d", MaxHistoryLimit)
	case q.Offset < 0:
		return nil, Invalid("offset", "must not be negative")
	case q.After < 0:
		return nil, Invalid("after", "must not be negative")
	case q.Before < 0:
		return nil, Invalid("before", "must not be negative")
	}
	room, err := s.rooms.RequireMember(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	forward := q.AfterSet || q.After > 0
	if forward && q.After > room.LastSeq {
		// Like the chat socket: a resume point the room never reached is
		// the client's mistake (another room, a restored database), and
		// an empty page would hide it.
		return nil, Invalid("after", "is ahead of the room (last seq %d)", room.LastSeq)
	}
	sq := store.MessageQuery{After: q.After, Before: q.Before, Limit: q.Limit, Offset: q.Offset, Newest: !forward}
	if forward {
		sq.Offset = 0
	}
	ms, err := s.store.Messages(ctx, roomID, sq)
	if err != nil {
		return nil, internal("read messages", err)
	}
	return messagesOf(ms), nil
}

func messagesOf(ms []store.Message) []api.Message {
	out := make([]api.Message, len(ms))
	for i, m := range ms {
		out[i] = MessageOf(m)
	}
	return out
}
