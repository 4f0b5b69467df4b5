package store

import (
	"context"
	"time"
)

// APIKey is a user's stored provider key. Ciphertext is the key sealed by
// server/secrets under KeyVersion, bound to (user, provider); the key itself
// is never stored.
type APIKey struct {
	ID         int64
	UserID     int64
	Provider   string
	BaseURL    string
	Ciphertext []byte
	KeyVersion string
	LastFour   string
	CreatedAt  time.Time
}

// UsageRecord is the token cost of one AI reply or generation.
type UsageRecord struct {
	ID     int64
	UserID int64
	RoleID *int64
	RoomID *int64
	// KeyOwnerID is the user whose stored key paid (nil: the server's key
	// or a key sent with the request).
	KeyOwnerID   *int64
	Provider     string
	Model        string
	InputTokens  int64
	OutputTokens int64
	CreatedAt    time.Time
}

// UsageRow sums a user's usage of one model on one UTC day.
type UsageRow struct {
	Day   string // YYYY-MM-DD
	Model string
	// User is who spent (UsageOnKeysOf only).
	User         string
	Replies      int64
	InputTokens  int64
	OutputTokens int64
}

// AIStore reads and writes what AI roles need: seats of roles in rooms,
// encrypted API keys and usage.
type AIStore interface {
	// SeatRole seats a role in a room; ErrConflict when it is seated already.
	SeatRole(ctx context.Context, roomID, roleID, seatedBy int64) error
	// UnseatRole removes a seat; ErrNotFound when there is none.
	UnseatRole(ctx context.Context, roomID, roleID int64) error
	// SeatedRoles lists the roles seated in a room, in seating order.
	SeatedRoles(ctx context.Context, roomID int64) ([]Role, error)
	// RoleSeated reports whether a role is seated in a room.
	RoleSeated(ctx context.Context, roomID, roleID int64) (bool, error)
	// RoleVisibleThroughRoom reports whether the role is seated in a room
	// userID belongs to.
	RoleVisibleThroughRoom(ctx context.Context, roleID, userID int64) (bool, error)

	// CreateAPIKey inserts k, replacing the user's key for the same
	// provider, and sets k.ID.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeys lists a user's keys, oldest first.
	APIKeys(ctx context.Context, userID int64) ([]APIKey, error)
	// APIKeyFor returns the user's key for a provider (ErrNotFound: none).
	APIKeyFor(ctx context.Context, userID int64, provider string) (APIKey, error)
	// DeleteAPIKey removes one of the user's keys (ErrNotFound: not theirs).
	DeleteAPIKey(ctx context.Context, userID, keyID int64) error
	// APIKeysNotAt lists keys sealed under another version than version.
	APIKeysNotAt(ctx context.Context, version string) ([]APIKey, error)
	// ResealAPIKey replaces a key's ciphertext and version.
	ResealAPIKey(ctx context.Context, keyID int64, ciphertext []byte, version string) error

	// RecordUsage inserts u.
	RecordUsage(ctx context.Context, u *UsageRecord) error
	// UsageByDay sums a user's usage per UTC day and model, newest day first.
	UsageByDay(ctx context.Context, userID int64, since time.Time) ([]UsageRow, error)
	// TokensSince sums a user's input+output tokens since t.
	TokensSince(ctx context.Context, userID int64, since time.Time) (int64, error)
	// UsageOnKeysOf sums what other users spent on ownerID's stored keys,
	// per UTC day, model and user, newest day first.
	UsageOnKeysOf(ctx context.Context, ownerID int64, since time.Time) ([]UsageRow, error)
}
