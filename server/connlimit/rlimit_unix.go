//go:build unix

package connlimit

import "syscall"

// RaiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit and
// returns both as they were before and the soft limit after. The Go
// runtime already does this at start on most systems; vcd does it again so
// that the limits it runs with are known and logged.
func RaiseFileLimit() (softBefore, soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, 0, err
	}
	softBefore = uint64(lim.Cur)
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return softBefore, softBefore, uint64(lim.Max), err
		}
	}
	return softBefore, uint64(lim.Cur), uint64(lim.Max), nil
}

// FileLimit returns the soft RLIMIT_NOFILE (0 when unknown).
func FileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}
