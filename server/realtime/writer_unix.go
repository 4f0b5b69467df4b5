//go:build unix

package realtime

import (
	"net"
	"syscall"
)

// nonBlockingWriter returns a write to conn that never waits: it makes one
// write(2) on the socket (non-blocking, as Go keeps every socket) and
// reports how many bytes the kernel took. It returns nil when conn is not
// a plain socket (TLS, a pipe), which leaves every write to the writer
// goroutine.
func nonBlockingWriter(conn net.Conn) func([]byte) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	// One closure for the socket's life: the calls are serialised by the
	// socket writer's lock, and a closure made per call would be allocated
	// per delivery.
	var p []byte
	var n int
	var werr error
	write := func(fd uintptr) bool {
		for {
			n, werr = writeFD(fd, p)
			if werr != syscall.EINTR {
				return true // never wait for the socket
			}
		}
	}
	return func(b []byte) (int, error) {
		p, n, werr = b, 0, nil
		err := rc.Write(write)
		p = nil
		if n < 0 {
			n = 0
		}
		if err == nil {
			err = werr
		}
		return n, err
	}
}
