package service

import (
	"context"
	"sync"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// userCache keeps recently read user rows for a short time: every
// authenticated request needs the user's token version, and message posts
// need the username. LogoutAll drops the entry at once, so revocation is
// immediate on this daemon; another daemon sharing the database sees it
// within the TTL.
type userCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[int64]userEntry
	// names are usernames by id, kept for good (bounded by max) even with
	// the TTL off: a username never changes and an id is never reused.
	names map[int64]string
}

type userEntry struct {
	user    store.User
	expires time.Time
}

func newUserCache(ttl time.Duration, max int, now func() time.Time) *userCache {
	return &userCache{ttl: ttl, max: max, now: now, entries: make(map[int64]userEntry), names: make(map[int64]string)}
}

// username returns a user's username, read once. It says nothing of
// whether the user still exists or may still post (a deleted user's
// memberships are gone, which the caller checks).
func (c *userCache) username(ctx context.Context, st store.UserStore, id int64) (string, error) {
	c.mu.Lock()
	name, ok := c.names[id]
	c.mu.Unlock()
	if ok {
		return name, nil
	}
	u, err := c.get(ctx, st, id)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if len(c.names) >= c.max {
		clear(c.names)
	}
	c.names[id] = u.Username
	c.mu.Unlock()
	return u.Username, nil
}

// get returns the user from the cache or the store.
func (c *userCache) get(ctx context.Context, st store.UserStore, id int64) (store.User, error) {
	if c.ttl <= 0 {
		return st.UserByID(ctx, id) // off: a cluster node's rows change on other nodes
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.user, nil
	}
	u, err := st.UserByID(ctx, id)
	if err != nil {
		return store.User{}, err
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) || len(c.entries) >= c.max {
				delete(c.entries, k)
			}
		}
	}
	c.entries[id] = userEntry{user: u, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return u, nil
}

// forget drops a user's entry.
func (c *userCache) forget(id int64) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

// ForgetUser drops the cached row of a user, changed by another node of a
// cluster (published on its bus after the commit).
func (a *Auth) ForgetUser(id int64) { a.users.forget(id) }

// RevokedElsewhere forgets what this daemon knows of a user whose tokens
// another node of the cluster revoked: the cached row and the versions the
// revocation sweep compares. The caller closes the local sockets.
func (a *Auth) RevokedElsewhere(userID int64) {
	a.users.forget(userID)
	a.admittedMu.Lock()
	delete(a.admitted, userID)
	a.admittedMu.Unlock()
}
