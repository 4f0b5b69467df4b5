package gormstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/virtual-company/vc/server/store"
)

type messageRow struct {
	ID          int64 `gorm:"primaryKey"`
	RoomID      int64
	Seq         int64
	UserID      *int64
	RoleID      *int64
	Content     string
	MessageType string
	Author      string
	ClientID    *string
	Truncated   bool
	CreatedAt   time.Time
}

func (messageRow) TableName() string { return "messages" }

func (r messageRow) record() store.Message {
	m := store.Message{ID: r.ID, RoomID: r.RoomID, Seq: r.Seq, UserID: r.UserID, RoleID: r.RoleID,
		Content: r.Content, MessageType: r.MessageType, Author: r.Author, Truncated: r.Truncated,
		CreatedAt: r.CreatedAt.UTC()}
	if r.ClientID != nil {
		m.ClientID = *r.ClientID
	}
	return m
}

// errResend rolls back the seq increment of a send that turned out to be a
// resend.
var errResend = errors.New("resend")

// CreateMessage implements store.MessageStore. The room row's last_seq is
// incremented first: on PostgreSQL that row lock serialises writers of one
// room (so seqs commit in order with no gaps), on SQLite the single writer
// connection does.
func (s *Store) CreateMessage(ctx context.Context, m *store.Message) (bool, error) {
	row := messageRow{RoomID: m.RoomID, UserID: m.UserID, RoleID: m.RoleID, Content: m.Content,
		MessageType: m.MessageType, Author: m.Author, Truncated: m.Truncated, CreatedAt: nowUTC(m.CreatedAt)}
	if m.ClientID != "" {
		cid := m.ClientID
		row.ClientID = &cid
	}
	var existing messageRow
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var seq int64
		if err := tx.Raw("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", m.RoomID).
			Scan(&seq).Error; err != nil {
			return err
		}
		if seq == 0 {
			return store.ErrNotFound
		}
		if row.ClientID != nil && row.UserID != nil {
			err := tx.Where("room_id = ? AND user_id = ? AND client_id = ?", row.RoomID, *row.UserID, *row.ClientID).
				Take(&existing).Error
			if err == nil {
				return errResend
			}
			if !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
		}
		row.Seq = seq
		return tx.Create(&row).Error
	})
	switch {
	case errors.Is(err, errResend):
		*m = existing.record()
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create message in room %d: %w", m.RoomID, translate(err))
	}
	*m = row.record()
	return true, nil
}

// Messages implements store.MessageStore.
func (s *Store) Messages(ctx context.Context, roomID int64, q store.MessageQuery) ([]store.Message, error) {
	db := s.r.WithContext(ctx).Where("room_id = ?", roomID)
	if q.After > 0 {
		db = db.Where("seq > ?", q.After)
	}
	if q.Before > 0 {
		db = db.Where("seq < ?", q.Before)
	}
	if q.Newest {
		db = db.Order("seq DESC")
	} else {
		db = db.Order("seq")
	}
	if q.Limit > 0 {
		db = db.Limit(q.Limit)
	}
	if q.Offset > 0 {
		db = db.Offset(q.Offset)
	}
	var rows []messageRow
	if err := db.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("messages of room %d: %w", roomID, translate(err))
	}
	if q.Newest {
		slices.Reverse(rows)
	}
	out := make([]store.Message, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}
