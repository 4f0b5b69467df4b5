//go:build unix && !(linux && (amd64 || arm64 || arm || riscv64 || ppc64 || ppc64le || s390x || loong64 || mips || mipsle || mips64 || mips64le))

package realtime

import "syscall"

// writeFD is one write(2) on a non-blocking socket (linux/386 has no sendto
// system call of its own: it goes through socketcall).
func writeFD(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }
