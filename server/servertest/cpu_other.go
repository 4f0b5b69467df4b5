//go:build !unix

package servertest

import "time"

// ProcessCPU is 0 where getrusage(2) does not exist (Windows): the
// benchmarks' cpu-ns/op figures then read 0.
func ProcessCPU() time.Duration { return 0 }
