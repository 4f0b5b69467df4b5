package gormstore

import (
	"fmt"
	"slices"

	"github.com/virtual-company/vc/server/store"
)

// pendingMessage is one message waiting to be stored, with its outcome.
type pendingMessage struct {
	m       *store.Message
	created bool
	err     error
	done    chan struct{}

	// Scratch of writeGroup.
	resent bool // found stored by findResends
	dup    bool // a resend of one earlier in the group
}

// messageTx is one open transaction of a message writer: the few
// operations that differ between databases. writeGroup runs them in the
// order that keeps the invariants, and each dialect path implements them in
// the cheapest way it has (sqlitewriter.go, sqlwriter.go).
type messageTx interface {
	// lockRooms holds the rooms ids (ascending, so that two writers never
	// wait on each other in a cycle) against other writers until the
	// transaction ends. Rooms that do not exist are skipped.
	lockRooms(ids []int64) error
	// findResends looks, for each of ps (every one with a user and a
	// client_id, no two with the same key), for a message stored earlier
	// with the same room, user and client_id; when there is one it is
	// copied into *p.m and p.resent is set.
	findResends(ps []*pendingMessage) error
	// addSeqs moves each room's last_seq by its n, and sets its next to
	// the first of the n new seqs, or missing when the room does not exist.
	// Rooms with n == 0 are left alone.
	addSeqs(rooms []roomSeqs) error
	// insert stores rows (whose Seq and CreatedAt are set) in the order
	// given, and sets their IDs.
	insert(rows []*pendingMessage) error
	// commit commits the transaction.
	commit() error
}

// resendKey identifies an idempotent send.
type resendKey struct {
	room, user int64
	clientID   string
}

// roomSeqs is where a group's new messages of one room take their seqs.
type roomSeqs struct {
	id      int64
	n       int   // new messages
	next    int64 // seq of the next one
	missing bool
}

// groupState is a writer's scratch space, reused by every group so that a
// group allocates nothing.
type groupState struct {
	firstOf map[resendKey]*pendingMessage
	keyed   []*pendingMessage    // first sends with a client_id
	dups    [][2]*pendingMessage // a resend in the group, and its first send
	fresh   []*pendingMessage    // to be stored
	rows    []*pendingMessage    // to insert
	roomIdx map[int64]int        // index in rooms
	rooms   []roomSeqs
	roomIDs []int64 // ascending
	bySeq   map[[2]int64]*pendingMessage
}

func newGroupState() groupState {
	return groupState{firstOf: make(map[resendKey]*pendingMessage),
		roomIdx: make(map[int64]int), bySeq: make(map[[2]int64]*pendingMessage)}
}

func (g *groupState) reset() {
	clear(g.firstOf)
	clear(g.roomIdx)
	clear(g.bySeq)
	// Drop the pointers too, so that the messages of a past group can be
	// collected.
	clear(g.keyed)
	clear(g.dups)
	clear(g.fresh)
	clear(g.rows)
	g.keyed, g.dups, g.fresh, g.rows = g.keyed[:0], g.dups[:0], g.fresh[:0], g.rows[:0]
	g.rooms, g.roomIDs = g.rooms[:0], g.roomIDs[:0]
}

// writeGroup stores msgs in the open transaction tx and commits it. It is
// the one definition of what storing a message means, on every database:
//
//  1. The rooms of the group are locked (in id order) before anything is
//     read, so that a concurrent writer (another node of a cluster, on
//     PostgreSQL) cannot slip a send in between the lookups below and the
//     inserts.
//  2. client_id idempotency: a message with a user and a client_id that
//     was stored before (same room, user and client_id) is not stored
//     again; the caller gets the stored message, with created false. Two
//     sends of one key in the same group store the first and answer the
//     others with it.
//  3. seq: each room's last_seq moves once for all its new messages, which
//     take the seqs that follow, in the order they came. A seq is taken
//     only by a message that is inserted, in the same transaction, so seqs
//     stay gap-free and commit in order.
//  4. A room that does not exist fails only its messages (ErrNotFound);
//     any other error fails the whole group, and the transaction (which the
//     caller rolls back) leaves no trace.
func writeGroup(tx messageTx, msgs []*pendingMessage, g *groupState) error {
	defer g.reset()
	for _, p := range msgs {
		p.created, p.err, p.resent, p.dup = false, nil, false, false
		if _, ok := g.roomIdx[p.m.RoomID]; !ok {
			g.roomIdx[p.m.RoomID] = len(g.rooms)
			g.rooms = append(g.rooms, roomSeqs{id: p.m.RoomID})
			g.roomIDs = append(g.roomIDs, p.m.RoomID)
		}
	}
	slices.Sort(g.roomIDs)
	if err := tx.lockRooms(g.roomIDs); err != nil {
		return fmt.Errorf("lock rooms: %w", err)
	}

	// Idempotency: resends of a message earlier in this group, then of
	// stored ones.
	for _, p := range msgs {
		m := p.m
		if m.ClientID == "" || m.UserID == nil {
			continue
		}
		k := resendKey{m.RoomID, *m.UserID, m.ClientID}
		if first, ok := g.firstOf[k]; ok {
			g.dups = append(g.dups, [2]*pendingMessage{p, first})
			p.dup = true
			continue
		}
		g.firstOf[k] = p
		g.keyed = append(g.keyed, p)
	}
	if len(g.keyed) > 0 {
		if err := tx.findResends(g.keyed); err != nil {
			return fmt.Errorf("find resend: %w", err)
		}
	}
	for _, p := range msgs {
		if p.resent || p.dup {
			continue
		}
		g.fresh = append(g.fresh, p)
		g.rooms[g.roomIdx[p.m.RoomID]].n++
	}

	// Seqs: one move of last_seq per room.
	if err := tx.addSeqs(g.rooms); err != nil {
		return fmt.Errorf("next seq: %w", err)
	}
	for _, p := range g.fresh {
		r := &g.rooms[g.roomIdx[p.m.RoomID]]
		if r.missing {
			p.err = store.ErrNotFound
			continue
		}
		p.m.Seq = r.next
		r.next++
		p.m.CreatedAt = nowUTC(p.m.CreatedAt)
		g.rows = append(g.rows, p)
	}

	if err := tx.insert(g.rows); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if err := tx.commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, p := range g.rows {
		p.created = true
	}

	// Resends within the group answer with the message stored first.
	for _, d := range g.dups {
		p, first := d[0], d[1]
		if first.err != nil {
			p.err = first.err
			continue
		}
		*p.m = *first.m
	}
	return nil
}
