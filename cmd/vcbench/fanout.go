package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

func fanoutCommand() command {
	return command{
		name:    "fanout",
		summary: "N clients in one room, one sender at a fixed rate: deliveries/s and send-to-receive latency",
		run:     runFanout,
	}
}

// benchPrefix marks bench messages; the send time (unix ns) follows it.
var benchMarker = []byte(`"content":"bench:`)

// sentAt extracts the send time from a message event without decoding it
// all, so that the receivers stay cheap.
func sentAt(b []byte) (time.Time, bool) {
	i := bytes.Index(b, benchMarker)
	if i < 0 {
		return time.Time{}, false
	}
	rest := b[i+len(benchMarker):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

func runFanout(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	var common commonFlags
	common.register(fs, 20)
	clients := fs.Int("clients", 1000, "receiving sockets in the room")
	rate := fs.Float64("rate", 100, "messages sent per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	pid := fs.Int("pid", 0, "vcd process id for its CPU use (default: found by the server's port)")
	defaultRx := "goroutines"
	if rxAvailable {
		defaultRx = "epoll"
	}
	receivers := fs.String("receivers", defaultRx, "how the receiving sockets are read: epoll (a few threads, Linux) or goroutines (one per socket)")
	rxThreads := fs.Int("rx-threads", 2, "threads of the epoll receivers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	b, err := setupRoom(ctx, common.server, common.users)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "room %d, %d users, opening %d sockets...\n", b.room.ID, len(b.users), *clients)

	type receiver struct {
		conn      *rawSocket
		latencies []time.Duration
		arrivals  []time.Duration // send to kernel receive time
		got       int
	}
	total := int(*rate * duration.Seconds())
	recvs := make([]*receiver, *clients)
	var delivered atomic.Int64
	var lastDelivery atomic.Int64
	rctx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	var readers sync.WaitGroup
	useRx := *receivers == "epoll"
	if useRx && !rxAvailable {
		return errors.New("--receivers epoll needs Linux; use --receivers goroutines")
	}
	if useRx {
		// A few threads in epoll read every socket: the load generator's
		// cost per delivery is one recvmsg, so that more of the machine is
		// left to vcd.
		rx, err := newRxSet(*rxThreads)
		if err != nil {
			return err
		}
		defer rx.close()
		u, err := url.Parse(common.server)
		if err != nil {
			return err
		}
		addr, err := resolveAddr(u.Host)
		if err != nil {
			return err
		}
		path := "/ws/chat/" + strconv.FormatInt(b.room.ID, 10)
		for i := range recvs {
			if _, err := rx.dial(addr, path, b.users[i%len(b.users)].client.Token(), i); err != nil {
				return fmt.Errorf("open sockets: %w", err)
			}
			recvs[i] = &receiver{latencies: make([]time.Duration, 0, total), arrivals: make([]time.Duration, 0, total)}
		}
		var complete atomic.Int64
		readers.Add(1)
		go func() {
			defer readers.Done()
			rx.run(rctx, func(f rxFrame) {
				t, ok := sentAt(f.payload)
				if !ok {
					return
				}
				r := recvs[f.sock.idx]
				r.latencies = append(r.latencies, f.readAt.Sub(t))
				if !f.kernelAt.IsZero() {
					r.arrivals = append(r.arrivals, f.kernelAt.Sub(t))
				}
				r.got++
				delivered.Add(1)
				lastDelivery.Store(f.readAt.UnixNano())
				if r.got == total && complete.Add(1) == int64(len(recvs)) {
					stopReaders()
				}
			})
		}()
	} else {
		var openErr error
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := range recvs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				conn, err := b.dialRaw(ctx, i)
				if err == nil {
					_, err = conn.next() // presence: the socket is live
				}
				if err != nil {
					mu.Lock()
					openErr = errors.Join(openErr, err)
					mu.Unlock()
					return
				}
				recvs[i] = &receiver{conn: conn}
			}()
		}
		wg.Wait()
		if openErr != nil {
			return fmt.Errorf("open sockets: %w", openErr)
		}
		defer func() {
			for _, r := range recvs {
				r.conn.close()
			}
		}()
		for _, r := range recvs {
			readers.Add(1)
			go func() {
				defer readers.Done()
				r.latencies = make([]time.Duration, 0, total)
				r.arrivals = make([]time.Duration, 0, total)
				for r.got < total {
					data, err := r.conn.next()
					if err != nil {
						return
					}
					if t, ok := sentAt(data); ok {
						now := time.Now()
						r.latencies = append(r.latencies, now.Sub(t))
						if at, ok := r.conn.receivedAt(); ok {
							r.arrivals = append(r.arrivals, at.Sub(t))
						}
						r.got++
						delivered.Add(1)
						lastDelivery.Store(now.UnixNano())
					}
				}
			}()
		}
	}
	fmt.Fprintf(out, "%d sockets open (%s receivers)\n", len(recvs), *receivers)

	sender, err := b.dial(ctx, 0, nil)
	if err != nil {
		return err
	}
	defer sender.CloseNow()
	go func() { // the sender's own socket must be read, or it is dropped
		for {
			if _, _, err := sender.Read(rctx); err != nil {
				return
			}
		}
	}()
	interval := time.Duration(float64(time.Second) / *rate)
	cpu := startCPU(*pid, common.server)
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		frame := `{"content":"bench:` + strconv.FormatInt(time.Now().UnixNano(), 10) + `"}`
		if err := sender.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	sendTime := time.Since(start)

	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	stopReaders()
	for _, r := range recvs {
		if r.conn != nil {
			r.conn.close() // unblocks the receivers still reading
		}
	}
	<-done
	elapsed := time.Unix(0, lastDelivery.Load()).Sub(start)
	cpu.report(out, delivered.Load(), "delivery")

	var all, arrivals []time.Duration
	complete := 0
	for _, r := range recvs {
		all = append(all, r.latencies...)
		arrivals = append(arrivals, r.arrivals...)
		if r.got == total {
			complete++
		}
	}
	sortDurations(all)
	sortDurations(arrivals)
	fmt.Fprintf(out, "sent %d messages in %s (%.0f msg/s) to %d clients\n", total, sendTime.Round(time.Millisecond), float64(total)/sendTime.Seconds(), len(recvs))
	fmt.Fprintf(out, "delivered %d of %d (%d clients got every message)\n", delivered.Load(), int64(total)*int64(len(recvs)), complete)
	fmt.Fprintf(out, "deliveries/s %.0f\n", float64(delivered.Load())/elapsed.Seconds())
	fmt.Fprintf(out, "latency p50 %s p99 %s max %s\n", percentile(all, 50).Round(10*time.Microsecond),
		percentile(all, 99).Round(10*time.Microsecond), percentile(all, 100).Round(10*time.Microsecond))
	if len(arrivals) > 0 {
		// The kernel's receive time leaves out the receivers' own wait for
		// the CPU (they share the machine with vcd).
		fmt.Fprintf(out, "latency to the receivers' sockets (kernel receive time, %d samples) p50 %s p99 %s max %s\n", len(arrivals),
			percentile(arrivals, 50).Round(10*time.Microsecond), percentile(arrivals, 99).Round(10*time.Microsecond),
			percentile(arrivals, 100).Round(10*time.Microsecond))
	}
	return nil
}
