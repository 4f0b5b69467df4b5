//go:build race

package realtime_test

// raceEnabled shrinks the heaviest load test under the race detector, which
// makes every database round trip many times slower.
const raceEnabled = true
