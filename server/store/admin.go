package store

import (
	"context"
	"errors"
	"time"
)

// ErrInviteInvalid means an invite code is unknown, expired or used up.
var ErrInviteInvalid = errors.New("invite code is invalid, expired or used up")

// UserSummary is a user as the admin command lists it.
type UserSummary struct {
	User
	Rooms    int64
	Messages int64
}

// RoomSummary is a room as the admin command lists it.
type RoomSummary struct {
	Room
	Creator  string
	Members  int64
	Messages int64
}

// Invite lets a limited number of people register while registration is
// by invite. Only the SHA-256 of the code is stored.
type Invite struct {
	ID        int64
	CodeHash  string
	UsesLeft  int64
	ExpiresAt *time.Time
	CreatedAt time.Time
}

// AdminStore is what operators change directly (vcd admin), plus
// registration by invite.
type AdminStore interface {
	// Users lists every user, oldest first, with room and message counts.
	Users(ctx context.Context) ([]UserSummary, error)
	// SetUserDisabled disables or enables a user. Disabling also bumps the
	// token version, so every token already issued stops working.
	SetUserDisabled(ctx context.Context, userID int64, disabled bool) error
	// SetUserAdmin grants or revokes the admin flag.
	SetUserAdmin(ctx context.Context, userID int64, admin bool) error
	// SetPasswordHash replaces the password and bumps the token version.
	SetPasswordHash(ctx context.Context, userID int64, hash string) error
	// DeleteUser removes the user with their roles, keys, memberships and
	// the rooms they created; their messages elsewhere stay, unattributed.
	DeleteUser(ctx context.Context, userID int64) error
	// AllRooms lists every room, oldest first, with counts.
	AllRooms(ctx context.Context) ([]RoomSummary, error)
	// ExistingRooms reports which of the given rooms still exist, in one
	// query (the daemon's sweep for rooms deleted by vcd admin).
	ExistingRooms(ctx context.Context, ids []int64) (map[int64]bool, error)
	// CreateInvite inserts inv and sets its ID.
	CreateInvite(ctx context.Context, inv *Invite) error
	// CreateUserWithInvite uses one use of the invite and inserts u in one
	// transaction; ErrInviteInvalid when the invite cannot be used.
	CreateUserWithInvite(ctx context.Context, u *User, codeHash string, now time.Time) error
}
