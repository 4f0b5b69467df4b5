package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, ctx context.Context, args ...string) (string, error) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// hermeticEnv hides the caller's VCD_* variables from the test (a
// VCD_DATABASE_URL in the shell would send `vcd migrate` to that database);
// they are back when the test ends.
func hermeticEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "VCD_") {
			t.Setenv(k, "")
			require.NoError(t, os.Unsetenv(k))
		}
	}
}

func TestVersionAndMigrate(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	out, err := run(t, context.Background(), "version")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "vcd "), out)

	dir := t.TempDir()
	out, err = run(t, context.Background(), "migrate", "--data-dir", dir)
	require.NoError(t, err)
	require.Contains(t, out, "database schema at version")
	require.FileExists(t, filepath.Join(dir, "vcd.db"))
}

// TestServeAndStop runs the daemon as `vcd` does and stops it the way a
// SIGTERM does (the context ends): it must answer, then exit cleanly.
func TestServeAndStop(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := run(t, ctx, "--listen", addr, "--data-dir", t.TempDir(), "--log-format", "json", "--log-level", "error")
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode)
			break
		}
		require.True(t, time.Now().Before(deadline), "vcd did not answer: %v", err)
		select {
		case err := <-done:
			t.Fatalf("vcd exited early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("vcd did not stop")
	}
}
