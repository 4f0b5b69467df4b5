package gormstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// TestUserTokenStates: one read gives the version and disabled flag of the
// users asked for; deleted users are absent; no ids, no rows.
func TestUserTokenStates(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, _ string) {
		ctx := context.Background()
		a, _ := userAndRoom(t, s, "alice")
		b, _ := userAndRoom(t, s, "bob")
		c, _ := userAndRoom(t, s, "carol")
		_, err := s.BumpTokenVersion(ctx, a.ID)
		require.NoError(t, err)
		require.NoError(t, s.SetUserDisabled(ctx, b.ID, true))
		require.NoError(t, s.DeleteUser(ctx, c.ID))

		got, err := s.UserTokenStates(ctx, []int64{a.ID, b.ID, c.ID})
		require.NoError(t, err)
		require.Equal(t, map[int64]store.UserTokenState{
			a.ID: {TokenVersion: a.TokenVersion + 1},
			b.ID: {TokenVersion: b.TokenVersion + 1, Disabled: true},
		}, got)

		got, err = s.UserTokenStates(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
