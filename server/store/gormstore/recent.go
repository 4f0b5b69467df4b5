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
}

// recentRoom holds messages with contiguous seqs, the newest of the room.
type recentRoom struct {
	msgs []store.Message
	// complete means msgs holds every message of the room.
	complete bool
	bytes    int
}

func newRecentCache(perRoom, maxBytes int) *recentCache {
	return &recentCache{rooms: make(map[int64]*recentRoom), perRoom: perRoom, maxBytes: maxBytes}
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

// drop forgets a room (deleted).
func (c *recentCache) drop(roomID int64) {
	c.mu.Lock()
	c.dropLocked(roomID)
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
