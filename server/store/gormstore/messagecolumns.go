package gormstore

import (
	"database/sql"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// The columns of the messages table, defined once: every statement that
// writes or reads messages is built from these lists, every insert binds
// its values with bindMessage, and every read takes them in this order
// (scanMessage for database/sql, readMessage for the SQLite fast path).
const (
	// messageInsertColumns are the columns an insert sets, in the order
	// bindMessage binds them.
	messageInsertColumns = "room_id, seq, user_id, role_id, content, message_type, author, client_id, truncated, created_at"
	// messageInsertParams is the number of messageInsertColumns, and
	// messageInsertRow their placeholders.
	messageInsertParams = 10
	messageInsertRow    = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	// messageColumns are the columns a read returns, in the order
	// scanMessage and readMessage take them.
	messageColumns = "id, " + messageInsertColumns
)

// messageBinder takes the values of one message's insert, column by column
// in the order of messageInsertColumns.
type messageBinder interface {
	int64(v int64)
	nullInt64(v *int64)
	text(v string)
	nullText(v string) // NULL when empty
	bool(v bool)
}

// bindMessage binds m's values for messageInsertColumns. created_at is Unix
// microseconds (UTC), and an empty client_id is NULL, so that the unique
// index on (room_id, user_id, client_id) ignores messages without one.
func bindMessage(b messageBinder, m *store.Message) {
	b.int64(m.RoomID)
	b.int64(m.Seq)
	b.nullInt64(m.UserID)
	b.nullInt64(m.RoleID)
	b.text(m.Content)
	b.text(m.MessageType)
	b.text(m.Author)
	b.nullText(m.ClientID)
	b.bool(m.Truncated)
	b.int64(m.CreatedAt.UnixMicro())
}

// argsBinder collects the values as database/sql arguments.
type argsBinder struct{ args []any }

func (b *argsBinder) int64(v int64)      { b.args = append(b.args, v) }
func (b *argsBinder) nullInt64(v *int64) { b.args = append(b.args, v) }
func (b *argsBinder) text(v string)      { b.args = append(b.args, v) }
func (b *argsBinder) bool(v bool)        { b.args = append(b.args, v) }
func (b *argsBinder) nullText(v string) {
	if v == "" {
		b.args = append(b.args, nil)
		return
	}
	b.args = append(b.args, v)
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanMessage reads one row of messageColumns through database/sql.
func scanMessage(sc rowScanner) (store.Message, error) {
	var (
		m       store.Message
		cid     sql.NullString
		created int64
	)
	if err := sc.Scan(&m.ID, &m.RoomID, &m.Seq, &m.UserID, &m.RoleID, &m.Content, &m.MessageType,
		&m.Author, &cid, &m.Truncated, &created); err != nil {
		return store.Message{}, err
	}
	m.ClientID = cid.String
	m.CreatedAt = time.UnixMicro(created).UTC()
	return m, nil
}

// messageColumnReader reads the current row of a statement that selects
// messageColumns (the SQLite fast path's statements).
type messageColumnReader interface {
	ColumnInt64(i int) int64
	ColumnNullInt64(i int) *int64
	ColumnText(i int) string
}

// readMessage reads one row of messageColumns, as scanMessage does.
func readMessage(r messageColumnReader) store.Message {
	return store.Message{ID: r.ColumnInt64(0), RoomID: r.ColumnInt64(1), Seq: r.ColumnInt64(2),
		UserID: r.ColumnNullInt64(3), RoleID: r.ColumnNullInt64(4), Content: r.ColumnText(5),
		MessageType: r.ColumnText(6), Author: r.ColumnText(7), ClientID: r.ColumnText(8),
		Truncated: r.ColumnInt64(9) != 0, CreatedAt: time.UnixMicro(r.ColumnInt64(10)).UTC()}
}
