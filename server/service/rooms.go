package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/store"
)

const detailRoomNotFound = "Room not found"

// Rooms manages rooms and their members. A room is visible only to its
// members (others get ErrNotFound); only its creator renames or deletes it.
type Rooms struct {
	store store.Store
	audit *slog.Logger
	hooks *hooks
	auth  *Auth
	// nameLocks serialise the name check and the write of creates and
	// renames by one user (striped by user id), so that two concurrent
	// requests of one person cannot both pass the check.
	nameLocks [64]sync.Mutex
}

// RoomOf converts a stored room to its API shape.
func RoomOf(r store.Room) api.Room {
	return api.Room{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), LastSeq: r.LastSeq}
}

// Create makes a room with userID as creator and first member.
func (s *Rooms) Create(ctx context.Context, userID int64, req api.CreateRoomRequest) (api.Room, error) {
	if err := ValidateRoomName(req.Name); err != nil {
		return api.Room{}, err
	}
	mu := s.nameLock(userID)
	mu.Lock()
	defer mu.Unlock()
	if err := s.checkNameFree(ctx, userID, 0, req.Name); err != nil {
		return api.Room{}, err
	}
	r := store.Room{Name: req.Name, CreatedBy: userID}
	if err := s.store.CreateRoom(ctx, &r); err != nil {
		return api.Room{}, internal("create room", err)
	}
	return RoomOf(r), nil
}

func (s *Rooms) nameLock(userID int64) *sync.Mutex {
	return &s.nameLocks[uint64(userID)%uint64(len(s.nameLocks))]
}

// checkNameFree refuses a name already used by another room userID belongs
// to (every lookup by name would be ambiguous). Names compare exactly after
// trimming spaces: "General" and "general" may coexist, since lookups
// prefer an exact match. except is the room being renamed (0: none).
func (s *Rooms) checkNameFree(ctx context.Context, userID, except int64, name string) error {
	rs, err := s.store.RoomsForMember(ctx, userID)
	if err != nil {
		return internal("check room name", err)
	}
	want := strings.TrimSpace(name)
	for _, r := range rs {
		if r.ID != except && strings.TrimSpace(r.Name) == want {
			return &Error{Kind: apierr.RoomNameTaken,
				Detail: fmt.Sprintf("You are already a member of a room named %q (id %d); choose another name", want, r.ID)}
		}
	}
	return nil
}

// List returns the rooms userID belongs to.
func (s *Rooms) List(ctx context.Context, userID int64) ([]api.Room, error) {
	rs, err := s.store.RoomsForMember(ctx, userID)
	if err != nil {
		return nil, internal("list rooms", err)
	}
	out := make([]api.Room, len(rs))
	for i, r := range rs {
		out[i] = RoomOf(r)
	}
	return out, nil
}

// RequireMember returns the room if userID is a member; ErrNotFound for an
// unknown room or a non-member.
func (s *Rooms) RequireMember(ctx context.Context, roomID, userID int64) (api.Room, error) {
	r, err := s.store.RoomForMember(ctx, roomID, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.Room{}, NotFound(detailRoomNotFound)
	case err != nil:
		return api.Room{}, internal("find room", err)
	}
	return RoomOf(r), nil
}

// requireCreator returns the room if userID created it: ErrNotFound for
// non-members, ErrForbidden for other members.
func (s *Rooms) requireCreator(ctx context.Context, roomID, userID int64, action string) (api.Room, error) {
	r, err := s.RequireMember(ctx, roomID, userID)
	if err != nil {
		return api.Room{}, err
	}
	if r.CreatedBy != userID {
		return api.Room{}, Forbidden("Only the room's creator may " + action + " it")
	}
	return r, nil
}

// Update renames a room (creator only).
func (s *Rooms) Update(ctx context.Context, userID, roomID int64, req api.UpdateRoomRequest) (api.Room, error) {
	r, err := s.requireCreator(ctx, roomID, userID, "change")
	if err != nil {
		return api.Room{}, err
	}
	if req.Name == nil {
		return r, nil
	}
	if err := ValidateRoomName(*req.Name); err != nil {
		return api.Room{}, err
	}
	mu := s.nameLock(userID)
	mu.Lock()
	defer mu.Unlock()
	if err := s.checkNameFree(ctx, userID, roomID, *req.Name); err != nil {
		return api.Room{}, err
	}
	if err := s.store.RenameRoom(ctx, roomID, *req.Name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return api.Room{}, NotFound(detailRoomNotFound)
		}
		return api.Room{}, internal("rename room", err)
	}
	r.Name = *req.Name
	return r, nil
}

// Delete removes a room with its members and messages (creator only), then
// closes its sockets.
func (s *Rooms) Delete(ctx context.Context, userID, roomID int64) error {
	if _, err := s.requireCreator(ctx, roomID, userID, "delete"); err != nil {
		return err
	}
	if err := s.store.DeleteRoom(ctx, roomID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFound(detailRoomNotFound)
		}
		return internal("delete room", err)
	}
	s.hooks.notifier.RoomDeleted(roomID)
	s.audit.InfoContext(ctx, "room deleted", "action", "room_delete", "user_id", userID, "room_id", roomID)
	return nil
}

// Members lists a room's members (members only).
func (s *Rooms) Members(ctx context.Context, userID, roomID int64) ([]api.Member, error) {
	if _, err := s.RequireMember(ctx, roomID, userID); err != nil {
		return nil, err
	}
	ms, err := s.store.Members(ctx, roomID)
	if err != nil {
		return nil, internal("list members", err)
	}
	presence, _ := s.hooks.notifier.(Presence)
	out := make([]api.Member, len(ms))
	for i, m := range ms {
		out[i] = api.Member{UserID: m.UserID, Username: m.Username, Name: m.Name, JoinedAt: m.JoinedAt.UTC()}
		if presence != nil {
			out[i].Online = presence.IsOnline(roomID, m.UserID)
		}
	}
	return out, nil
}

// AddMember adds the user named in req to the room (any member may).
func (s *Rooms) AddMember(ctx context.Context, userID, roomID int64, req api.AddMemberRequest) (api.Member, error) {
	if _, err := s.RequireMember(ctx, roomID, userID); err != nil {
		return api.Member{}, err
	}
	if req.Username == "" {
		return api.Member{}, Invalid("username", "is required")
	}
	u, err := s.store.UserByUsername(ctx, req.Username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.Member{}, NotFound("User not found")
	case err != nil:
		return api.Member{}, internal("add member", err)
	}
	m, err := s.store.AddMember(ctx, roomID, u.ID)
	switch {
	case errors.Is(err, store.ErrConflict):
		return api.Member{}, Conflict("User is already a member")
	case errors.Is(err, store.ErrNotFound):
		return api.Member{}, NotFound(detailRoomNotFound)
	case err != nil:
		return api.Member{}, internal("add member", err)
	}
	s.hooks.notifier.Publish(roomID, wsproto.Event{Type: wsproto.TypeMembers, RoomID: roomID})
	if un, ok := s.hooks.notifier.(UserNotifier); ok {
		// The new member's clients learn of the room at once, on the
		// sockets they already have, instead of at their next room poll.
		un.PublishUser(u.ID, wsproto.Event{Type: wsproto.TypeRoomAdded, RoomID: roomID})
	}
	s.audit.InfoContext(ctx, "member added", "action", "member_add", "user_id", userID, "room_id", roomID, "member_id", m.UserID)
	return api.Member{UserID: m.UserID, Username: m.Username, Name: m.Name, JoinedAt: m.JoinedAt.UTC()}, nil
}

// RemoveMember removes targetID from the room: members may leave; the
// creator may remove anyone but cannot leave (delete the room instead).
func (s *Rooms) RemoveMember(ctx context.Context, userID, roomID, targetID int64) error {
	r, err := s.RequireMember(ctx, roomID, userID)
	if err != nil {
		return err
	}
	switch {
	case targetID == r.CreatedBy && userID == r.CreatedBy:
		return Forbidden("The room's creator cannot leave it; delete the room instead")
	case targetID != userID && userID != r.CreatedBy:
		return Forbidden("Only the room's creator may remove other members")
	}
	if err := s.store.RemoveMember(ctx, roomID, targetID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFound("Member not found")
		}
		return internal("remove member", err)
	}
	s.hooks.notifier.MemberRemoved(roomID, targetID)
	s.hooks.notifier.Publish(roomID, wsproto.Event{Type: wsproto.TypeMembers, RoomID: roomID})
	s.audit.InfoContext(ctx, "member removed", "action", "member_remove", "user_id", userID, "room_id", roomID, "member_id", targetID)
	return nil
}

// SweepDeleted notices rooms deleted in the database without this daemon
// (vcd admin rooms delete, vcd admin users delete): of the rooms that have
// open sockets (ids), those that no longer exist get their sockets closed
// (4003 "room deleted", chat and signaling) as if deleted here. One query;
// none when ids is empty. It returns how many rooms were gone.
func (s *Rooms) SweepDeleted(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	exists, err := s.store.ExistingRooms(ctx, ids)
	if err != nil {
		return 0, internal("room sweep", err)
	}
	gone := 0
	for _, id := range ids {
		if !exists[id] {
			s.hooks.notifier.RoomDeleted(id)
			gone++
		}
	}
	return gone, nil
}
