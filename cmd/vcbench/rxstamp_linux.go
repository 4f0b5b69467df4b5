package main

import (
	"encoding/binary"
	"io"
	"net"
	"syscall"
	"time"
)

// stampReader reads a TCP socket with recvmsg and SO_TIMESTAMPNS, so that
// the fan-out receivers know when vcd's bytes reached their socket, apart
// from when their goroutine got to read them: on a loaded machine a
// thousand receivers woken at once queue behind each other for the CPU,
// and that wait is the load generator's, not vcd's.
type stampReader struct {
	rc  syscall.RawConn
	oob []byte
	// last is the kernel receive time of the newest data returned by Read
	// (zero when the kernel gave none).
	last time.Time
}

// newStampReader returns a reader for conn that records kernel receive
// times, or nil when conn cannot have them.
func newStampReader(conn net.Conn) *stampReader {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil
	}
	return &stampReader{rc: rc, oob: make([]byte, syscall.CmsgSpace(16))}
}

func (r *stampReader) Read(p []byte) (int, error) {
	var n, oobn int
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, r.oob, 0)
		return rerr != syscall.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	r.last = time.Time{}
	if msgs, perr := syscall.ParseSocketControlMessage(r.oob[:oobn]); perr == nil {
		for _, m := range msgs {
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) == 16 {
				// struct timespec of a 64-bit kernel: seconds, nanoseconds.
				sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
				nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
				r.last = time.Unix(sec, nsec)
			}
		}
	}
	return n, nil
}
