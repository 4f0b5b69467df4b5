package gormstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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

// pgMessages appends the messages query selects (messageColumns) to out.
// It reads the rows' raw values through readMessage rather than Scan: with
// pgx's conversions a page of 100 messages took about 1 000 allocations,
// this way about two per message (its content and client_id).
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
		r := pgRow{fields: rows.FieldDescriptions(), interned: make(map[string]string)}
		raw := r.readable()
		for rows.Next() {
			if !raw {
				// Not in the formats pgRow reads (a connection set to
				// the simple protocol, say): pgx converts.
				m, err := scanMessage(rows)
				if err != nil {
					return err
				}
				out = append(out, m)
				continue
			}
			r.vals = rows.RawValues()
			if err := r.check(); err != nil {
				return err
			}
			out = append(out, readMessage(&r))
		}
		return rows.Err()
	})
	return out, err
}

// pgRow reads the raw values of one row, in the binary format pgx asks for
// (bigint, boolean and text columns).
type pgRow struct {
	fields   []pgconn.FieldDescription
	vals     [][]byte
	ints     []int64 // backing of ColumnNullInt64's pointers
	interned map[string]string
}

// readable reports whether every column is of a type, and in a format,
// that pgRow reads.
func (r *pgRow) readable() bool {
	for _, f := range r.fields {
		switch f.DataTypeOID {
		case pgtype.Int8OID, pgtype.BoolOID:
			if f.Format != pgtype.BinaryFormatCode {
				return false
			}
		case pgtype.TextOID, pgtype.VarcharOID:
			// The same bytes in both formats.
		default:
			return false
		}
	}
	return true
}

// check refuses a row whose values do not have their type's size.
func (r *pgRow) check() error {
	if len(r.vals) != len(r.fields) {
		return fmt.Errorf("row of %d values for %d columns", len(r.vals), len(r.fields))
	}
	for i, f := range r.fields {
		if v := r.vals[i]; v != nil && ((f.DataTypeOID == pgtype.Int8OID && len(v) != 8) || (f.DataTypeOID == pgtype.BoolOID && len(v) != 1)) {
			return fmt.Errorf("column %s: %d bytes", f.Name, len(v))
		}
	}
	return nil
}

// ColumnInt64 is a bigint column, or a boolean as 0 or 1; NULL is 0.
func (r *pgRow) ColumnInt64(i int) int64 {
	v := r.vals[i]
	switch {
	case v == nil:
		return 0
	case r.fields[i].DataTypeOID == pgtype.BoolOID:
		return int64(v[0])
	}
	return int64(binary.BigEndian.Uint64(v))
}

// ColumnNullInt64 is a bigint column, or nil when it is NULL. The pointers
// share one backing array per 64 rows.
func (r *pgRow) ColumnNullInt64(i int) *int64 {
	if r.vals[i] == nil {
		return nil
	}
	if len(r.ints) == cap(r.ints) {
		r.ints = make([]int64, 0, 128)
	}
	r.ints = append(r.ints, r.ColumnInt64(i))
	return &r.ints[len(r.ints)-1]
}

// ColumnText copies a text column into a Go string. message_type and
// author repeat from row to row: one copy of each serves the page.
func (r *pgRow) ColumnText(i int) string {
	v := r.vals[i]
	if name := r.fields[i].Name; name == "message_type" || name == "author" {
		if s, ok := r.interned[string(v)]; ok {
			return s
		}
		s := string(v)
		r.interned[s] = s
		return s
	}
	return string(v)
}
