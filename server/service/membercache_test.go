package service

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMemberCache: entries are used only while the node is linked, live at
// most the TTL, go when a membership or room ends, and a load that raced
// with a change is not kept.
func TestMemberCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewMemberCache(10*time.Second, 100, func() time.Time { return now })

	c.add(1, 7, c.generation())
	require.False(t, c.has(1, 7), "not linked yet: nothing kept")

	c.Linked(true)
	c.add(1, 7, c.generation())
	c.add(1, 8, c.generation())
	c.add(2, 7, c.generation())
	require.True(t, c.has(1, 7))

	c.Forget(1, 7)
	require.False(t, c.has(1, 7))
	require.True(t, c.has(1, 8))
	c.ForgetRoom(1)
	require.False(t, c.has(1, 8))
	require.True(t, c.has(2, 7))

	// A load that began before a removal is not kept.
	gen := c.generation()
	c.Forget(3, 9)
	c.add(2, 8, gen)
	require.False(t, c.has(2, 8))

	// NATS lost: not used, and empty once it is back.
	c.Linked(false)
	require.False(t, c.has(2, 7))
	c.Linked(true)
	require.False(t, c.has(2, 7))

	c.add(2, 7, c.generation())
	now = now.Add(10 * time.Second)
	require.False(t, c.has(2, 7), "expired")

	var off *MemberCache // a single node: no cache
	require.False(t, off.has(1, 7))
	off.add(1, 7, off.generation())
	off.Forget(1, 7)
	off.ForgetRoom(1)
}
