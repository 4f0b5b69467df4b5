package service

import (
	"context"
	"log/slog"
	"time"
)

// SharedWindows counts hits in fixed windows in a place every node of a
// cluster shares (the database), so that rate limits hold cluster-wide.
// gormstore.Store implements it.
type SharedWindows interface {
	// PeekRateWindow returns the current window of key (zero: none).
	PeekRateWindow(ctx context.Context, scope, key string) (start time.Time, hits int, err error)
	// HitRateWindow counts one hit and returns the window after it.
	HitRateWindow(ctx context.Context, scope, key string, window time.Duration, now time.Time) (start time.Time, hits int, err error)
}

// sharedTimeout bounds one shared-window query: a limit must not hold a
// login up for long when the database is slow (it then fails open; the
// login's own queries fail anyway when the database is down).
const sharedTimeout = 2 * time.Second

// SharedWindow is a fixed-window limit counted in SharedWindows.
type SharedWindow struct {
	Windows SharedWindows
	Scope   string
	Limit   int
	Window  time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// Blocked says how long key must wait (0: it may go), without a hit.
func (w *SharedWindow) Blocked(key string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	start, hits, err := w.Windows.PeekRateWindow(ctx, w.Scope, key)
	if err != nil {
		w.Logger.Warn("shared rate limit unreadable; letting the request through", "scope", w.Scope, "err", err)
		return 0
	}
	now := w.Now()
	if hits < w.Limit || !now.Before(start.Add(w.Window)) {
		return 0
	}
	return start.Add(w.Window).Sub(now)
}

// Hit counts one hit of key; it reports how long to wait when the hit is
// over the limit.
func (w *SharedWindow) Hit(key string) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	now := w.Now()
	start, hits, err := w.Windows.HitRateWindow(ctx, w.Scope, key, w.Window, now)
	if err != nil {
		w.Logger.Warn("shared rate limit not counted", "scope", w.Scope, "err", err)
		return 0, true
	}
	if hits > w.Limit {
		return start.Add(w.Window).Sub(now), false
	}
	return 0, true
}
