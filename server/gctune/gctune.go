// Package gctune gives the Go garbage collector a heap floor: below it the
// collector does not run, above it GOGC=100 applies as usual.
//
// Go's collector sizes its next goal from the live heap (twice it with the
// default GOGC, at least 4 MiB). A daemon like vcd keeps little alive while
// it serves requests (a few MiB) and allocates fast (request bodies, JSON,
// provider streams), so it collected about 30 times a second under a steady
// stream of AI replies, and the collections' pauses and background work were
// the slowest first tokens. With a floor the goal is never below it: a few
// collections a second, for at most the floor in extra memory while the
// heap is small, and nothing changes once the live heap is bigger than half
// the floor.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// basePercent is GOGC's default, used above the floor.
const basePercent = 100

// Tuner keeps the collector's goal at or above its floor.
type Tuner struct {
	floor   uint64
	mu      sync.Mutex
	stop    bool
	percent int // the GOGC value set last
	sample  []metrics.Sample
}

// Start makes the floor (bytes) the smallest heap goal of this process and
// returns the Tuner (Stop restores GOGC). It does nothing and returns nil when
// floor is 0 or when the operator set GOGC in the environment: an explicit
// GOGC wins.
func Start(floor uint64) *Tuner {
	if floor == 0 || os.Getenv("GOGC") != "" {
		return nil
	}
	t := &Tuner{floor: floor, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"},
	}}
	t.tune()
	t.arm()
	return t
}

// Stop gives the collector back its default.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stop = true
	debug.SetGCPercent(basePercent)
}

// Percent reports the GOGC value the tuner set last.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// sentinel is garbage whose finalizer runs after each collection. It holds
// a pointer so that it is never one of the runtime's combined tiny objects.
type sentinel struct{ t *Tuner }

// arm leaves a sentinel behind for the next collection.
func (t *Tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		if s.t.tune() {
			s.t.arm()
		}
	})
}

// tune sets GOGC so that the next goal is max(floor, 2 x live heap). It
// reports false once the tuner is stopped.
func (t *Tuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop {
		return false
	}
	metrics.Read(t.sample)
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	t.percent = percentFor(v[0], v[0]+v[1]+v[2], t.floor)
	debug.SetGCPercent(t.percent)
	return true
}

// percentFor is the GOGC that puts the runtime's next goal at the floor.
// The goal is the larger of live heap plus GOGC percent of everything the
// collector scans (live heap, stacks, globals) and 4 MiB times GOGC/100, so
// GOGC is the smaller of the two that reach the floor, and never less than
// the default.
func percentFor(live, scanned, floor uint64) int {
	const heapMinimum = 4 << 20 // the runtime's smallest goal at GOGC=100
	scanned = max(scanned, live, 64<<10)
	if live >= floor {
		return basePercent
	}
	p := min((floor-live)*100/scanned, floor*100/heapMinimum, 1<<20)
	return int(max(p, basePercent))
}
