package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgWriter is the PostgreSQL dialect path. The committer hands it groups of
// concurrent posts, and it stores each group in one transaction of two
// pipelined round trips on one pgx connection, whatever the group's size:
//
//  1. BEGIN; lock the group's rooms (SELECT ... ORDER BY id FOR UPDATE,
//     which also reads their last_seq); find earlier sends of the
//     group's client_ids (one query over arrays).
//  2. UPDATE rooms once for all rooms (last_seq + n); INSERT every new
//     message with one statement over arrays (unnest) RETURNING ids;
//     COMMIT.
//
// Every statement has the same text whatever the group's size, so pgx
// prepares each once per connection and reuses it (its statement cache).
// The row locks keep seqs gap-free with writers on other nodes: a room's
// last_seq is read and moved only by the transaction that holds its lock,
// and rooms are locked in id order, so two groups never wait on each other
// in a cycle. Only the committer's goroutine uses the writer.
type pgWriter struct {
	db *sql.DB

	cols      arrayBinder
	insertSQL string // built from the first group's column types
	keyRooms  []int64
	keyUsers  []int64
	keyCIDs   []string
	byKey     map[resendKey]*pendingMessage
	last      map[int64]int64
	upIDs     []int64
	upNs      []int64
	rows      []*pendingMessage
	bySeq     map[[2]int64]*pendingMessage
	lockedIDs []int64
}

const (
	pgLockRooms   = "SELECT id, last_seq FROM rooms WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE"
	pgFindResends = "SELECT " + messageColumns + " FROM messages WHERE (room_id, user_id, client_id) IN" +
		" (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]))"
	pgAddSeqs = "UPDATE rooms SET last_seq = rooms.last_seq + v.n" +
		" FROM unnest($1::bigint[], $2::bigint[]) AS v(id, n) WHERE rooms.id = v.id"
)

func newPGWriter(db *sql.DB) *pgWriter {
	return &pgWriter{db: db, byKey: make(map[resendKey]*pendingMessage), last: make(map[int64]int64),
		bySeq: make(map[[2]int64]*pendingMessage)}
}

func (w *pgWriter) close() {}

func (w *pgWriter) write(ctx context.Context, msgs []*pendingMessage, g *groupState) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("begin: unexpected driver connection %T", dc)
		}
		t := &pgTx{ctx: ctx, c: sc.Conn(), w: w, b: &pgx.Batch{}}
		defer t.reset()
		err := writeGroup(t, msgs, g)
		if err != nil && t.open {
			// Not with ctx, which may be what ended. A connection left
			// inside a transaction is dropped by the pool anyway.
			if _, rerr := t.c.Exec(context.Background(), "ROLLBACK"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}
		return err
	})
}

// pgTx implements messageTx on a pgx connection, queueing statements and
// sending them in the two round trips described at pgWriter.
type pgTx struct {
	ctx  context.Context
	c    *pgx.Conn
	w    *pgWriter
	b    *pgx.Batch // queued, not sent
	open bool       // BEGIN sent and no COMMIT succeeded
	read bool       // the lock's results are in w.last
}

func (t *pgTx) reset() {
	w := t.w
	clear(w.byKey)
	clear(w.last)
	clear(w.bySeq)
	clear(w.rows)
	w.rows = w.rows[:0]
	w.cols.reset()
}

func (t *pgTx) lockRooms(ids []int64) error {
	t.b.Queue("BEGIN")
	t.w.lockedIDs = append(t.w.lockedIDs[:0], ids...)
	t.b.Queue(pgLockRooms, t.w.lockedIDs)
	return nil
}

// sendLock sends the first round trip (with the resend lookup queued
// after the lock, if any) and reads the rooms' last_seq.
func (t *pgTx) sendLock(resends func(pgx.Rows) error) error {
	// The results refer to the batch until closed: queue on a new one.
	br := t.c.SendBatch(t.ctx, t.b)
	t.b = &pgx.Batch{}
	t.open = true
	err := t.readLock(br, resends)
	return errors.Join(err, br.Close())
}

func (t *pgTx) readLock(br pgx.BatchResults, resends func(pgx.Rows) error) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, last int64
		if err := rows.Scan(&id, &last); err != nil {
			rows.Close()
			return err
		}
		t.w.last[id] = last
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	t.read = true
	if resends == nil {
		return nil
	}
	rows, err = br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := resends(rows); err != nil {
		return err
	}
	return rows.Err()
}

func (t *pgTx) findResends(ps []*pendingMessage) error {
	w := t.w
	w.keyRooms, w.keyUsers, w.keyCIDs = w.keyRooms[:0], w.keyUsers[:0], w.keyCIDs[:0]
	for _, p := range ps {
		m := p.m
		w.keyRooms = append(w.keyRooms, m.RoomID)
		w.keyUsers = append(w.keyUsers, *m.UserID)
		w.keyCIDs = append(w.keyCIDs, m.ClientID)
		w.byKey[resendKey{m.RoomID, *m.UserID, m.ClientID}] = p
	}
	t.b.Queue(pgFindResends, w.keyRooms, w.keyUsers, w.keyCIDs)
	return t.sendLock(func(rows pgx.Rows) error {
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			p := w.byKey[resendKey{m.RoomID, *m.UserID, m.ClientID}]
			if p == nil {
				return fmt.Errorf("unexpected resend room %d client_id %q", m.RoomID, m.ClientID)
			}
			*p.m = m
			p.resent = true
		}
		return nil
	})
}

func (t *pgTx) addSeqs(rooms []roomSeqs) error {
	if !t.read {
		if err := t.sendLock(nil); err != nil {
			return err
		}
	}
	w := t.w
	w.upIDs, w.upNs = w.upIDs[:0], w.upNs[:0]
	for i := range rooms {
		r := &rooms[i]
		if r.n == 0 {
			continue
		}
		last, ok := w.last[r.id]
		if !ok {
			r.missing = true
			continue
		}
		r.next = last + 1
		w.upIDs = append(w.upIDs, r.id)
		w.upNs = append(w.upNs, int64(r.n))
	}
	if len(w.upIDs) > 0 {
		t.b.Queue(pgAddSeqs, w.upIDs, w.upNs)
	}
	return nil
}

// insert queues the insert; the rows' IDs are set when commit returns.
func (t *pgTx) insert(rows []*pendingMessage) error {
	if len(rows) == 0 {
		return nil
	}
	w := t.w
	w.cols.reset()
	for _, p := range rows {
		bindMessage(&w.cols, p.m)
		p.m.ID = 0
		w.bySeq[[2]int64{p.m.RoomID, p.m.Seq}] = p
	}
	if w.insertSQL == "" {
		w.insertSQL = w.cols.insertSQL()
	}
	w.rows = append(w.rows[:0], rows...)
	t.b.Queue(w.insertSQL, w.cols.args()...)
	return nil
}

func (t *pgTx) commit() error {
	w := t.w
	t.b.Queue("COMMIT")
	// The results refer to the batch until closed: queue on a new one.
	br := t.c.SendBatch(t.ctx, t.b)
	t.b = &pgx.Batch{}
	err := t.readCommit(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	t.open = false
	for _, p := range w.rows {
		if p.m.ID == 0 {
			return fmt.Errorf("no id for room %d seq %d", p.m.RoomID, p.m.Seq)
		}
	}
	return nil
}

func (t *pgTx) readCommit(br pgx.BatchResults) error {
	w := t.w
	if len(w.upIDs) > 0 {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("next seq: %w", err)
		}
		if tag.RowsAffected() != int64(len(w.upIDs)) {
			return fmt.Errorf("next seq: %d of %d rooms moved", tag.RowsAffected(), len(w.upIDs))
		}
	}
	if len(w.rows) > 0 {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		for rows.Next() {
			var id, room, seq int64
			if err := rows.Scan(&id, &room, &seq); err != nil {
				rows.Close()
				return fmt.Errorf("insert: %w", err)
			}
			p := w.bySeq[[2]int64{room, seq}]
			if p == nil {
				rows.Close()
				return fmt.Errorf("insert: unexpected row room %d seq %d", room, seq)
			}
			p.m.ID = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	if _, err := br.Exec(); err != nil {
		return err
	}
	return nil
}

var _ messageTx = (*pgTx)(nil)

// arrayBinder collects a group's values column by column, as arrays that
// one INSERT ... SELECT FROM unnest(...) stores whatever the group's size.
// Each column's SQL type follows from the binder method bindMessage calls
// for it.
type arrayBinder struct {
	col  int
	cols [messageInsertParams]pgColumn
}

type pgColumn struct {
	typ  string // of the array
	i64  []int64
	ni64 []*int64
	txt  []string
	ntxt []*string
	b    []bool
}

func (a *arrayBinder) next(typ string) *pgColumn {
	c := &a.cols[a.col]
	c.typ = typ
	a.col = (a.col + 1) % messageInsertParams
	return c
}

func (a *arrayBinder) int64(v int64)      { c := a.next("bigint[]"); c.i64 = append(c.i64, v) }
func (a *arrayBinder) nullInt64(v *int64) { c := a.next("bigint[]"); c.ni64 = append(c.ni64, v) }
func (a *arrayBinder) text(v string)      { c := a.next("text[]"); c.txt = append(c.txt, v) }
func (a *arrayBinder) bool(v bool)        { c := a.next("boolean[]"); c.b = append(c.b, v) }
func (a *arrayBinder) nullText(v string) {
	c := a.next("text[]")
	if v == "" {
		c.ntxt = append(c.ntxt, nil)
		return
	}
	c.ntxt = append(c.ntxt, &v)
}

func (a *arrayBinder) reset() {
	a.col = 0
	for i := range a.cols {
		c := &a.cols[i]
		clear(c.ni64)
		clear(c.ntxt)
		c.i64, c.ni64, c.txt, c.ntxt, c.b = c.i64[:0], c.ni64[:0], c.txt[:0], c.ntxt[:0], c.b[:0]
	}
}

// args are the arrays, one per column.
func (a *arrayBinder) args() []any {
	out := make([]any, len(a.cols))
	for i := range a.cols {
		c := &a.cols[i]
		switch {
		case len(c.i64) > 0:
			out[i] = c.i64
		case len(c.ni64) > 0:
			out[i] = c.ni64
		case len(c.txt) > 0:
			out[i] = c.txt
		case len(c.ntxt) > 0:
			out[i] = c.ntxt
		default:
			out[i] = c.b
		}
	}
	return out
}

// insertSQL is the insert of the arrays, after one row was bound.
func (a *arrayBinder) insertSQL() string {
	var b strings.Builder
	b.WriteString("INSERT INTO messages (" + messageInsertColumns + ") SELECT * FROM unnest(")
	for i := range a.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1) + "::" + a.cols[i].typ)
	}
	b.WriteString(") RETURNING id, room_id, seq")
	return b.String()
}
