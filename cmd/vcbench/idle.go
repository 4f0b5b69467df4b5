package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

func idleCommand() command {
	return command{
		name:    "idle",
		summary: "open N idle sockets and report vcd's RSS per socket",
		run:     runIdle,
	}
}

func runIdle(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	var common commonFlags
	common.register(fs, 20)
	sockets := fs.Int("sockets", 10000, "idle sockets to open")
	pid := fs.Int("pid", 0, "vcd process id (default: the process listening on the server's port)")
	settle := fs.Duration("settle", 5*time.Second, "wait after the last socket opened before measuring")
	if err := fs.Parse(args); err != nil {
		return err
	}
	limit, err := raiseNoFile()
	if err != nil {
		return err
	}
	if uint64(*sockets)+100 > limit {
		return fmt.Errorf("%d sockets need more open files than the limit %d", *sockets, limit)
	}
	if *pid == 0 {
		*pid, err = pidByServer(common.server)
		if err != nil {
			return fmt.Errorf("find vcd (pass --pid): %w", err)
		}
	}
	b, err := setupRoom(ctx, common.server, common.users)
	if err != nil {
		return err
	}
	before, err := rssKiB(*pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "vcd pid %d, RSS before %d KiB; opening %d sockets in room %d...\n", *pid, before, *sockets, b.room.ID)

	conns := make([]*websocket.Conn, *sockets)
	var openErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			conn, err := b.dial(ctx, i, url.Values{})
			if err == nil {
				_, _, err = conn.Read(ctx) // presence: subscribed
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
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
	}()
	if openErr != nil {
		return fmt.Errorf("open sockets: %w", openErr)
	}
	// Keep reading (join/leave may still arrive) so no socket is dropped as slow.
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
	}
	fmt.Fprintf(out, "opened %d sockets in %s; settling %s\n", *sockets, time.Since(start).Round(time.Millisecond), *settle)
	select {
	case <-time.After(*settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := rssKiB(*pid)
	if err != nil {
		return err
	}
	n := float64(*sockets)
	fmt.Fprintf(out, "vcd RSS %d KiB with %d sockets (before: %d KiB)\n", after, *sockets, before)
	fmt.Fprintf(out, "RSS per socket: %.1f KiB total/sockets, %.1f KiB growth/sockets\n", float64(after)/n, float64(after-before)/n)
	return nil
}

// processCPU returns the user and system CPU time a process has used.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read vcd cpu time: %w", err)
	}
	// The command name may hold spaces; fields restart after the last ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// vcdCPU measures the CPU time of the vcd process (found by --pid or by
// the server's port) between start and stop; it reports nothing when vcd
// is not visible from here (another host or container).
type vcdCPU struct {
	pid   int
	start time.Duration
	at    time.Time
}

func startCPU(pid int, server string) *vcdCPU {
	if pid == 0 {
		pid, _ = pidByServer(server)
	}
	if pid == 0 {
		return nil
	}
	t, err := processCPU(pid)
	if err != nil {
		return nil
	}
	return &vcdCPU{pid: pid, start: t, at: time.Now()}
}

// report prints vcd's CPU use since start, per unit of work.
func (v *vcdCPU) report(out io.Writer, units int64, unit string) {
	if v == nil {
		return
	}
	t, err := processCPU(v.pid)
	if err != nil || units == 0 {
		return
	}
	used := t - v.start
	fmt.Fprintf(out, "vcd cpu %s over %s (%.0f%% of one core), %.1f us per %s\n", used.Round(10*time.Millisecond),
		time.Since(v.at).Round(time.Millisecond), 100*used.Seconds()/time.Since(v.at).Seconds(),
		float64(used.Microseconds())/float64(units), unit)
}

// rssKiB reads VmRSS of a process.
func rssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read vcd memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// pidByServer finds the process listening on the server URL's port through
// /proc/net/tcp{,6} and the processes' socket descriptors.
func pidByServer(server string) (int, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil {
		return 0, err
	}
	_, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		portStr = "80"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			p, err := strconv.ParseInt(f[1][i+1:], 16, 32)
			if err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d", port)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			return strconv.Atoi(strings.Split(fd, "/")[2])
		}
	}
	return 0, fmt.Errorf("no visible process owns the listener on port %d", port)
}
