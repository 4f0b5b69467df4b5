package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// messageStmts are the statements of the committer, prepared once on the
// writer connection (see sqlitestmt.go).
type messageStmts struct {
	dc       any // the driver connection they were prepared on
	c        *sqliteConn
	begin    *sqliteStmt
	commit   *sqliteStmt
	rollback *sqliteStmt
	resend   *sqliteStmt // the earlier send of a client_id
	addSeq   *sqliteStmt // moves a room's last_seq by n
	lastSeq  *sqliteStmt // reads it back
	insert   *sqliteStmt // one message
	// insertN[i] inserts minMultiRow<<i messages in one statement, prepared
	// when a group first needs it.
	insertN [3]*sqliteStmt
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
	sqlInsertInto = "INSERT OR ROLLBACK INTO messages" +
		" (room_id, seq, user_id, role_id, content, message_type, author, client_id, truncated, created_at) VALUES "
	sqlInsertRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

// paramsPerRow is the number of placeholders in sqlInsertRow.
const paramsPerRow = 10

func prepareMessageStmts(dc any) (*messageStmts, error) {
	c, err := sqliteConnOf(dc)
	if err != nil {
		return nil, err
	}
	st := &messageStmts{dc: dc, c: c}
	for _, s := range []struct {
		dst  **sqliteStmt
		text string
	}{
		{&st.begin, "BEGIN IMMEDIATE"},
		{&st.commit, "COMMIT"},
		{&st.rollback, "ROLLBACK"},
		{&st.resend, sqlFindResend},
		{&st.addSeq, sqlAddSeq},
		{&st.lastSeq, sqlLastSeq},
		{&st.insert, sqlInsertInto + sqlInsertRow},
	} {
		if *s.dst, err = c.prepare(s.text); err != nil {
			st.close()
			return nil, err
		}
	}
	return st, nil
}

// close finalizes the statements.
func (st *messageStmts) close() {
	for _, s := range []*sqliteStmt{st.begin, st.commit, st.rollback, st.resend, st.addSeq, st.lastSeq, st.insert} {
		s.close()
	}
	for _, s := range st.insertN {
		s.close()
	}
	st.c.free()
}

// findResend returns the message stored earlier with the same client_id.
func (st *messageStmts) findResend(m *store.Message) (store.Message, bool, error) {
	s := st.resend
	defer s.reset()
	s.bindInt64(1, m.RoomID)
	s.bindInt64(2, *m.UserID)
	s.bindText(3, m.ClientID)
	row, err := s.step()
	if err != nil || !row {
		return store.Message{}, false, err
	}
	// The columns of messageColumns, as scanMessage reads them.
	r := store.Message{ID: s.columnInt64(0), RoomID: s.columnInt64(1), Seq: s.columnInt64(2),
		UserID: s.columnNullInt64(3), RoleID: s.columnNullInt64(4), Content: s.columnText(5),
		MessageType: s.columnText(6), Author: s.columnText(7), ClientID: s.columnText(8),
		Truncated: s.columnInt64(9) != 0, CreatedAt: time.UnixMicro(s.columnInt64(10)).UTC()}
	return r, true, nil
}

// nextSeq adds n to a room's last_seq and returns it; false if the room
// does not exist.
func (st *messageStmts) nextSeq(roomID int64, n int) (int64, bool, error) {
	s := st.addSeq
	s.bindInt64(1, int64(n))
	s.bindInt64(2, roomID)
	if err := s.run(); err != nil {
		return 0, false, err
	}
	if st.c.changes() == 0 {
		return 0, false, nil
	}
	s = st.lastSeq
	defer s.reset()
	s.bindInt64(1, roomID)
	row, err := s.step()
	if err != nil || !row {
		return 0, false, err
	}
	return s.columnInt64(0), true, nil
}

// bindMessage binds m to the row of an insert whose parameters start at
// first.
func bindMessage(s *sqliteStmt, first int, m *store.Message) {
	s.bindInt64(first, m.RoomID)
	s.bindInt64(first+1, m.Seq)
	s.bindNullInt64(first+2, m.UserID)
	s.bindNullInt64(first+3, m.RoleID)
	s.bindText(first+4, m.Content)
	s.bindText(first+5, m.MessageType)
	s.bindText(first+6, m.Author)
	s.bindNullText(first+7, m.ClientID)
	s.bindBool(first+8, m.Truncated)
	s.bindInt64(first+9, m.CreatedAt.UnixMicro())
}

// insertMessages stores rows (whose Seq and CreatedAt are set), sets their
// IDs and marks them created. bySeq is scratch space.
func (st *messageStmts) insertMessages(rows []*pendingMessage, bySeq map[[2]int64]*pendingMessage) error {
	for len(rows) >= minMultiRow {
		i := len(st.insertN) - 1
		for minMultiRow<<i > len(rows) {
			i--
		}
		n := minMultiRow << i
		if err := st.insertChunk(i, rows[:n], bySeq); err != nil {
			return err
		}
		rows = rows[n:]
	}
	s := st.insert
	for _, p := range rows {
		bindMessage(s, 1, p.m)
		if err := s.run(); err != nil {
			return err
		}
		p.m.ID = st.c.lastInsertID()
		p.created = true
	}
	return nil
}

// insertChunk inserts rows with the statement insertN[i]. RETURNING reports
// rows in no promised order, so each is matched by its room and seq.
func (st *messageStmts) insertChunk(i int, rows []*pendingMessage, bySeq map[[2]int64]*pendingMessage) error {
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
		s, err := st.c.prepare(q.String())
		if err != nil {
			return err
		}
		st.insertN[i] = s
	}
	s := st.insertN[i]
	defer s.reset()
	clear(bySeq)
	for j, p := range rows {
		bindMessage(s, 1+j*paramsPerRow, p.m)
		bySeq[[2]int64{p.m.RoomID, p.m.Seq}] = p
	}
	for {
		row, err := s.step()
		if err != nil {
			return err
		}
		if !row {
			break
		}
		p := bySeq[[2]int64{s.columnInt64(1), s.columnInt64(2)}]
		if p == nil {
			return fmt.Errorf("unexpected row room %d seq %d", s.columnInt64(1), s.columnInt64(2))
		}
		p.m.ID = s.columnInt64(0)
		p.created = true
	}
	for _, p := range rows {
		if !p.created {
			return fmt.Errorf("no id for room %d seq %d", p.m.RoomID, p.m.Seq)
		}
	}
	return nil
}

// resendKey identifies an idempotent send.
type resendKey struct {
	room, user int64
	clientID   string
}

// roomSeqs is where a group's new messages of one room take their seqs.
type roomSeqs struct {
	id      int64
	n       int   // new messages
	next    int64 // seq of the next one
	missing bool
}

// groupState is the committer's scratch space, reused by every group so
// that a group allocates nothing.
type groupState struct {
	firstOf map[resendKey]*pendingMessage
	dups    [][2]*pendingMessage // a resend in the group, and its first send
	fresh   []*pendingMessage    // not resends
	rows    []*pendingMessage    // to insert
	roomIdx map[int64]int        // index in rooms
	rooms   []roomSeqs
	bySeq   map[[2]int64]*pendingMessage
}

func newGroupState() groupState {
	return groupState{firstOf: make(map[resendKey]*pendingMessage), roomIdx: make(map[int64]int),
		bySeq: make(map[[2]int64]*pendingMessage)}
}

func (g *groupState) reset() {
	clear(g.firstOf)
	clear(g.roomIdx)
	clear(g.bySeq)
	// Drop the pointers too, so that the messages of a past group can be
	// collected.
	clear(g.dups)
	clear(g.fresh)
	clear(g.rows)
	g.dups, g.fresh, g.rows, g.rooms = g.dups[:0], g.fresh[:0], g.rows[:0], g.rooms[:0]
}

// store stores msgs in one transaction on the writer connection: resends
// are found first, then each room's last_seq moves once for all its new
// messages, then the messages are inserted in the order they came. A room
// that does not exist fails only its messages; any other error fails the
// whole transaction, which rolls back every change.
func (c *committer) store(msgs []*pendingMessage) error {
	conn, err := c.db.Conn(context.Background())
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if c.stmts != nil && c.stmts.dc != dc {
			// The writer pool has one connection, which database/sql
			// never replaces (no lifetime limits, and the driver never
			// reports a bad connection). Should it still happen, the
			// old statements are lost with the old connection.
			c.stmts = nil
		}
		if c.stmts == nil {
			st, err := prepareMessageStmts(dc)
			if err != nil {
				return fmt.Errorf("begin: %w", err)
			}
			c.stmts = st
		}
		return c.storeOn(c.stmts, msgs)
	})
}

func (c *committer) storeOn(st *messageStmts, msgs []*pendingMessage) (err error) {
	if err := st.begin.run(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		// A failed statement or COMMIT (a deferred foreign key) can leave
		// the transaction open; the connection must not keep it.
		if st.c.inTx() {
			if rerr := st.rollback.run(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}
	}()
	g := &c.group
	defer g.reset()

	// 1. Resends, of earlier messages or of one earlier in this group.
	for _, p := range msgs {
		p.created, p.err = false, nil
		m := p.m
		if m.ClientID != "" && m.UserID != nil {
			k := resendKey{m.RoomID, *m.UserID, m.ClientID}
			if first, ok := g.firstOf[k]; ok {
				g.dups = append(g.dups, [2]*pendingMessage{p, first})
				continue
			}
			existing, found, err := st.findResend(m)
			if err != nil {
				return fmt.Errorf("find resend: %w", err)
			}
			if found {
				*m = existing
				continue
			}
			g.firstOf[k] = p
		}
		g.fresh = append(g.fresh, p)
	}

	// 2. Seqs: one UPDATE per room.
	for _, p := range g.fresh {
		i, ok := g.roomIdx[p.m.RoomID]
		if !ok {
			i = len(g.rooms)
			g.roomIdx[p.m.RoomID] = i
			g.rooms = append(g.rooms, roomSeqs{id: p.m.RoomID})
		}
		g.rooms[i].n++
	}
	for i := range g.rooms {
		r := &g.rooms[i]
		last, ok, err := st.nextSeq(r.id, r.n)
		if err != nil {
			return fmt.Errorf("next seq: %w", err)
		}
		r.missing, r.next = !ok, last-int64(r.n)+1
	}
	for _, p := range g.fresh {
		r := &g.rooms[g.roomIdx[p.m.RoomID]]
		if r.missing {
			p.err = store.ErrNotFound
			continue
		}
		p.m.Seq = r.next
		r.next++
		p.m.CreatedAt = nowUTC(p.m.CreatedAt)
		g.rows = append(g.rows, p)
	}

	// 3. Inserts, in the order the messages came.
	if err := st.insertMessages(g.rows, g.bySeq); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if err := st.commit.run(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}

	// 4. Resends within the group answer with the message stored first.
	for _, d := range g.dups {
		p, first := d[0], d[1]
		if first.err != nil {
			p.err = first.err
			continue
		}
		*p.m = *first.m
	}
	return nil
}

// closeStmts finalizes the statements, before the writer pool closes.
func (c *committer) closeStmts() {
	if c.stmts == nil {
		return
	}
	st := c.stmts
	c.stmts = nil
	conn, err := c.db.Conn(context.Background())
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
