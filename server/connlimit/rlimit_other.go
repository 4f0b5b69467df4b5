//go:build !unix

package connlimit

// RaiseFileLimit does nothing where there is no RLIMIT_NOFILE.
func RaiseFileLimit() (softBefore, soft, hard uint64, err error) { return 0, 0, 0, nil }

// FileLimit returns 0: unknown.
func FileLimit() uint64 { return 0 }
