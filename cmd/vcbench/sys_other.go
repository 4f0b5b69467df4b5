//go:build !unix

package main

import (
	"errors"
	"time"
)

// cpuTime is 0 where getrusage(2) does not exist (Windows): CPU figures
// then read 0.
func cpuTime() time.Duration { return 0 }

// threadCPU is 0 where getrusage(2) does not exist.
func threadCPU() time.Duration { return 0 }

// rawWrite does nothing where descriptors are not ints (Windows): the
// caller then writes through the connection.
func rawWrite(fd uintptr, p []byte) (int, error) { return 0, errors.ErrUnsupported }

// raiseNoFile does nothing where there is no RLIMIT_NOFILE (Windows).
func raiseNoFile() (uint64, error) { return 0, nil }
