// Package sqlitefast reaches past the SQLite driver to prepare statements
// once and run them many times: an optimisation of gormstore's message
// writer that depends on the driver's private layout, fenced here so that
// nothing else does.
//
// The SQLite driver (github.com/glebarez/go-sqlite) has no real prepared
// statements: its driver.Stmt keeps the SQL text and compiles it again on
// every Exec or Query (and finalizes it after), so database/sql's Prepare,
// or Tx.StmtContext on the one writer connection, saves nothing. Compiling
// the four statements of a message, with the allocations it makes, was the
// largest cost of storing one after the WAL writes. This package therefore
// prepares statements on a driver connection's own SQLite handle, reached
// inside (*sql.Conn).Raw by reflection on the driver's unexported fields, and
// steps them through the SQLite C API (the pure-Go translation in
// modernc.org/sqlite/lib that the driver itself calls).
//
// The handle's shape is checked before it is used: ConnOf returns an error
// wrapping ErrLayout when a driver upgrade changed it, and the caller is
// expected to fall back to plain database/sql statements (gormstore logs one
// warning and does).
//
// Every address handed to SQLite is of C memory (from the libc allocator),
// never of Go memory: Go may move a goroutine stack during the call, and
// the race detector's pointer checks reject Go heap addresses made from
// integers.
package sqlitefast

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrLayout means the driver's connection is not the type or shape this
// package knows, so its SQLite handle cannot be reached safely.
var ErrLayout = errors.New("sqlite driver connection has an unknown layout")

// Conn is the SQLite handle of one driver connection. It may be used only
// while database/sql hands that connection out exclusively (inside Raw).
type Conn struct {
	tls *libc.TLS
	db  uintptr // *sqlite3
	// C memory, allocated when first needed and released by Free.
	out    uintptr // the out parameter of sqlite3_prepare_v3
	buf    uintptr // text being bound
	bufCap int
}

// ConnOf returns the SQLite handle of a connection of the driver, read from
// the driver's unexported fields: the driver exposes no accessor. The shape
// is checked (the error wraps ErrLayout) so that a driver upgrade that
// changes it is noticed instead of corrupting memory.
func ConnOf(driverConn any) (*Conn, error) {
	v := reflect.ValueOf(driverConn)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct ||
		v.Type().Elem().PkgPath() != "github.com/glebarez/go-sqlite" || v.Type().Elem().Name() != "conn" {
		return nil, fmt.Errorf("%w: unexpected type %T", ErrLayout, driverConn)
	}
	db, tls := v.Elem().FieldByName("db"), v.Elem().FieldByName("tls")
	if !db.IsValid() || db.Kind() != reflect.Uintptr ||
		!tls.IsValid() || tls.Type() != reflect.TypeFor[*libc.TLS]() {
		return nil, fmt.Errorf("%w: unexpected fields of %T", ErrLayout, driverConn)
	}
	if db.Uint() == 0 || tls.IsNil() {
		return nil, errors.New("sqlite: driver connection is closed")
	}
	return &Conn{tls: (*libc.TLS)(tls.UnsafePointer()), db: uintptr(db.Uint())}, nil
}

// Check reports whether the SQLite handle of db's connections can be
// reached with connOf (ConnOf, or a stand-in in tests).
func Check(ctx context.Context, db *sql.DB, connOf func(any) (*Conn, error)) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		_, err := connOf(dc)
		return err
	})
}

// Error is an error reported by SQLite.
type Error struct {
	Code int32 // extended result code
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d)", e.Msg, e.Code) }

func (c *Conn) err(rc int32) error {
	return &Error{Code: rc, Msg: libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))}
}

// LastInsertID is the rowid of the last row inserted.
func (c *Conn) LastInsertID() int64 { return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db) }

// Changes is the number of rows the last statement changed.
func (c *Conn) Changes() int { return int(sqlite3.Xsqlite3_changes(c.tls, c.db)) }

// InTx reports whether a transaction is open on the connection.
func (c *Conn) InTx() bool { return sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) == 0 }

// OpenStatements counts the statements prepared on the connection and not
// finalized (the driver's own included).
func (c *Conn) OpenStatements() int {
	n := 0
	for p := sqlite3.Xsqlite3_next_stmt(c.tls, c.db, 0); p != 0; p = sqlite3.Xsqlite3_next_stmt(c.tls, c.db, p) {
		n++
	}
	return n
}

// Stmt is a statement prepared once and run many times. After each use it
// is reset (Run does it, or the caller calls Reset), so that it holds no
// read transaction or table lock between uses.
type Stmt struct {
	c       *Conn
	p       uintptr // *sqlite3_stmt
	bindErr error
}

const ptrSize = int(unsafe.Sizeof(uintptr(0)))

// Prepare compiles one statement. SQLITE_PREPARE_PERSISTENT tells SQLite the
// statement is long-lived, so it is not built from the small lookaside pool
// that short-lived statements need.
func (c *Conn) Prepare(text string) (*Stmt, error) {
	if c.out == 0 {
		if c.out = libc.Xmalloc(c.tls, types.Size_t(ptrSize)); c.out == 0 {
			return nil, errors.New("sqlite: out of memory")
		}
	}
	z, err := libc.CString(text)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, z)
	out := libc.GoBytes(c.out, ptrSize)
	clear(out)
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, int32(len(text)), sqlite3.SQLITE_PREPARE_PERSISTENT, c.out, 0)
	if rc != sqlite3.SQLITE_OK {
		return nil, fmt.Errorf("prepare %q: %w", text, c.err(rc))
	}
	var p uintptr
	if ptrSize == 8 {
		p = uintptr(binary.NativeEndian.Uint64(out))
	} else {
		p = uintptr(binary.NativeEndian.Uint32(out))
	}
	if p == 0 {
		return nil, fmt.Errorf("prepare %q: no statement", text)
	}
	return &Stmt{c: c, p: p}, nil
}

// text copies v into C memory and returns its address, valid until the next
// call. It is never 0, which SQLite would take for NULL.
func (c *Conn) text(v string) (uintptr, error) {
	if len(v) >= c.bufCap {
		n := max(64, 2*c.bufCap, len(v)+1)
		p := libc.Xmalloc(c.tls, types.Size_t(n))
		if p == 0 {
			return 0, errors.New("sqlite: out of memory")
		}
		if c.buf != 0 {
			libc.Xfree(c.tls, c.buf)
		}
		c.buf, c.bufCap = p, n
	}
	copy(libc.GoBytes(c.buf, len(v)), v)
	return c.buf, nil
}

// Free releases the C memory of c (not the connection).
func (c *Conn) Free() {
	for _, p := range []*uintptr{&c.out, &c.buf} {
		if *p != 0 {
			libc.Xfree(c.tls, *p)
			*p = 0
		}
	}
	c.bufCap = 0
}

// Handle is the statement's address, which stays the same for as long as
// the statement is prepared.
func (s *Stmt) Handle() uintptr { return s.p }

// Close finalizes the statement.
func (s *Stmt) Close() {
	if s != nil && s.p != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
}

// The bind methods set the parameter at index i (from 1). An error sticks
// to the statement until Reset, and Step returns it.

func (s *Stmt) setErr(rc int32) {
	if rc != sqlite3.SQLITE_OK && s.bindErr == nil {
		s.bindErr = s.c.err(rc)
	}
}

// BindInt64 binds v.
func (s *Stmt) BindInt64(i int, v int64) {
	s.setErr(sqlite3.Xsqlite3_bind_int64(s.c.tls, s.p, int32(i), v))
}

// BindBool binds v as 0 or 1.
func (s *Stmt) BindBool(i int, v bool) { s.BindInt64(i, int64(libc.Bool32(v))) }

// BindNull binds NULL.
func (s *Stmt) BindNull(i int) { s.setErr(sqlite3.Xsqlite3_bind_null(s.c.tls, s.p, int32(i))) }

// BindNullInt64 binds *v, or NULL.
func (s *Stmt) BindNullInt64(i int, v *int64) {
	if v == nil {
		s.BindNull(i)
		return
	}
	s.BindInt64(i, *v)
}

// sqliteTransient is SQLITE_TRANSIENT: SQLite copies the value before
// sqlite3_bind_text returns, so one buffer serves every bind.
const sqliteTransient = ^uintptr(0)

// BindText binds v; an empty v is the empty text, not NULL.
func (s *Stmt) BindText(i int, v string) {
	z, err := s.c.text(v)
	if err != nil {
		if s.bindErr == nil {
			s.bindErr = err
		}
		return
	}
	s.setErr(sqlite3.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), z, int32(len(v)), sqliteTransient))
}

// BindNullText binds v, or NULL when v is empty.
func (s *Stmt) BindNullText(i int, v string) {
	if v == "" {
		s.BindNull(i)
		return
	}
	s.BindText(i, v)
}

// Step runs the statement to its next row: it returns true with a row, false
// when the statement is done.
func (s *Stmt) Step() (bool, error) {
	if s.bindErr != nil {
		return false, s.bindErr
	}
	switch rc := sqlite3.Xsqlite3_step(s.c.tls, s.p); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		return false, nil
	default:
		return false, s.c.err(rc)
	}
}

// Reset readies the statement for its next run.
func (s *Stmt) Reset() {
	sqlite3.Xsqlite3_reset(s.c.tls, s.p)
	s.bindErr = nil
}

// Run runs a statement that returns no rows (or ignores them) and resets it.
func (s *Stmt) Run() error {
	defer s.Reset()
	for {
		row, err := s.Step()
		if err != nil || !row {
			return err
		}
	}
}

// ColumnNull reports whether column i (from 0) of the current row is NULL.
func (s *Stmt) ColumnNull(i int) bool {
	return sqlite3.Xsqlite3_column_type(s.c.tls, s.p, int32(i)) == sqlite3.SQLITE_NULL
}

// ColumnInt64 is column i (from 0) of the current row.
func (s *Stmt) ColumnInt64(i int) int64 {
	return sqlite3.Xsqlite3_column_int64(s.c.tls, s.p, int32(i))
}

// ColumnNullInt64 is the column, or nil when it is NULL.
func (s *Stmt) ColumnNullInt64(i int) *int64 {
	if s.ColumnNull(i) {
		return nil
	}
	v := s.ColumnInt64(i)
	return &v
}

// ColumnText copies the column into a Go string.
func (s *Stmt) ColumnText(i int) string {
	p := sqlite3.Xsqlite3_column_text(s.c.tls, s.p, int32(i))
	n := sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i))
	return string(libc.GoBytes(p, int(n)))
}
