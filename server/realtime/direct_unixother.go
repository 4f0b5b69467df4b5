//go:build unix && !linux

package realtime

import "syscall"

// writeFD is one write(2) on a non-blocking socket.
func writeFD(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }
