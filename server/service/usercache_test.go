package service

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/store"
)

// countingUsers is a store.UserStore whose UserByID counts its reads.
type countingUsers struct {
	store.UserStore
	reads int
	user  store.User
}

func (c *countingUsers) UserByID(_ context.Context, id int64) (store.User, error) {
	c.reads++
	if id != c.user.ID {
		return store.User{}, store.ErrNotFound
	}
	return c.user, nil
}

// TestUserCache_UsernameKeptWithTTLOff: a cluster node keeps no user rows
// (TTL off: they change on other nodes), yet reads a username once, since
// usernames never change; a user that does not exist is not remembered.
func TestUserCache_UsernameKeptWithTTLOff(t *testing.T) {
	ctx := context.Background()
	st := &countingUsers{user: store.User{ID: 7, Username: "alice", TokenVersion: 1}}
	c := newUserCache(0, 2, time.Now)
	for range 3 {
		name, err := c.username(ctx, st, 7)
		require.NoError(t, err)
		require.Equal(t, "alice", name)
	}
	require.Equal(t, 1, st.reads, "one read for three posts")
	for range 2 {
		u, err := c.get(ctx, st, 7)
		require.NoError(t, err)
		require.Equal(t, int64(1), u.TokenVersion)
	}
	require.Equal(t, 3, st.reads, "rows are read every time with the TTL off")

	_, err := c.username(ctx, st, 8)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = c.username(ctx, st, 8)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Equal(t, 5, st.reads)
}
