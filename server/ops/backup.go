package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// ErrNewerSchema means a database was written by a newer vcd than this one.
var ErrNewerSchema = errors.New("database schema is newer than this vcd")

// ErrPostgres means the operation is done with PostgreSQL's own tools; the
// error text says which command to run.
var ErrPostgres = errors.New("use the PostgreSQL tools")

// Backup writes a consistent copy of the configured database to dest while a
// daemon may be running. On SQLite it uses VACUUM INTO, which reads one
// snapshot (WAL lets the daemon keep writing meanwhile), so every message
// committed before the backup started is in the copy; the copy is then
// checked like Restore checks its input. On PostgreSQL it writes the
// pg_dump command for the configured database to out and returns an error
// wrapping ErrPostgres: vcd does not reimplement pg_dump.
func Backup(ctx context.Context, cfg config.Config, dest string, out io.Writer) error {
	cfg.Resolve()
	if gormstore.IsPostgres(cfg.DatabaseURL) {
		fmt.Fprintf(out, "vcd backup copies SQLite databases only; back up PostgreSQL with pg_dump:\n\n  pg_dump --format=custom --file=%s %s\n\n"+
			"(the password is left out: give it with PGPASSWORD or ~/.pgpass)\n", shellQuote(dest), shellQuote(PublicURL(cfg.DatabaseURL)))
		return fmt.Errorf("backup: %w: run the pg_dump command above", ErrPostgres)
	}
	src := gormstore.SQLitePath(cfg.DatabaseURL)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: database %s: %w", src, err)
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup: %s already exists; choose a new file name", dest)
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	db, closeDB, err := openSQLiteFile(src, false)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer closeDB()
	if err := db.WithContext(ctx).Exec("VACUUM INTO ?", abs).Error; err != nil {
		_ = os.Remove(abs)
		return fmt.Errorf("backup %s to %s: %w", src, abs, err)
	}
	v, err := CheckBackup(ctx, abs)
	if err != nil {
		return fmt.Errorf("backup written to %s but it does not check out: %w", abs, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(out, "backed up %s to %s (%d bytes, schema version %d)\n", src, abs, st.Size(), v)
	return nil
}

// CheckBackup opens a SQLite file read-only, runs SQLite's integrity check
// and returns its vcd schema version. A file from a newer vcd is an error
// wrapping ErrNewerSchema.
func CheckBackup(ctx context.Context, path string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	db, closeDB, err := openSQLiteFile(path, true)
	if err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	defer closeDB()
	var results []string
	if err := db.WithContext(ctx).Raw("PRAGMA integrity_check").Scan(&results).Error; err != nil {
		return 0, fmt.Errorf("check %s: not a readable SQLite database: %w", path, err)
	}
	if len(results) != 1 || results[0] != "ok" {
		return 0, fmt.Errorf("check %s: integrity check failed: %v", path, results)
	}
	var n int64
	if err := db.WithContext(ctx).Raw("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("check %s: %w", path, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("check %s: not a vcd database (no schema_migrations table)", path)
	}
	var v *int
	if err := db.WithContext(ctx).Raw("SELECT MAX(version) FROM schema_migrations").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("check %s: read schema version: %w", path, err)
	}
	if v == nil {
		return 0, fmt.Errorf("check %s: not a vcd database (no migration applied)", path)
	}
	if latest := gormstore.LatestSchemaVersion(); *v > latest {
		return *v, fmt.Errorf("%w: %s has schema version %d, this vcd knows versions up to %d; restore it with a newer vcd",
			ErrNewerSchema, path, *v, latest)
	}
	return *v, nil
}

// openSQLiteFile opens one connection to a SQLite file outside the store
// (the store's pools belong to the daemon).
func openSQLiteFile(path string, readOnly bool) (*gorm.DB, func(), error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if readOnly {
		q.Set("mode", "ro")
	}
	db, err := gorm.Open(sqlite.Open("file:"+path+"?"+q.Encode()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	sqlDB.SetMaxOpenConns(1)
	return db, func() { _ = sqlDB.Close() }, nil
}

// PublicURL returns a database URL without its password, safe to print.
func PublicURL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "(unparsable database URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	// pool_max_conns is vcd's (pgx's) own parameter; libpq refuses it.
	if q := u.Query(); q.Has("pool_max_conns") {
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '@') {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
