package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
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
	perMessage := fs.String("per-message", "", "write each message's first- and last-socket times (CSV) to this file")
	if err := fs.Parse(args); err != nil {
		return err
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
	b.nodes = nodes
	fmt.Fprintf(out, "room %d, %d users, opening %d sockets on %d node(s)...\n", b.room.ID, len(b.users), *clients, len(nodes))

	total := int(*rate * duration.Seconds())
	rctx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	got := newDeliveries(*clients, total, stopReaders)
	var readers sync.WaitGroup
	useRx := *receivers == "epoll"
	if useRx && !rxAvailable {
		return errors.New("--receivers epoll needs Linux; use --receivers goroutines")
	}
	var conns []*rawSocket // goroutine receivers
	if useRx {
		// A few threads in epoll read every socket: the load generator's
		// cost per delivery is one recvmsg, so that more of the machine is
		// left to vcd.
		rx, err := newRxSet(*rxThreads)
		if err != nil {
			return err
		}
		defer rx.close()
		var addrs []netip.AddrPort
		for _, n := range nodes {
			u, err := url.Parse(n)
			if err != nil {
				return err
			}
			addr, err := resolveAddr(u.Host)
			if err != nil {
				return err
			}
			addrs = append(addrs, addr)
		}
		path := "/ws/chat/" + strconv.FormatInt(b.room.ID, 10)
		for i := range *clients {
			if _, err := rx.dial(addrs[i%len(addrs)], path, b.users[i%len(b.users)].client.Token(), i); err != nil {
				return fmt.Errorf("open sockets: %w", err)
			}
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			rx.run(rctx, func(f rxFrame) { got.record(f.sock.idx, f.payload, f.readAt, f.kernelAt) })
		}()
	} else {
		conns = make([]*rawSocket, *clients)
		var openErr error
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := range conns {
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
				conns[i] = conn
			}()
		}
		wg.Wait()
		if openErr != nil {
			return fmt.Errorf("open sockets: %w", openErr)
		}
		defer func() {
			for _, c := range conns {
				c.close()
			}
		}()
		for i, c := range conns {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for !got.done(i) {
					data, err := c.next()
					if err != nil {
						return
					}
					at, _ := c.receivedAt()
					got.record(i, data, time.Now(), at)
				}
			}()
		}
	}
	fmt.Fprintf(out, "%d sockets open (%s receivers)\n", *clients, *receivers)

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
	cpu := startCPU(*pid, nodes[0]) // node 1's process
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
	for _, c := range conns {
		c.close() // unblocks the receivers still reading
	}
	<-done
	elapsed := time.Unix(0, got.last.Load()).Sub(start)
	cpu.report(out, got.delivered.Load(), "delivery")
	fmt.Fprintf(out, "sent %d messages in %s (%.0f msg/s) to %d clients\n", total, sendTime.Round(time.Millisecond), float64(total)/sendTime.Seconds(), *clients)
	fmt.Fprintf(out, "deliveries/s %.0f\n", float64(got.delivered.Load())/elapsed.Seconds())
	got.perMessage = *perMessage
	got.report(out)
	return nil
}
