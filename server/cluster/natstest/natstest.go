// Package natstest runs an in-process NATS server for tests, which the test
// can stop and start again on the same port (to test what happens when
// NATS goes away).
package natstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Server is an in-process NATS server on a fixed loopback port.
type Server struct {
	t    testing.TB
	port int
	srv  *natsserver.Server
}

// Start runs a NATS server on a free loopback port; it stops when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("natstest: find a port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &Server{t: t, port: port}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the nats:// URL clients connect to.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// Stop shuts the server down (clients see the connection drop). It is
// idempotent.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart starts the server again on the same port (after Stop).
func (s *Server) Restart() {
	s.t.Helper()
	if s.srv != nil {
		return
	}
	opts := &natsserver.Options{Host: "127.0.0.1", Port: s.port, NoLog: true, NoSigs: true, MaxPayload: 8 << 20}
	var srv *natsserver.Server
	var err error
	// The port of a server just stopped may linger a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv, err = natsserver.NewServer(opts)
		if err == nil {
			go srv.Start()
			if srv.ReadyForConnections(5 * time.Second) {
				break
			}
			srv.Shutdown()
			err = fmt.Errorf("not ready for connections")
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("natstest: start NATS on port %d: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.srv = srv
}
