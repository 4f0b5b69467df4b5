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

var (
	ackMarker = []byte(`"type":"ack"`)
	// messageMarker starts a message event (vcd encodes the type first).
	messageMarker = []byte(`{"type":"message",`)
)

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
	lastSeqs := func() ([]int64, int64, error) { // each room's seq, and their sum
		seqs := make([]int64, len(rooms))
		var sum int64
		for i, r := range rooms {
			got, err := b.users[0].client.GetRoom(ctx, r.room.ID)
			if err != nil {
				return nil, 0, err
			}
			seqs[i] = got.LastSeq
			sum += got.LastSeq
		}
		return seqs, sum, nil
	}
	roomsBefore, before, err := lastSeqs()
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
	// delivered counts the message events each socket got: every socket
	// must get every message of its room, once.
	delivered := make([]atomic.Int64, len(conns))
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
				switch {
				case bytes.HasPrefix(data, messageMarker):
					delivered[i].Add(1)
				case bytes.Contains(data, ackMarker):
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
	roomsAfter, after, err := lastSeqs()
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
	return checkDelivered(out, delivered, func(i int) int64 {
		r := i % len(rooms)
		return roomsAfter[r] - roomsBefore[r]
	}, elapsed)
}

// checkDelivered waits (30 s at most) until every socket i got want(i)
// message events, and reports the deliveries; fewer or more is an error.
func checkDelivered(out io.Writer, delivered []atomic.Int64, want func(i int) int64, elapsed time.Duration) error {
	deadline := time.Now().Add(30 * time.Second)
	var got, total int64
	short, extra := 0, 0
	for {
		got, total, short, extra = 0, 0, 0, 0
		for i := range delivered {
			n, w := delivered[i].Load(), want(i)
			got += n
			total += w
			switch {
			case n < w:
				short++
			case n > w:
				extra++
			}
		}
		if short == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(out, "delivered %d of %d message events to the senders' sockets (%.0f deliveries/s)\n", got, total,
		float64(got)/elapsed.Seconds())
	if short > 0 || extra > 0 {
		return fmt.Errorf("%d sockets missed messages of their room and %d got more than were stored", short, extra)
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
