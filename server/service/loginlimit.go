package service

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// failedLogins counts failed logins per account in fixed windows, so that
// guesses spread over many IPs still run out. Unknown usernames are counted
// the same way as real ones, so the limit does not tell them apart.
type failedLogins struct {
	// shared counts in the database instead (cluster nodes).
	shared *SharedWindow

	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	byKey  map[string]*failWindow
}

type failWindow struct {
	start time.Time
	count int
}

// maxFailKeys bounds the table; past it, expired windows are dropped.
const maxFailKeys = 100_000

func newFailedLogins(maxFailures int, window time.Duration, now func() time.Time) *failedLogins {
	if maxFailures <= 0 || window <= 0 {
		return nil
	}
	return &failedLogins{max: maxFailures, window: window, now: now, byKey: make(map[string]*failWindow)}
}

// accountKey is the account a login names: the user id when it exists,
// else the lower-cased name (so username and email of one account share
// one budget).
func accountKey(userID int64, login string) string {
	if userID > 0 {
		return "id:" + strconv.FormatInt(userID, 10)
	}
	return "name:" + strings.ToLower(strings.TrimSpace(login))
}

// blocked says how long key must wait (0: it may try).
func (f *failedLogins) blocked(key string) time.Duration {
	if f == nil {
		return 0
	}
	if f.shared != nil {
		return f.shared.Blocked(key)
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.byKey[key]
	if w == nil || now.Sub(w.start) >= f.window || w.count < f.max {
		return 0
	}
	return w.start.Add(f.window).Sub(now)
}

// failed counts one failed login of key.
func (f *failedLogins) failed(key string) {
	if f == nil {
		return
	}
	if f.shared != nil {
		f.shared.Hit(key)
		return
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.byKey) >= maxFailKeys {
		for k, w := range f.byKey {
			if now.Sub(w.start) >= f.window {
				delete(f.byKey, k)
			}
		}
	}
	w := f.byKey[key]
	if w == nil || now.Sub(w.start) >= f.window {
		w = &failWindow{start: now}
		f.byKey[key] = w
	}
	w.count++
}
