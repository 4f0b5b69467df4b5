package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// deliveries records what the receiving sockets of fanout and floor got:
// per socket, each bench message's latency as read and (when the kernel
// gives it) to the socket. Each socket's record is written by one goroutine
// only.
type deliveries struct {
	total     int // messages each socket should get
	socks     []*sockDeliveries
	delivered atomic.Int64
	complete  atomic.Int64
	last      atomic.Int64 // read time of the newest delivery, Unix ns
	// allIn is called once, when every socket got every message.
	allIn func()
	// perMessage, when set, is a file that gets one CSV line per message:
	// its index and when its first and last socket got it (us).
	perMessage string
}

type sockDeliveries struct {
	latencies, arrivals []time.Duration
	got                 int
}

func newDeliveries(sockets, total int, allIn func()) *deliveries {
	d := &deliveries{total: total, socks: make([]*sockDeliveries, sockets), allIn: allIn}
	for i := range d.socks {
		d.socks[i] = &sockDeliveries{latencies: make([]time.Duration, 0, total), arrivals: make([]time.Duration, 0, total)}
	}
	return d
}

// record notes a frame socket i received at readAt (its bytes reached the
// socket at kernelAt, zero when unknown); frames that are no bench message
// are ignored.
func (d *deliveries) record(i int, payload []byte, readAt, kernelAt time.Time) {
	t, ok := sentAt(payload)
	if !ok {
		return
	}
	s := d.socks[i]
	s.latencies = append(s.latencies, readAt.Sub(t))
	if !kernelAt.IsZero() {
		s.arrivals = append(s.arrivals, kernelAt.Sub(t))
	}
	s.got++
	d.delivered.Add(1)
	d.last.Store(readAt.UnixNano())
	if s.got == d.total && d.complete.Add(1) == int64(len(d.socks)) && d.allIn != nil {
		d.allIn()
	}
}

// done reports whether socket i got every message.
func (d *deliveries) done(i int) bool { return d.socks[i].got >= d.total }

// report prints what was delivered and the latencies. Call it once the
// receivers stopped.
func (d *deliveries) report(out io.Writer) {
	var all, arrivals []time.Duration
	complete := 0
	for _, s := range d.socks {
		all = append(all, s.latencies...)
		arrivals = append(arrivals, s.arrivals...)
		if s.got == d.total {
			complete++
		}
	}
	sortDurations(all)
	sortDurations(arrivals)
	fmt.Fprintf(out, "delivered %d of %d (%d clients got every message)\n", d.delivered.Load(), int64(d.total)*int64(len(d.socks)), complete)
	fmt.Fprintf(out, "latency p50 %s p99 %s max %s\n", percentile(all, 50).Round(10*time.Microsecond),
		percentile(all, 99).Round(10*time.Microsecond), percentile(all, 100).Round(10*time.Microsecond))
	if len(arrivals) > 0 {
		// The kernel's receive time leaves out the receivers' own wait for
		// the CPU (they share the machine with the sender).
		fmt.Fprintf(out, "latency to the receivers' sockets (kernel receive time, %d samples) p50 %s p99 %s max %s\n", len(arrivals),
			percentile(arrivals, 50).Round(10*time.Microsecond), percentile(arrivals, 99).Round(10*time.Microsecond),
			percentile(arrivals, 100).Round(10*time.Microsecond))
		d.reportSpread(out)
	}
}

// reportSpread prints, per message, when its first and its last socket got
// it (kernel receive time, over the sockets that got every message): the
// first is what happened before the writes began, the rest is the fan-out.
func (d *deliveries) reportSpread(out io.Writer) {
	first := make([]time.Duration, d.total)
	last := make([]time.Duration, d.total)
	n := 0
	for _, s := range d.socks {
		if len(s.arrivals) != d.total {
			continue
		}
		for k, a := range s.arrivals {
			if n == 0 || a < first[k] {
				first[k] = a
			}
			last[k] = max(last[k], a)
		}
		n++
	}
	if n == 0 {
		return
	}
	if d.perMessage != "" {
		var b strings.Builder
		b.WriteString("message,first_us,last_us\n")
		for k := range first {
			fmt.Fprintf(&b, "%d,%d,%d\n", k, first[k].Microseconds(), last[k].Microseconds())
		}
		if err := os.WriteFile(d.perMessage, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintf(out, "per-message file: %v\n", err)
		}
	}
	sortDurations(first)
	sortDurations(last)
	r := func(ds []time.Duration, p float64) time.Duration {
		return percentile(ds, p).Round(10 * time.Microsecond)
	}
	fmt.Fprintf(out, "per message (%d): first socket p50 %s p99 %s max %s; last socket p50 %s p99 %s max %s\n", d.total,
		r(first, 50), r(first, 99), r(first, 100), r(last, 50), r(last, 99), r(last, 100))
}
