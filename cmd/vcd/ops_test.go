package main

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/servertest"
)

// TestHealth_Subcommand is what the container HEALTHCHECK runs.
func TestHealth_Subcommand(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	d := servertest.Start(t)
	out, err := run(t, context.Background(), "health", "--url", d.URL+"/ready")
	require.NoError(t, err)
	require.Contains(t, out, "ready")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = run(t, context.Background(), "health", "--listen", addr)
	require.Error(t, err, "nothing listens on %s", addr)
}
