//go:build !unix

package realtime

import "net"

// nonBlockingWriter returns nil off Unix: every write goes through the
// socket writer's goroutine (writer.go).
func nonBlockingWriter(net.Conn) func([]byte) (int, error) { return nil }
