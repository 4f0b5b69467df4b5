package gormstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/virtual-company/vc/server/store"
)

// recentCache keeps the newest messages of recently read rooms in memory, so
// that history reads and resume replays of a busy room cost no query. It is
// used on SQLite only, where this process is the database's one writer: the
// committer appends every message it commits, in seq order, so a cached
// room is always exactly the newest messages of the database.
type recentCache struct {
	// writeMu orders loads against commits: a load reads the database and
	// installs the result with no commit in between.
	writeMu sync.Mutex

	mu       sync.RWMutex
	rooms    map[int64]*recentRoom
	bytes    int
	perRoom  int
	maxBytes int

	// Memberships known to exist, with their room (whose LastSeq the
	// committer keeps current): the membership check runs on every post and
	// history read. Only positive answers are kept; RemoveMember,
	// RenameRoom and DeleteRoom update them under writeMu.
	roomInfo map[int64]*store.Room
	members  map[[2]int64]bool

	// Roles read by id (a post naming a role reads it first); UpdateRole
	// and DeleteRole drop theirs under writeMu.
	roles map[int64]store.Role
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

func newRecentCache(perRoom, maxBytes int) *recentCache {
	return &recentCache{rooms: make(map[int64]*recentRoom), perRoom: perRoom, maxBytes: maxBytes,
		roomInfo: make(map[int64]*store.Room), members: make(map[[2]int64]bool), roles: make(map[int64]store.Role)}
}

// maxRoles bounds the role cache; past it, it starts over.
const maxRoles = 100_000

// role returns a cached role.
func (c *recentCache) role(id int64) (store.Role, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.roles[id]
	return r, ok
}

// putRole caches a role just read. The caller holds writeMu.
func (c *recentCache) putRole(r store.Role) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.roles) >= maxRoles {
		clear(c.roles)
	}
	c.roles[r.ID] = r
}

// dropRole forgets a role that changed. The caller holds writeMu.
func (c *recentCache) dropRole(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.roles, id)
}

// committed appends messages just committed (in seq order). The caller holds
// writeMu. A seq that does not follow the cached ones drops the room.
func (c *recentCache) committed(msgs []*pendingMessage) {
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

func (c *recentCache) dropLocked(roomID int64) {
	if r := c.rooms[roomID]; r != nil {
		c.bytes -= r.bytes
		delete(c.rooms, roomID)
	}
}

// evictLocked drops rooms other than keep until the cache fits its budget.
func (c *recentCache) evictLocked(keep int64) {
	for id := range c.rooms {
		if c.bytes <= c.maxBytes {
			return
		}
		if id != keep {
			c.dropLocked(id)
		}
	}
}

// drop forgets a room (deleted). The caller holds writeMu.
func (c *recentCache) drop(roomID int64) {
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
func (c *recentCache) member(roomID, userID int64) (store.Room, bool) {
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
// writeMu, so no commit or membership change happened since the read.
func (c *recentCache) addMember(r store.Room, userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.members) >= maxMembers {
		clear(c.members)
		clear(c.roomInfo)
	}
	c.members[[2]int64{r.ID, userID}] = true
	c.roomInfo[r.ID] = &r
}

// removeMember forgets a membership. The caller holds writeMu.
func (c *recentCache) removeMember(roomID, userID int64) {
	c.mu.Lock()
	delete(c.members, [2]int64{roomID, userID})
	c.mu.Unlock()
}

// renamed updates a cached room's name. The caller holds writeMu.
func (c *recentCache) renamed(roomID int64, name string) {
	c.mu.Lock()
	if info := c.roomInfo[roomID]; info != nil {
		info.Name = name
	}
	c.mu.Unlock()
}

// query answers q from the cache when the room is cached and holds every
// message the answer needs.
func (c *recentCache) query(roomID int64, q store.MessageQuery) ([]store.Message, bool) {
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

// load reads the newest messages of a room into the cache.
func (s *Store) loadRecent(ctx context.Context, roomID int64) error {
	c := s.recent
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
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
