package gormstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/virtual-company/vc/server/store"
)

// readCache keeps in memory what the hot paths read on every post and
// history read: the newest messages of recently read rooms (so that history
// reads and resume replays of a busy room cost no query), memberships with
// their room (checked on every post and read), and roles (read before a post
// naming one is stored). All its methods accept a nil *readCache, which
// caches nothing.
//
// It is exact only while every change to what it holds is either made
// through this Store or reported to it. So the Store uses it only where
// this process is the database's one writer (SQLite, or PostgreSQL without
// Options.Shared): a process that shares a database with other writers (a
// cluster node) opens the Store with Shared and caches nothing; one that
// kept a cache would have to call Store.InvalidateRoom or
// Store.InvalidateRole after each change another writer commits. (`vcd
// admin` deleting a room or user while vcd runs is such a writer: vcd then
// refuses the room's posts, and its history reads may show the deleted
// room's recent messages until it restarts.)
//
// Invalidation, one rule per kind of entry:
//   - Messages of a room: the committer appends each message it commits,
//     in seq order (committed); a seq that does not follow the cached ones
//     drops the room. DeleteRoom and InvalidateRoom drop the room.
//   - Rooms and memberships: only positive answers are kept. The committer
//     keeps a cached room's LastSeq current, RenameRoom its name;
//     RemoveMember forgets the membership before and after its delete;
//     DeleteRoom and InvalidateRoom drop the room and its memberships.
//   - Roles: UpdateRole and DeleteRole drop theirs; InvalidateRole too.
//
// Ordering: the write lock (lock/unlock) is held by every write that
// changes cached data, from before its statement until the cache reflects
// it, and by every load from the database until the result is installed, so
// that no load installs what a write has just changed.
type readCache struct {
	// writeMu orders loads against writes (see lock).
	writeMu sync.Mutex

	mu       sync.RWMutex
	rooms    map[int64]*recentRoom
	bytes    int
	perRoom  int
	maxBytes int

	roomInfo map[int64]*store.Room
	members  map[[2]int64]bool
	roles    map[int64]store.Role
}

// maxMembers bounds the membership cache; past it, it starts over.
const maxMembers = 100_000

// recentRoom holds messages with contiguous seqs, the newest of the room.
type recentRoom struct {
	msgs []store.Message
	// complete means msgs holds every message of the room.
	complete bool
	bytes    int
}

// lock takes the write lock (see readCache); unlock releases it.
func (c *readCache) lock() {
	if c != nil {
		c.writeMu.Lock()
	}
}

func (c *readCache) unlock() {
	if c != nil {
		c.writeMu.Unlock()
	}
}

// invalidateRoom forgets everything cached about a room: its messages, the
// room and its memberships. It takes the write lock, so a load in progress
// finishes (and is then dropped) first.
func (c *readCache) invalidateRoom(roomID int64) {
	if c == nil {
		return
	}
	c.lock()
	defer c.unlock()
	c.drop(roomID)
}

// invalidateRole forgets a cached role, under the write lock.
func (c *readCache) invalidateRole(roleID int64) {
	if c == nil {
		return
	}
	c.lock()
	defer c.unlock()
	c.dropRole(roleID)
}

// invalidateAll forgets everything, under the write lock.
func (c *readCache) invalidateAll() {
	if c == nil {
		return
	}
	c.lock()
	defer c.unlock()
	c.mu.Lock()
	clear(c.rooms)
	clear(c.roomInfo)
	clear(c.members)
	clear(c.roles)
	c.bytes = 0
	c.mu.Unlock()
}

func newReadCache(perRoom, maxBytes int) *readCache {
	return &readCache{rooms: make(map[int64]*recentRoom), perRoom: perRoom, maxBytes: maxBytes,
		roomInfo: make(map[int64]*store.Room), members: make(map[[2]int64]bool), roles: make(map[int64]store.Role)}
}

// maxRoles bounds the role cache; past it, it starts over.
const maxRoles = 100_000

// role returns a cached role.
func (c *readCache) role(id int64) (store.Role, bool) {
	if c == nil {
		return store.Role{}, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.roles[id]
	return r, ok
}

// putRole caches a role just read. The caller holds the write lock.
func (c *readCache) putRole(r store.Role) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.roles) >= maxRoles {
		clear(c.roles)
	}
	c.roles[r.ID] = r
}

// dropRole forgets a role that changed. The caller holds the write lock.
func (c *readCache) dropRole(id int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.roles, id)
}

// committed appends messages just committed (in seq order). The caller holds the
// write lock. A seq that does not follow the cached ones drops the room.
func (c *readCache) committed(msgs []*pendingMessage) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range msgs {
		if !p.created {
			continue
		}
		if info := c.roomInfo[p.m.RoomID]; info != nil && p.m.Seq > info.LastSeq {
			info.LastSeq = p.m.Seq
		}
		r := c.rooms[p.m.RoomID]
		if r == nil {
			continue
		}
		last := int64(0)
		if n := len(r.msgs); n > 0 {
			last = r.msgs[n-1].Seq
		} else if !r.complete {
			c.dropLocked(p.m.RoomID)
			continue
		}
		if p.m.Seq != last+1 {
			c.dropLocked(p.m.RoomID)
			continue
		}
		r.msgs = append(r.msgs, *p.m)
		r.bytes += len(p.m.Content)
		c.bytes += len(p.m.Content)
		if len(r.msgs) > c.perRoom {
			drop := len(r.msgs) - c.perRoom
			for _, m := range r.msgs[:drop] {
				r.bytes -= len(m.Content)
				c.bytes -= len(m.Content)
			}
			r.msgs = append(r.msgs[:0:0], r.msgs[drop:]...)
			r.complete = false
		}
	}
	c.evictLocked(0)
}

func (c *readCache) dropLocked(roomID int64) {
	if r := c.rooms[roomID]; r != nil {
		c.bytes -= r.bytes
		delete(c.rooms, roomID)
	}
}

// evictLocked drops rooms other than keep until the cache fits its budget.
func (c *readCache) evictLocked(keep int64) {
	for id := range c.rooms {
		if c.bytes <= c.maxBytes {
			return
		}
		if id != keep {
			c.dropLocked(id)
		}
	}
}

// drop forgets a room (deleted). The caller holds the write lock.
func (c *readCache) drop(roomID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.dropLocked(roomID)
	delete(c.roomInfo, roomID)
	for k := range c.members {
		if k[0] == roomID {
			delete(c.members, k)
		}
	}
	c.mu.Unlock()
}

// member returns the room if userID is known to be a member.
func (c *readCache) member(roomID, userID int64) (store.Room, bool) {
	if c == nil {
		return store.Room{}, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.members[[2]int64{roomID, userID}] {
		return store.Room{}, false
	}
	info := c.roomInfo[roomID]
	if info == nil {
		return store.Room{}, false
	}
	return *info, true
}

// addMember records a membership read from the database. The caller holds
// the write lock, so no commit or membership change happened since the read.
func (c *readCache) addMember(r store.Room, userID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.members) >= maxMembers {
		clear(c.members)
		clear(c.roomInfo)
	}
	c.members[[2]int64{r.ID, userID}] = true
	c.roomInfo[r.ID] = &r
}

// removeMember forgets a membership. The caller holds the write lock.
func (c *readCache) removeMember(roomID, userID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.members, [2]int64{roomID, userID})
	c.mu.Unlock()
}

// renamed updates a cached room's name. The caller holds the write lock.
func (c *readCache) renamed(roomID int64, name string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if info := c.roomInfo[roomID]; info != nil {
		info.Name = name
	}
	c.mu.Unlock()
}

// query answers q from the cache when the room is cached and holds every
// message the answer needs.
func (c *readCache) messages(roomID int64, q store.MessageQuery) ([]store.Message, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	r := c.rooms[roomID]
	if r == nil {
		return nil, false
	}
	// The matching window of the cached messages.
	lo, hi := 0, len(r.msgs)
	for lo < hi && r.msgs[lo].Seq <= q.After {
		lo++
	}
	for hi > lo && q.Before > 0 && r.msgs[hi-1].Seq >= q.Before {
		hi--
	}
	// Does the cache hold the oldest matching message?
	holdsOldest := r.complete || (len(r.msgs) > 0 && r.msgs[0].Seq <= q.After+1)
	n := hi - lo
	var from, to int
	if q.Newest {
		need := q.Offset + q.Limit
		if q.Limit <= 0 || n < need {
			if !holdsOldest {
				return nil, false
			}
		}
		to = max(lo, hi-q.Offset)
		from = lo
		if q.Limit > 0 {
			from = max(lo, to-q.Limit)
		}
	} else {
		if !holdsOldest {
			return nil, false
		}
		from = min(hi, lo+q.Offset)
		to = hi
		if q.Limit > 0 {
			to = min(hi, from+q.Limit)
		}
	}
	out := make([]store.Message, to-from)
	copy(out, r.msgs[from:to])
	return out, true
}

// loadRecent reads the newest messages of a room into the cache.
func (s *Store) loadRecent(ctx context.Context, roomID int64) error {
	c := s.cache
	c.lock()
	defer c.unlock()
	c.mu.RLock()
	_, ok := c.rooms[roomID]
	c.mu.RUnlock()
	if ok {
		return nil
	}
	msgs, err := s.queryMessages(ctx, roomID, store.MessageQuery{Newest: true, Limit: c.perRoom})
	if err != nil {
		return fmt.Errorf("load recent messages of room %d: %w", roomID, err)
	}
	r := &recentRoom{msgs: msgs, complete: len(msgs) < c.perRoom || msgs[0].Seq == 1}
	for _, m := range msgs {
		r.bytes += len(m.Content)
	}
	c.mu.Lock()
	c.rooms[roomID] = r
	c.bytes += r.bytes
	c.evictLocked(roomID)
	c.mu.Unlock()
	return nil
}

// InvalidateRoom forgets what the store caches about a room (its newest
// messages, the room and its memberships). A process that shares the
// database with other writers calls it when another one changed the room:
// posted to it, renamed or deleted it, or changed its members. It is cheap
// when the room is not cached, and does nothing when the store caches
// nothing (PostgreSQL).
func (s *Store) InvalidateRoom(roomID int64) { s.cache.invalidateRoom(roomID) }

// InvalidateRole forgets a cached role, for the same reason as
// InvalidateRoom.
func (s *Store) InvalidateRole(roleID int64) { s.cache.invalidateRole(roleID) }

// InvalidateCache forgets everything the store caches (after a restore, or
// when another writer's changes may have been missed).
func (s *Store) InvalidateCache() { s.cache.invalidateAll() }
