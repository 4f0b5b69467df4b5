// Package store defines vcd's persistent records and the interfaces the
// services use to read and write them. The GORM implementation lives in
// store/gormstore; services depend only on this package.
//
// Every method that looks up one record returns ErrNotFound when it does not
// exist (never a nil record with a nil error), and ErrConflict when a unique
// constraint would be violated. Methods that change several rows do so in one
// transaction.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every store implementation.
var (
	// ErrNotFound means the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint would be violated.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means the database could not be reached (connection
	// refused or lost, pool closed): the request may succeed when retried.
	ErrUnavailable = errors.New("database unavailable")
)

// User is a registered account.
type User struct {
	ID           int64
	Email        string
	Username     string
	Name         string
	PasswordHash string
	// TokenVersion is embedded in every token issued for the user; bumping it
	// revokes all of them.
	TokenVersion int64
	CreatedAt    time.Time
	// Admin is set by vcd admin grant (the config's admins list adds more).
	Admin bool
	// Disabled users cannot log in and their tokens are refused.
	Disabled bool
}

// Role is an AI character owned by a user.
type Role struct {
	ID             int64
	UserID         int64
	Name           string
	Avatar         string
	Description    string
	AIInstructions string
	Handle         string
	Model          string
	Temperature    *float64
	MaxTokens      *int
	CreatedAt      time.Time
}

// Room is a chat room.
type Room struct {
	ID        int64
	Name      string
	CreatedBy int64
	CreatedAt time.Time
	// LastSeq is the seq of the newest message (0 when the room is empty).
	LastSeq int64
}

// Member is a user's membership of a room, with the user's names.
type Member struct {
	RoomID   int64
	UserID   int64
	Username string
	Name     string
	JoinedAt time.Time
}

// Message is one stored chat message.
type Message struct {
	ID     int64
	RoomID int64
	// Seq is the per-room sequence number, assigned at insert: 1, 2, 3, ...
	Seq         int64
	UserID      *int64
	RoleID      *int64
	Content     string
	MessageType string
	// Author is the display name at the time of writing: the username, the
	// role's name for AI responses, "system" for system messages.
	Author string
	// ClientID is the sender's idempotency key ("" when none).
	ClientID  string
	Truncated bool
	CreatedAt time.Time
}

// MessageQuery selects a page of a room's messages. Seqs are exclusive
// bounds; zero means unbounded.
type MessageQuery struct {
	After  int64
	Before int64
	Limit  int
	Offset int
	// Newest selects the newest Limit matching messages (after skipping
	// Offset newest ones) instead of the oldest. Results are always returned
	// oldest first.
	Newest bool
}

// UserStore reads and writes accounts.
type UserStore interface {
	// CreateUser inserts u and sets its ID; ErrConflict when the email or
	// username is taken.
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id int64) (User, error)
	// UserByLogin finds a user by username (case-insensitive) or email.
	UserByLogin(ctx context.Context, login string) (User, error)
	// UserByUsername finds a user by username (case-insensitive).
	UserByUsername(ctx context.Context, username string) (User, error)
	// EmailTaken and UsernameTaken say whether the value is in use.
	EmailTaken(ctx context.Context, email string) (bool, error)
	UsernameTaken(ctx context.Context, username string) (bool, error)
	// BumpTokenVersion increments the user's token version and returns it.
	BumpTokenVersion(ctx context.Context, userID int64) (int64, error)
	// UserTokenStates reads the token version and disabled flag of the
	// given users in one query; users that no longer exist are absent.
	UserTokenStates(ctx context.Context, ids []int64) (map[int64]UserTokenState, error)
}

// UserTokenState is what decides whether a user's tokens still hold.
type UserTokenState struct {
	TokenVersion int64
	Disabled     bool
}

// RoleStore reads and writes roles.
type RoleStore interface {
	// CreateRole inserts r and sets its ID; ErrConflict when the handle is
	// taken for this owner.
	CreateRole(ctx context.Context, r *Role) error
	RoleByID(ctx context.Context, id int64) (Role, error)
	// RolesByOwner lists a user's roles, oldest first.
	RolesByOwner(ctx context.Context, userID int64) ([]Role, error)
	// HandleTaken says whether the owner already has a role with handle
	// (other than exceptID).
	HandleTaken(ctx context.Context, userID int64, handle string, exceptID int64) (bool, error)
	// UpdateRole writes every field of r; ErrConflict on a taken handle.
	UpdateRole(ctx context.Context, r Role) error
	DeleteRole(ctx context.Context, id int64) error
}

// RoomStore reads and writes rooms and memberships.
type RoomStore interface {
	// CreateRoom inserts r and makes its creator a member, in one
	// transaction, and sets r.ID.
	CreateRoom(ctx context.Context, r *Room) error
	RoomByID(ctx context.Context, id int64) (Room, error)
	// RoomForMember returns the room if userID is a member, ErrNotFound
	// otherwise (also for unknown rooms).
	RoomForMember(ctx context.Context, roomID, userID int64) (Room, error)
	// RoomsForMember lists the rooms a user belongs to, oldest first.
	RoomsForMember(ctx context.Context, userID int64) ([]Room, error)
	RenameRoom(ctx context.Context, roomID int64, name string) error
	// DeleteRoom removes the room, its memberships and its messages.
	DeleteRoom(ctx context.Context, roomID int64) error
	// AddMember inserts a membership; ErrConflict when it exists.
	AddMember(ctx context.Context, roomID, userID int64) (Member, error)
	// RemoveMember deletes a membership; ErrNotFound when there is none.
	RemoveMember(ctx context.Context, roomID, userID int64) error
	// Members lists a room's members in the order they joined.
	Members(ctx context.Context, roomID int64) ([]Member, error)
}

// MessageStore reads and writes messages.
type MessageStore interface {
	// CreateMessage assigns the next seq of the room and inserts m in one
	// transaction, setting m.ID, m.Seq and m.CreatedAt. When m.ClientID is
	// set and the same (room, user, client_id) was stored before, it returns
	// the stored message and created=false instead.
	CreateMessage(ctx context.Context, m *Message) (created bool, err error)
	// Messages returns a page of a room's messages, oldest first.
	Messages(ctx context.Context, roomID int64, q MessageQuery) ([]Message, error)
}

// Store is everything the core services need, plus lifecycle.
type Store interface {
	UserStore
	RoleStore
	RoomStore
	MessageStore
	AdminStore
	MeetingStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
