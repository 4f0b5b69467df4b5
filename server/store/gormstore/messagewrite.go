package gormstore

import (
	"errors"
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
	resent bool  // found stored by findResends
	dup    bool  // a resend of one earlier in the group
	rank   int64 // position among its room's new messages, from 1
}

// messageTx is one transaction of a message writer: the few operations
// that differ between databases. writeGroup runs them in the order that
// keeps the invariants, and each dialect path implements them in the
// cheapest way it has (sqlitewriter.go, sqlwriter.go, pgwriter.go).
type messageTx interface {
	// begin opens a transaction that holds the rooms ids (ascending, so
	// that two writers never wait on each other in a cycle) against other
	// writers until it ends. Rooms that do not exist are skipped.
	begin(ids []int64) error
	// findResends looks, for each of ps (every one with a user and a
	// client_id, no two with the same key), for a message stored earlier
	// with the same room, user and client_id; when there is one it is
	// copied into *p.m and p.resent is set. A dialect may answer at once,
	// or only together with write (to save a round trip), or not at all on
	// a group's first transaction (resends are rare): then write returns
	// errResent when it meets a resend it was not told about, marked or
	// not, and writeGroup rolls back and plans the group again (and calls
	// findResends again with the sends not marked yet).
	findResends(ps []*pendingMessage) error
	// write moves each room's last_seq by its n (rooms with n == 0 are left
	// alone; a room that does not exist is marked missing), inserts rows
	// of the rooms that exist, in the order given, with Seq = the room's
	// last_seq before the move + p.rank, sets their Seq and ID, and
	// commits.
	write(rooms []roomSeqs, rows []*pendingMessage) error
	// rollback ends the transaction if it is still open.
	rollback() error
}

// errResent is returned by write when it found a resend that findResends
// had not reported yet (see messageTx).
var errResent = errors.New("resend found while writing")

// resendKey identifies an idempotent send.
type resendKey struct {
	room, user int64
	clientID   string
}

// roomSeqs is where a group's new messages of one room take their seqs.
type roomSeqs struct {
	id      int64
	n       int // new messages
	missing bool
}

// groupState is a writer's scratch space, reused by every group so that a
// group allocates nothing.
type groupState struct {
	firstOf map[resendKey]*pendingMessage
	keyed   []*pendingMessage    // first sends with a client_id
	lookup  []*pendingMessage    // those not known to be resends yet
	dups    [][2]*pendingMessage // a resend in the group, and its first send
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
	clear(g.lookup)
	clear(g.dups)
	clear(g.rows)
	g.keyed, g.lookup, g.dups, g.rows = g.keyed[:0], g.lookup[:0], g.dups[:0], g.rows[:0]
	g.rooms, g.roomIDs = g.rooms[:0], g.roomIDs[:0]
}

// maxResendRetries bounds how often a group is planned again because a
// dialect found resends only while writing (each time they are fewer).
const maxResendRetries = 3

// writeGroup stores msgs in one transaction of tx. It is the one definition
// of what storing a message means, on every database:
//
//  1. The rooms of the group are held (locked, in id order) before anything
//     is read, so that a concurrent writer (another node of a cluster, on
//     PostgreSQL) cannot slip a send in between the lookups below and the
//     inserts.
//  2. client_id idempotency: a message with a user and a client_id that
//     was stored before (same room, user and client_id) is not stored
//     again; the caller gets the stored message, with created false. Two
//     sends of one key in the same group store the first and answer the
//     others with it.
//  3. seq: each room's last_seq moves once for all its new messages, which
//     take the seqs that follow, in the order they came (their rank). A seq
//     is taken only by a message that is inserted, in the same
//     transaction, so seqs stay gap-free and commit in order.
//  4. A room that does not exist fails only its messages (ErrNotFound);
//     any other error fails the whole group, and the transaction leaves no
//     trace.
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

	// Resends of a message earlier in this group.
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

	for attempt := 0; ; attempt++ {
		err := writeAttempt(tx, msgs, g)
		if err == nil {
			break
		}
		if rerr := tx.rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		if !errors.Is(err, errResent) || attempt == maxResendRetries {
			return err
		}
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

// writeAttempt is one transaction of writeGroup.
func writeAttempt(tx messageTx, msgs []*pendingMessage, g *groupState) error {
	if err := tx.begin(g.roomIDs); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Resends of stored messages (again, after errResent: the earlier
	// answers stand, they were read in a transaction that held the rooms).
	g.lookup = g.lookup[:0]
	for _, p := range g.keyed {
		if !p.resent {
			g.lookup = append(g.lookup, p)
		}
	}
	if len(g.lookup) > 0 {
		if err := tx.findResends(g.lookup); err != nil {
			return fmt.Errorf("find resend: %w", err)
		}
	}

	// Seqs: ranks in the order the messages came, n per room.
	g.rows = g.rows[:0]
	for i := range g.rooms {
		g.rooms[i].n, g.rooms[i].missing = 0, false
	}
	for _, p := range msgs {
		if p.resent || p.dup {
			continue
		}
		r := &g.rooms[g.roomIdx[p.m.RoomID]]
		r.n++
		p.rank = int64(r.n)
		p.m.CreatedAt = nowUTC(p.m.CreatedAt)
		g.rows = append(g.rows, p)
	}
	if err := tx.write(g.rooms, g.rows); err != nil {
		if errors.Is(err, errResent) {
			return err
		}
		return fmt.Errorf("write: %w", err)
	}
	for _, p := range g.rows {
		if g.rooms[g.roomIdx[p.m.RoomID]].missing {
			p.err = store.ErrNotFound
			continue
		}
		p.created = true
	}
	return nil
}
