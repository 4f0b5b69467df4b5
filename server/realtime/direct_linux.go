//go:build linux

package realtime

import (
	"syscall"
	"unsafe"
)

// writeFD is one write(2) on a non-blocking socket, made as a raw system
// call: it cannot block, so the runtime's system-call bookkeeping (entering
// and leaving the syscall state, and the P hand-off the monitor makes when
// the kernel preempts the thread mid-call) is only overhead here.
func writeFD(fd uintptr, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
