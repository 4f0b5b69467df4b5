//go:build unix

package main

import (
	"fmt"
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU is the CPU time of the calling OS thread (Linux's
// RUSAGE_THREAD; elsewhere getrusage refuses it and this is 0).
func threadCPU() time.Duration {
	const rusageThread = 1
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawWrite is one write(2) on a socket's descriptor.
func rawWrite(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

// raiseNoFile lifts the soft open-file limit to the hard limit.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get open-file limit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("raise open-file limit: %w", err)
	}
	return lim.Cur, nil
}
