package gormstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/virtual-company/vc/server/store"
)

type inviteRow struct {
	ID        int64 `gorm:"primaryKey"`
	CodeHash  string
	UsesLeft  int64
	ExpiresAt *time.Time
	CreatedAt time.Time
}

func (inviteRow) TableName() string { return "invites" }

// Users implements store.AdminStore.
func (s *Store) Users(ctx context.Context) ([]store.UserSummary, error) {
	var rows []struct {
		User     userRow `gorm:"embedded"`
		Rooms    int64
		Messages int64
	}
	err := s.r.WithContext(ctx).Raw(`SELECT u.*,
		(SELECT COUNT(*) FROM room_members m WHERE m.user_id = u.id) AS rooms,
		(SELECT COUNT(*) FROM messages g WHERE g.user_id = u.id) AS messages
		FROM users u ORDER BY u.id`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list users: %w", translate(err))
	}
	out := make([]store.UserSummary, len(rows))
	for i, r := range rows {
		out[i] = store.UserSummary{User: r.User.record(), Rooms: r.Rooms, Messages: r.Messages}
	}
	return out, nil
}

// updateUser runs one UPDATE on a user, ErrNotFound when there is none.
func (s *Store) updateUser(ctx context.Context, what string, userID int64, set string, args ...any) error {
	res := s.w.WithContext(ctx).Exec("UPDATE users SET "+set+" WHERE id = ?", append(args, userID)...)
	if res.Error != nil {
		return fmt.Errorf("%s: %w", what, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// SetUserDisabled implements store.AdminStore.
func (s *Store) SetUserDisabled(ctx context.Context, userID int64, disabled bool) error {
	if disabled {
		return s.updateUser(ctx, "disable user", userID, "disabled = ?, token_version = token_version + 1", true)
	}
	return s.updateUser(ctx, "enable user", userID, "disabled = ?", false)
}

// SetUserAdmin implements store.AdminStore.
func (s *Store) SetUserAdmin(ctx context.Context, userID int64, admin bool) error {
	return s.updateUser(ctx, "set admin", userID, "is_admin = ?", admin)
}

// SetPasswordHash implements store.AdminStore.
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	return s.updateUser(ctx, "set password", userID, "password_hash = ?, token_version = token_version + 1", hash)
}

// DeleteUser implements store.AdminStore. The foreign keys cascade; this
// process's cache forgets the user's rooms and memberships.
func (s *Store) DeleteUser(ctx context.Context, userID int64) error {
	var created, joined []int64
	if err := s.r.WithContext(ctx).Raw("SELECT id FROM rooms WHERE created_by = ?", userID).Scan(&created).Error; err != nil {
		return fmt.Errorf("delete user: %w", translate(err))
	}
	if err := s.r.WithContext(ctx).Raw("SELECT room_id FROM room_members WHERE user_id = ?", userID).Scan(&joined).Error; err != nil {
		return fmt.Errorf("delete user: %w", translate(err))
	}
	s.cache.lock()
	defer s.cache.unlock()
	defer func() {
		for _, id := range joined {
			s.cache.removeMember(id, userID)
		}
		for _, id := range created {
			s.cache.drop(id)
		}
	}()
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Explicit deletes of the rooms' messages, as DeleteRoom does.
		if err := tx.Exec("DELETE FROM messages WHERE room_id IN (SELECT id FROM rooms WHERE created_by = ?)", userID).Error; err != nil {
			return err
		}
		res := tx.Exec("DELETE FROM users WHERE id = ?", userID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete user %d: %w", userID, translate(err))
	}
	return nil
}

// AllRooms implements store.AdminStore.
func (s *Store) AllRooms(ctx context.Context) ([]store.RoomSummary, error) {
	var rows []struct {
		Room     roomRow `gorm:"embedded"`
		Creator  string
		Members  int64
		Messages int64
	}
	err := s.r.WithContext(ctx).Raw(`SELECT r.*, COALESCE(u.username, '') AS creator,
		(SELECT COUNT(*) FROM room_members m WHERE m.room_id = r.id) AS members,
		(SELECT COUNT(*) FROM messages g WHERE g.room_id = r.id) AS messages
		FROM rooms r LEFT JOIN users u ON u.id = r.created_by ORDER BY r.id`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", translate(err))
	}
	out := make([]store.RoomSummary, len(rows))
	for i, r := range rows {
		out[i] = store.RoomSummary{Room: r.Room.record(), Creator: r.Creator, Members: r.Members, Messages: r.Messages}
	}
	return out, nil
}

// CreateInvite implements store.AdminStore.
func (s *Store) CreateInvite(ctx context.Context, inv *store.Invite) error {
	row := inviteRow{CodeHash: inv.CodeHash, UsesLeft: inv.UsesLeft, ExpiresAt: inv.ExpiresAt, CreatedAt: nowUTC(inv.CreatedAt)}
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("create invite: %w", translate(err))
	}
	inv.ID, inv.CreatedAt = row.ID, row.CreatedAt
	return nil
}

// CreateUserWithInvite implements store.AdminStore.
func (s *Store) CreateUserWithInvite(ctx context.Context, u *store.User, codeHash string, now time.Time) error {
	row := userRow{Email: u.Email, Username: u.Username, Name: u.Name, PasswordHash: u.PasswordHash,
		TokenVersion: u.TokenVersion, CreatedAt: nowUTC(u.CreatedAt), IsAdmin: u.Admin, Disabled: u.Disabled}
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE invites SET uses_left = uses_left - 1
			WHERE code_hash = ? AND uses_left > 0 AND (expires_at IS NULL OR expires_at > ?)`, codeHash, now.UTC())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrInviteInvalid
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		if errors.Is(err, store.ErrInviteInvalid) {
			return err
		}
		return fmt.Errorf("create user: %w", translate(err))
	}
	*u = row.record()
	return nil
}
