package service

import (
	"sync"
	"sync/atomic"
	"time"
)

// MemberCache remembers, for a short time, that a user is a member of a
// room, so that a cluster node need not ask the database on every post. A
// cluster node's store caches nothing (another node may change any row), so
// this cache is told of every change that ends a membership instead:
//
//   - the node forgets a membership or a room when it removes or deletes it
//     (Forget, ForgetRoom) and when another node says it did (the bus's
//     member_removed and room_deleted, published after the commit);
//   - while the node is not linked to the other nodes (NATS down: Linked
//     false) it is not used at all, and it starts empty when the link comes
//     back, since what was said meanwhile was not heard;
//   - an entry lives at most ttl, for what is never said on the bus (a
//     `vcd admin` delete while the cluster runs).
//
// A load that raced with a change is not kept: entries are added only when
// no change was reported between the read and the add (gen).
//
// Only posts use it, and only those no AI role answers: a post needs the
// room's other fields (its last seq) only to prompt a reply.
type MemberCache struct {
	ttl    time.Duration
	max    int
	now    func() time.Time
	linked atomic.Bool
	gen    atomic.Uint64

	mu      sync.Mutex
	members map[[2]int64]time.Time // room, user -> expiry
}

// NewMemberCache returns a cache of at most max entries of ttl, unlinked.
func NewMemberCache(ttl time.Duration, max int, now func() time.Time) *MemberCache {
	if now == nil {
		now = time.Now
	}
	return &MemberCache{ttl: ttl, max: max, now: now, members: make(map[[2]int64]time.Time)}
}

// Linked says whether the node hears the other nodes' changes; each change
// of state empties the cache.
func (c *MemberCache) Linked(up bool) {
	if c == nil {
		return
	}
	c.clear()
	c.linked.Store(up)
	c.clear() // what a post loaded meanwhile
}

// has reports a cached, unexpired membership.
func (c *MemberCache) has(roomID, userID int64) bool {
	if c == nil || !c.linked.Load() {
		return false
	}
	c.mu.Lock()
	exp, ok := c.members[[2]int64{roomID, userID}]
	c.mu.Unlock()
	return ok && c.now().Before(exp)
}

// generation is read before a membership is loaded, for add.
func (c *MemberCache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// add keeps a membership read from the database, unless a change was
// reported since gen was read.
func (c *MemberCache) add(roomID, userID int64, gen uint64) {
	if c == nil || !c.linked.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if len(c.members) >= c.max {
		clear(c.members)
	}
	c.members[[2]int64{roomID, userID}] = c.now().Add(c.ttl)
}

// Forget drops a membership (removed here or on another node).
func (c *MemberCache) Forget(roomID, userID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	delete(c.members, [2]int64{roomID, userID})
	c.mu.Unlock()
}

// ForgetRoom drops every membership of a room (deleted).
func (c *MemberCache) ForgetRoom(roomID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	for k := range c.members {
		if k[0] == roomID {
			delete(c.members, k)
		}
	}
	c.mu.Unlock()
}

func (c *MemberCache) clear() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.members)
	c.mu.Unlock()
}
