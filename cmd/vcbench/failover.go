package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

func failoverCommand() command {
	return command{
		name:    "failover",
		summary: "clients behind a load balancer while one cluster node is killed: time to be back (reconnect + resume), gaps, duplicates",
		run:     runFailover,
	}
}

// failClient is one resuming chat client.
type failClient struct {
	idx        int
	last       int64 // newest seq received
	gaps, dups int
	drops      int
	back       []time.Duration // drop to resumed (presence after the replay)
}

func runFailover(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	var common commonFlags
	common.register(fs, 20)
	clients := fs.Int("clients", 300, "resuming chat clients (they connect through --server, the load balancer)")
	rate := fs.Float64("rate", 50, "messages sent per second (through the load balancer)")
	duration := fs.Duration("duration", 15*time.Second, "how long to send")
	killPID := fs.Int("kill-pid", 0, "process id of the node to kill -9 (required)")
	killAfter := fs.Duration("kill-after", 5*time.Second, "when to kill it, after the sending started")
	sigName := fs.String("signal", "KILL", "KILL (a crash) or TERM (a graceful shutdown: its sockets close with 1001)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *killPID <= 0 {
		return errors.New("--kill-pid is required: the process id of one vcd node")
	}
	sig := syscall.SIGKILL
	switch *sigName {
	case "KILL":
	case "TERM":
		sig = syscall.SIGTERM
	default:
		return fmt.Errorf("--signal %q: KILL or TERM", *sigName)
	}
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	lb := splitServers(common.server)[0]
	b, err := setupRoom(ctx, lb, common.users)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "room %d, %d users, %d clients through %s\n", b.room.ID, len(b.users), *clients, lb)

	total := int(*rate * duration.Seconds())
	rctx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	cs := make([]*failClient, *clients)
	var mu sync.Mutex // guards every failClient
	var complete atomic.Int64
	allDone := make(chan struct{})
	var ready, wg sync.WaitGroup
	for i := range cs {
		cs[i] = &failClient{idx: i}
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.runFailClient(rctx, cs[i], &mu, &ready, int64(total), func() {
				if complete.Add(1) == int64(len(cs)) {
					close(allDone)
				}
			})
		}()
	}
	ready.Wait()
	fmt.Fprintf(out, "%d clients connected; sending %d messages at %.0f/s, killing pid %d after %s\n", *clients, total, *rate, *killPID, *killAfter)

	sender := b.users[0].client.Token()
	hc := &http.Client{Timeout: 10 * time.Second}
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	killed := false
	var sendErrs int
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if !killed && time.Since(start) >= *killAfter {
			if err := signalPID(*killPID, sig); err != nil {
				return fmt.Errorf("kill %d: %w", *killPID, err)
			}
			killed = true
			fmt.Fprintf(out, "sent SIG%s to pid %d at %s\n", *sigName, *killPID, time.Since(start).Round(time.Millisecond))
		}
		if err := postThrough(ctx, hc, lb, sender, b.room.ID, "f"+strconv.Itoa(i)); err != nil {
			sendErrs++
		}
	}
	select {
	case <-allDone:
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	stopClients()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var back []time.Duration
	dropped, gaps, dups, short := 0, 0, 0, 0
	for _, c := range cs {
		back = append(back, c.back...)
		if c.drops > 0 {
			dropped++
		}
		gaps += c.gaps
		dups += c.dups
		if c.last < int64(total) {
			short++
		}
	}
	sortDurations(back)
	fmt.Fprintf(out, "sent %d messages (%d sends failed after retries)\n", total, sendErrs)
	fmt.Fprintf(out, "clients dropped by the kill: %d of %d; reconnects: %d\n", dropped, len(cs), len(back))
	if len(back) > 0 {
		fmt.Fprintf(out, "back in the room (drop -> reconnected through the load balancer and resumed): p50 %s p99 %s max %s\n",
			percentile(back, 50).Round(time.Millisecond), percentile(back, 99).Round(time.Millisecond), back[len(back)-1].Round(time.Millisecond))
	}
	fmt.Fprintf(out, "gaps %d, duplicates %d, clients missing messages at the end %d\n", gaps, dups, short)
	return nil
}

// postThrough posts one message (with a client_id, so a retry is not a
// second message), retrying through the load balancer for a while.
func postThrough(ctx context.Context, hc *http.Client, server, token string, roomID int64, clientID string) error {
	body, _ := json.Marshal(api.CreateMessageRequest{Content: "failover " + clientID, ClientID: clientID})
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(server, "/")+"/api/rooms/"+strconv.FormatInt(roomID, 10)+"/messages", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

// runFailClient keeps one client in the room: it reads, checks the seq
// order, and after a drop reconnects at once (through the load balancer)
// with ?after=<last seq>, timing the way back.
func (b *benchRoom) runFailClient(ctx context.Context, c *failClient, mu *sync.Mutex, ready *sync.WaitGroup, total int64, finished func()) {
	first := true
	var dropAt time.Time
	reported := false
	for ctx.Err() == nil {
		mu.Lock()
		after := c.last
		mu.Unlock()
		q := url.Values{}
		if !first {
			q.Set("after", strconv.FormatInt(after, 10))
		}
		conn, err := b.dial(ctx, c.idx, q)
		if err != nil {
			if first {
				ready.Done()
				first = false
				dropAt = time.Now()
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				conn.CloseNow()
				if ctx.Err() != nil {
					return // the run is over
				}
				mu.Lock()
				c.drops++
				mu.Unlock()
				dropAt = time.Now()
				break
			}
			var ev wsproto.Event
			if json.Unmarshal(data, &ev) != nil {
				continue
			}
			switch ev.Type {
			case wsproto.TypePresence:
				if first {
					ready.Done()
					first = false
				} else if !dropAt.IsZero() {
					mu.Lock()
					c.back = append(c.back, time.Since(dropAt))
					mu.Unlock()
					dropAt = time.Time{}
				}
			case wsproto.TypeMessage:
				mu.Lock()
				switch {
				case ev.Seq <= c.last:
					c.dups++
				case ev.Seq > c.last+1 && c.last > 0:
					c.gaps++
				}
				if ev.Seq > c.last {
					c.last = ev.Seq
				}
				done := c.last >= total
				mu.Unlock()
				if done && !reported {
					reported = true
					finished()
				}
			}
		}
	}
}

// signalPID sends sig to the process pid (os.Process.Signal, so that the
// bench builds everywhere; on Windows only SIGKILL works).
func signalPID(pid int, sig os.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(sig)
}
