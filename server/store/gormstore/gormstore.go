// Package gormstore implements server/store on GORM, with SQLite (through the
// pure-Go github.com/glebarez/sqlite driver) as the default database and
// PostgreSQL for production. The schema is created by versioned migrations
// (migrations.go) that behave the same on both.
//
// On SQLite the store keeps two connection pools on the same file: one
// connection for writes (transactions begin IMMEDIATE, so concurrent writers
// queue in Go instead of failing with SQLITE_BUSY) and several read-only
// connections that WAL lets run alongside the writer. Messages are written by
// one goroutine that groups concurrent posts into shared transactions
// (committer.go), with statements it prepares once on the writer connection
// (sqlitewriter.go, through package sqlitefast), or with plain statements
// (sqlwriter.go) if the driver's layout is not the one sqlitefast knows.
//
// On PostgreSQL the same committer groups posts, and each group is one
// pipelined round trip through pgx (pgwriter.go) that holds its rooms' row
// locks, so that seqs stay gap-free with several vcd nodes on one database.
// Hot reads there go through pgx directly (pgread.go).
//
// What storing a message means is written once, in writeGroup
// (messagewrite.go); the columns of messages once, in messagecolumns.go.
// The in-memory read cache (cache.go) documents how it is invalidated, and
// Store.InvalidateRoom is how another writer's change reaches it. It is on
// unless Options.Shared says that other processes write the database too
// (a cluster node).
package gormstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore/sqlitefast"
)

// Store is the GORM implementation of store.Store.
type Store struct {
	w         *gorm.DB // writes and transactions
	r         *gorm.DB // reads (the same as w on PostgreSQL)
	dialect   Dialect
	writer    groupWriter // stores messages
	committer *committer  // group commit of messages through writer
	cache     *readCache  // what hot reads need (nil caches nothing: Options.Shared)
}

var _ store.Store = (*Store)(nil)

// Options tunes Open.
type Options struct {
	// MaxReadConns bounds the read pool (SQLite) or the whole pool
	// (PostgreSQL); 0 picks a default.
	MaxReadConns int
	// BusyTimeout is how long SQLite waits on a lock held by another
	// process; 0 means 5 s.
	BusyTimeout time.Duration
	// Logger receives the store's warnings; nil means slog.Default().
	Logger *slog.Logger
	// Shared says that other processes write the database while this
	// one runs (the nodes of a cluster, on PostgreSQL): then the Store
	// caches nothing, since no process sees the others' changes. Without it the Store caches
	// memberships, rooms, roles and recent messages (cache.go), as the
	// database's one writer may.
	Shared bool

	// sqliteConnOf reaches a SQLite driver connection's handle; nil means
	// sqlitefast.ConnOf. Tests replace it to simulate a driver whose
	// layout changed.
	sqliteConnOf func(any) (*sqlitefast.Conn, error)
}

// IsPostgres reports whether databaseURL selects PostgreSQL.
func IsPostgres(databaseURL string) bool {
	return strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://")
}

// splitPoolMax takes the pool_max_conns parameter (pgx's name for it) out of
// a PostgreSQL URL: PostgreSQL itself would refuse it as an unknown run-time
// parameter. It caps the connections one vcd opens (default 20); several
// nodes, or many test daemons, on one server stay under its
// max_connections with it.
func splitPoolMax(databaseURL string) (string, int, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", 0, fmt.Errorf("database_url is not a valid URL: %w", err)
	}
	q := u.Query()
	v := q.Get("pool_max_conns")
	if v == "" {
		return databaseURL, 0, nil
	}
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 {
		return "", 0, fmt.Errorf("database_url: pool_max_conns must be a whole number above 0, not %q", v)
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

// Open connects to the database named by databaseURL (a postgres:// or
// postgresql:// URL, or a SQLite file path, optionally as sqlite://PATH or
// file:PATH) without migrating it; call Migrate next.
func Open(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	gcfg := &gorm.Config{
		Logger:                 logger.Discard,
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	if IsPostgres(databaseURL) {
		// The SQLite driver re-prepares every statement anyway; on
		// PostgreSQL prepared statements save a parse per query.
		gcfg.PrepareStmt = true
		dsn, poolMax, err := splitPoolMax(databaseURL)
		if err != nil {
			return nil, err
		}
		db, err := gorm.Open(postgres.Open(dsn), gcfg)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		n := opts.MaxReadConns
		if poolMax > 0 {
			n = poolMax
		}
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		s := &Store{w: db, r: db, dialect: Postgres}
		if err := s.Ping(ctx); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		warnAutovacuum(ctx, sqlDB, opts.Logger)
		s.writer = newPGWriter(sqlDB)
		if !opts.Shared {
			s.cache = newReadCache(256, 32<<20)
		}
		s.committer = newCommitter(s.writer, s.cache)
		return s, nil
	}
	return openSQLite(ctx, databaseURL, opts, gcfg)
}

// warnAutovacuum logs a warning when PostgreSQL's autovacuum is off: its
// ANALYZE is what keeps the planner's statistics, and the plans that vcd's
// prepared statements keep for a connection's life, in step with tables
// that grow (a plan made while messages was nearly empty reads the whole
// table once it is not).
// Only the daemon, which passes its logger, warns (not `vcd admin`).
func warnAutovacuum(ctx context.Context, db *sql.DB, log *slog.Logger) {
	if log == nil {
		return
	}
	var on string
	if err := db.QueryRowContext(ctx, "SHOW autovacuum").Scan(&on); err != nil || on != "off" {
		return
	}
	log.Warn("postgresql autovacuum is off: query plans will not follow the tables as they grow; " +
		"turn it on (autovacuum = on in postgresql.conf) or run ANALYZE regularly")
}

// SQLitePath returns the file a SQLite database URL names (sqlite://PATH,
// file:PATH or a plain path, without query parameters).
func SQLitePath(databaseURL string) string {
	path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite://"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return path
}

func openSQLite(ctx context.Context, databaseURL string, opts Options, gcfg *gorm.Config) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	connOf := opts.sqliteConnOf
	if connOf == nil {
		connOf = sqlitefast.ConnOf
	}
	path := SQLitePath(databaseURL)
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite: create directory: %w", err)
		}
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_time_format", "sqlite")
		for i := 0; i+1 < len(extra); i += 2 {
			q.Add(extra[i], extra[i+1])
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := gorm.Open(sqlite.Open(dsn("_txlock", "immediate")), gcfg)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	wdb, err := w.DB()
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer: SQLite allows one at a time anyway, and queueing in
	// database/sql is cheaper and fairer than busy-waiting on the file lock.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)

	r, err := gorm.Open(sqlite.Open(dsn("_pragma", "query_only(1)")), gcfg)
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	rdb, err := r.DB()
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := opts.MaxReadConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0)*2)
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)
	s := &Store{w: w, r: r, dialect: SQLite}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s.writer = newSQLiteWriter(wdb, connOf)
	if err := sqlitefast.Check(ctx, wdb, connOf); errors.Is(err, sqlitefast.ErrLayout) {
		// A driver upgrade moved what the fast path reads: store messages
		// with plain statements (slower, same results) rather than refuse
		// to start.
		log.Warn("sqlite fast path unavailable, storing messages with plain statements", "err", err)
		s.writer = &sqlWriter{db: wdb}
	} else if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if !opts.Shared {
		s.cache = newReadCache(256, 32<<20)
	}
	s.committer = newCommitter(s.writer, s.cache)
	return s, nil
}

// Dialect returns the database kind.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the write handle, for packages that keep their own tables in
// this database (see migrations.go). Use it with WithContext.
func (s *Store) DB() *gorm.DB { return s.w }

// ReadDB returns the read handle (read-only on SQLite; the same as DB on
// PostgreSQL).
func (s *Store) ReadDB() *gorm.DB { return s.r }

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error; err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	if s.committer != nil {
		s.committer.close()
	}
	var errs []error
	if db, err := s.w.DB(); err == nil {
		errs = append(errs, db.Close())
	}
	if s.r != s.w {
		if db, err := s.r.DB(); err == nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// translate maps GORM errors to the store's sentinel errors.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return store.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case unreachable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err means the database could not be talked
// to at all (as opposed to refusing a statement): the pool is closed, the
// connection was refused, reset or timed out, or the server is shutting
// down or out of connections. Such errors become store.ErrUnavailable, which
// the API answers with 503 and a Retry-After instead of 500 (or, during
// authentication, instead of "bad token").
func unreachable(err error) bool {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down or starting; 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" ||
			pe.Code == "57P03" || pe.Code == "53300"
	}
	// database/sql does not export the error of a closed pool.
	return strings.Contains(err.Error(), "sql: database is closed")
}
