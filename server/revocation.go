package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/virtual-company/vc/server/realtime"
	"github.com/virtual-company/vc/server/service"
)

// revocationSweep is how often the daemon checks, for the users with open
// sockets, whether their tokens were revoked in the database without it
// (vcd admin users disable|reset-password|delete work on the database
// directly). Issue 12 asks for sockets to close within about a second.
const revocationSweep = time.Second

// startRevocationSweep runs auth.SweepRevoked every revocationSweep over
// the users the hub has sockets of (the hub counts chat and signaling
// sockets). The returned func stops it and waits for it.
func startRevocationSweep(auth *service.Auth, hub *realtime.Hub, logger *slog.Logger) func() {
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
			if _, err := auth.SweepRevoked(qctx, hub.UsersWithSockets()); err != nil && ctx.Err() == nil {
				logger.Warn("revocation sweep failed", "err", err)
			}
			qcancel()
		}
	}()
	return func() { cancel(); <-done }
}
