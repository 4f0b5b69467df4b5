package server

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/virtual-company/vc/server/connlimit"
)

// bodyReadTimeout bounds reading a request body once its headers are in
// (the headers have http.idle_timeout): a 1 MiB body at 20 KiB/s.
const bodyReadTimeout = 60 * time.Second

// cutWriteGrace is how long a response already being written when the
// shutdown cuts idle connections may still take.
const cutWriteGrace = time.Second

// guardHTTP sets the connection timeouts of the HTTP server and lets the
// shutdown tell connections that serve a request from idle or slow ones.
func (s *Server) guardHTTP() {
	srv := s.api.App().Server()
	connlimit.SetTimeouts(srv, s.cfg.HTTP.IdleTimeout, bodyReadTimeout)
	connlimit.Instrument(srv)
}

// guardListener wraps ln with the connection caps of the http section.
func (s *Server) guardListener(ln net.Listener) *connlimit.Listener {
	maxConns := s.cfg.HTTP.MaxConns
	if maxConns == 0 {
		maxConns = connlimit.DefaultMaxConns(connlimit.FileLimit())
	}
	s.logger.Info("connection limits", "max_conns", maxConns, "max_conns_per_ip", s.cfg.HTTP.MaxConnsPerIP,
		"idle_timeout", s.cfg.HTTP.IdleTimeout.String())
	return connlimit.New(ln, connlimit.Options{
		MaxConns:         maxConns,
		MaxConnsPerIP:    s.cfg.HTTP.MaxConnsPerIP,
		FirstByteTimeout: s.cfg.HTTP.IdleTimeout,
		Logger:           s.logger,
	})
}

// drainHTTP closes the listener, cuts every connection that is not serving
// a request (again and again: one still sending its request may get a new
// deadline when its header completes) and waits for the requests in
// progress. It keeps a quarter of ctx's time for the closers (the chat
// sockets' goodbyes); at that point it cuts what is left and logs it.
func (s *Server) drainHTTP(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Until(dl)/4))
		defer cancel()
	}
	done := make(chan error, 1)
	go func() { done <- s.api.App().ShutdownWithContext(ctx) }()
	s.mu.Lock()
	gl := s.listener
	s.mu.Unlock()
	if gl == nil {
		return <-done
	}
	if n := gl.CutIdle(cutWriteGrace); n > 0 {
		s.logger.Info("cut idle connections", "connections", n)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				s.logger.Warn("shutdown_timeout reached: cut requests still running", "connections", gl.CloseAll())
				return nil
			}
			return err
		case <-tick.C:
			gl.CutIdle(cutWriteGrace)
		}
	}
}
