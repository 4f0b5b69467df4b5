package gormstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/virtual-company/vc/server/store"
)

// withPgx runs f on a pgx connection of the pool db. The hot reads on
// PostgreSQL use pgx directly: its native scanning costs a fraction of
// database/sql's conversions and GORM's reflection (a history page of 100
// messages: about 1 400 allocations through database/sql, a few hundred
// this way), and pgx prepares each statement once per connection.
func withPgx(ctx context.Context, db *sql.DB, f func(c *pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return f(sc.Conn())
	})
}

// pgMessages appends the messages query selects to out.
func (s *Store) pgMessages(ctx context.Context, query string, args []any, out []store.Message) ([]store.Message, error) {
	db, err := s.r.DB()
	if err != nil {
		return nil, err
	}
	err = withPgx(ctx, db, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}
