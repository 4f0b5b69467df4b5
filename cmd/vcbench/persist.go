package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func persistCommand() command {
	return command{
		name:    "persist",
		summary: "many senders as fast as acks allow: persisted messages/s",
		run:     runPersist,
	}
}

var ackMarker = []byte(`"type":"ack"`)

func runPersist(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("persist", flag.ContinueOnError)
	var common commonFlags
	common.register(fs, 10)
	senders := fs.Int("senders", 50, "sending sockets")
	window := fs.Int("window", 8, "unacknowledged messages in flight per sender")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	pid := fs.Int("pid", 0, "vcd process id for its CPU use (default: found by the server's port)")
	nrooms := fs.Int("rooms", 1, "rooms the senders are spread over (sender i posts in room i mod rooms)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nrooms < 1 || *nrooms > *senders {
		return fmt.Errorf("--rooms %d: must be between 1 and --senders (%d)", *nrooms, *senders)
	}
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	nodes := splitServers(common.server)
	if len(nodes) == 0 {
		return errors.New("--server is empty")
	}
	b, err := setupRoom(ctx, nodes[0], common.users)
	if err != nil {
		return err
	}
	b.nodes = nodes // senders spread over the nodes of a cluster
	rooms, err := b.moreRooms(ctx, *nrooms)
	if err != nil {
		return err
	}
	lastSeqs := func() (int64, error) { // the rooms' seqs added up
		var sum int64
		for _, r := range rooms {
			got, err := b.users[0].client.GetRoom(ctx, r.room.ID)
			if err != nil {
				return 0, err
			}
			sum += got.LastSeq
		}
		return sum, nil
	}
	before, err := lastSeqs()
	if err != nil {
		return err
	}
	// The senders are raw sockets: each receives the room's every message
	// (50 senders, 50 deliveries per message), and a WebSocket library's
	// reads cost the bench, which shares the machine with vcd, more CPU
	// than vcd spends storing the message.
	conns := make([]*rawSocket, *senders)
	for i := range conns {
		if conns[i], err = rooms[i%len(rooms)].dialRawStamped(ctx, i, false); err != nil {
			return err
		}
		defer conns[i].close()
	}
	fmt.Fprintf(out, "room %d (%d rooms): %d senders, window %d, for %s...\n", b.room.ID, len(rooms), *senders, *window, *duration)

	var acked, sent atomic.Int64
	var firstErr error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		firstErr = errors.Join(firstErr, err)
		mu.Unlock()
	}
	sctx, stop := context.WithTimeout(ctx, *duration)
	defer stop()
	cpu := startCPU(*pid, nodes[0])
	start := time.Now()
	var wg sync.WaitGroup
	for i, conn := range conns {
		tokens := make(chan struct{}, *window)
		inflight := &sync.WaitGroup{}
		go func() { // reads everything; acks free a slot
			for {
				data, err := conn.next()
				if err != nil {
					return // closed when the run ends
				}
				if bytes.Contains(data, ackMarker) {
					acked.Add(1)
					inflight.Done()
					<-tokens
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case tokens <- struct{}{}:
				case <-sctx.Done():
					waitTimeout(inflight, 30*time.Second)
					return
				}
				inflight.Add(1)
				frame := `{"content":"persist ` + strconv.Itoa(i) + `/` + strconv.Itoa(n) +
					`","client_id":"p` + strconv.Itoa(i) + `-` + strconv.Itoa(n) + `"}`
				if err := conn.writeText([]byte(frame)); err != nil {
					inflight.Done()
					fail(fmt.Errorf("sender %d: %w", i, err))
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu.report(out, acked.Load(), "message")
	if firstErr != nil {
		return firstErr
	}
	after, err := lastSeqs()
	if err != nil {
		return err
	}
	stored := after - before
	fmt.Fprintf(out, "sent %d, acknowledged %d, stored %d (room seqs %d -> %d)\n", sent.Load(), acked.Load(), stored, before, after)
	// Acknowledged means committed (vcd acks after the commit), and stored
	// is read back from the room's seq: the two rates agree when nothing
	// was lost or stored twice, whichever database vcd runs on.
	fmt.Fprintf(out, "persisted msgs/s %.0f (stored msgs/s %.0f)\n", float64(acked.Load())/elapsed.Seconds(),
		float64(stored)/elapsed.Seconds())
	if stored != acked.Load() {
		return fmt.Errorf("stored %d messages but %d were acknowledged", stored, acked.Load())
	}
	return nil
}

// waitTimeout waits for wg at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
