package connlimit

// DefaultMaxConns derives the connection cap from the soft RLIMIT_NOFILE
// (config http.max_conns = 0): every connection is one descriptor, and the
// rest of the process needs some too (the database pool, SQLite's WAL and
// shared-memory files, provider HTTP clients, logs, the listener). The
// headroom is max(128, limit/8):
//
//	max_conns = limit - max(128, limit/8)   (at least limit/2)
//
// e.g. 256 -> 128, 1024 -> 896, 20000 -> 17500, 1048576 -> 917504.
// An unknown limit (0) gives 0: no cap.
func DefaultMaxConns(limit uint64) int {
	if limit == 0 {
		return 0
	}
	limit = min(limit, 1<<24) // RLIM_INFINITY and friends
	headroom := max(128, limit/8)
	if limit <= 2*headroom {
		return int(max(limit/2, 1))
	}
	return int(limit - headroom)
}
