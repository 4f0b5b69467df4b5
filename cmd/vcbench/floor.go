package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The floor is the fan-out of `vcbench fanout` without vcd: a minimal
// writer process (no HTTP server, no database, no JSON, no hub: a loop of
// non-blocking write(2) calls of a ready frame) and the same epoll
// receivers. What it measures is what this machine's kernel costs for the
// traffic, the least any server can cost here; a figure vcd cannot beat.

func floorCommand() command {
	return command{
		name:    "floor",
		summary: "the fan-out traffic with a minimal writer process instead of vcd: this machine's floor for fanout",
		run:     runFloor,
	}
}

func floorWriterCommand() command {
	return command{
		name:    "floor-writer",
		summary: "(run by floor) the minimal writer process",
		run:     runFloorWriter,
	}
}

func runFloor(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	clients := fs.Int("clients", 1000, "receiving sockets")
	rate := fs.Float64("rate", 100, "messages sent per second (each to every socket)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	size := fs.Int("size", 240, "bytes of each message (a vcd message event of the fanout bench is about 240)")
	writers := fs.Int("writers", 2, "writer threads in the writer process")
	rxThreads := fs.Int("rx-threads", 2, "threads of the epoll receivers")
	perMessage := fs.String("per-message", "", "write each message's first- and last-socket times (CSV) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !rxAvailable {
		return errors.New("floor needs Linux (epoll receivers)")
	}
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, "floor-writer", "--clients", strconv.Itoa(*clients), "--rate", fmt.Sprint(*rate),
		"--duration", duration.String(), "--size", strconv.Itoa(*size), "--writers", strconv.Itoa(*writers))
	cmd.Stderr = os.Stderr
	// A test binary runs the subcommand instead of its tests (TestMain).
	cmd.Env = append(os.Environ(), "VCBENCH_SUBCOMMAND=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the writer: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	readLine := func() (string, error) {
		if !lines.Scan() {
			return "", fmt.Errorf("writer ended: %v", lines.Err())
		}
		return lines.Text(), nil
	}
	addrLine, err := readLine()
	if err != nil {
		return err
	}
	addr, err := resolveAddr(strings.TrimPrefix(addrLine, "listening "))
	if err != nil {
		return err
	}
	rx, err := newRxSet(*rxThreads)
	if err != nil {
		return err
	}
	defer rx.close()
	total := int(*rate * duration.Seconds())
	for i := range *clients {
		if _, err := rx.dial(addr, "/floor", "-", i); err != nil {
			return fmt.Errorf("open sockets: %w", err)
		}
	}
	fmt.Fprintf(out, "%d sockets open to a minimal writer process (%d writer threads)\n", *clients, *writers)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	got := newDeliveries(*clients, total, stop)
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		rx.run(rctx, func(f rxFrame) { got.record(f.sock.idx, f.payload, f.readAt, f.kernelAt) })
	}()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return err
	}
	report, err := readLine()
	if err != nil {
		return err
	}
	select {
	case <-rctx.Done():
	case <-time.After(30 * time.Second):
		stop()
	}
	readers.Wait()
	fmt.Fprintln(out, report)
	got.perMessage = *perMessage
	got.report(out)
	return nil
}

// runFloorWriter accepts the receivers (answering their WebSocket
// handshake with a bare 101 and a first frame), waits for "go" on stdin,
// then sends each message to every socket, and prints its CPU time.
func runFloorWriter(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("floor-writer", flag.ContinueOnError)
	clients := fs.Int("clients", 1000, "")
	rate := fs.Float64("rate", 100, "")
	duration := fs.Duration("duration", 10*time.Second, "")
	size := fs.Int("size", 240, "")
	writers := fs.Int("writers", 2, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Fprintf(out, "listening %s\n", ln.Addr())
	type sock struct {
		conn net.Conn
		rc   syscall.RawConn
	}
	socks := make([]sock, 0, *clients)
	for len(socks) < *clients {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		br := bufio.NewReader(c)
		for { // the request, up to the blank line
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if line == "\r\n" {
				break
			}
		}
		hello := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		if _, err := io.WriteString(c, hello+string(appendFrame(nil, `{"type":"presence"}`))); err != nil {
			return err
		}
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return err
		}
		socks = append(socks, sock{conn: c, rc: rc})
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("wait for go: %w", err)
	}
	total := int(*rate * duration.Seconds())
	interval := time.Duration(float64(time.Second) / *rate)
	cpu0 := cpuTime()
	start := time.Now()
	var writes, waits atomic.Int64
	for i := range total {
		// Stamped with when it was due, not when it went: a message that
		// waits for the writes of the one before counts that wait, as it
		// does for vcd (whose sender never waits for the fan-out).
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		msg := `{"type":"message","room_id":1,"content":"bench:` + strconv.FormatInt(due.UnixNano(), 10) + `"`
		msg += `,"pad":"` + strings.Repeat("x", max(0, *size-len(msg)-10)) + `"}`
		frame := appendFrame(nil, msg)
		var wg sync.WaitGroup
		per := (len(socks) + *writers - 1) / *writers
		for w := 0; w < len(socks); w += per {
			wg.Add(1)
			go func(part []sock) {
				defer wg.Done()
				for _, s := range part {
					var n int
					_ = s.rc.Write(func(fd uintptr) bool {
						n, _ = rawWrite(fd, frame)
						return true
					})
					writes.Add(1)
					if n < len(frame) { // the socket is full: wait for it
						waits.Add(1)
						if _, err := s.conn.Write(frame[max(n, 0):]); err != nil {
							return
						}
					}
				}
			}(socks[w:min(len(socks), w+per)])
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	fmt.Fprintf(out, "writer: sent %d messages in %s to %d sockets (%d writes, %d had to wait); writer CPU %s = %.0f%% of one core, %.1f us per write\n",
		total, elapsed.Round(time.Millisecond), len(socks), writes.Load(), waits.Load(), cpu.Round(time.Millisecond),
		100*cpu.Seconds()/elapsed.Seconds(), float64(cpu.Microseconds())/float64(max(writes.Load(), 1)))
	_, _ = io.Copy(io.Discard, os.Stdin) // stay until floor is done reading
	return ctx.Err()
}

// appendFrame appends payload as one unmasked (server) text frame.
func appendFrame(dst []byte, payload string) []byte {
	dst = append(dst, 0x81)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, payload...)
}
