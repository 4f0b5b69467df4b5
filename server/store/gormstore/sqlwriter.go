package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// sqlWriter is SQLite's plain path: database/sql statements, used when the
// fast path (sqlitewriter.go) cannot reach the driver's handle. Slower
// (SQLite compiles every statement again), same results.
type sqlWriter struct {
	db *sql.DB
}

func (w *sqlWriter) write(ctx context.Context, msgs []*pendingMessage, g *groupState) error {
	// The transaction is run with statements on one connection rather than
	// a sql.Tx: when SQLite's COMMIT fails (a deferred foreign key) the
	// transaction stays open, and a sql.Tx could not roll it back.
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	return writeGroup(&sqlTx{ctx: ctx, conn: conn}, msgs, g)
}

func (w *sqlWriter) close() {}

// sqlTx implements messageTx with statements on a connection.
type sqlTx struct {
	ctx  context.Context
	conn *sql.Conn
	open bool
}

// sqlInsertChunk bounds the rows of one multi-row insert (10 parameters
// each, far below SQLite's limit).
const sqlInsertChunk = 64

// begin takes the database's write lock (BEGIN IMMEDIATE), which holds
// every room.
func (t *sqlTx) begin([]int64) error {
	if _, err := t.conn.ExecContext(t.ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	t.open = true
	return nil
}

func (t *sqlTx) rollback() error {
	if !t.open {
		return nil
	}
	t.open = false
	// Not with ctx, which may be what ended.
	_, err := t.conn.ExecContext(context.Background(), "ROLLBACK")
	return err
}

func (t *sqlTx) findResends(ps []*pendingMessage) error {
	for _, p := range ps {
		m := p.m
		existing, err := scanMessage(t.conn.QueryRowContext(t.ctx, sqlFindResend, m.RoomID, *m.UserID, m.ClientID))
		switch {
		case err == nil:
			*m = existing
			p.resent = true
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	return nil
}

func (t *sqlTx) write(rooms []roomSeqs, rows []*pendingMessage) error {
	base := make([]int64, len(rooms))
	for i := range rooms {
		r := &rooms[i]
		if r.n == 0 {
			continue
		}
		var last int64
		err := t.conn.QueryRowContext(t.ctx, "UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq", r.n, r.id).Scan(&last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			r.missing = true
		case err != nil:
			return fmt.Errorf("next seq: %w", err)
		default:
			base[i] = last - int64(r.n)
		}
	}
	insert := make([]*pendingMessage, 0, len(rows))
	for _, p := range rows {
		i := roomIndex(rooms, p.m.RoomID)
		if !rooms[i].missing {
			p.m.Seq = base[i] + p.rank
			insert = append(insert, p)
		}
	}
	for len(insert) > 0 {
		n := min(len(insert), sqlInsertChunk)
		if err := t.insertChunk(insert[:n]); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		insert = insert[n:]
	}
	if _, err := t.conn.ExecContext(t.ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	t.open = false
	return nil
}

// insertChunk inserts rows with one statement. RETURNING reports rows in no
// promised order, so each is matched by its room and seq.
func (t *sqlTx) insertChunk(rows []*pendingMessage) error {
	var q strings.Builder
	q.WriteString("INSERT INTO messages (" + messageInsertColumns + ") VALUES ")
	b := argsBinder{args: make([]any, 0, len(rows)*messageInsertParams)}
	bySeq := make(map[[2]int64]*pendingMessage, len(rows))
	for j, p := range rows {
		if j > 0 {
			q.WriteByte(',')
		}
		q.WriteString(sqlInsertRow)
		bindMessage(&b, p.m)
		p.m.ID = 0
		bySeq[[2]int64{p.m.RoomID, p.m.Seq}] = p
	}
	q.WriteString(" RETURNING id, room_id, seq")
	res, err := t.conn.QueryContext(t.ctx, q.String(), b.args...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		var id, room, seq int64
		if err := res.Scan(&id, &room, &seq); err != nil {
			return err
		}
		p := bySeq[[2]int64{room, seq}]
		if p == nil {
			return fmt.Errorf("unexpected row room %d seq %d", room, seq)
		}
		p.m.ID = id
	}
	if err := res.Err(); err != nil {
		return err
	}
	for _, p := range rows {
		if p.m.ID == 0 {
			return fmt.Errorf("no id for room %d seq %d", p.m.RoomID, p.m.Seq)
		}
	}
	return nil
}

var _ messageTx = (*sqlTx)(nil)
