package gormstore

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

// The SQLite driver (github.com/glebarez/go-sqlite) has no real prepared
// statements: its driver.Stmt keeps the SQL text and compiles it again on
// every Exec or Query (and finalizes it after), so database/sql's Prepare,
// or Tx.StmtContext on the one writer connection, saves nothing. Compiling
// the four statements of a message, with the allocations it makes, was the
// largest cost of storing one after the WAL writes. The committer therefore
// prepares its few statements once on the writer connection's own SQLite
// handle, reached inside (*sql.Conn).Raw, and steps them through the SQLite
// C API (the pure-Go translation in modernc.org/sqlite/lib that the driver
// itself calls).
//
// Every address handed to SQLite is of C memory (from the libc allocator),
// never of Go memory: Go may move a goroutine stack during the call, and
// the race detector's pointer checks reject Go heap addresses made from
// integers.

// sqliteConn is the SQLite handle of one driver connection. It may be used
// only while database/sql hands that connection out exclusively (inside
// Raw).
type sqliteConn struct {
	tls *libc.TLS
	db  uintptr // *sqlite3
	// C memory, allocated when first needed and released by free.
	out    uintptr // the out parameter of sqlite3_prepare_v3
	buf    uintptr // text being bound
	bufCap int
}

// sqliteConnOf returns the SQLite handle of a connection of the driver, read
// from the driver's unexported fields: the driver exposes no accessor. The
// shape is checked so that a driver upgrade that changes it fails Open
// instead of corrupting memory.
func sqliteConnOf(driverConn any) (*sqliteConn, error) {
	v := reflect.ValueOf(driverConn)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct ||
		v.Type().Elem().PkgPath() != "github.com/glebarez/go-sqlite" || v.Type().Elem().Name() != "conn" {
		return nil, fmt.Errorf("sqlite: unexpected driver connection %T", driverConn)
	}
	db, tls := v.Elem().FieldByName("db"), v.Elem().FieldByName("tls")
	if !db.IsValid() || db.Kind() != reflect.Uintptr ||
		!tls.IsValid() || tls.Type() != reflect.TypeFor[*libc.TLS]() {
		return nil, fmt.Errorf("sqlite: unexpected layout of driver connection %T", driverConn)
	}
	if db.Uint() == 0 || tls.IsNil() {
		return nil, errors.New("sqlite: driver connection is closed")
	}
	return &sqliteConn{tls: (*libc.TLS)(tls.UnsafePointer()), db: uintptr(db.Uint())}, nil
}

// sqliteError is an error reported by SQLite.
type sqliteError struct {
	code int32 // extended result code
	msg  string
}

func (e *sqliteError) Error() string { return fmt.Sprintf("%s (%d)", e.msg, e.code) }

func (c *sqliteConn) err(rc int32) error {
	return &sqliteError{code: rc, msg: libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))}
}

// lastInsertID is the rowid of the last row inserted.
func (c *sqliteConn) lastInsertID() int64 { return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db) }

// changes is the number of rows the last statement changed.
func (c *sqliteConn) changes() int { return int(sqlite3.Xsqlite3_changes(c.tls, c.db)) }

// inTx reports whether a transaction is open on the connection.
func (c *sqliteConn) inTx() bool { return sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) == 0 }

// sqliteStmt is a statement prepared once and run many times. After each use
// it is reset (run does it, or the caller calls reset), so that it holds no
// read transaction or table lock between uses.
type sqliteStmt struct {
	c       *sqliteConn
	p       uintptr // *sqlite3_stmt
	bindErr error
}

const ptrSize = int(unsafe.Sizeof(uintptr(0)))

// prepare compiles one statement. SQLITE_PREPARE_PERSISTENT tells SQLite the
// statement is long-lived, so it is not built from the small lookaside pool
// that short-lived statements need.
func (c *sqliteConn) prepare(text string) (*sqliteStmt, error) {
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
	return &sqliteStmt{c: c, p: p}, nil
}

// text copies v into C memory and returns its address, valid until the next
// call. It is never 0, which SQLite would take for NULL.
func (c *sqliteConn) text(v string) (uintptr, error) {
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

// free releases the C memory of c (not the connection).
func (c *sqliteConn) free() {
	for _, p := range []*uintptr{&c.out, &c.buf} {
		if *p != 0 {
			libc.Xfree(c.tls, *p)
			*p = 0
		}
	}
	c.bufCap = 0
}

// close finalizes the statement.
func (s *sqliteStmt) close() {
	if s != nil && s.p != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
}

// The bind methods set the parameter at index i (from 1). An error sticks
// to the statement until reset, and step returns it.

func (s *sqliteStmt) setErr(rc int32) {
	if rc != sqlite3.SQLITE_OK && s.bindErr == nil {
		s.bindErr = s.c.err(rc)
	}
}

func (s *sqliteStmt) bindInt64(i int, v int64) {
	s.setErr(sqlite3.Xsqlite3_bind_int64(s.c.tls, s.p, int32(i), v))
}

func (s *sqliteStmt) bindBool(i int, v bool) { s.bindInt64(i, int64(libc.Bool32(v))) }

func (s *sqliteStmt) bindNull(i int) { s.setErr(sqlite3.Xsqlite3_bind_null(s.c.tls, s.p, int32(i))) }

// bindNullInt64 binds *v, or NULL.
func (s *sqliteStmt) bindNullInt64(i int, v *int64) {
	if v == nil {
		s.bindNull(i)
		return
	}
	s.bindInt64(i, *v)
}

// sqliteTransient is SQLITE_TRANSIENT: SQLite copies the value before
// sqlite3_bind_text returns, so one buffer serves every bind.
const sqliteTransient = ^uintptr(0)

// bindText binds v; an empty v is the empty text, not NULL.
func (s *sqliteStmt) bindText(i int, v string) {
	z, err := s.c.text(v)
	if err != nil {
		if s.bindErr == nil {
			s.bindErr = err
		}
		return
	}
	s.setErr(sqlite3.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), z, int32(len(v)), sqliteTransient))
}

// bindNullText binds v, or NULL when v is empty.
func (s *sqliteStmt) bindNullText(i int, v string) {
	if v == "" {
		s.bindNull(i)
		return
	}
	s.bindText(i, v)
}

// step runs the statement to its next row: it returns true with a row, false
// when the statement is done.
func (s *sqliteStmt) step() (bool, error) {
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

// reset readies the statement for its next run.
func (s *sqliteStmt) reset() {
	sqlite3.Xsqlite3_reset(s.c.tls, s.p)
	s.bindErr = nil
}

// run runs a statement that returns no rows (or ignores them) and resets it.
func (s *sqliteStmt) run() error {
	defer s.reset()
	for {
		row, err := s.step()
		if err != nil || !row {
			return err
		}
	}
}

func (s *sqliteStmt) columnNull(i int) bool {
	return sqlite3.Xsqlite3_column_type(s.c.tls, s.p, int32(i)) == sqlite3.SQLITE_NULL
}

func (s *sqliteStmt) columnInt64(i int) int64 {
	return sqlite3.Xsqlite3_column_int64(s.c.tls, s.p, int32(i))
}

// columnNullInt64 is the column, or nil when it is NULL.
func (s *sqliteStmt) columnNullInt64(i int) *int64 {
	if s.columnNull(i) {
		return nil
	}
	v := s.columnInt64(i)
	return &v
}

// columnText copies the column into a Go string.
func (s *sqliteStmt) columnText(i int) string {
	p := sqlite3.Xsqlite3_column_text(s.c.tls, s.p, int32(i))
	n := sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i))
	return string(libc.GoBytes(p, int(n)))
}

// checkSQLiteConn checks at Open that the writer's SQLite handle can be
// reached, so that a driver upgrade that changes its connection type fails
// loudly and at once.
func checkSQLiteConn(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		_, err := sqliteConnOf(dc)
		return err
	})
}
