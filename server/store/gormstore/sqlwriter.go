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

func (w *sqlWriter) write(ctx context.Context, msgs []*pendingMessage, g *groupState) (err error) {
	// The transaction is run with statements on one connection rather than
	// a sql.Tx: when SQLite's COMMIT fails (a deferred foreign key) the
	// transaction stays open, and a sql.Tx could not roll it back.
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &sqlTx{ctx: ctx, conn: conn}
	defer func() {
		if !t.done {
			// After a failed statement, or a failed COMMIT on SQLite.
			// Not with ctx, which may be what ended.
			if _, rerr := conn.ExecContext(context.Background(), "ROLLBACK"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}
	}()
	return writeGroup(t, msgs, g)
}

func (w *sqlWriter) close() {}

// sqlTx implements messageTx with statements on a connection inside a
// transaction.
type sqlTx struct {
	ctx  context.Context
	conn *sql.Conn
	done bool // committed
}

// sqlInsertChunk bounds the rows of one multi-row insert (10 parameters
// each, far below SQLite's limit).
const sqlInsertChunk = 64

// lockRooms does nothing: the transaction began IMMEDIATE, with the
// database's write lock.
func (t *sqlTx) lockRooms([]int64) error { return nil }

func (t *sqlTx) findResends(ps []*pendingMessage) error {
	q := sqlFindResend
	for _, p := range ps {
		m := p.m
		existing, err := scanMessage(t.conn.QueryRowContext(t.ctx, q, m.RoomID, *m.UserID, m.ClientID))
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

func (t *sqlTx) addSeqs(rooms []roomSeqs) error {
	q := "UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq"
	for i := range rooms {
		r := &rooms[i]
		if r.n == 0 {
			continue
		}
		var last int64
		err := t.conn.QueryRowContext(t.ctx, q, r.n, r.id).Scan(&last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			r.missing = true
		case err != nil:
			return err
		default:
			r.next = last - int64(r.n) + 1
		}
	}
	return nil
}

func (t *sqlTx) insert(rows []*pendingMessage) error {
	for len(rows) > 0 {
		n := min(len(rows), sqlInsertChunk)
		if err := t.insertChunk(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
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

func (t *sqlTx) commit() error {
	if _, err := t.conn.ExecContext(t.ctx, "COMMIT"); err != nil {
		return err
	}
	t.done = true
	return nil
}

var _ messageTx = (*sqlTx)(nil)
