package gormstore

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// idleCommitter is a committer without its goroutine, for driving its
// gathering by hand.
func idleCommitter() *committer {
	c := &committer{in: make(chan *pendingMessage, maxGroup), timer: time.NewTimer(time.Hour)}
	c.timer.Stop()
	return c
}

// gatherDone runs gather in a goroutine and fails the test if it has not
// returned within 10 s (its wait is an hour: only its other stops count).
func gatherDone(t *testing.T, c *committer, batch *[]*pendingMessage, want int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.gather(batch, want, time.Hour)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("gather waited on")
	}
}

func TestCommitter_GatherStops(t *testing.T) {
	t.Run("at the size it wants", func(t *testing.T) {
		c := idleCommitter()
		for range 5 {
			c.in <- &pendingMessage{}
		}
		batch := []*pendingMessage{{}}
		gatherDone(t, c, &batch, 4)
		require.Len(t, batch, 4)
		require.Len(t, c.in, 2, "what it does not want stays queued")
	})
	t.Run("at the first pause", func(t *testing.T) {
		c := idleCommitter()
		c.in <- &pendingMessage{}
		batch := []*pendingMessage{{}}
		gatherDone(t, c, &batch, 100)
		require.Len(t, batch, 2)
	})
	t.Run("when the queue closes", func(t *testing.T) {
		c := idleCommitter()
		c.in <- &pendingMessage{}
		close(c.in)
		batch := []*pendingMessage{{}}
		gatherDone(t, c, &batch, 100)
		require.Len(t, batch, 2)
	})
	t.Run("at the end of its wait", func(t *testing.T) {
		c := idleCommitter()
		batch := []*pendingMessage{{}}
		stop := make(chan struct{})
		defer close(stop)
		go func() { // posts that never pause
			for {
				select {
				case c.in <- &pendingMessage{}:
				case <-stop:
					return
				}
			}
		}()
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.gather(&batch, math.MaxInt, 20*time.Millisecond)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("gather went on past its wait")
		}
		require.Greater(t, len(batch), 1)
	})
}
