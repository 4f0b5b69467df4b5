package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/virtual-company/vc/server/store"
)

type messageRow struct {
	ID          int64
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

func (r messageRow) record() store.Message {
	m := store.Message{ID: r.ID, RoomID: r.RoomID, Seq: r.Seq, UserID: r.UserID, RoleID: r.RoleID,
		Content: r.Content, MessageType: r.MessageType, Author: r.Author, Truncated: r.Truncated,
		CreatedAt: r.CreatedAt.UTC()}
	if r.ClientID != nil {
		m.ClientID = *r.ClientID
	}
	return m
}

// CreateMessage implements store.MessageStore. On SQLite concurrent calls
// are grouped into one transaction by the store's committer (group commit:
// one BEGIN/COMMIT and one WAL write for many messages); on PostgreSQL each
// call is its own transaction.
func (s *Store) CreateMessage(ctx context.Context, m *store.Message) (bool, error) {
	p := &pendingMessage{m: m}
	if s.committer != nil {
		if err := s.committer.submit(ctx, p); err != nil {
			return false, fmt.Errorf("create message in room %d: %w", m.RoomID, err)
		}
	} else if err := s.createMessages(ctx, []*pendingMessage{p}); err != nil {
		p.err = err
	}
	if p.err != nil {
		return false, fmt.Errorf("create message in room %d: %w", m.RoomID, translate(p.err))
	}
	return p.created, nil
}

// pendingMessage is one message waiting to be stored, with its outcome.
type pendingMessage struct {
	m       *store.Message
	created bool
	err     error
	done    chan struct{}
}

// createMessages stores msgs in one transaction on PostgreSQL (on SQLite the
// committer stores messages, see batch.go). For each message it first
// increments the room's last_seq (on PostgreSQL that row lock serialises the
// writers of one room, so seqs commit in order with no gaps), then looks for
// an earlier send with the same client_id (undoing the increment if there
// is one), then inserts. A room that does not exist fails only its message;
// any other error fails the whole transaction, which rolls back every seq.
func (s *Store) createMessages(ctx context.Context, msgs []*pendingMessage) error {
	sqlDB, err := s.w.DB()
	if err != nil {
		return err
	}
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, p := range msgs {
		p.created, p.err = false, nil
		m := p.m
		var seq int64
		err := tx.QueryRowContext(ctx, s.bind("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq"), m.RoomID).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			p.err = store.ErrNotFound
			continue
		}
		if err != nil {
			return fmt.Errorf("next seq: %w", err)
		}
		if m.ClientID != "" && m.UserID != nil {
			existing, err := scanMessage(tx.QueryRowContext(ctx, s.bind("SELECT "+messageColumns+
				" FROM messages WHERE room_id = ? AND user_id = ? AND client_id = ?"), m.RoomID, *m.UserID, m.ClientID))
			switch {
			case err == nil:
				if _, err := tx.ExecContext(ctx, s.bind("UPDATE rooms SET last_seq = last_seq - 1 WHERE id = ?"), m.RoomID); err != nil {
					return fmt.Errorf("undo seq: %w", err)
				}
				*m = existing
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("find resend: %w", err)
			}
		}
		m.Seq = seq
		m.CreatedAt = nowUTC(m.CreatedAt)
		var cid *string
		if m.ClientID != "" {
			cid = &m.ClientID
		}
		if err := tx.QueryRowContext(ctx, s.bind(`INSERT INTO messages
			(room_id, seq, user_id, role_id, content, message_type, author, client_id, truncated, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			m.RoomID, m.Seq, m.UserID, m.RoleID, m.Content, m.MessageType, m.Author, cid, m.Truncated, m.CreatedAt.UnixMicro(),
		).Scan(&m.ID); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		p.created = true
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
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

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanMessage reads one row of messageColumns.
func scanMessage(sc rowScanner) (store.Message, error) {
	var (
		r       messageRow
		cid     sql.NullString
		created int64
	)
	if err := sc.Scan(&r.ID, &r.RoomID, &r.Seq, &r.UserID, &r.RoleID, &r.Content, &r.MessageType,
		&r.Author, &cid, &r.Truncated, &created); err != nil {
		return store.Message{}, err
	}
	r.CreatedAt = time.UnixMicro(created)
	if cid.Valid {
		r.ClientID = &cid.String
	}
	return r.record(), nil
}

// committer groups concurrent message inserts into shared transactions on
// SQLite, where there is one writer anyway. Only its goroutine uses stmts
// and group.
type committer struct {
	s      *Store
	db     *sql.DB // the writer pool
	mu     sync.RWMutex
	closed bool
	in     chan *pendingMessage
	done   chan struct{}

	stmts *messageStmts
	group groupState
}

// maxGroup bounds how many messages share one transaction.
const maxGroup = 256

func newCommitter(s *Store, db *sql.DB) *committer {
	c := &committer{s: s, db: db, in: make(chan *pendingMessage, maxGroup), done: make(chan struct{}),
		group: newGroupState()}
	go c.run()
	return c
}

var errStoreClosed = fmt.Errorf("store closed: %w", store.ErrUnavailable)

// submit queues p and waits for its outcome. Once queued, a message is
// stored even if ctx ends, so that the caller never reports a stored
// message as failed.
func (c *committer) submit(ctx context.Context, p *pendingMessage) error {
	p.done = make(chan struct{})
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errStoreClosed
	}
	select {
	case c.in <- p:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	<-p.done
	return nil
}

func (c *committer) run() {
	defer close(c.done)
	defer c.closeStmts()
	batch := make([]*pendingMessage, 0, maxGroup)
	for p := range c.in {
		batch = append(batch[:0], p)
	drain:
		for len(batch) < maxGroup {
			select {
			case p, ok := <-c.in:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		recent := c.s.recent
		if recent != nil {
			recent.writeMu.Lock()
		}
		if err := c.store(batch); err != nil {
			// One bad message must not fail the others: retry alone.
			for i, p := range batch {
				if err := c.store(batch[i : i+1]); err != nil {
					p.created, p.err = false, err
				}
			}
		}
		if recent != nil {
			recent.committed(batch)
			recent.writeMu.Unlock()
		}
		for _, p := range batch {
			close(p.done)
		}
	}
}

// close stops accepting messages, stores those queued, and returns when the
// committer has finished.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.in)
	}
	c.mu.Unlock()
	<-c.done
}

// messageColumns are the columns scanMessage reads, in order.
const messageColumns = "id, room_id, seq, user_id, role_id, content, message_type, author, client_id, truncated, created_at"

// Messages implements store.MessageStore. On SQLite the newest messages of
// rooms being read are answered from memory (recent.go).
func (s *Store) Messages(ctx context.Context, roomID int64, q store.MessageQuery) ([]store.Message, error) {
	if s.recent == nil {
		return s.queryMessages(ctx, roomID, q)
	}
	if ms, ok := s.recent.query(roomID, q); ok {
		return ms, nil
	}
	if err := s.loadRecent(ctx, roomID); err != nil {
		return nil, err
	}
	if ms, ok := s.recent.query(roomID, q); ok {
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
