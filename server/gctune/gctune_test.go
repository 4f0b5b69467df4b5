package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	require.Equal(t, 1600, percentFor(0, 0, 64*mib), "a small heap: the runtime's minimum goal, 4 MiB x 16, is the floor")
	require.Equal(t, 1600, percentFor(1*mib, 2*mib, 64*mib), "1 + 2 x 16 < 64: the minimum goal decides")
	require.Equal(t, 1500, percentFor(4*mib, 4*mib, 64*mib), "4 + 4 x 15 = 64 MiB")
	require.Equal(t, 750, percentFor(4*mib, 8*mib, 64*mib), "stacks and globals count towards the goal")
	require.Equal(t, basePercent, percentFor(32*mib, 32*mib, 64*mib), "twice the live heap reaches the floor")
	require.Equal(t, basePercent, percentFor(500*mib, 500*mib, 64*mib))
	require.Equal(t, 150, percentFor(40*mib, 40*mib, 100*mib))
}

// TestStart_FewerCollections: with a floor, allocating 256 MiB of garbage
// with a small live heap takes a handful of collections instead of dozens,
// the floor follows each collection, and Stop gives GOGC back.
func TestStart_FewerCollections(t *testing.T) {
	t.Setenv("GOGC", "") // an explicit GOGC would disable the tuner
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	churn := func() uint64 {
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
		metrics.Read(s)
		before := s[0].Value.Uint64()
		var keep [][]byte
		for i := range 256 * 16 { // 256 MiB in 64 KiB pieces, 1 MiB alive
			b := make([]byte, 64<<10)
			b[0] = byte(i)
			keep = append(keep, b)
			if len(keep) > 16 {
				keep = keep[1:]
			}
		}
		runtime.KeepAlive(keep)
		metrics.Read(s)
		return s[0].Value.Uint64() - before
	}
	plain := churn()
	// The live heap is the one measured by the last collection; one that
	// ran while churn allocated counts what was allocated meanwhile as
	// live (a lot on a busy machine), so start from a full collection.
	runtime.GC()
	tuner := Start(128 << 20)
	require.NotNil(t, tuner)
	require.Greater(t, tuner.Percent(), basePercent)
	tuned := churn()
	t.Logf("collections for 256 MiB of garbage: %d with GOGC=100, %d with a 128 MiB floor", plain, tuned)
	require.Less(t, tuned*4, plain, "the floor should cut collections at least fourfold")
	require.GreaterOrEqual(t, tuned, uint64(1), "the goal is the floor, not more: 256 MiB of garbage needs collecting")

	tuner.Stop()
	require.Equal(t, basePercent, debug.SetGCPercent(basePercent), "Stop restores the default")
	runtime.GC() // a stopped tuner does not set GOGC again
	require.Equal(t, basePercent, debug.SetGCPercent(basePercent))
}

func TestStart_ExplicitGOGCWins(t *testing.T) {
	t.Setenv("GOGC", "200")
	require.Nil(t, Start(64<<20))
	require.Nil(t, Start(0))
	var nilTuner *Tuner
	nilTuner.Stop() // safe
}
