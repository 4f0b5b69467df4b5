package gormstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/store/gormstore"
)

// TestExistingRooms: one read tells which rooms still exist; deleted and
// unknown ones are absent; no ids, no rows.
func TestExistingRooms(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, _ string) {
		ctx := context.Background()
		_, a := userAndRoom(t, s, "alice")
		_, b := userAndRoom(t, s, "bob")
		require.NoError(t, s.DeleteRoom(ctx, b.ID))
		got, err := s.ExistingRooms(ctx, []int64{a.ID, b.ID, 999999})
		require.NoError(t, err)
		require.Equal(t, map[int64]bool{a.ID: true}, got)
		got, err = s.ExistingRooms(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
