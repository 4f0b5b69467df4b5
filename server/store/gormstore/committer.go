package gormstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// committer groups concurrent message inserts into shared transactions
// (group commit): one goroutine takes every message queued while the last
// group was being written and writes them together with its groupWriter.
// Only that goroutine uses the writer and group.
type committer struct {
	w      groupWriter
	cache  *readCache // told about every message committed; may be nil
	mu     sync.RWMutex
	closed bool
	in     chan *pendingMessage
	done   chan struct{}

	group groupState
	// timer bounds the waits for more messages (stopped between them).
	timer *time.Timer
}

// errStoreClosed answers posts after Close.
var errStoreClosed = fmt.Errorf("store closed: %w", store.ErrUnavailable)

// maxGroup bounds how many messages share one transaction.
const maxGroup = 256

func newCommitter(w groupWriter, cache *readCache) *committer {
	c := &committer{w: w, cache: cache, in: make(chan *pendingMessage, maxGroup), done: make(chan struct{}),
		group: newGroupState(), timer: time.NewTimer(time.Hour)}
	c.timer.Stop()
	go c.run()
	return c
}

// submit queues p and waits for its outcome. Once queued, a message is
// stored even if ctx ends, so that the caller never reports a stored
// message as failed.
func (c *committer) submit(ctx context.Context, p *pendingMessage) error {
	p.done = make(chan struct{})
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errStoreClosed
	}
	select {
	case c.in <- p:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	<-p.done
	return nil
}

// groupTimeout bounds one group's write, so that a database that stops
// answering (a network partition, not a refused connection) fails the
// posts waiting on it instead of holding them forever.
const groupTimeout = 30 * time.Second

// store writes one group; the committer's goroutine calls it.
func (c *committer) store(msgs []*pendingMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	return c.w.write(ctx, msgs, &c.group)
}

func (c *committer) run() {
	defer close(c.done)
	defer c.w.close()
	batch := make([]*pendingMessage, 0, maxGroup)
	prev, took := 0, time.Duration(0) // the last group's size and write time
	for p := range c.in {
		batch = append(batch[:0], p)
		closed := c.drain(&batch)
		switch {
		case closed || prev < minGather:
		case took >= slowCommit:
			// A commit costs the database far more than a short wait
			// (PostgreSQL: a round trip, a WAL flush and a plan per
			// statement, per group): while posts keep coming, gather
			// them, so that a busy room commits in fewer, larger groups.
			// Stopping at the first pause lets a lone burst go at once.
			c.gather(&batch, min(2*prev, maxGroup), min(took, maxGatherWait))
		case len(batch) < prev/2:
			// A busy moment's senders are about to post again: the last
			// group's, just answered. Without this wait the few who
			// posted first would take a whole commit for themselves, and
			// groups would alternate between large and tiny. The wait is
			// bounded by a fraction of a commit, so it costs a lone
			// sender nothing and a busy room little.
			c.drainUntil(&batch, prev, min(took/4, maxGatherWait))
		}
		start := time.Now()
		c.cache.lock()
		if err := c.store(batch); err != nil {
			// One bad message must not fail the others: retry alone.
			for i, p := range batch {
				if err := c.store(batch[i : i+1]); err != nil {
					p.created, p.err = false, err
				}
			}
		}
		c.cache.committed(batch)
		c.cache.unlock()
		prev, took = len(batch), time.Since(start)
		for _, p := range batch {
			close(p.done)
		}
	}
}

// A group waits for more messages only after a group of at least
// minGather, and at most maxGatherWait. After a commit of slowCommit or
// more it gathers while posts come less than gatherGap apart.
//
// Measured with `vcbench persist --senders 50` (docs/performance.md): on
// PostgreSQL, one vcd went from about 12 500 to 14 900-15 800 persisted
// messages/s and three cluster nodes from 6 500 to 7 800-8 900, in groups
// of 50 instead of 27 and of 15 instead of 9; SQLite, whose commits take
// about 150 us, lost 4% with it and keeps the plain wait.
const (
	minGather     = 8
	maxGatherWait = 4 * time.Millisecond
	slowCommit    = time.Millisecond
	gatherGap     = 200 * time.Microsecond
)

// drain adds the messages already queued to batch, up to maxGroup. It
// reports whether the queue is closed.
func (c *committer) drain(batch *[]*pendingMessage) bool {
	for len(*batch) < maxGroup {
		select {
		case p, ok := <-c.in:
			if !ok {
				return true
			}
			*batch = append(*batch, p)
		default:
			return false
		}
	}
	return false
}

// drainUntil adds messages to batch until it holds want (or maxGroup), the
// queue closes, or wait has passed.
func (c *committer) drainUntil(batch *[]*pendingMessage, want int, wait time.Duration) {
	c.timer.Reset(wait)
	defer c.timer.Stop()
	for len(*batch) < min(want, maxGroup) {
		select {
		case p, ok := <-c.in:
			if !ok {
				return
			}
			*batch = append(*batch, p)
		case <-c.timer.C:
			return
		}
	}
}

// gather adds messages to batch while they come less than gatherGap apart,
// until it holds want, the queue closes, or wait has passed.
func (c *committer) gather(batch *[]*pendingMessage, want int, wait time.Duration) {
	deadline := time.Now().Add(wait)
	defer c.timer.Stop()
	for len(*batch) < want {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		c.timer.Reset(min(gatherGap, left))
		select {
		case p, ok := <-c.in:
			if !ok {
				return
			}
			*batch = append(*batch, p)
		case <-c.timer.C:
			return
		}
	}
}

// close stops accepting messages, stores those queued, and returns when the
// committer has finished.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.in)
	}
	c.mu.Unlock()
	<-c.done
}
