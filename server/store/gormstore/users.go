package gormstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/virtual-company/vc/server/store"
)

type userRow struct {
	ID           int64 `gorm:"primaryKey"`
	Email        string
	Username     string
	Name         string
	PasswordHash string
	TokenVersion int64
	CreatedAt    time.Time
	IsAdmin      bool
	Disabled     bool
}

func (userRow) TableName() string { return "users" }

func (r userRow) record() store.User {
	return store.User{ID: r.ID, Email: r.Email, Username: r.Username, Name: r.Name,
		PasswordHash: r.PasswordHash, TokenVersion: r.TokenVersion, CreatedAt: r.CreatedAt.UTC(),
		Admin: r.IsAdmin, Disabled: r.Disabled}
}

// CreateUser implements store.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	row := userRow{Email: u.Email, Username: u.Username, Name: u.Name, PasswordHash: u.PasswordHash,
		TokenVersion: u.TokenVersion, CreatedAt: nowUTC(u.CreatedAt), IsAdmin: u.Admin, Disabled: u.Disabled}
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("create user: %w", translate(err))
	}
	*u = row.record()
	return nil
}

func (s *Store) userWhere(ctx context.Context, what string, query string, args ...any) (store.User, error) {
	var row userRow
	if err := s.r.WithContext(ctx).Where(query, args...).Take(&row).Error; err != nil {
		return store.User{}, fmt.Errorf("user by %s: %w", what, translate(err))
	}
	return row.record(), nil
}

// UserByID implements store.UserStore.
func (s *Store) UserByID(ctx context.Context, id int64) (store.User, error) {
	return s.userWhere(ctx, "id", "id = ?", id)
}

// UserByUsername implements store.UserStore.
func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	return s.userWhere(ctx, "username", "lower(username) = ?", strings.ToLower(username))
}

// UserByLogin implements store.UserStore.
func (s *Store) UserByLogin(ctx context.Context, login string) (store.User, error) {
	if strings.Contains(login, "@") {
		return s.userWhere(ctx, "email", "email = ?", strings.ToLower(login))
	}
	return s.UserByUsername(ctx, login)
}

// EmailTaken implements store.UserStore.
func (s *Store) EmailTaken(ctx context.Context, email string) (bool, error) {
	return s.exists(ctx, "users", "email = ?", strings.ToLower(email))
}

// UsernameTaken implements store.UserStore.
func (s *Store) UsernameTaken(ctx context.Context, username string) (bool, error) {
	return s.exists(ctx, "users", "lower(username) = ?", strings.ToLower(username))
}

// BumpTokenVersion implements store.UserStore.
func (s *Store) BumpTokenVersion(ctx context.Context, userID int64) (int64, error) {
	var v int64
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE users SET token_version = token_version + 1 WHERE id = ?", userID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		return tx.Raw("SELECT token_version FROM users WHERE id = ?", userID).Scan(&v).Error
	})
	if err != nil {
		return 0, fmt.Errorf("bump token version: %w", translate(err))
	}
	return v, nil
}

// UserTokenStates implements store.UserStore.
func (s *Store) UserTokenStates(ctx context.Context, ids []int64) (map[int64]store.UserTokenState, error) {
	out := make(map[int64]store.UserTokenState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID           int64
		TokenVersion int64
		Disabled     bool
	}
	if err := s.r.WithContext(ctx).Raw("SELECT id, token_version, disabled FROM users WHERE id IN ?", ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("user token states: %w", translate(err))
	}
	for _, r := range rows {
		out[r.ID] = store.UserTokenState{TokenVersion: r.TokenVersion, Disabled: r.Disabled}
	}
	return out, nil
}

func (s *Store) exists(ctx context.Context, table, query string, args ...any) (bool, error) {
	var n int64
	if err := s.r.WithContext(ctx).Table(table).Where(query, args...).Limit(1).Count(&n).Error; err != nil {
		return false, fmt.Errorf("check %s: %w", table, translate(err))
	}
	return n > 0, nil
}

// nowUTC returns t in UTC, or the current time when t is zero, truncated to
// microseconds: PostgreSQL keeps no more, and both databases must answer the
// same.
func nowUTC(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}
