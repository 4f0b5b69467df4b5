package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore/sqlitefast"
)

// groupWriter stores one group of messages in one transaction, through
// writeGroup.
type groupWriter interface {
	write(ctx context.Context, msgs []*pendingMessage, g *groupState) error
	// close releases what the writer holds, before the pool closes.
	close()
}

// sqliteWriter is the SQLite dialect path with statements prepared once on
// the writer connection (see package sqlitefast). Only the committer's
// goroutine uses it.
type sqliteWriter struct {
	db     *sql.DB // the writer pool, of one connection
	connOf func(any) (*sqlitefast.Conn, error)
	stmts  *messageStmts
}

// messageStmts are the statements of the SQLite writer, prepared on one
// connection. They implement messageTx while a transaction is open.
type messageStmts struct {
	dc       any // the driver connection they were prepared on
	c        *sqlitefast.Conn
	begin    *sqlitefast.Stmt
	commitS  *sqlitefast.Stmt
	rollback *sqlitefast.Stmt
	resend   *sqlitefast.Stmt // the earlier send of a client_id
	addSeq   *sqlitefast.Stmt // moves a room's last_seq by n
	lastSeq  *sqlitefast.Stmt // reads it back
	insert1  *sqlitefast.Stmt // one message
	// insertN[i] inserts minMultiRow<<i messages in one statement, prepared
	// when a group first needs it.
	insertN [3]*sqlitefast.Stmt
	bySeq   map[[2]int64]*pendingMessage
	binder  stmtBinder
}

// Groups of at least minMultiRow new messages are inserted with multi-row
// statements of 16, 32 or 64 rows (see insertN), the rest one
// row at a time. With prepared statements one row per statement costs the
// same as multi-row statements for small groups, but 15-20% more CPU per
// message in groups of about a hundred (128 concurrent senders), where a
// statement's own overhead (cursors, the AUTOINCREMENT counter) is paid
// once per chunk.
const minMultiRow = 16

// The writes use OR ROLLBACK: a constraint failure rolls the transaction
// back (the committer then stores each message alone), so SQLite keeps no
// statement journal for them. A statement journal is what ABORT, the
// default, costs in a statement that SQLite counts as several writes, such
// as one with RETURNING: it copied every page the statement changed.
// Single-row writes use no RETURNING: it also builds a temporary table per
// run. The id of a single-row insert is the connection's last insert rowid.
const (
	sqlFindResend = "SELECT " + messageColumns + " FROM messages WHERE room_id = ? AND user_id = ? AND client_id = ?"
	sqlAddSeq     = "UPDATE OR ROLLBACK rooms SET last_seq = last_seq + ? WHERE id = ?"
	sqlLastSeq    = "SELECT last_seq FROM rooms WHERE id = ?"
	sqlInsertInto = "INSERT OR ROLLBACK INTO messages (" + messageInsertColumns + ") VALUES "
	sqlInsertRow  = messageInsertRow
)

func newSQLiteWriter(db *sql.DB, connOf func(any) (*sqlitefast.Conn, error)) *sqliteWriter {
	return &sqliteWriter{db: db, connOf: connOf}
}

// write stores msgs in one transaction on the writer connection.
func (w *sqliteWriter) write(ctx context.Context, msgs []*pendingMessage, g *groupState) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if w.stmts != nil && w.stmts.dc != dc {
			// The writer pool has one connection, which database/sql
			// never replaces (no lifetime limits, and the driver never
			// reports a bad connection). Should it still happen, the
			// old statements are lost with the old connection.
			w.stmts = nil
		}
		if w.stmts == nil {
			st, err := w.prepare(dc)
			if err != nil {
				return fmt.Errorf("begin: %w", err)
			}
			w.stmts = st
		}
		return w.stmts.write(msgs, g)
	})
}

func (w *sqliteWriter) prepare(dc any) (*messageStmts, error) {
	c, err := w.connOf(dc)
	if err != nil {
		return nil, err
	}
	st := &messageStmts{dc: dc, c: c, bySeq: make(map[[2]int64]*pendingMessage)}
	for _, s := range []struct {
		dst  **sqlitefast.Stmt
		text string
	}{
		{&st.begin, "BEGIN IMMEDIATE"},
		{&st.commitS, "COMMIT"},
		{&st.rollback, "ROLLBACK"},
		{&st.resend, sqlFindResend},
		{&st.addSeq, sqlAddSeq},
		{&st.lastSeq, sqlLastSeq},
		{&st.insert1, sqlInsertInto + sqlInsertRow},
	} {
		if *s.dst, err = c.Prepare(s.text); err != nil {
			st.close()
			return nil, err
		}
	}
	return st, nil
}

// close finalizes the statements, before the writer pool closes.
func (w *sqliteWriter) close() {
	if w.stmts == nil {
		return
	}
	st := w.stmts
	w.stmts = nil
	conn, err := w.db.Conn(context.Background())
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.Raw(func(dc any) error {
		if dc == st.dc {
			st.close()
		}
		return nil
	})
}

// close finalizes the statements.
func (st *messageStmts) close() {
	for _, s := range []*sqlitefast.Stmt{st.begin, st.commitS, st.rollback, st.resend, st.addSeq, st.lastSeq, st.insert1} {
		s.Close()
	}
	for _, s := range st.insertN {
		s.Close()
	}
	st.c.Free()
}

func (st *messageStmts) write(msgs []*pendingMessage, g *groupState) (err error) {
	if err := st.begin.Run(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		// A failed statement or COMMIT (a deferred foreign key) can leave
		// the transaction open; the connection must not keep it.
		if st.c.InTx() {
			if rerr := st.rollback.Run(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}
	}()
	return writeGroup(st, msgs, g)
}

// lockRooms does nothing: BEGIN IMMEDIATE took the database's write lock.
func (st *messageStmts) lockRooms([]int64) error { return nil }

func (st *messageStmts) commit() error { return st.commitS.Run() }

func (st *messageStmts) findResends(ps []*pendingMessage) error {
	s := st.resend
	for _, p := range ps {
		m := p.m
		s.BindInt64(1, m.RoomID)
		s.BindInt64(2, *m.UserID)
		s.BindText(3, m.ClientID)
		row, err := s.Step()
		if err != nil {
			s.Reset()
			return err
		}
		if row {
			*m = readMessage(s)
			p.resent = true
		}
		s.Reset()
	}
	return nil
}

func (st *messageStmts) addSeqs(rooms []roomSeqs) error {
	for i := range rooms {
		r := &rooms[i]
		if r.n == 0 {
			continue
		}
		s := st.addSeq
		s.BindInt64(1, int64(r.n))
		s.BindInt64(2, r.id)
		if err := s.Run(); err != nil {
			return err
		}
		if st.c.Changes() == 0 {
			r.missing = true
			continue
		}
		s = st.lastSeq
		s.BindInt64(1, r.id)
		row, err := s.Step()
		if err != nil || !row {
			s.Reset()
			if err == nil {
				err = fmt.Errorf("room %d vanished", r.id)
			}
			return err
		}
		r.next = s.ColumnInt64(0) - int64(r.n) + 1
		s.Reset()
	}
	return nil
}

// stmtBinder binds a message's values to an insert statement, from the
// parameter at i on.
type stmtBinder struct {
	s *sqlitefast.Stmt
	i int
}

func (b *stmtBinder) int64(v int64)      { b.s.BindInt64(b.i, v); b.i++ }
func (b *stmtBinder) nullInt64(v *int64) { b.s.BindNullInt64(b.i, v); b.i++ }
func (b *stmtBinder) text(v string)      { b.s.BindText(b.i, v); b.i++ }
func (b *stmtBinder) nullText(v string)  { b.s.BindNullText(b.i, v); b.i++ }
func (b *stmtBinder) bool(v bool)        { b.s.BindBool(b.i, v); b.i++ }

func (st *messageStmts) insert(rows []*pendingMessage) error {
	for len(rows) >= minMultiRow {
		i := len(st.insertN) - 1
		for minMultiRow<<i > len(rows) {
			i--
		}
		n := minMultiRow << i
		if err := st.insertChunk(i, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	s := st.insert1
	for _, p := range rows {
		st.binder = stmtBinder{s: s, i: 1}
		bindMessage(&st.binder, p.m)
		if err := s.Run(); err != nil {
			return err
		}
		p.m.ID = st.c.LastInsertID()
	}
	return nil
}

// insertChunk inserts rows with the statement insertN[i]. RETURNING reports
// rows in no promised order, so each is matched by its room and seq.
func (st *messageStmts) insertChunk(i int, rows []*pendingMessage) error {
	if st.insertN[i] == nil {
		var q strings.Builder
		q.WriteString(sqlInsertInto)
		for j := range rows {
			if j > 0 {
				q.WriteByte(',')
			}
			q.WriteString(sqlInsertRow)
		}
		q.WriteString(" RETURNING id, room_id, seq")
		s, err := st.c.Prepare(q.String())
		if err != nil {
			return err
		}
		st.insertN[i] = s
	}
	s := st.insertN[i]
	defer s.Reset()
	bySeq := st.bySeq
	clear(bySeq)
	defer clear(bySeq)
	st.binder = stmtBinder{s: s, i: 1}
	for _, p := range rows {
		bindMessage(&st.binder, p.m)
		p.m.ID = 0
		bySeq[[2]int64{p.m.RoomID, p.m.Seq}] = p
	}
	for {
		row, err := s.Step()
		if err != nil {
			return err
		}
		if !row {
			break
		}
		p := bySeq[[2]int64{s.ColumnInt64(1), s.ColumnInt64(2)}]
		if p == nil {
			return fmt.Errorf("unexpected row room %d seq %d", s.ColumnInt64(1), s.ColumnInt64(2))
		}
		p.m.ID = s.ColumnInt64(0)
	}
	for _, p := range rows {
		if p.m.ID == 0 {
			return fmt.Errorf("no id for room %d seq %d", p.m.RoomID, p.m.Seq)
		}
	}
	return nil
}

var _ messageTx = (*messageStmts)(nil)

// errStoreClosed answers posts after Close.
var errStoreClosed = fmt.Errorf("store closed: %w", store.ErrUnavailable)
