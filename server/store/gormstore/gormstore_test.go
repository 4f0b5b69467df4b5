package gormstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// eachStore runs f with a migrated store on each test database (a SQLite
// file, and a throwaway PostgreSQL schema when VC_TEST_POSTGRES_DSN is set),
// and on a SQLite file whose messages take the plain path (as when the
// driver's layout no longer matches the fast path).
func eachStore(t *testing.T, f func(t *testing.T, s *gormstore.Store, url string)) {
	t.Run("sqlite-plain", func(t *testing.T) {
		url := filepath.Join(t.TempDir(), "plain.db")
		s, err := gormstore.OpenWithChangedSQLiteDriver(context.Background(), url, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.Equal(t, "plain", gormstore.MessagePath(s))
		_, err = s.Migrate(context.Background())
		require.NoError(t, err)
		f(t, s, url)
	})
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		// servertest creates (and drops) the schema; reuse its database URL.
		var url string
		d := servertest.Start(t, append(opts, servertest.WithConfig(func(c *config.Config) {
			if c.DatabaseURL == "" {
				c.DatabaseURL = filepath.Join(t.TempDir(), "store.db")
			}
			url = c.DatabaseURL
		}))...)
		d.Stop()
		s, err := gormstore.Open(context.Background(), url, gormstore.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		f(t, s, url)
	})
}

// userAndRoom stores a user named name and a room of theirs.
func userAndRoom(t *testing.T, s *gormstore.Store, name string) (store.User, store.Room) {
	t.Helper()
	ctx := context.Background()
	u := store.User{Email: name + "@example.com", Username: name, Name: strings.ToUpper(name), PasswordHash: "x"}
	require.NoError(t, s.CreateUser(ctx, &u))
	r := store.Room{Name: "r", CreatedBy: u.ID}
	require.NoError(t, s.CreateRoom(ctx, &r))
	return u, r
}

func TestMigrate_Idempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, url string) {
		ctx := context.Background()
		v1, err := s.Migrate(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, v1, 1)
		v2, err := s.Migrate(ctx)
		require.NoError(t, err)
		require.Equal(t, v1, v2)
		got, err := s.SchemaVersion(ctx)
		require.NoError(t, err)
		require.Equal(t, v1, got)
	})
}

func TestMigrate_FreshSQLiteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "fresh.db")
	s, err := gormstore.Open(context.Background(), path, gormstore.Options{})
	require.NoError(t, err)
	defer s.Close()
	v, err := s.SchemaVersion(context.Background())
	require.Error(t, err, "no schema_migrations before Migrate")
	require.Zero(t, v)
	_, err = s.Migrate(context.Background())
	require.NoError(t, err)
	_, err = os.Stat(path)
	require.NoError(t, err)
}

// TestCreateMessage_GroupCommit sends from many goroutines at once, with
// resends mixed in, and checks seqs are 1..n with no gap and each client_id
// stored once.
func TestCreateMessage_GroupCommit(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, url string) {
		ctx := context.Background()
		u, r := userAndRoom(t, s, "a")

		const workers, each = 16, 30
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := map[string]int64{}
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					// Every message is sent twice with the same client_id.
					cid := fmt.Sprintf("w%d-%d", w, i)
					for range 2 {
						m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: cid, MessageType: "text", Author: "a", ClientID: cid}
						isNew, err := s.CreateMessage(ctx, &m)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if prev, ok := created[cid]; ok {
							if isNew || prev != m.Seq {
								t.Errorf("%s stored twice (seq %d and %d)", cid, prev, m.Seq)
							}
						} else {
							created[cid] = m.Seq
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		ms, err := s.Messages(ctx, r.ID, store.MessageQuery{})
		require.NoError(t, err)
		require.Len(t, ms, workers*each)
		for i, m := range ms {
			require.Equal(t, int64(i+1), m.Seq)
		}
		room, err := s.RoomByID(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, int64(workers*each), room.LastSeq)

		// A missing room fails only its own message.
		m := store.Message{RoomID: 999999, UserID: &u.ID, Content: "x", MessageType: "text", Author: "a"}
		_, err = s.CreateMessage(ctx, &m)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestSQLite_Pragmas(t *testing.T) {
	s, err := gormstore.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"), gormstore.Options{})
	require.NoError(t, err)
	defer s.Close()
	var mode string
	require.NoError(t, s.DB().Raw("PRAGMA journal_mode").Scan(&mode).Error)
	require.Equal(t, "wal", mode)
	var fk, busy int
	require.NoError(t, s.DB().Raw("PRAGMA foreign_keys").Scan(&fk).Error)
	require.Equal(t, 1, fk)
	require.NoError(t, s.ReadDB().Raw("PRAGMA foreign_keys").Scan(&fk).Error)
	require.Equal(t, 1, fk)
	require.NoError(t, s.DB().Raw("PRAGMA busy_timeout").Scan(&busy).Error)
	require.Equal(t, 5000, busy)
}

// TestMessages_Pages checks every kind of page against the expected seqs on
// a room larger than the in-memory window, before and after more writes.
func TestMessages_Pages(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, url string) {
		ctx := context.Background()
		u, r := userAndRoom(t, s, "p")
		total := int64(0)
		add := func(n int) {
			for range n {
				m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: "m", MessageType: "text", Author: "p"}
				_, err := s.CreateMessage(ctx, &m)
				require.NoError(t, err)
				total++
				require.Equal(t, total, m.Seq)
			}
		}
		span := func(from, to int64) []int64 { // inclusive
			var out []int64
			for i := from; i <= to; i++ {
				out = append(out, i)
			}
			return out
		}
		check := func() {
			cases := []struct {
				q    store.MessageQuery
				want []int64
			}{
				{store.MessageQuery{Newest: true, Limit: 100}, span(total-99, total)},
				{store.MessageQuery{Newest: true, Limit: 100, Offset: 200}, span(total-299, total-200)},
				{store.MessageQuery{Newest: true, Limit: 10, Offset: int(total) - 5}, span(1, 5)},
				{store.MessageQuery{After: 100, Limit: 50}, span(101, 150)},
				{store.MessageQuery{After: total - 3}, span(total-2, total)},
				{store.MessageQuery{After: total}, nil},
				{store.MessageQuery{Newest: true, Before: 300, Limit: 10}, span(290, 299)},
				{store.MessageQuery{Newest: true, Before: 10}, span(1, 9)},
				{store.MessageQuery{After: 250, Before: 260}, span(251, 259)},
				{store.MessageQuery{Newest: true, After: total - 20, Limit: 5}, span(total-4, total)},
				{store.MessageQuery{}, span(1, total)},
			}
			for _, c := range cases {
				ms, err := s.Messages(ctx, r.ID, c.q)
				require.NoError(t, err)
				var got []int64
				for _, m := range ms {
					got = append(got, m.Seq)
				}
				require.Equal(t, c.want, got, "%+v with %d messages", c.q, total)
			}
		}
		add(600)
		check()
		add(37) // written while the room is in memory
		check()
		require.NoError(t, s.DeleteRoom(ctx, r.ID))
		ms, err := s.Messages(ctx, r.ID, store.MessageQuery{Newest: true, Limit: 100})
		require.NoError(t, err)
		require.Empty(t, ms)
	})
}

// TestCreateMessage_ConcurrentResends sends the same client_id from many
// goroutines at once (so that copies share a group commit): one is stored.
func TestCreateMessage_ConcurrentResends(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, url string) {
		ctx := context.Background()
		u, r := userAndRoom(t, s, "c")
		for round := range 5 {
			cid := fmt.Sprintf("same-%d", round)
			const n = 24
			var wg sync.WaitGroup
			ids := make([]int64, n)
			news := make([]bool, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: cid, MessageType: "text", Author: "c", ClientID: cid}
					isNew, err := s.CreateMessage(ctx, &m)
					if err != nil {
						t.Error(err)
						return
					}
					ids[i], news[i] = m.ID, isNew
				}()
			}
			wg.Wait()
			created := 0
			for i := range n {
				require.Equal(t, ids[0], ids[i], "every copy answers with the stored message")
				if news[i] {
					created++
				}
			}
			require.Equal(t, 1, created)
		}
		ms, err := s.Messages(ctx, r.ID, store.MessageQuery{})
		require.NoError(t, err)
		require.Len(t, ms, 5)
		for i, m := range ms {
			require.Equal(t, int64(i+1), m.Seq)
		}
	})
}

// TestCreateMessage_UnknownUserFailsAlone posts from a user that does not
// exist (its foreign key is checked at COMMIT) alongside good posts: only
// it fails, seqs stay gap-free, and the store keeps working afterwards.
func TestCreateMessage_UnknownUserFailsAlone(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, url string) {
		ctx := context.Background()
		u, r := userAndRoom(t, s, "f")
		ghost := u.ID + 1000

		const senders = 16
		errs := make([]error, senders)
		var wg sync.WaitGroup
		for i := range senders {
			wg.Go(func() {
				uid := u.ID
				if i == senders/2 {
					uid = ghost
				}
				m := store.Message{RoomID: r.ID, UserID: &uid, Content: "x", MessageType: "text", Author: "f", ClientID: fmt.Sprintf("c%d", i)}
				_, errs[i] = s.CreateMessage(ctx, &m)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if i == senders/2 {
				require.Error(t, err)
				continue
			}
			require.NoError(t, err)
		}
		m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: "after", MessageType: "text", Author: "f"}
		_, err := s.CreateMessage(ctx, &m)
		require.NoError(t, err)
		require.Equal(t, int64(senders), m.Seq)
		other := store.Room{Name: "other", CreatedBy: u.ID}
		require.NoError(t, s.CreateRoom(ctx, &other))
		ms, err := s.Messages(ctx, r.ID, store.MessageQuery{})
		require.NoError(t, err)
		require.Len(t, ms, senders)
		for i, m := range ms {
			require.Equal(t, int64(i+1), m.Seq)
		}
	})
}

// TestSQLite_FastPathFallback opens a SQLite store whose driver no longer
// matches the fast path: it opens anyway, says so in one warning, and
// stores concurrent posts (with resends) with seqs that have no gap.
func TestSQLite_FastPathFallback(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	url := filepath.Join(t.TempDir(), "fallback.db")
	s, err := gormstore.OpenWithChangedSQLiteDriver(ctx, url, log)
	require.NoError(t, err, "a changed driver layout must not fail Open")
	require.Equal(t, "plain", gormstore.MessagePath(s))
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	u, r := userAndRoom(t, s, "fb")

	const senders, each = 8, 25
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := range each {
				cid := fmt.Sprintf("w%d-%d", w, i)
				for range 2 { // every post is sent twice
					m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: cid, MessageType: "text", Author: "fb", ClientID: cid}
					if _, err := s.CreateMessage(ctx, &m); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	ms, err := s.Messages(ctx, r.ID, store.MessageQuery{})
	require.NoError(t, err)
	require.Len(t, ms, senders*each)
	for i, m := range ms {
		require.Equal(t, int64(i+1), m.Seq)
	}
	require.NoError(t, s.Close())
	require.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), "one warning: %s", logs.String())
	require.Contains(t, logs.String(), "sqlite fast path unavailable")

	// The same file with the real driver takes the fast path again.
	s2, err := gormstore.Open(ctx, url, gormstore.Options{Logger: log})
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, "sqlite-fast", gormstore.MessagePath(s2))
	m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: "fast", MessageType: "text", Author: "fb"}
	_, err = s2.CreateMessage(ctx, &m)
	require.NoError(t, err)
	require.Equal(t, int64(senders*each+1), m.Seq)
	require.Equal(t, 1, strings.Count(logs.String(), "level=WARN"))
}

// TestSQLite_InvalidateRoom changes a room behind the store's back, as
// another writer of the database would: the cache answers from memory
// until InvalidateRoom, and from the database after it.
func TestSQLite_InvalidateRoom(t *testing.T) {
	ctx := context.Background()
	s, err := gormstore.Open(ctx, filepath.Join(t.TempDir(), "inv.db"), gormstore.Options{})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	u, r := userAndRoom(t, s, "inv")
	m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: "one", MessageType: "text", Author: "inv"}
	_, err = s.CreateMessage(ctx, &m)
	require.NoError(t, err)
	ms, err := s.Messages(ctx, r.ID, store.MessageQuery{})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	_, err = s.RoomForMember(ctx, r.ID, u.ID)
	require.NoError(t, err)

	// Another writer posts and removes the member.
	require.NoError(t, s.DB().Exec("UPDATE rooms SET last_seq = 2 WHERE id = ?", r.ID).Error)
	require.NoError(t, s.DB().Exec(`INSERT INTO messages (room_id, seq, user_id, content, message_type, author, created_at)
		VALUES (?, 2, ?, 'two', 'text', 'inv', 0)`, r.ID, u.ID).Error)
	require.NoError(t, s.DB().Exec("DELETE FROM room_members WHERE room_id = ?", r.ID).Error)
	ms, err = s.Messages(ctx, r.ID, store.MessageQuery{})
	require.NoError(t, err)
	require.Len(t, ms, 1, "answered from the cache")
	_, err = s.RoomForMember(ctx, r.ID, u.ID)
	require.NoError(t, err, "answered from the cache")

	s.InvalidateRoom(r.ID)
	ms, err = s.Messages(ctx, r.ID, store.MessageQuery{})
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, "two", ms[1].Content)
	_, err = s.RoomForMember(ctx, r.ID, u.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// migratedPostgres returns the URL of a migrated, empty PostgreSQL schema of
// its own (dropped after the test), or skips the test without
// VC_TEST_POSTGRES_DSN.
func migratedPostgres(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		t.Skip("needs PostgreSQL: set " + servertest.EnvPostgresDSN)
	}
	var url string
	d := servertest.Start(t, servertest.WithPostgres(dsn), servertest.WithConfig(func(c *config.Config) { url = c.DatabaseURL }))
	d.Stop()
	return url
}

// TestPostgres_SharedCachesNothing: two stores on one PostgreSQL database,
// as two cluster nodes. Opened with Shared, each sees at once what the other
// changed (a membership removed, messages posted, a room renamed); a store
// without Shared, the database's one writer, answers membership checks and
// history reads from memory.
func TestPostgres_SharedCachesNothing(t *testing.T) {
	url := migratedPostgres(t)
	ctx := context.Background()
	open := func(shared bool) *gormstore.Store {
		s, err := gormstore.Open(ctx, url, gormstore.Options{Shared: shared})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b, single := open(true), open(true), open(false)
	u, r := userAndRoom(t, a, "sh")
	post := func(s *gormstore.Store, content string) {
		m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: content, MessageType: "text", Author: "sh"}
		_, err := s.CreateMessage(ctx, &m)
		require.NoError(t, err)
	}
	post(a, "one")
	for _, s := range []*gormstore.Store{b, single} { // read, so that a cache would hold it
		_, err := s.RoomForMember(ctx, r.ID, u.ID)
		require.NoError(t, err)
		ms, err := s.Messages(ctx, r.ID, store.MessageQuery{})
		require.NoError(t, err)
		require.Len(t, ms, 1)
	}

	post(a, "two")
	require.NoError(t, a.RenameRoom(ctx, r.ID, "renamed"))
	ms, err := b.Messages(ctx, r.ID, store.MessageQuery{})
	require.NoError(t, err)
	require.Len(t, ms, 2, "b sees a's post")
	got, err := b.RoomForMember(ctx, r.ID, u.ID)
	require.NoError(t, err)
	require.Equal(t, "renamed", got.Name)
	require.Equal(t, int64(2), got.LastSeq)
	require.NoError(t, a.RemoveMember(ctx, r.ID, u.ID))
	_, err = b.RoomForMember(ctx, r.ID, u.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "b sees the membership removed")

	// The single writer's cache still answers from memory: it was not
	// told, which is why cluster nodes open the store with Shared.
	_, err = single.RoomForMember(ctx, r.ID, u.ID)
	require.NoError(t, err, "answered from the cache")
	ms, err = single.Messages(ctx, r.ID, store.MessageQuery{})
	require.NoError(t, err)
	require.Len(t, ms, 1, "answered from the cache")
	single.InvalidateRoom(r.ID)
	_, err = single.RoomForMember(ctx, r.ID, u.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestPostgres_TwoNodesSeq posts from two store instances on one PostgreSQL
// database at once, as two vcd nodes would, into two shared rooms: each
// room's seqs are 1..n with no gap and no duplicate, and every client_id is
// stored once however it is resent: twice in a row by one sender (across
// groups), by several senders on one node at once (inside a group), and on
// both nodes at once.
func TestPostgres_TwoNodesSeq(t *testing.T) {
	url := migratedPostgres(t)
	ctx := context.Background()
	var nodes [2]*gormstore.Store
	for i := range nodes {
		s, err := gormstore.Open(ctx, url, gormstore.Options{Shared: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.Equal(t, "postgres", gormstore.MessagePath(s))
		nodes[i] = s
	}
	u, r0 := userAndRoom(t, nodes[0], "n")
	r1 := store.Room{Name: "r1", CreatedBy: u.ID}
	require.NoError(t, nodes[1].CreateRoom(ctx, &r1))
	rooms := []int64{r0.ID, r1.ID}

	type result struct {
		id, seq int64
		created bool
	}
	var mu sync.Mutex
	results := map[string][]result{} // by client_id
	post := func(node *gormstore.Store, room int64, cid string) {
		m := store.Message{RoomID: room, UserID: &u.ID, Content: cid, MessageType: "text", Author: "n", ClientID: cid}
		created, err := node.CreateMessage(ctx, &m)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		results[cid] = append(results[cid], result{m.ID, m.Seq, created})
		mu.Unlock()
	}

	const senders, each = 12, 40 // per node
	var wg sync.WaitGroup
	for n, node := range nodes {
		for w := range senders {
			wg.Go(func() {
				for i := range each {
					room := rooms[(w+i)%2]
					own := fmt.Sprintf("n%d-w%d-%d", n, w, i)
					post(node, room, own)
					post(node, room, own) // resent after it was stored
					if i%5 == 0 {
						// The same client_id from both nodes and from
						// several senders at once.
						shared := fmt.Sprintf("shared-w%d-%d", w, i)
						var at sync.WaitGroup
						for range 3 {
							at.Go(func() { post(node, room, shared) })
						}
						at.Wait()
					}
				}
			})
		}
	}
	wg.Wait()
	require.False(t, t.Failed())

	for cid, rs := range results {
		created := 0
		for _, r := range rs {
			require.Equal(t, rs[0].id, r.id, "%s: every send answers with the stored message", cid)
			require.Equal(t, rs[0].seq, r.seq, cid)
			if r.created {
				created++
			}
		}
		require.Equal(t, 1, created, "%s stored once", cid)
	}
	total := 0
	for _, room := range rooms {
		ms, err := nodes[0].Messages(ctx, room, store.MessageQuery{})
		require.NoError(t, err)
		seen := map[string]bool{}
		for i, m := range ms {
			require.Equal(t, int64(i+1), m.Seq, "room %d: seqs 1..n, no gap, no duplicate", room)
			require.False(t, seen[m.ClientID], "%s stored twice", m.ClientID)
			seen[m.ClientID] = true
		}
		got, err := nodes[1].RoomByID(ctx, room)
		require.NoError(t, err)
		require.Equal(t, int64(len(ms)), got.LastSeq)
		total += len(ms)
	}
	require.Equal(t, len(results), total, "one stored message per client_id")
}

// TestMessages_RoundTrip reads back every column as it was stored, NULLs
// included, on each database and each read path.
func TestMessages_RoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, url string) {
		ctx := context.Background()
		u, r := userAndRoom(t, s, "rt")
		role := int64(42)
		in := []store.Message{
			{RoomID: r.ID, UserID: &u.ID, Content: "plain", MessageType: "text", Author: "rt"},
			{RoomID: r.ID, UserID: &u.ID, RoleID: &role, Content: "reply ü", MessageType: "text", Author: "Bot", ClientID: "c1", Truncated: true},
			{RoomID: r.ID, Content: "system", MessageType: "system", Author: "system"},
		}
		for i := range in {
			created, err := s.CreateMessage(ctx, &in[i])
			require.NoError(t, err)
			require.True(t, created)
		}
		for _, q := range []store.MessageQuery{{}, {Newest: true, Limit: 3}, {After: 0, Limit: 10, Offset: 0}} {
			got, err := s.Messages(ctx, r.ID, q)
			require.NoError(t, err)
			require.Equal(t, in, got, "%+v", q)
		}
	})
}

// TestPostgres_WarnsWithoutAutovacuum: the daemon's store warns when the
// server's autovacuum is off, and only then.
func TestPostgres_WarnsWithoutAutovacuum(t *testing.T) {
	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		t.Skip("needs PostgreSQL: set " + servertest.EnvPostgresDSN)
	}
	ctx := context.Background()
	var logs bytes.Buffer
	s, err := gormstore.Open(ctx, dsn, gormstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	defer s.Close()
	var setting string
	require.NoError(t, s.DB().Raw("SHOW autovacuum").Scan(&setting).Error)
	if setting == "off" {
		require.Contains(t, logs.String(), "autovacuum is off")
	} else {
		require.NotContains(t, logs.String(), "autovacuum")
	}
}
