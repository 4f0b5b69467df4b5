package server

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/virtual-company/vc/server/service"
)

// revocationSweep is how often the daemon checks what changed in the
// database without it (vcd admin works on the database directly): for the
// users with open sockets, whether their tokens were revoked (users
// disable|reset-password|delete); for the rooms with open sockets, whether
// they were deleted (rooms delete, users delete). Issue 12 asks for
// sockets to close within about a second.
const revocationSweep = time.Second

// sweepSources are what the sweep asks about open sockets: the chat hub
// (users with chat or signaling sockets, rooms with chat sockets) and the
// signaling hub (rooms with a call).
type sweepSources struct {
	UsersWithSockets func() []int64
	RoomsWithSockets func() []int64
	RoomsWithCalls   func() []int64
}

// startRevocationSweep runs auth.SweepRevoked over the users with sockets
// and rooms.SweepDeleted over the rooms with sockets, every
// revocationSweep. The returned func stops it and waits for it.
func startRevocationSweep(auth *service.Auth, rooms *service.Rooms, src sweepSources, logger *slog.Logger) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(revocationSweep)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			qctx, qcancel := context.WithTimeout(ctx, revocationSweep)
			if _, err := auth.SweepRevoked(qctx, src.UsersWithSockets()); err != nil && ctx.Err() == nil {
				logger.Warn("revocation sweep failed", "err", err)
			}
			ids := append(src.RoomsWithSockets(), src.RoomsWithCalls()...)
			slices.Sort(ids)
			if n, err := rooms.SweepDeleted(qctx, slices.Compact(ids)); err != nil && ctx.Err() == nil {
				logger.Warn("room sweep failed", "err", err)
			} else if n > 0 {
				logger.Info("closed the sockets of rooms deleted in the database", "rooms", n)
			}
			qcancel()
		}
	}()
	return func() { cancel(); <-done }
}
