package gormstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/virtual-company/vc/server/store"
)

// CreateMessage implements store.MessageStore, through writeGroup
// (messagewrite.go). Concurrent calls are grouped into one transaction by
// the store's committer (group commit: one commit, so one WAL flush, for
// many messages).
func (s *Store) CreateMessage(ctx context.Context, m *store.Message) (bool, error) {
	p := &pendingMessage{m: m}
	if err := s.committer.submit(ctx, p); err != nil {
		return false, fmt.Errorf("create message in room %d: %w", m.RoomID, err)
	}
	if p.err != nil {
		return false, fmt.Errorf("create message in room %d: %w", m.RoomID, translate(p.err))
	}
	return p.created, nil
}

// bind rewrites ? placeholders to $1, $2, ... on PostgreSQL.
func (s *Store) bind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Messages implements store.MessageStore. On SQLite the newest messages of
// rooms being read are answered from memory (cache.go).
func (s *Store) Messages(ctx context.Context, roomID int64, q store.MessageQuery) ([]store.Message, error) {
	if s.cache == nil {
		return s.queryMessages(ctx, roomID, q)
	}
	if ms, ok := s.cache.messages(roomID, q); ok {
		return ms, nil
	}
	if err := s.loadRecent(ctx, roomID); err != nil {
		return nil, err
	}
	if ms, ok := s.cache.messages(roomID, q); ok {
		return ms, nil
	}
	return s.queryMessages(ctx, roomID, q)
}

// queryMessages reads messages from the database. It scans rows by hand:
// history reads are hot and GORM's reflection costs more than SQLite.
func (s *Store) queryMessages(ctx context.Context, roomID int64, q store.MessageQuery) ([]store.Message, error) {
	var b strings.Builder
	args := make([]any, 0, 5)
	b.WriteString("SELECT " + messageColumns + " FROM messages WHERE room_id = ?")
	args = append(args, roomID)
	if q.After > 0 {
		b.WriteString(" AND seq > ?")
		args = append(args, q.After)
	}
	if q.Before > 0 {
		b.WriteString(" AND seq < ?")
		args = append(args, q.Before)
	}
	if q.Newest {
		b.WriteString(" ORDER BY seq DESC")
	} else {
		b.WriteString(" ORDER BY seq")
	}
	if q.Limit > 0 || q.Offset > 0 {
		limit := int64(q.Limit)
		if limit <= 0 {
			limit = -1 // SQLite: no limit; PostgreSQL takes LIMIT ALL
		}
		if limit < 0 && s.dialect == Postgres {
			b.WriteString(" LIMIT ALL")
		} else {
			b.WriteString(" LIMIT ?")
			args = append(args, limit)
		}
		b.WriteString(" OFFSET ?")
		args = append(args, q.Offset)
	}
	rows, err := s.r.WithContext(ctx).Raw(b.String(), args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("messages of room %d: %w", roomID, translate(err))
	}
	defer rows.Close()
	out := make([]store.Message, 0, max(q.Limit, 0))
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("messages of room %d: %w", roomID, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("messages of room %d: %w", roomID, err)
	}
	if q.Newest {
		slices.Reverse(out)
	}
	return out, nil
}
