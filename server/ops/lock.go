package ops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFileName is the file in the data directory that a running daemon
// holds an exclusive lock on.
const LockFileName = "vcd.lock"

// ErrLocked means another process (normally a running vcd) holds the data
// directory.
var ErrLocked = errors.New("data directory is in use")

// DataDirLock is an exclusive advisory lock on a data directory. The
// operating system releases it when the process dies, so a crash never
// leaves a stale lock behind (unlike a PID file alone).
type DataDirLock struct {
	f *os.File
}

// LockDataDir takes the exclusive lock of dir (creating dir when missing)
// without waiting. When another process holds it, the error wraps ErrLocked
// and names the holder's pid when it is known.
func LockDataDir(dir string) (*DataDirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := lockFile(f); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" by process %d", pid)
			}
		}
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is locked%s (is vcd running?)", ErrLocked, dir, holder)
	}
	// The pid is informational: the lock itself is what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DataDirLock{f: f}, nil
}

// Release gives the lock up. It is safe to call on nil and more than once.
func (l *DataDirLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	_ = unlockFile(f)
	return f.Close()
}
