package gormstore

import (
	"context"
	"sync"
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
}

// maxGroup bounds how many messages share one transaction.
const maxGroup = 256

func newCommitter(w groupWriter, cache *readCache) *committer {
	c := &committer{w: w, cache: cache, in: make(chan *pendingMessage, maxGroup), done: make(chan struct{}),
		group: newGroupState()}
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

// store writes one group; the committer's goroutine calls it.
func (c *committer) store(msgs []*pendingMessage) error {
	return c.w.write(context.Background(), msgs, &c.group)
}

func (c *committer) run() {
	defer close(c.done)
	defer c.w.close()
	batch := make([]*pendingMessage, 0, maxGroup)
	for p := range c.in {
		batch = append(batch[:0], p)
	drain:
		for len(batch) < maxGroup {
			select {
			case p, ok := <-c.in:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
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
		for _, p := range batch {
			close(p.done)
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
