//go:build linux

package realtime

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

// BenchmarkSocketSend compares, in CPU time of the sending thread, one
// write(2) with one send(2) (what writeFD makes) of a 200-byte frame to
// loopback sockets being read: go test -run '^$' -bench SocketSend ./server/realtime
func BenchmarkSocketSend(b *testing.B) {
	frame := make([]byte, 200)
	write := func(fd uintptr, p []byte) (int, error) {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
	for _, bc := range []struct {
		name string
		send func(uintptr, []byte) (int, error)
	}{{"write", write}, {"send", writeFD}} {
		b.Run(bc.name, func(b *testing.B) {
			fds := loopbackSenders(b, 500)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := threadCPU()
			b.ResetTimer()
			for i := range b.N {
				if _, err := bc.send(fds[i%len(fds)], frame); err != nil && err != syscall.EAGAIN {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// loopbackSenders opens n loopback connections whose far ends are read
// until the benchmark ends, and returns the near ends' descriptors.
func loopbackSenders(b *testing.B, n int) []uintptr {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	fds := make([]uintptr, 0, n)
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close(); _ = s.Close() })
		go func() {
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		rc, err := s.(*net.TCPConn).SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
		_ = rc.Control(func(fd uintptr) { fds = append(fds, fd) })
	}
	return fds
}

// threadCPU is the calling thread's CPU time in ns.
func threadCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
