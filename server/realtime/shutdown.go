package realtime

import (
	"context"
	"sync"
)

// frameGate lets a shutdown refuse new client frames at once and wait for
// the ones already being handled, so that every message acknowledged to a
// socket is committed and its ack queued before the socket closes.
type frameGate struct {
	mu       sync.RWMutex
	stopped  bool
	inflight sync.WaitGroup
}

// enter admits one frame; false once the gate is stopped.
func (g *frameGate) enter() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.stopped {
		return false
	}
	g.inflight.Add(1)
	return true
}

func (g *frameGate) leave() { g.inflight.Done() }

// stop refuses every later frame; frames already admitted continue.
func (g *frameGate) stop() {
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
}

// wait waits for the admitted frames, at most until ctx ends.
func (g *frameGate) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StopPosts is the first step of a shutdown: from now on every client frame
// but ping is answered with an error event, code shutting_down, and not
// acted on. Frames already being handled (a message being committed)
// finish; Close waits for them before it closes the sockets.
func (c *Chat) StopPosts() { c.handler.frames.stop() }
