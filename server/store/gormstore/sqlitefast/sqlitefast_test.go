package sqlitefast_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/glebarez/go-sqlite"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/store/gormstore/sqlitefast"
)

// TestConnOf_Layout reaches the handle of a real driver connection, runs a
// prepared statement on it, and refuses anything else with ErrLayout.
func TestConnOf_Layout(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "f.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, sqlitefast.Check(context.Background(), db, sqlitefast.ConnOf))

	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		c, err := sqlitefast.ConnOf(dc)
		require.NoError(t, err)
		defer c.Free()
		s, err := c.Prepare("SELECT ? + 1, ?")
		require.NoError(t, err)
		defer s.Close()
		s.BindInt64(1, 41)
		s.BindText(2, "hi")
		row, err := s.Step()
		require.NoError(t, err)
		require.True(t, row)
		require.Equal(t, int64(42), s.ColumnInt64(0))
		require.Equal(t, "hi", s.ColumnText(1))
		s.Reset()
		return nil
	}))

	for _, v := range []any{nil, 42, &struct{ db uintptr }{}} {
		_, err := sqlitefast.ConnOf(v)
		require.ErrorIs(t, err, sqlitefast.ErrLayout, "%T", v)
	}
}
