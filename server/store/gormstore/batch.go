package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/virtual-company/vc/server/store"
)

// resendKey identifies an idempotent send.
type resendKey struct {
	room, user int64
	clientID   string
}

// createMessagesBatch is createMessages for a group on SQLite, where the
// committer is the only writer: resends are found first, then each room's
// last_seq moves once for all its new messages, and the messages are
// inserted with multi-row statements. Statements per message drop from two
// or three to about one in ten. Any error fails the whole transaction (the
// committer then stores each message alone with createMessages).
func (s *Store) createMessagesBatch(ctx context.Context, msgs []*pendingMessage) error {
	sqlDB, err := s.w.DB()
	if err != nil {
		return err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	// 1. Resends, of earlier messages or of one earlier in this group.
	firstOf := map[resendKey]*pendingMessage{}
	dupOf := map[*pendingMessage]*pendingMessage{}
	var fresh []*pendingMessage
	for _, p := range msgs {
		p.created, p.err = false, nil
		m := p.m
		if m.ClientID != "" && m.UserID != nil {
			k := resendKey{m.RoomID, *m.UserID, m.ClientID}
			if first, ok := firstOf[k]; ok {
				dupOf[p] = first
				continue
			}
			existing, err := scanMessage(tx.QueryRowContext(ctx,
				"SELECT "+messageColumns+" FROM messages WHERE room_id = ? AND user_id = ? AND client_id = ?",
				m.RoomID, *m.UserID, m.ClientID))
			switch {
			case err == nil:
				*m = existing
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("find resend: %w", err)
			}
			firstOf[k] = p
		}
		fresh = append(fresh, p)
	}

	// 2. Seqs: one UPDATE per room.
	var rooms []int64
	perRoom := map[int64][]*pendingMessage{}
	for _, p := range fresh {
		if perRoom[p.m.RoomID] == nil {
			rooms = append(rooms, p.m.RoomID)
		}
		perRoom[p.m.RoomID] = append(perRoom[p.m.RoomID], p)
	}
	var rows []*pendingMessage
	for _, id := range rooms {
		ps := perRoom[id]
		var last int64
		err := tx.QueryRowContext(ctx, "UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq", len(ps), id).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			for _, p := range ps {
				p.err = store.ErrNotFound
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("next seq: %w", err)
		}
		for i, p := range ps {
			p.m.Seq = last - int64(len(ps)) + 1 + int64(i)
			p.m.CreatedAt = nowUTC(p.m.CreatedAt)
			rows = append(rows, p)
		}
	}

	// 3. Inserts, up to 100 rows per statement.
	const chunk = 100
	bySeq := map[[2]int64]*pendingMessage{}
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(len(rows), start+chunk)]
		var q strings.Builder
		q.WriteString(s.insertVerb() + " INTO messages (room_id, seq, user_id, role_id, content, message_type, author, client_id, truncated, created_at) VALUES ")
		args := make([]any, 0, len(part)*10)
		for i, p := range part {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?,?)")
			m := p.m
			var cid *string
			if m.ClientID != "" {
				cid = &m.ClientID
			}
			args = append(args, m.RoomID, m.Seq, m.UserID, m.RoleID, m.Content, m.MessageType, m.Author, cid, m.Truncated, m.CreatedAt.UnixMicro())
			bySeq[[2]int64{m.RoomID, m.Seq}] = p
		}
		q.WriteString(" RETURNING id, room_id, seq")
		res, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		for res.Next() {
			var id, room, seq int64
			if err := res.Scan(&id, &room, &seq); err != nil {
				_ = res.Close()
				return fmt.Errorf("insert: %w", err)
			}
			p := bySeq[[2]int64{room, seq}]
			if p == nil {
				_ = res.Close()
				return fmt.Errorf("insert: unexpected row room %d seq %d", room, seq)
			}
			p.m.ID = id
			p.created = true
		}
		if err := res.Close(); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if err := res.Err(); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	for _, p := range rows {
		if !p.created {
			return fmt.Errorf("insert: no id for room %d seq %d", p.m.RoomID, p.m.Seq)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// 4. Resends within the group answer with the message stored first.
	for p, first := range dupOf {
		if first.err != nil {
			p.err = first.err
			continue
		}
		*p.m = *first.m
	}
	return nil
}
