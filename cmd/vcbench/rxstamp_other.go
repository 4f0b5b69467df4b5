//go:build !linux

package main

import (
	"net"
	"time"
)

// stampReader records kernel receive times where the platform has them
// (Linux); elsewhere there is none and receivers use their own clock.
type stampReader struct {
	net.Conn
	last time.Time
}

// newStampReader returns nil: no kernel receive times here.
func newStampReader(net.Conn) *stampReader { return nil }
