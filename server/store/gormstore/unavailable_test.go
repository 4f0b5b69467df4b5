package gormstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/store"
)

// TestTranslate_Unavailable: errors that mean the database cannot be
// reached become store.ErrUnavailable; errors about a statement do not.
func TestTranslate_Unavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"pg connect", &pgconn.ConnectError{}, true},
		{"pg admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"pg connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"pg unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax", errors.New("near \"SELEC\": syntax error"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, errors.Is(translate(tc.err), store.ErrUnavailable))
		})
	}
}

// TestStore_ClosedIsUnavailable: a store whose pools are gone answers
// store.ErrUnavailable, not a bare driver error.
func TestStore_ClosedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "vc.db"), Options{})
	require.NoError(t, err)
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.UserByID(ctx, 1)
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = s.CreateMessage(ctx, &store.Message{RoomID: 1, Content: "x"})
	require.ErrorIs(t, err, store.ErrUnavailable)
}
