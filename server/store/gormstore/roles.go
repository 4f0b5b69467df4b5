package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/virtual-company/vc/server/store"
)

type roleRow struct {
	ID             int64 `gorm:"primaryKey"`
	UserID         int64
	Name           string
	Avatar         string
	Description    string
	AIInstructions string `gorm:"column:ai_instructions"`
	Handle         string
	Model          string
	Temperature    *float64
	MaxTokens      *int
	CreatedAt      time.Time
}

func (roleRow) TableName() string { return "roles" }

func (r roleRow) record() store.Role {
	return store.Role{ID: r.ID, UserID: r.UserID, Name: r.Name, Avatar: r.Avatar, Description: r.Description,
		AIInstructions: r.AIInstructions, Handle: r.Handle, Model: r.Model, Temperature: r.Temperature,
		MaxTokens: r.MaxTokens, CreatedAt: r.CreatedAt.UTC()}
}

func roleRowOf(r store.Role) roleRow {
	return roleRow{ID: r.ID, UserID: r.UserID, Name: r.Name, Avatar: r.Avatar, Description: r.Description,
		AIInstructions: r.AIInstructions, Handle: r.Handle, Model: r.Model, Temperature: r.Temperature,
		MaxTokens: r.MaxTokens, CreatedAt: nowUTC(r.CreatedAt)}
}

// CreateRole implements store.RoleStore.
func (s *Store) CreateRole(ctx context.Context, r *store.Role) error {
	row := roleRowOf(*r)
	row.ID = 0
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("create role: %w", translate(err))
	}
	*r = row.record()
	return nil
}

// RoleByID implements store.RoleStore. On SQLite, where this process is
// the one writer, roles read are kept in memory: a post naming a role reads
// it before its message is stored, and a read right after a commit costs
// SQLite a fresh page cache (150-250 us here).
func (s *Store) RoleByID(ctx context.Context, id int64) (store.Role, error) {
	if s.cache == nil {
		return s.readRole(ctx, id)
	}
	if r, ok := s.cache.role(id); ok {
		return r, nil
	}
	// Read and install with no role write in between (they hold the write lock).
	s.cache.lock()
	defer s.cache.unlock()
	r, err := s.readRole(ctx, id)
	if err != nil {
		return store.Role{}, err
	}
	s.cache.putRole(r)
	return r, nil
}

func (s *Store) readRole(ctx context.Context, id int64) (store.Role, error) {
	// Scanned by hand: GORM's reflection costs more than SQLite's read.
	db, err := s.r.DB()
	if err != nil {
		return store.Role{}, fmt.Errorf("role %d: %w", id, err)
	}
	var row roleRow
	err = db.QueryRowContext(ctx, s.bind("SELECT id, user_id, name, avatar, description, ai_instructions, handle, model, temperature, max_tokens, created_at FROM roles WHERE id = ?"), id).
		Scan(&row.ID, &row.UserID, &row.Name, &row.Avatar, &row.Description, &row.AIInstructions, &row.Handle, &row.Model, &row.Temperature, &row.MaxTokens, &row.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		err = gorm.ErrRecordNotFound
	}
	if err != nil {
		return store.Role{}, fmt.Errorf("role %d: %w", id, translate(err))
	}
	return row.record(), nil
}

// RolesByOwner implements store.RoleStore.
func (s *Store) RolesByOwner(ctx context.Context, userID int64) ([]store.Role, error) {
	var rows []roleRow
	if err := s.r.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("roles of user %d: %w", userID, translate(err))
	}
	out := make([]store.Role, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// HandleTaken implements store.RoleStore.
func (s *Store) HandleTaken(ctx context.Context, userID int64, handle string, exceptID int64) (bool, error) {
	return s.exists(ctx, "roles", "user_id = ? AND handle = ? AND id <> ?", userID, handle, exceptID)
}

// UpdateRole implements store.RoleStore.
func (s *Store) UpdateRole(ctx context.Context, r store.Role) error {
	s.cache.lock()
	defer s.cache.unlock()
	defer s.cache.dropRole(r.ID)
	row := roleRowOf(r)
	res := s.w.WithContext(ctx).Model(&roleRow{}).Where("id = ?", r.ID).Select(
		"name", "avatar", "description", "ai_instructions", "handle", "model", "temperature", "max_tokens",
	).Updates(&row)
	if res.Error != nil {
		return fmt.Errorf("update role %d: %w", r.ID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update role %d: %w", r.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteRole implements store.RoleStore.
func (s *Store) DeleteRole(ctx context.Context, id int64) error {
	s.cache.lock()
	defer s.cache.unlock()
	defer s.cache.dropRole(id)
	res := s.w.WithContext(ctx).Exec("DELETE FROM roles WHERE id = ?", id)
	if res.Error != nil {
		return fmt.Errorf("delete role %d: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete role %d: %w", id, store.ErrNotFound)
	}
	return nil
}
