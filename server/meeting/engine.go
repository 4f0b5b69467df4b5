package meeting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// Engine starts, runs, stops and lists meetings. It runs every meeting it
// holds the lease of in a goroutine of its own; Open starts the loop that
// takes over meetings nobody holds, Close stops them all (their leases are
// released, so a restarted vcd goes on at once).
type Engine struct {
	d      Deps
	logger *slog.Logger
	now    func() time.Time

	baseCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	runs   map[int64]*run
	local  map[int64]local // room id -> the meeting running here
}

// run is a meeting this engine is running.
type run struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// New returns an engine; call Open to start taking over meetings and
// Close on shutdown.
func New(d Deps) *Engine {
	if d.NodeID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		d.NodeID = "vcd-" + hex.EncodeToString(b[:])
	}
	if d.LeaseTTL <= 0 {
		d.LeaseTTL = 30 * time.Second
	}
	if d.PollInterval <= 0 {
		d.PollInterval = d.LeaseTTL / 3
	}
	if d.MaxFailures <= 0 {
		d.MaxFailures = 3
	}
	if d.TranscriptChars <= 0 {
		d.TranscriptChars = 48000
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Engine{d: d, logger: d.Logger.With("component", "meeting"), now: d.Now, baseCtx: ctx, stop: stop, runs: map[int64]*run{}}
}

// NodeID is the name this engine holds leases under.
func (e *Engine) NodeID() string { return e.d.NodeID }

// Open takes over the meetings nobody holds (those of a vcd that stopped or
// died) now and every PollInterval until Close.
func (e *Engine) Open() {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(e.d.PollInterval)
		defer t.Stop()
		for {
			e.takeOver()
			select {
			case <-e.baseCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// takeOver claims and runs every meeting nobody holds.
func (e *Engine) takeOver() {
	ctx := e.baseCtx
	ids, err := e.d.Store.ClaimableMeetings(ctx, e.now())
	if err != nil {
		if ctx.Err() == nil {
			e.logger.Error("look for meetings to take over", "err", err)
		}
		return
	}
	for _, id := range ids {
		if e.running(id) {
			continue
		}
		m, err := e.d.Store.ClaimMeeting(ctx, id, e.d.NodeID, e.leaseEnd(), e.now())
		if err != nil {
			if !errors.Is(err, store.ErrConflict) {
				e.logger.Error("claim meeting", "meeting_id", id, "err", err)
			}
			continue
		}
		e.logger.Info("took over meeting", "meeting_id", id, "room_id", m.RoomID, "turns", m.Turns)
		e.launch(m)
	}
}

func (e *Engine) leaseEnd() time.Time { return e.now().Add(e.d.LeaseTTL) }

func (e *Engine) running(id int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.runs[id]
	return ok
}

// launch runs a meeting this engine holds.
func (e *Engine) launch(m store.Meeting) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.release(m.ID)
		return
	}
	if _, ok := e.runs[m.ID]; ok {
		e.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancelCause(e.baseCtx)
	r := &run{cancel: cancel, done: make(chan struct{})}
	e.runs[m.ID] = r
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		defer close(r.done)
		defer func() {
			e.mu.Lock()
			delete(e.runs, m.ID)
			e.mu.Unlock()
			cancel(nil)
		}()
		e.runMeeting(ctx, m)
	}()
}

// interrupt cancels the local run of a meeting with cause and returns its
// done channel (nil when it does not run here).
func (e *Engine) interrupt(id int64, cause error) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.runs[id]
	if !ok {
		return nil
	}
	r.cancel(cause)
	return r.done
}

// release gives up the lease of a meeting (on shutdown).
func (e *Engine) release(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.d.Store.ReleaseMeeting(ctx, id, e.d.NodeID); err != nil {
		e.logger.Error("release meeting", "meeting_id", id, "err", err)
	}
}

// Close stops every meeting this engine runs (each saves its state and
// releases its lease, to go on at its next turn on the next vcd) and
// waits for them, or for ctx.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	for _, r := range e.runs {
		r.cancel(errShutdown)
	}
	e.mu.Unlock()
	e.stop()
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
