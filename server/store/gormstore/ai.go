package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/virtual-company/vc/server/store"
)

var _ store.AIStore = (*Store)(nil)

type roomRoleRow struct {
	RoomID   int64 `gorm:"primaryKey"`
	RoleID   int64 `gorm:"primaryKey"`
	SeatedBy int64
	SeatedAt time.Time
}

func (roomRoleRow) TableName() string { return "room_roles" }

type apiKeyRow struct {
	ID         int64 `gorm:"primaryKey"`
	UserID     int64
	Provider   string
	BaseURL    string
	Ciphertext []byte
	KeyVersion string
	LastFour   string
	CreatedAt  time.Time
}

func (apiKeyRow) TableName() string { return "api_keys" }

func (r apiKeyRow) record() store.APIKey {
	return store.APIKey{ID: r.ID, UserID: r.UserID, Provider: r.Provider, BaseURL: r.BaseURL, Ciphertext: r.Ciphertext,
		KeyVersion: r.KeyVersion, LastFour: r.LastFour, CreatedAt: r.CreatedAt.UTC()}
}

type usageRow struct {
	ID           int64 `gorm:"primaryKey"`
	UserID       int64
	RoleID       *int64
	RoomID       *int64
	KeyOwnerID   *int64
	Provider     string
	Model        string
	InputTokens  int64
	OutputTokens int64
	Day          string
	CreatedAt    time.Time
}

func (usageRow) TableName() string { return "ai_usage" }

// SeatRole implements store.AIStore.
func (s *Store) SeatRole(ctx context.Context, roomID, roleID, seatedBy int64) error {
	row := roomRoleRow{RoomID: roomID, RoleID: roleID, SeatedBy: seatedBy, SeatedAt: nowUTC(time.Time{})}
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("seat role %d in room %d: %w", roleID, roomID, translate(err))
	}
	return nil
}

// UnseatRole implements store.AIStore.
func (s *Store) UnseatRole(ctx context.Context, roomID, roleID int64) error {
	res := s.w.WithContext(ctx).Where("room_id = ? AND role_id = ?", roomID, roleID).Delete(&roomRoleRow{})
	if res.Error != nil {
		return fmt.Errorf("unseat role %d from room %d: %w", roleID, roomID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("unseat role %d from room %d: %w", roleID, roomID, store.ErrNotFound)
	}
	return nil
}

// SeatedRoles implements store.AIStore.
func (s *Store) SeatedRoles(ctx context.Context, roomID int64) ([]store.Role, error) {
	var rows []roleRow
	err := s.r.WithContext(ctx).Table("roles").Select("roles.*").
		Joins("JOIN room_roles ON room_roles.role_id = roles.id").
		Where("room_roles.room_id = ?", roomID).
		Order("room_roles.seated_at, roles.id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("roles seated in room %d: %w", roomID, translate(err))
	}
	out := make([]store.Role, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// RoleSeated implements store.AIStore.
func (s *Store) RoleSeated(ctx context.Context, roomID, roleID int64) (bool, error) {
	var n int64
	err := s.r.WithContext(ctx).Model(&roomRoleRow{}).Where("room_id = ? AND role_id = ?", roomID, roleID).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("role %d seated in room %d: %w", roleID, roomID, translate(err))
	}
	return n > 0, nil
}

// RoleVisibleThroughRoom implements store.AIStore (and service.RoleSeats).
func (s *Store) RoleVisibleThroughRoom(ctx context.Context, roleID, userID int64) (bool, error) {
	var n int64
	err := s.r.WithContext(ctx).Model(&roomRoleRow{}).
		Joins("JOIN room_members ON room_members.room_id = room_roles.room_id").
		Where("room_roles.role_id = ? AND room_members.user_id = ?", roleID, userID).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("role %d visible to user %d: %w", roleID, userID, translate(err))
	}
	return n > 0, nil
}

// CreateAPIKey implements store.AIStore.
func (s *Store) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	row := apiKeyRow{UserID: k.UserID, Provider: k.Provider, BaseURL: k.BaseURL, Ciphertext: k.Ciphertext,
		KeyVersion: k.KeyVersion, LastFour: k.LastFour, CreatedAt: nowUTC(k.CreatedAt)}
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ? AND provider = ?", k.UserID, k.Provider).Delete(&apiKeyRow{}).Error; err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return fmt.Errorf("store %s key: %w", k.Provider, translate(err))
	}
	*k = row.record()
	return nil
}

// APIKeys implements store.AIStore.
func (s *Store) APIKeys(ctx context.Context, userID int64) ([]store.APIKey, error) {
	var rows []apiKeyRow
	if err := s.r.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("keys of user %d: %w", userID, translate(err))
	}
	out := make([]store.APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// APIKeyFor implements store.AIStore.
func (s *Store) APIKeyFor(ctx context.Context, userID int64, provider string) (store.APIKey, error) {
	var row apiKeyRow
	if err := s.r.WithContext(ctx).Where("user_id = ? AND provider = ?", userID, provider).Take(&row).Error; err != nil {
		return store.APIKey{}, fmt.Errorf("%s key of user %d: %w", provider, userID, translate(err))
	}
	return row.record(), nil
}

// DeleteAPIKey implements store.AIStore.
func (s *Store) DeleteAPIKey(ctx context.Context, userID, keyID int64) error {
	res := s.w.WithContext(ctx).Where("id = ? AND user_id = ?", keyID, userID).Delete(&apiKeyRow{})
	if res.Error != nil {
		return fmt.Errorf("delete key %d: %w", keyID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete key %d: %w", keyID, store.ErrNotFound)
	}
	return nil
}

// APIKeysNotAt implements store.AIStore.
func (s *Store) APIKeysNotAt(ctx context.Context, version string) ([]store.APIKey, error) {
	var rows []apiKeyRow
	if err := s.r.WithContext(ctx).Where("key_version <> ?", version).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("keys to reseal: %w", translate(err))
	}
	out := make([]store.APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// ResealAPIKey implements store.AIStore.
func (s *Store) ResealAPIKey(ctx context.Context, keyID int64, ciphertext []byte, version string) error {
	err := s.w.WithContext(ctx).Model(&apiKeyRow{}).Where("id = ?", keyID).
		Updates(map[string]any{"ciphertext": ciphertext, "key_version": version}).Error
	if err != nil {
		return fmt.Errorf("reseal key %d: %w", keyID, translate(err))
	}
	return nil
}

// RecordUsage implements store.AIStore.
func (s *Store) RecordUsage(ctx context.Context, u *store.UsageRecord) error {
	at := nowUTC(u.CreatedAt)
	row := usageRow{UserID: u.UserID, RoleID: u.RoleID, RoomID: u.RoomID, KeyOwnerID: u.KeyOwnerID, Provider: u.Provider, Model: u.Model,
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, Day: at.Format(time.DateOnly), CreatedAt: at}
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("record usage: %w", translate(err))
	}
	u.ID, u.CreatedAt = row.ID, at
	return nil
}

// UsageByDay implements store.AIStore.
func (s *Store) UsageByDay(ctx context.Context, userID int64, since time.Time) ([]store.UsageRow, error) {
	var rows []store.UsageRow
	err := s.r.WithContext(ctx).Model(&usageRow{}).
		Select("day, model, COUNT(*) AS replies, COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens").
		Where("user_id = ? AND day >= ?", userID, since.UTC().Format(time.DateOnly)).
		Group("day, model").Order("day DESC, model").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("usage of user %d: %w", userID, translate(err))
	}
	return rows, nil
}

// UsageOnKeysOf implements store.AIStore.
func (s *Store) UsageOnKeysOf(ctx context.Context, ownerID int64, since time.Time) ([]store.UsageRow, error) {
	var rows []store.UsageRow
	err := s.r.WithContext(ctx).Table("ai_usage AS u").
		Select("u.day AS day, u.model AS model, COALESCE(us.username, '') AS \"user\", COUNT(*) AS replies, "+
			"COALESCE(SUM(u.input_tokens), 0) AS input_tokens, COALESCE(SUM(u.output_tokens), 0) AS output_tokens").
		Joins("LEFT JOIN users AS us ON us.id = u.user_id").
		Where("u.key_owner_id = ? AND u.user_id <> ? AND u.day >= ?", ownerID, ownerID, since.UTC().Format(time.DateOnly)).
		Group("u.day, u.model, us.username").Order("u.day DESC, u.model, us.username").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("usage on the keys of user %d: %w", ownerID, translate(err))
	}
	return rows, nil
}

// TokensSince implements store.AIStore.
func (s *Store) TokensSince(ctx context.Context, userID int64, since time.Time) (int64, error) {
	var n *int64
	err := s.r.WithContext(ctx).Model(&usageRow{}).Select("SUM(input_tokens + output_tokens)").
		Where("user_id = ? AND created_at >= ?", userID, since.UTC()).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("tokens of user %d: %w", userID, translate(err))
	}
	if n == nil {
		return 0, nil
	}
	return *n, nil
}
