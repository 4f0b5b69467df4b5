package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgWriter is the PostgreSQL dialect path. The committer hands it groups of
// concurrent posts, and it stores each group in one transaction sent as one
// pipeline (one round trip) on one pgx connection, whatever the group's
// size:
//
//	BEGIN;
//	SET LOCAL plan_cache_mode = force_custom_plan;
//	SELECT id FROM rooms WHERE id = ANY(the group's rooms) ORDER BY id FOR UPDATE;
//	UPDATE rooms SET last_seq = last_seq + n (all rooms at once, over arrays);
//	INSERT INTO messages SELECT ... FROM unnest(arrays), with
//	  seq = the room's new last_seq - n + rank, RETURNING id, room_id, seq;
//	COMMIT;
//
// The row locks keep seqs gap-free with writers on other nodes: a room's
// last_seq moves only in the transaction that holds its lock, and every
// seq is computed from it in that transaction. Rooms are locked in id
// order, so two groups never wait on each other in a cycle.
//
// Resends are rare (a client retrying after a lost ack), so the first
// attempt at a group does not look for them: its messages are inserted on
// the assumption that none was stored before. When one was, the insert
// breaks the unique index on (room_id, user_id, client_id), the
// transaction rolls back, and the write returns errResent; writeGroup then
// tries again, and that attempt looks the group's client_ids up after the
// locks (so it sees every send committed before) and inserts the others: a
// second round trip, only then.
//
// Every statement has the same text whatever the group's size, so pgx
// prepares each once per connection and reuses it (its statement cache).
// Their plans are not cached, though (plan_cache_mode, for the transaction
// only): PostgreSQL would otherwise settle on a generic plan after five
// groups and keep it for the connection's life, and a generic plan made
// while the tables were small scans them whole (the resend lookup, made
// on an empty messages table, went on reading every stored message, and
// writes slowed down as the table grew; autovacuum's ANALYZE, which would
// replace the plan, is not always on). A plan per group costs PostgreSQL
// well under a millisecond, shared by the group's messages.
//
// Only the committer's goroutine uses the writer.
type pgWriter struct {
	db *sql.DB

	cols      arrayBinder
	insertSQL string // built from the first group's column types
	keyRooms  []int64
	keyUsers  []int64
	keyCIDs   []string
	byKey     map[resendKey]*pendingMessage
	upIDs     []int64
	upNs      []int64
	bySeq     map[[2]int64]*pendingMessage
	base      map[int64]int64
	lockedIDs []int64
}

const (
	pgLockRooms   = "SELECT id FROM rooms WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE"
	pgFindResends = "SELECT " + messageColumns + " FROM messages WHERE (room_id, user_id, client_id) IN" +
		" (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]))"
	pgAddSeqs = "UPDATE rooms SET last_seq = rooms.last_seq + v.n" +
		" FROM unnest($1::bigint[], $2::bigint[]) AS v(id, n) WHERE rooms.id = v.id RETURNING rooms.id, rooms.last_seq"
)

func newPGWriter(db *sql.DB) *pgWriter {
	return &pgWriter{db: db, byKey: make(map[resendKey]*pendingMessage),
		bySeq: make(map[[2]int64]*pendingMessage), base: make(map[int64]int64)}
}

func (w *pgWriter) close() {}

func (w *pgWriter) write(ctx context.Context, msgs []*pendingMessage, g *groupState) error {
	return withPgx(ctx, w.db, func(c *pgx.Conn) error {
		return writeGroup(&pgTx{ctx: ctx, c: c, w: w}, msgs, g)
	})
}

// pgTx implements messageTx on a pgx connection, queueing statements until
// write sends them all.
type pgTx struct {
	ctx     context.Context
	c       *pgx.Conn
	w       *pgWriter
	b       *pgx.Batch
	resends []*pendingMessage // looked up in this transaction
	tries   int               // transactions begun for this group
}

func (t *pgTx) begin(ids []int64) error {
	t.b = &pgx.Batch{}
	t.resends = nil
	t.tries++
	t.b.Queue("BEGIN")
	t.b.Queue("SET LOCAL plan_cache_mode = force_custom_plan")
	t.w.lockedIDs = append(t.w.lockedIDs[:0], ids...)
	t.b.Queue(pgLockRooms, t.w.lockedIDs)
	return nil
}

// rollback ends a transaction that a failed statement left open (in a
// pipeline, the statements after a failure, COMMIT included, are skipped).
func (t *pgTx) rollback() error {
	if t.c.PgConn().TxStatus() == 'I' {
		return nil
	}
	// Not with ctx, which may be what ended. A connection left inside a
	// transaction is dropped by the pool anyway.
	_, err := t.c.Exec(context.Background(), "ROLLBACK")
	return err
}

// findResends queues the lookup, except on a group's first try (see
// pgWriter); write reads its answer.
func (t *pgTx) findResends(ps []*pendingMessage) error {
	if t.tries == 1 {
		return nil
	}
	w := t.w
	w.keyRooms, w.keyUsers, w.keyCIDs = w.keyRooms[:0], w.keyUsers[:0], w.keyCIDs[:0]
	clear(w.byKey)
	for _, p := range ps {
		m := p.m
		w.keyRooms = append(w.keyRooms, m.RoomID)
		w.keyUsers = append(w.keyUsers, *m.UserID)
		w.keyCIDs = append(w.keyCIDs, m.ClientID)
		w.byKey[resendKey{m.RoomID, *m.UserID, m.ClientID}] = p
	}
	t.resends = ps
	t.b.Queue(pgFindResends, w.keyRooms, w.keyUsers, w.keyCIDs)
	return nil
}

func (t *pgTx) write(rooms []roomSeqs, rows []*pendingMessage) error {
	w := t.w
	w.upIDs, w.upNs = w.upIDs[:0], w.upNs[:0]
	for _, r := range rooms {
		if r.n > 0 {
			w.upIDs = append(w.upIDs, r.id)
			w.upNs = append(w.upNs, int64(r.n))
		}
	}
	if len(rows) > 0 {
		t.b.Queue(pgAddSeqs, w.upIDs, w.upNs)
		w.cols.reset()
		for _, p := range rows {
			// The seq column carries the rank; the insert adds the base.
			p.m.Seq, p.m.ID = p.rank, 0
			bindMessage(&w.cols, p.m)
		}
		if w.insertSQL == "" {
			w.insertSQL = w.cols.insertSQL()
		}
		t.b.Queue(w.insertSQL, append(w.cols.args(), w.upIDs, w.upNs)...)
	}
	t.b.Queue("COMMIT")
	br := t.c.SendBatch(t.ctx, t.b)
	err := t.read(br, rooms, rows)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	w.cols.reset()
	clear(w.bySeq)
	clear(w.base)
	return err
}

// read reads the pipeline's results in order.
func (t *pgTx) read(br pgx.BatchResults, rooms []roomSeqs, rows []*pendingMessage) error {
	w := t.w
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("plan_cache_mode: %w", err)
	}
	// The rooms that exist.
	locked, err := br.Query()
	if err != nil {
		return fmt.Errorf("lock rooms: %w", err)
	}
	for locked.Next() {
		var id int64
		if err := locked.Scan(&id); err != nil {
			locked.Close()
			return fmt.Errorf("lock rooms: %w", err)
		}
		w.base[id] = 0
	}
	locked.Close()
	if err := locked.Err(); err != nil {
		return fmt.Errorf("lock rooms: %w", err)
	}
	for i := range rooms {
		if _, ok := w.base[rooms[i].id]; !ok {
			rooms[i].missing = true
		}
	}

	resent := false
	if t.resends != nil {
		found, err := br.Query()
		if err != nil {
			return fmt.Errorf("find resend: %w", err)
		}
		for found.Next() {
			m, err := scanMessage(found)
			if err != nil {
				found.Close()
				return fmt.Errorf("find resend: %w", err)
			}
			p := w.byKey[resendKey{m.RoomID, *m.UserID, m.ClientID}]
			if p == nil {
				found.Close()
				return fmt.Errorf("find resend: unexpected room %d client_id %q", m.RoomID, m.ClientID)
			}
			*p.m = m
			p.resent, resent = true, true
		}
		found.Close()
		if err := found.Err(); err != nil {
			return fmt.Errorf("find resend: %w", err)
		}
	}

	if len(rows) > 0 {
		moved, err := br.Query()
		if err != nil {
			return fmt.Errorf("next seq: %w", err)
		}
		for moved.Next() {
			var id, last int64
			if err := moved.Scan(&id, &last); err != nil {
				moved.Close()
				return fmt.Errorf("next seq: %w", err)
			}
			w.base[id] = last - int64(rooms[roomIndex(rooms, id)].n)
		}
		moved.Close()
		if err := moved.Err(); err != nil {
			return fmt.Errorf("next seq: %w", err)
		}
		for _, p := range rows {
			if b, ok := w.base[p.m.RoomID]; ok {
				w.bySeq[[2]int64{p.m.RoomID, b + p.rank}] = p
			}
		}
		// A send stored before breaks the client_id index: on a first
		// try, which did not look for resends, or, when the lookup found
		// some, because they were inserted again. Either way: try again.
		retry := t.resends == nil || resent
		inserted, err := br.Query()
		if err != nil {
			if retry && isResend(err) {
				return errResent
			}
			return fmt.Errorf("insert: %w", err)
		}
		for inserted.Next() {
			var id, room, seq int64
			if err := inserted.Scan(&id, &room, &seq); err != nil {
				inserted.Close()
				return fmt.Errorf("insert: %w", err)
			}
			p := w.bySeq[[2]int64{room, seq}]
			if p == nil {
				inserted.Close()
				return fmt.Errorf("insert: unexpected row room %d seq %d", room, seq)
			}
			p.m.ID, p.m.Seq = id, seq
		}
		inserted.Close()
		if err := inserted.Err(); err != nil {
			if retry && isResend(err) {
				return errResent
			}
			return fmt.Errorf("insert: %w", err)
		}
	}
	if resent {
		// The unique index must have refused the insert.
		return errors.New("insert: a resend was stored again")
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, p := range rows {
		if !rooms[roomIndex(rooms, p.m.RoomID)].missing && p.m.ID == 0 {
			return fmt.Errorf("no id for room %d rank %d", p.m.RoomID, p.rank)
		}
	}
	return nil
}

// isResend reports whether err is PostgreSQL's unique_violation on the
// client_id index: a send stored before.
func isResend(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "messages_client_id_key"
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

// insertSQL is the insert of the arrays, after one row was bound: its seq
// column holds ranks, to which it adds the base of each room (the room's
// new last_seq less its n, passed as two more arrays). Rooms that do not
// exist drop out of the join. Rows are inserted in the order they came, so
// that ids grow with seqs as on SQLite.
func (a *arrayBinder) insertSQL() string {
	names := strings.Split(messageInsertColumns, ", ")
	var sel, src strings.Builder
	for i, name := range names {
		if i > 0 {
			sel.WriteString(", ")
			src.WriteString(", ")
		}
		if name == "seq" {
			sel.WriteString("r.last_seq - c.n + m.seq")
		} else {
			sel.WriteString("m." + name)
		}
		src.WriteString("$" + strconv.Itoa(i+1) + "::" + a.cols[i].typ)
	}
	n := len(names)
	return "INSERT INTO messages (" + messageInsertColumns + ") SELECT " + sel.String() +
		" FROM unnest(" + src.String() + ") WITH ORDINALITY AS m(" + messageInsertColumns + ", ord)" +
		" JOIN unnest($" + strconv.Itoa(n+1) + "::bigint[], $" + strconv.Itoa(n+2) + "::bigint[]) AS c(id, n) ON c.id = m.room_id" +
		" JOIN rooms r ON r.id = m.room_id ORDER BY m.ord RETURNING id, room_id, seq"
}
