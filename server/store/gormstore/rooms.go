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

type roomRow struct {
	ID        int64 `gorm:"primaryKey"`
	Name      string
	CreatedBy int64
	LastSeq   int64
	CreatedAt time.Time
}

func (roomRow) TableName() string { return "rooms" }

func (r roomRow) record() store.Room {
	return store.Room{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, LastSeq: r.LastSeq, CreatedAt: r.CreatedAt.UTC()}
}

type memberRow struct {
	RoomID   int64 `gorm:"primaryKey"`
	UserID   int64 `gorm:"primaryKey"`
	JoinedAt time.Time
}

func (memberRow) TableName() string { return "room_members" }

// CreateRoom implements store.RoomStore.
func (s *Store) CreateRoom(ctx context.Context, r *store.Room) error {
	row := roomRow{Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: nowUTC(r.CreatedAt)}
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return tx.Create(&memberRow{RoomID: row.ID, UserID: row.CreatedBy, JoinedAt: row.CreatedAt}).Error
	})
	if err != nil {
		return fmt.Errorf("create room: %w", translate(err))
	}
	*r = row.record()
	return nil
}

// RoomByID implements store.RoomStore.
func (s *Store) RoomByID(ctx context.Context, id int64) (store.Room, error) {
	var row roomRow
	if err := s.r.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return store.Room{}, fmt.Errorf("room %d: %w", id, translate(err))
	}
	return row.record(), nil
}

// RoomForMember implements store.RoomStore. It runs on every message post
// and history read, so it skips GORM's reflection.
func (s *Store) RoomForMember(ctx context.Context, roomID, userID int64) (store.Room, error) {
	if s.cache == nil {
		return s.roomForMember(ctx, roomID, userID)
	}
	if r, ok := s.cache.member(roomID, userID); ok {
		return r, nil
	}
	s.cache.lock()
	defer s.cache.unlock()
	r, err := s.roomForMember(ctx, roomID, userID)
	if err != nil {
		return store.Room{}, err
	}
	s.cache.addMember(r, userID)
	return r, nil
}

func (s *Store) roomForMember(ctx context.Context, roomID, userID int64) (store.Room, error) {
	sqlDB, err := s.r.DB()
	if err != nil {
		return store.Room{}, err
	}
	var r store.Room
	err = sqlDB.QueryRowContext(ctx, s.bind(`SELECT r.id, r.name, r.created_by, r.last_seq, r.created_at
		FROM rooms r JOIN room_members m ON m.room_id = r.id AND m.user_id = ?
		WHERE r.id = ?`), userID, roomID).Scan(&r.ID, &r.Name, &r.CreatedBy, &r.LastSeq, &r.CreatedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Room{}, fmt.Errorf("room %d for user %d: %w", roomID, userID, store.ErrNotFound)
	case err != nil:
		return store.Room{}, fmt.Errorf("room %d for user %d: %w", roomID, userID, translate(err))
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// RoomsForMember implements store.RoomStore.
func (s *Store) RoomsForMember(ctx context.Context, userID int64) ([]store.Room, error) {
	var rows []roomRow
	err := s.r.WithContext(ctx).Raw(`SELECT r.id, r.name, r.created_by, r.last_seq, r.created_at
		FROM rooms r JOIN room_members m ON m.room_id = r.id
		WHERE m.user_id = ? ORDER BY r.id`, userID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("rooms of user %d: %w", userID, translate(err))
	}
	out := make([]store.Room, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// RenameRoom implements store.RoomStore.
func (s *Store) RenameRoom(ctx context.Context, roomID int64, name string) error {
	s.cache.lock()
	defer s.cache.unlock()
	defer s.cache.renamed(roomID, name)
	res := s.w.WithContext(ctx).Exec("UPDATE rooms SET name = ? WHERE id = ?", name, roomID)
	if res.Error != nil {
		return fmt.Errorf("rename room %d: %w", roomID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("rename room %d: %w", roomID, store.ErrNotFound)
	}
	return nil
}

// DeleteRoom implements store.RoomStore. Foreign keys cascade to members and
// messages; the explicit deletes keep it true where cascades are off.
func (s *Store) DeleteRoom(ctx context.Context, roomID int64) error {
	s.cache.lock()
	defer s.cache.unlock()
	defer s.cache.drop(roomID)
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM messages WHERE room_id = ?", roomID).Error; err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM room_members WHERE room_id = ?", roomID).Error; err != nil {
			return err
		}
		res := tx.Exec("DELETE FROM rooms WHERE id = ?", roomID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete room %d: %w", roomID, translate(err))
	}
	return nil
}

// AddMember implements store.RoomStore.
func (s *Store) AddMember(ctx context.Context, roomID, userID int64) (store.Member, error) {
	row := memberRow{RoomID: roomID, UserID: userID, JoinedAt: nowUTC(time.Time{})}
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		return store.Member{}, fmt.Errorf("add user %d to room %d: %w", userID, roomID, translate(err))
	}
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return store.Member{}, err
	}
	return store.Member{RoomID: roomID, UserID: userID, Username: u.Username, Name: u.Name, JoinedAt: row.JoinedAt}, nil
}

// RemoveMember implements store.RoomStore.
func (s *Store) RemoveMember(ctx context.Context, roomID, userID int64) error {
	s.cache.lock()
	defer s.cache.unlock()
	// Forget it before and after: no reader may see the membership once
	// the delete committed.
	s.cache.removeMember(roomID, userID)
	defer s.cache.removeMember(roomID, userID)
	res := s.w.WithContext(ctx).Exec("DELETE FROM room_members WHERE room_id = ? AND user_id = ?", roomID, userID)
	if res.Error != nil {
		return fmt.Errorf("remove user %d from room %d: %w", userID, roomID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("remove user %d from room %d: %w", userID, roomID, store.ErrNotFound)
	}
	return nil
}

// Members implements store.RoomStore.
func (s *Store) Members(ctx context.Context, roomID int64) ([]store.Member, error) {
	var rows []struct {
		UserID   int64
		Username string
		Name     string
		JoinedAt time.Time
	}
	err := s.r.WithContext(ctx).Raw(`SELECT m.user_id, u.username, u.name, m.joined_at
		FROM room_members m JOIN users u ON u.id = m.user_id
		WHERE m.room_id = ? ORDER BY m.joined_at, m.user_id`, roomID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("members of room %d: %w", roomID, translate(err))
	}
	out := make([]store.Member, len(rows))
	for i, r := range rows {
		out[i] = store.Member{RoomID: roomID, UserID: r.UserID, Username: r.Username, Name: r.Name, JoinedAt: r.JoinedAt.UTC()}
	}
	return out, nil
}
