package main_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

// TestExport_Room exports a room through the built vc binary in both
// formats; a non-member gets the room-not-found answer.
func TestExport_Room(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	alice := newCLI(t, d.URL)
	alice.register("alice")
	alice.ok("", "rooms", "create", "general")
	alice.ok("", "send", "general", "first")
	alice.ok("", "send", "general", "second")

	lines := strings.Split(strings.TrimSpace(alice.ok("", "export", "general")), "\n")
	require.Len(t, lines, 2)
	var m api.ExportedMessage
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	require.Equal(t, "first", m.Content)
	require.Equal(t, int64(1), m.Seq)
	require.Equal(t, "alice", m.User)

	md := alice.ok("", "export", "general", "--format", "markdown")
	require.Contains(t, md, "# general")
	require.Contains(t, md, "second")

	r := alice.run("", "export", "general", "--format", "csv")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "jsonl or markdown")

	bob := newCLI(t, d.URL)
	bob.register("bob")
	r = bob.run("", "export", "general")
	require.NotEqual(t, 0, r.code, r.String())
}
