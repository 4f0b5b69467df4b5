package gormstore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/virtual-company/vc/server/store/gormstore/sqlitefast"
)

// OpenWithChangedSQLiteDriver opens a SQLite database as Open does, as if a
// driver upgrade had changed the layout the fast path reads.
func OpenWithChangedSQLiteDriver(ctx context.Context, databaseURL string, log *slog.Logger) (*Store, error) {
	return Open(ctx, databaseURL, Options{Logger: log, sqliteConnOf: func(dc any) (*sqlitefast.Conn, error) {
		return nil, fmt.Errorf("%w: no field db in %T (test)", sqlitefast.ErrLayout, dc)
	}})
}

// MessagePath names the dialect path that stores messages.
func MessagePath(s *Store) string {
	switch s.writer.(type) {
	case *sqliteWriter:
		return "sqlite-fast"
	case *sqlWriter:
		return "plain"
	case *pgWriter:
		return "postgres"
	}
	return fmt.Sprintf("%T", s.writer)
}
