package gormstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// benchStore opens a migrated SQLite store with one user and rooms rooms.
func benchStore(b *testing.B, rooms int) (*gormstore.Store, store.User, []store.Room) {
	ctx := context.Background()
	s, err := gormstore.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), gormstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	u := store.User{Email: "a@example.com", Username: "a", Name: "A", PasswordHash: "x"}
	if err := s.CreateUser(ctx, &u); err != nil {
		b.Fatal(err)
	}
	rs := make([]store.Room, rooms)
	for i := range rs {
		rs[i] = store.Room{Name: fmt.Sprintf("r%d", i), CreatedBy: u.ID}
		if err := s.CreateRoom(ctx, &rs[i]); err != nil {
			b.Fatal(err)
		}
	}
	return s, u, rs
}

// BenchmarkCreateMessage is one message stored at a time on a SQLite file:
// the commit latency a post waits for when nothing else is written.
func BenchmarkCreateMessage(b *testing.B) {
	ctx := context.Background()
	s, u, rs := benchStore(b, 1)
	b.ReportAllocs()
	start := servertest.ProcessCPU()
	b.ResetTimer()
	for b.Loop() {
		m := store.Message{RoomID: rs[0].ID, UserID: &u.ID, Content: "hello there", MessageType: "text", Author: "a"}
		if _, err := s.CreateMessage(ctx, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((servertest.ProcessCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkCreateMessageConcurrent has 16 goroutines storing messages at
// once, with client ids (as posts from the API carry), over 4 rooms: the
// committer forms real groups of several rooms. ns/op is the inverse of the
// throughput.
func BenchmarkCreateMessageConcurrent(b *testing.B) {
	const senders = 16
	ctx := context.Background()
	s, u, rs := benchStore(b, 4)
	var next atomic.Int64
	next.Store(int64(b.N))
	b.ReportAllocs()
	start := servertest.ProcessCPU()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := 0; next.Add(-1) >= 0; i++ {
				m := store.Message{RoomID: rs[w%len(rs)].ID, UserID: &u.ID, Content: "hello there",
					MessageType: "text", Author: "a", ClientID: fmt.Sprintf("w%d-%d", w, i)}
				if _, err := s.CreateMessage(ctx, &m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((servertest.ProcessCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// benchStores runs f on a migrated store per test database (a SQLite file,
// and PostgreSQL when VC_TEST_POSTGRES_DSN is set) with one user and one
// room.
func benchStores(b *testing.B, f func(b *testing.B, s *gormstore.Store, u store.User, r store.Room)) {
	b.Run("sqlite", func(b *testing.B) {
		s, u, rs := benchStore(b, 1)
		f(b, s, u, rs[0])
	})
	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		return
	}
	// postgres: one vcd, the database's one writer (cached reads);
	// postgres-shared: a cluster node, which caches nothing.
	for _, shared := range []bool{false, true} {
		name := "postgres"
		if shared {
			name = "postgres-shared"
		}
		b.Run(name, func(b *testing.B) {
			var url string
			d := servertest.Start(b, servertest.WithPostgres(dsn), servertest.WithConfig(func(c *config.Config) { url = c.DatabaseURL }))
			d.Stop()
			ctx := context.Background()
			s, err := gormstore.Open(ctx, url, gormstore.Options{Shared: shared})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			u := store.User{Email: "a@example.com", Username: "a", Name: "A", PasswordHash: "x"}
			if err := s.CreateUser(ctx, &u); err != nil {
				b.Fatal(err)
			}
			r := store.Room{Name: "r", CreatedBy: u.ID}
			if err := s.CreateRoom(ctx, &r); err != nil {
				b.Fatal(err)
			}
			f(b, s, u, r)
		})
	}
}

// BenchmarkHistoryRead reads the newest 100 of 10 000 messages, with the
// membership check that precedes every read.
func BenchmarkHistoryRead(b *testing.B) {
	benchStores(b, func(b *testing.B, s *gormstore.Store, u store.User, r store.Room) {
		ctx := context.Background()
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < 10_000; i += 16 {
					m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: fmt.Sprintf("message number %d with some text in it", i), MessageType: "text", Author: "a"}
					if _, err := s.CreateMessage(ctx, &m); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.ReportAllocs()
		start := servertest.ProcessCPU()
		b.ResetTimer()
		for b.Loop() {
			if _, err := s.RoomForMember(ctx, r.ID, u.ID); err != nil {
				b.Fatal(err)
			}
			ms, err := s.Messages(ctx, r.ID, store.MessageQuery{Newest: true, Limit: 100})
			if err != nil || len(ms) != 100 {
				b.Fatal(len(ms), err)
			}
		}
		b.ReportMetric(float64((servertest.ProcessCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkCreateMessage50 has 50 goroutines posting into one room at once
// with client ids, as 50 busy senders on one node: ns/op is the inverse of
// the store's throughput.
func BenchmarkCreateMessage50(b *testing.B) {
	benchStores(b, func(b *testing.B, s *gormstore.Store, u store.User, r store.Room) {
		const senders = 50
		ctx := context.Background()
		var next atomic.Int64
		next.Store(int64(b.N))
		b.ReportAllocs()
		start := servertest.ProcessCPU()
		b.ResetTimer()
		var wg sync.WaitGroup
		for w := range senders {
			wg.Go(func() {
				for i := 0; next.Add(-1) >= 0; i++ {
					m := store.Message{RoomID: r.ID, UserID: &u.ID, Content: "a message of ordinary length, about sixty bytes long",
						MessageType: "text", Author: "a", ClientID: fmt.Sprintf("w%d-%d", w, i)}
					if _, err := s.CreateMessage(ctx, &m); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(float64((servertest.ProcessCPU()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}
