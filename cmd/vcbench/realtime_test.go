package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/servertest"
)

// TestMain runs a vcbench subcommand instead of the tests when the floor
// command starts this binary as its writer process.
func TestMain(m *testing.M) {
	if os.Getenv("VCBENCH_SUBCOMMAND") == "1" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRealtimeCommands runs fanout, persist and idle at toy sizes against a
// real daemon (in this process, so idle measures the test's own RSS).
func TestRealtimeCommands(t *testing.T) {
	d := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"fanout", "--server", d.URL, "--users", "2", "--clients", "5",
		"--rate", "50", "--duration", "200ms", "--pid", strconv.Itoa(os.Getpid())}, &out, &errOut))
	require.Contains(t, out.String(), "delivered 50 of 50 (5 clients got every message)")
	require.Contains(t, out.String(), "latency p50")
	if runtime.GOOS == "linux" {
		require.Contains(t, out.String(), "(kernel receive time, 50 samples)", "every delivery has its socket arrival time")
	}

	out.Reset()
	require.NoError(t, run(ctx, []string{"persist", "--server", d.URL, "--users", "2", "--senders", "3",
		"--duration", "200ms"}, &out, &errOut))
	require.Contains(t, out.String(), "persisted msgs/s")
	require.NotContains(t, out.String(), "acknowledged 0,")
	// Over several rooms: the rooms' seqs add up to the acks.
	out.Reset()
	require.NoError(t, run(ctx, []string{"persist", "--server", d.URL, "--users", "2", "--senders", "4", "--rooms", "2",
		"--duration", "200ms"}, &out, &errOut))
	require.Contains(t, out.String(), "(2 rooms)")
	require.NotContains(t, out.String(), "acknowledged 0,")
	require.Error(t, run(ctx, []string{"persist", "--server", d.URL, "--senders", "2", "--rooms", "3"}, &out, &errOut))

	out.Reset()
	require.NoError(t, run(ctx, []string{"idle", "--server", d.URL, "--users", "2", "--sockets", "20",
		"--settle", "10ms", "--pid", strconv.Itoa(os.Getpid())}, &out, &errOut))
	require.Contains(t, out.String(), "RSS per socket")

	if rxAvailable {
		out.Reset()
		require.NoError(t, run(ctx, []string{"floor", "--clients", "5", "--rate", "50", "--duration", "200ms"}, &out, &errOut), out.String())
		require.Contains(t, out.String(), "delivered 50 of 50 (5 clients got every message)")
		require.Contains(t, out.String(), "writer CPU")
	}

	// persist against a daemon on PostgreSQL (when the test has one).
	if dsn := os.Getenv(servertest.EnvPostgresDSN); dsn != "" {
		pg := servertest.Start(t, servertest.WithPostgres(dsn))
		out.Reset()
		require.NoError(t, run(ctx, []string{"persist", "--server", pg.URL, "--users", "2", "--senders", "3",
			"--duration", "200ms"}, &out, &errOut))
		require.Contains(t, out.String(), "stored msgs/s")
		require.NotContains(t, out.String(), "acknowledged 0,")
	}

	err := run(ctx, []string{"nope"}, &out, &errOut)
	require.Error(t, err)
	require.True(t, strings.Contains(errOut.String(), "fanout"), "usage lists the commands")
}

// TestAICommand runs the AI bench at toy sizes (vcd and the fake provider
// in this process).
func TestAICommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	require.NoError(t, run(ctx, []string{"ai", "--samples", "5", "--replies", "3", "--tokens", "20", "--watchers", "2",
		"--token-rate", "2000"}, &out, &errOut), out.String())
	require.Contains(t, out.String(), "vcd room: POST message -> ai_delta")
	if runtime.GOOS == "linux" {
		require.Contains(t, out.String(), "to the clients' sockets (kernel receive time", "the room and direct paths have socket arrival times")
	}
	require.Contains(t, out.String(), "deltas delivered 120 of 120")
	require.Contains(t, out.String(), "lost 0, reordered 0, stored message != deltas 0")
}
