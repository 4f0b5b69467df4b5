//go:build race

package client_test

// raceEnabled shrinks the heaviest stream test under the race detector.
const raceEnabled = true
