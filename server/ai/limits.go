package ai

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/virtual-company/vc/server/apierr"
)

// Limits bound what AI replies may cost. Zero values pick the defaults
// (see DefaultLimits); negative values switch a limit off.
type Limits struct {
	// ConcurrentPerUser is how many replies one user's messages may have
	// streaming at once.
	ConcurrentPerUser int
	// ConcurrentPerRoom is how many replies may stream in one room at once.
	ConcurrentPerRoom int
	// PerUserPerMinute is how many replies one user's messages may start
	// in any 60 s window.
	PerUserPerMinute int
	// MaxTokens is the ceiling on a reply's max_tokens.
	MaxTokens int
	// DefaultMaxTokens is used when a role sets none.
	DefaultMaxTokens int
	// ReplyTimeout bounds one reply from request to last token.
	ReplyTimeout time.Duration
	// DailyTokenBudget is the per-user input+output tokens per UTC day
	// (0: off).
	DailyTokenBudget int64
	// HistoryTokens is the budget of room history sent as context
	// (estimated at 4 characters per token).
	HistoryTokens int
	// HistoryMessages caps how many recent messages are considered.
	HistoryMessages int
	// MaxHops is how many role-to-role replies may follow one human message,
	// counted over every branch of the chain together.
	MaxHops int
}

// DefaultLimits are the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		ConcurrentPerUser: 4, ConcurrentPerRoom: 4, PerUserPerMinute: 30,
		MaxTokens: 4096, DefaultMaxTokens: 1024, ReplyTimeout: 2 * time.Minute,
		HistoryTokens: 4000, HistoryMessages: 50, MaxHops: 3,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	pick(&l.ConcurrentPerUser, d.ConcurrentPerUser)
	pick(&l.ConcurrentPerRoom, d.ConcurrentPerRoom)
	pick(&l.PerUserPerMinute, d.PerUserPerMinute)
	pick(&l.MaxTokens, d.MaxTokens)
	pick(&l.DefaultMaxTokens, d.DefaultMaxTokens)
	pick(&l.HistoryTokens, d.HistoryTokens)
	pick(&l.HistoryMessages, d.HistoryMessages)
	pick(&l.MaxHops, d.MaxHops)
	if l.ReplyTimeout == 0 {
		l.ReplyTimeout = d.ReplyTimeout
	}
	if l.DefaultMaxTokens > l.MaxTokens && l.MaxTokens > 0 {
		l.DefaultMaxTokens = l.MaxTokens
	}
	return l
}

// LimitError says a reply was refused by a limit; Detail is for users.
type LimitError struct {
	// Kind is apierr.RateLimited or apierr.BudgetExceeded.
	Kind       *apierr.Kind
	Detail     string
	RetryAfter time.Duration
}

func (e *LimitError) Error() string { return e.Detail }

// ErrorKind implements apierr.Kinded.
func (e *LimitError) ErrorKind() *apierr.Kind { return e.Kind }

// limiter counts running replies and recent starts. Methods are safe for
// concurrent use.
type limiter struct {
	limits Limits
	now    func() time.Time
	// shared, when set, counts the replies where every node of a cluster
	// sees them (the database) instead of in this process.
	shared SharedLimits
	logger *slog.Logger

	mu      sync.Mutex
	perUser map[int64]int
	perRoom map[int64]int
	starts  map[int64][]time.Time
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	return &limiter{limits: l, now: now, perUser: map[int64]int{}, perRoom: map[int64]int{}, starts: map[int64][]time.Time{}}
}

// Refusals of SharedLimits.Acquire: which limit is reached.
const (
	RefusedPerUser   = "user"
	RefusedPerRoom   = "room"
	RefusedPerMinute = "minute"
)

// SharedLimits keeps the replies' places in the limits where every node of
// a cluster counts them, so that concurrent_per_user, concurrent_per_room
// and replies_per_minute hold cluster-wide. The server implements it over
// the database (one lease row per reply, which also tells the other nodes
// which replies a dead node owned).
type SharedLimits interface {
	// Acquire takes a place for reply streamID of userID in roomID (0: no
	// room) unless a limit (0 or less: off) is reached; refused names it
	// ("" when taken) and retryAt is when the per-minute one frees up.
	Acquire(ctx context.Context, streamID string, userID, roomID int64, perUser, perRoom, perMinute int) (refused string, retryAt time.Time, err error)
	// Done frees the place once the reply is over (it still counts for the
	// per-minute limit).
	Done(ctx context.Context, streamID string) error
	// Dropped forgets the place (the question was never stored).
	Dropped(ctx context.Context, streamID string) error
}

// sharedTimeout bounds one call to SharedLimits.
const sharedTimeout = 5 * time.Second

// slot is a reply's place in the limits.
type slot struct {
	lm         *limiter
	user, room int64
	at         time.Time
	counted    bool   // at is in lm.starts
	stream     string // its lease in lm.shared ("" when counted here)
	release1   sync.Once
}

// release frees the slot; call it exactly once a reply ends.
func (s *slot) release() {
	s.release1.Do(func() {
		lm := s.lm
		if lm.shared != nil && s.stream == "" {
			return // not counted (the shared count was unreachable)
		}
		if s.stream != "" {
			ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
			defer cancel()
			if err := lm.shared.Done(ctx, s.stream); err != nil {
				lm.logger.Warn("free a reply's shared limit place", "stream_id", s.stream, "err", err)
			}
			return
		}
		lm.mu.Lock()
		defer lm.mu.Unlock()
		if lm.perUser[s.user]--; lm.perUser[s.user] <= 0 {
			delete(lm.perUser, s.user)
		}
		if s.room != 0 {
			if lm.perRoom[s.room]--; lm.perRoom[s.room] <= 0 {
				delete(lm.perRoom, s.room)
			}
		}
	})
}

// refund takes the reply's start back out of the per-minute count (a
// reply to a message that was never stored). Call it at most once.
func (s *slot) refund() {
	if s.stream != "" {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		if err := s.lm.shared.Dropped(ctx, s.stream); err != nil {
			s.lm.logger.Warn("refund a reply's shared limit place", "stream_id", s.stream, "err", err)
		}
		return
	}
	if !s.counted {
		return
	}
	lm := s.lm
	lm.mu.Lock()
	defer lm.mu.Unlock()
	ts := lm.starts[s.user]
	if i := slices.IndexFunc(ts, s.at.Equal); i >= 0 {
		lm.starts[s.user] = slices.Delete(ts, i, i+1)
	}
	if len(lm.starts[s.user]) == 0 {
		delete(lm.starts, s.user)
	}
}

// acquire reserves a slot for reply streamID paid by userID in roomID
// (roomID 0: no room). The slot's release must be called exactly once.
func (lm *limiter) acquire(streamID string, userID, roomID int64) (*slot, error) {
	if lm.shared != nil {
		return lm.acquireShared(streamID, userID, roomID)
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	l := lm.limits
	if l.ConcurrentPerUser > 0 && lm.perUser[userID] >= l.ConcurrentPerUser {
		return nil, &LimitError{Kind: apierr.RateLimited, RetryAfter: 5 * time.Second,
			Detail: fmt.Sprintf("Too many AI replies at once for you (limit %d): wait for one to finish.", l.ConcurrentPerUser)}
	}
	if roomID != 0 && l.ConcurrentPerRoom > 0 && lm.perRoom[roomID] >= l.ConcurrentPerRoom {
		return nil, &LimitError{Kind: apierr.RateLimited, RetryAfter: 5 * time.Second,
			Detail: fmt.Sprintf("Too many AI replies at once in this room (limit %d): wait for one to finish.", l.ConcurrentPerRoom)}
	}
	now := lm.now()
	s := &slot{lm: lm, user: userID, room: roomID, at: now}
	if l.PerUserPerMinute > 0 {
		cut := now.Add(-time.Minute)
		ts := lm.starts[userID]
		i := 0
		for i < len(ts) && !ts[i].After(cut) {
			i++
		}
		ts = ts[i:]
		if len(ts) >= l.PerUserPerMinute {
			lm.starts[userID] = ts
			wait := ts[0].Add(time.Minute).Sub(now).Round(time.Second)
			return nil, &LimitError{Kind: apierr.RateLimited, RetryAfter: wait,
				Detail: fmt.Sprintf("Too many AI replies for you this minute (limit %d per minute): try again in %s.", l.PerUserPerMinute, wait)}
		}
		lm.starts[userID] = append(ts, now)
		s.counted = true
	}
	lm.perUser[userID]++
	if roomID != 0 {
		lm.perRoom[roomID]++
	}
	return s, nil
}

// acquireShared is acquire on a cluster node. When the shared count
// cannot be reached (the database), the reply goes ahead: it could not be
// stored either, and a refusal would blame the wrong thing.
func (lm *limiter) acquireShared(streamID string, userID, roomID int64) (*slot, error) {
	l := lm.limits
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	now := lm.now()
	refused, retryAt, err := lm.shared.Acquire(ctx, streamID, userID, roomID, l.ConcurrentPerUser, l.ConcurrentPerRoom, l.PerUserPerMinute)
	if err != nil {
		lm.logger.Warn("shared AI reply limits unreachable; not counting this reply", "stream_id", streamID, "err", err)
		return &slot{lm: lm, user: userID, room: roomID, at: now}, nil
	}
	switch refused {
	case RefusedPerUser:
		return nil, &LimitError{Kind: apierr.RateLimited, RetryAfter: 5 * time.Second,
			Detail: fmt.Sprintf("Too many AI replies at once for you (limit %d): wait for one to finish.", l.ConcurrentPerUser)}
	case RefusedPerRoom:
		return nil, &LimitError{Kind: apierr.RateLimited, RetryAfter: 5 * time.Second,
			Detail: fmt.Sprintf("Too many AI replies at once in this room (limit %d): wait for one to finish.", l.ConcurrentPerRoom)}
	case RefusedPerMinute:
		wait := max(retryAt.Sub(now).Round(time.Second), time.Second)
		return nil, &LimitError{Kind: apierr.RateLimited, RetryAfter: wait,
			Detail: fmt.Sprintf("Too many AI replies for you this minute (limit %d per minute): try again in %s.", l.PerUserPerMinute, wait)}
	}
	return &slot{lm: lm, user: userID, room: roomID, at: now, stream: streamID}, nil
}

// clampTokens applies the default and the ceiling to a role's max_tokens.
func (l Limits) clampTokens(role *int) int {
	n := l.DefaultMaxTokens
	if role != nil && *role > 0 {
		n = *role
	}
	if l.MaxTokens > 0 && n > l.MaxTokens {
		n = l.MaxTokens
	}
	return n
}
