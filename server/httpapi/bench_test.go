package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// benchClient is a keep-alive HTTP client that discards answers after
// checking the status.
type benchClient struct {
	http  *http.Client
	base  string
	token string
}

func newBenchClient(d *servertest.Daemon, token string) *benchClient {
	return &benchClient{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}, base: d.URL, token: token}
}

func (c *benchClient) do(b *testing.B, method, path string, body []byte, want int) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
}

// cpuClock reports the process's CPU time per operation besides wall time:
// on a machine shared with other work, wall time per op inflates with the
// load while CPU time per op does not. Client and server share the process,
// so it is an upper bound of the server's cost.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{start: servertest.ProcessCPU()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64((servertest.ProcessCPU()-c.start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkLogin measures POST /api/auth/login; bcrypt dominates, so it is
// run at the test cost (4) and at the default cost (12).
func BenchmarkLogin(b *testing.B) {
	for _, cost := range []int{4, 12} {
		b.Run(fmt.Sprintf("bcrypt_cost=%d", cost), func(b *testing.B) {
			d := servertest.Start(b, servertest.WithConfig(func(c *config.Config) { c.BcryptCost = cost }))
			acct := d.Register("bench")
			body, _ := json.Marshal(api.LoginRequest{Username: "bench", Password: acct.Password})
			c := newBenchClient(d, "")
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				c.do(b, "POST", "/api/auth/login", body, 200)
			}
			cpu.report(b)
		})
	}
}

// eachDatabase runs f as a sub-benchmark per test database (SQLite, and
// PostgreSQL when VC_TEST_POSTGRES_DSN is set).
func eachDatabase(b *testing.B, f func(b *testing.B, opts ...servertest.Option)) {
	dbs := servertest.Databases()
	for _, name := range []string{"sqlite", "postgres"} {
		if opts, ok := dbs[name]; ok {
			b.Run(name, func(b *testing.B) { f(b, opts...) })
		}
	}
}

// BenchmarkHistory measures GET /api/rooms/{id}/messages?limit=100 on a room
// holding 10 000 messages.
func BenchmarkHistory(b *testing.B) { eachDatabase(b, benchHistory) }

func benchHistory(b *testing.B, opts ...servertest.Option) {
	d := servertest.Start(b, opts...)
	acct := d.Register("bench")
	svc := d.Server().Services()
	room, err := svc.Rooms.Create(context.Background(), acct.User.ID, api.CreateRoomRequest{Name: "big"})
	if err != nil {
		b.Fatal(err)
	}
	// Filled by 16 writers at once, which share commits.
	var fill sync.WaitGroup
	for w := range 16 {
		fill.Go(func() {
			for i := w; i < 10_000; i += 16 {
				if _, _, err := svc.Messages.Create(context.Background(), acct.User.ID, room.ID, api.CreateMessageRequest{Content: fmt.Sprintf("message number %d with some text in it", i)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	fill.Wait()
	if b.Failed() {
		return
	}
	c := newBenchClient(d, acct.Token)
	path := fmt.Sprintf("/api/rooms/%d/messages?limit=100", room.ID)
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			c.do(b, "GET", path, nil, 200)
		}
		cpu.report(b)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.do(b, "GET", path, nil, 200)
			}
		})
		cpu.report(b)
	})
}

// BenchmarkPostMessage measures POST /api/rooms/{id}/messages: sequential
// latency, and throughput with 16 concurrent senders (posts/s).
func BenchmarkPostMessage(b *testing.B) { eachDatabase(b, benchPostMessage) }

func benchPostMessage(b *testing.B, opts ...servertest.Option) {
	d := servertest.Start(b, opts...)
	acct := d.Register("bench")
	var room api.Room
	status, raw := d.Do("POST", "/api/rooms", acct.Token, api.CreateRoomRequest{Name: "bench"})
	if status != 201 || json.Unmarshal(raw, &room) != nil {
		b.Fatalf("create room: %d %s", status, raw)
	}
	c := newBenchClient(d, acct.Token)
	path := fmt.Sprintf("/api/rooms/%d/messages", room.ID)
	body, _ := json.Marshal(api.CreateMessageRequest{Content: "a message of ordinary length, about sixty bytes long"})
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			c.do(b, "POST", path, body, 201)
		}
		cpu.report(b)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8) // x GOMAXPROCS senders
		cpu := startCPU()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.do(b, "POST", path, body, 201)
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "posts/s")
		cpu.report(b)
	})
}
