package gormstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore/sqlitefast"
)

// openTestSQLite returns a migrated SQLite store with one user and two rooms.
func openTestSQLite(t *testing.T) (*Store, store.User, [2]store.Room) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "batch.db"), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	u := store.User{Email: "b@example.com", Username: "b", Name: "B", PasswordHash: "x"}
	require.NoError(t, s.CreateUser(ctx, &u))
	var rs [2]store.Room
	for i := range rs {
		rs[i] = store.Room{Name: fmt.Sprintf("r%d", i), CreatedBy: u.ID}
		require.NoError(t, s.CreateRoom(ctx, &rs[i]))
	}
	return s, u, rs
}

// fastWriter is the store's SQLite fast path.
func fastWriter(t *testing.T, s *Store) *sqliteWriter {
	t.Helper()
	w, ok := s.writer.(*sqliteWriter)
	require.True(t, ok, "the store uses the SQLite fast path, not %T", s.writer)
	return w
}

// onWriter runs f with the writer connection's SQLite handle.
func onWriter(t *testing.T, s *Store, f func(c *sqlitefast.Conn)) {
	t.Helper()
	conn, err := fastWriter(t, s).db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		c, err := sqlitefast.ConnOf(dc)
		if err != nil {
			return err
		}
		f(c)
		return nil
	}))
}

// openStmts counts the statements not finalized on the writer connection.
func openStmts(t *testing.T, s *Store) int {
	n := 0
	onWriter(t, s, func(c *sqlitefast.Conn) { n = c.OpenStatements() })
	return n
}

// TestCommitter_StatementsLiveAcrossGroups checks that the committer
// prepares its statements once, keeps them through many groups and a failed
// one (the connection left outside any transaction), and finalizes them all
// when the store closes, after which posts are refused.
func TestCommitter_StatementsLiveAcrossGroups(t *testing.T) {
	ctx := context.Background()
	s, u, rs := openTestSQLite(t)
	post := func(userID int64) (store.Message, error) {
		m := store.Message{RoomID: rs[0].ID, UserID: &userID, Content: "m", MessageType: "text", Author: "b"}
		_, err := s.CreateMessage(ctx, &m)
		return m, err
	}
	_, err := post(u.ID)
	require.NoError(t, err)
	st := fastWriter(t, s).stmts
	require.NotNil(t, st)
	insert := st.insert1.Handle()
	prepared := openStmts(t, s)
	require.GreaterOrEqual(t, prepared, 7, "the committer's statements stay prepared")

	for range 300 {
		_, err := post(u.ID)
		require.NoError(t, err)
	}
	// No such user: the deferred foreign key fails the COMMIT, which must
	// not leave the writer connection inside the transaction.
	_, err = post(u.ID + 1000)
	require.Error(t, err)
	onWriter(t, s, func(c *sqlitefast.Conn) { require.False(t, c.InTx()) })
	m, err := post(u.ID)
	require.NoError(t, err)
	require.Equal(t, int64(302), m.Seq, "the failed message took no seq")
	require.Same(t, st, fastWriter(t, s).stmts)
	require.Equal(t, insert, fastWriter(t, s).stmts.insert1.Handle())
	require.Equal(t, prepared, openStmts(t, s))
	// Other writes on the writer connection still work.
	r := store.Room{Name: "after", CreatedBy: u.ID}
	require.NoError(t, s.CreateRoom(ctx, &r))

	s.committer.close()
	require.Zero(t, openStmts(t, s), "statements finalized when the committer closes")
	_, err = post(u.ID)
	require.ErrorIs(t, err, errStoreClosed)
}

// TestCommitter_LargeGroup stores one group large enough for the multi-row
// inserts (64, 32 and 16 rows, then single rows), with resends of stored
// messages and of messages earlier in the group, and a missing room, and
// checks every outcome against the database.
func TestCommitter_LargeGroup(t *testing.T) {
	ctx := context.Background()
	s, u, rs := openTestSQLite(t)
	earlier := store.Message{RoomID: rs[1].ID, UserID: &u.ID, Content: "earlier", MessageType: "text", Author: "b", ClientID: "earlier"}
	_, err := s.CreateMessage(ctx, &earlier)
	require.NoError(t, err)

	var batch []*pendingMessage
	add := func(m store.Message) *pendingMessage {
		p := &pendingMessage{m: &m}
		batch = append(batch, p)
		return p
	}
	const fresh = 64 + 32 + 16 + 5
	var firsts, dups []*pendingMessage
	for i := range fresh {
		m := store.Message{RoomID: rs[i%2].ID, UserID: &u.ID, Content: fmt.Sprintf("c%d", i), MessageType: "text", Author: "b"}
		if i%3 == 0 {
			m.ClientID = fmt.Sprintf("cid%d", i)
		}
		p := add(m)
		if i%9 == 0 {
			firsts = append(firsts, p)
			dups = append(dups, add(m))
		}
	}
	again := add(earlier)
	again.m.ID, again.m.Seq = 0, 0
	missing := add(store.Message{RoomID: rs[1].ID + 100, UserID: &u.ID, Content: "x", MessageType: "text", Author: "b"})

	// The committer's goroutine stores groups under the cache's lock.
	s.cache.lock()
	err = s.committer.store(batch)
	s.cache.unlock()
	require.NoError(t, err)
	for i, ins := range fastWriter(t, s).stmts.insertN {
		require.NotNil(t, ins, "the group used the %d-row insert", minMultiRow<<i)
	}

	require.ErrorIs(t, missing.err, store.ErrNotFound)
	require.False(t, again.created)
	require.Equal(t, earlier, *again.m)
	for i, d := range dups {
		require.NoError(t, d.err)
		require.False(t, d.created)
		require.Equal(t, *firsts[i].m, *d.m)
	}
	created := 0
	for _, p := range batch {
		if p.created {
			created++
		}
	}
	require.Equal(t, fresh, created)
	for ri, r := range rs {
		ms, err := s.queryMessages(ctx, r.ID, store.MessageQuery{})
		require.NoError(t, err)
		byID := map[int64]store.Message{}
		for i, m := range ms {
			require.Equal(t, int64(i+1), m.Seq, "room %d: seqs with no gap", ri)
			byID[m.ID] = m
		}
		var last int64
		for _, p := range batch {
			if !p.created || p.m.RoomID != r.ID {
				continue
			}
			require.Greater(t, p.m.Seq, last, "seqs in the order the messages came")
			last = p.m.Seq
			require.Equal(t, byID[p.m.ID], *p.m, "the id set on the message is its row")
		}
		room, err := s.RoomByID(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, int64(len(ms)), room.LastSeq)
	}
}
