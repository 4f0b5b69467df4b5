package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/store"
)

// SeatStore is what the seats service reads and writes.
type SeatStore interface {
	RoleByID(ctx context.Context, roleID int64) (store.Role, error)
	SeatRole(ctx context.Context, roomID, roleID, seatedBy int64) error
	UnseatRole(ctx context.Context, roomID, roleID int64) error
	SeatedRoles(ctx context.Context, roomID int64) ([]store.Role, error)
	RoleSeated(ctx context.Context, roomID, roleID int64) (bool, error)
}

// Seats seats AI roles in rooms: who may seat or unseat which role, and who
// sees which part of a seated role.
type Seats struct {
	store  SeatStore
	hooks  *hooks
	rooms  *Rooms
	roles  *Roles
	caches AICaches
}

// NewSeats returns the seats service; caches is told about every seat
// change (nil: nothing is cached).
func (s *Services) NewSeats(st SeatStore, caches AICaches) *Seats {
	if caches == nil {
		caches = nopCaches{}
	}
	return &Seats{store: st, hooks: s.hooks, rooms: s.Rooms, roles: s.Roles, caches: caches}
}

// SeatRole seats one of userID's roles in a room userID belongs to.
func (s *Seats) SeatRole(ctx context.Context, userID, roomID, roleID int64) (api.Role, error) {
	if roleID <= 0 {
		return api.Role{}, Invalid("role_id", "is required")
	}
	if _, err := s.rooms.RequireMember(ctx, roomID, userID); err != nil {
		return api.Role{}, err
	}
	r, err := s.roles.Stored(ctx, userID, roleID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return api.Role{}, Invalid("role_id", "no such role")
		}
		return api.Role{}, err
	}
	if r.UserID != userID {
		return api.Role{}, Forbidden("Only the role's owner can seat it")
	}
	if err := s.store.SeatRole(ctx, roomID, roleID, userID); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.Role{}, Conflict("The role is already seated in this room")
		}
		return api.Role{}, fmt.Errorf("seat role: %w", err)
	}
	s.caches.SeatsChanged(roomID)
	s.roomChanged(roomID)
	return RoleOf(r, userID), nil
}

// RoomRoles lists the roles seated in a room (members only);
// ai_instructions only for the caller's own roles.
func (s *Seats) RoomRoles(ctx context.Context, userID, roomID int64) ([]api.Role, error) {
	if _, err := s.rooms.RequireMember(ctx, roomID, userID); err != nil {
		return nil, err
	}
	rs, err := s.store.SeatedRoles(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("seated roles: %w", err)
	}
	out := make([]api.Role, len(rs))
	for i, r := range rs {
		out[i] = RoleOf(r, userID)
	}
	return out, nil
}

// UnseatRole removes a role from a room: its owner or the room's creator may.
func (s *Seats) UnseatRole(ctx context.Context, userID, roomID, roleID int64) error {
	room, err := s.rooms.RequireMember(ctx, roomID, userID)
	if err != nil {
		return err
	}
	seated, err := s.store.RoleSeated(ctx, roomID, roleID)
	if err != nil {
		return fmt.Errorf("role seated: %w", err)
	}
	if !seated {
		return NotFound("The role is not seated in this room")
	}
	r, err := s.store.RoleByID(ctx, roleID)
	if err != nil {
		return fmt.Errorf("find role: %w", err)
	}
	if r.UserID != userID && room.CreatedBy != userID {
		return Forbidden("Only the role's owner or the room's creator can unseat it")
	}
	if err := s.store.UnseatRole(ctx, roomID, roleID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFound("The role is not seated in this room")
		}
		return fmt.Errorf("unseat role: %w", err)
	}
	s.caches.SeatsChanged(roomID)
	s.roomChanged(roomID)
	return nil
}

// roomChanged tells the room's sockets that its seated roles changed.
func (s *Seats) roomChanged(roomID int64) {
	s.hooks.notifier.Publish(roomID, wsproto.Event{Type: wsproto.TypeMembers, RoomID: roomID})
}
