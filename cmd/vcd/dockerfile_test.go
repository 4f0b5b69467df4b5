package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/servertest"
)

// instruction is one parsed Dockerfile line: its keyword (upper case),
// flags (--from=build) and arguments.
type instruction struct {
	cmd   string
	flags []string
	args  []string
}

// stages parses a Dockerfile with BuildKit's parser and splits it into
// stages (each starting at its FROM).
func stages(t *testing.T, path string) [][]instruction {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	res, err := parser.Parse(f)
	require.NoError(t, err, path)
	require.Empty(t, res.Warnings, path)
	var out [][]instruction
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToUpper(n.Value), flags: n.Flags}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		require.NotEmpty(t, out, "%s: %s before the first FROM", path, in.cmd)
		out[len(out)-1] = append(out[len(out)-1], in)
	}
	return out
}

// last returns the stage's last instruction cmd (ok false: none).
func last(stage []instruction, cmd string) (instruction, bool) {
	for i := len(stage) - 1; i >= 0; i-- {
		if stage[i].cmd == cmd {
			return stage[i], true
		}
	}
	return instruction{}, false
}

// checkRuntime checks the final stage of an image of vcd: a non-root
// user, the /data volume, and a HEALTHCHECK that runs `vcd health`, which
// asks the daemon's /ready (run here against a real daemon).
func checkRuntime(t *testing.T, path string, final []instruction) {
	t.Helper()
	user, ok := last(final, "USER")
	require.True(t, ok, "%s: the final stage sets no USER (it would run as root)", path)
	name, _, _ := strings.Cut(user.args[0], ":")
	require.NotContains(t, []string{"root", "0"}, name, "%s: USER %s is root", path, user.args[0])

	vol, ok := last(final, "VOLUME")
	require.True(t, ok, "%s: no VOLUME", path)
	require.Contains(t, vol.args, "/data", path)

	env := map[string]string{}
	for _, in := range final {
		if in.cmd == "ENV" {
			for i := 0; i+1 < len(in.args); i += 2 {
				env[in.args[i]] = in.args[i+1]
			}
		}
	}
	require.Equal(t, "/data", env["VCD_DATA_DIR"], "%s: the data dir is not the volume", path)

	hc, ok := last(final, "HEALTHCHECK")
	require.True(t, ok, "%s: no HEALTHCHECK", path)
	require.GreaterOrEqual(t, len(hc.args), 3, "%s: HEALTHCHECK %v", path, hc.args)
	require.Equal(t, "CMD", hc.args[0], path)
	entry, ok := last(final, "ENTRYPOINT")
	require.True(t, ok, path)
	require.Equal(t, entry.args[0], hc.args[1], "%s: the health check does not run vcd", path)
	require.Equal(t, []string{"health"}, hc.args[2:], path)
	// vcd health asks GET /ready on the listen address of the image...
	u, err := url.Parse(ops.ReadyURL(env["VCD_LISTEN"]))
	require.NoError(t, err)
	require.Equal(t, "/ready", u.Path, path)
	// ...and passes against a real daemon listening there.
	d := servertest.Start(t)
	hermeticEnv(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("VCD_LISTEN", d.Addr)
	out, err := run(t, context.Background(), hc.args[2:]...)
	require.NoError(t, err, "%s: the health check fails on a ready daemon", path)
	require.Contains(t, out, "ready")
}

// TestDockerfile checks ./Dockerfile without a container engine: a
// multi-stage build of a static vcd (CGO_ENABLED=0) copied into the final
// stage, which runs as a non-root user with a /data volume and a
// HEALTHCHECK against /ready.
func TestDockerfile(t *testing.T) {
	ss := stages(t, "../../Dockerfile")
	require.GreaterOrEqual(t, len(ss), 2, "Dockerfile is not multi-stage")
	build, final := ss[0], ss[len(ss)-1]
	require.Len(t, build[0].args, 3, "the build stage has no name")
	stageName := build[0].args[2]

	static := false
	for _, in := range build {
		if in.cmd == "ENV" && strings.Contains(strings.Join(in.args, "="), "CGO_ENABLED=0") {
			static = true
		}
		if in.cmd == "RUN" && strings.Contains(in.args[0], "go build") {
			require.True(t, static || strings.Contains(in.args[0], "CGO_ENABLED=0"), "go build without CGO_ENABLED=0: %s", in.args[0])
			require.Contains(t, in.args[0], "./cmd/vcd")
			static = true
		}
	}
	require.True(t, static, "the build stage does not build vcd")

	copied := false
	for _, in := range final {
		if in.cmd == "COPY" && strings.Contains(strings.Join(in.flags, " "), "--from="+stageName) && strings.HasSuffix(in.args[len(in.args)-1], "/vcd") {
			copied = true
		}
	}
	require.True(t, copied, "the final stage does not copy vcd from the %s stage", stageName)
	checkRuntime(t, "Dockerfile", final)
}

// TestDockerfileGoreleaser checks the image goreleaser builds from its own
// binary: the same runtime as ./Dockerfile.
func TestDockerfileGoreleaser(t *testing.T) {
	ss := stages(t, "../../Dockerfile.goreleaser")
	checkRuntime(t, "Dockerfile.goreleaser", ss[len(ss)-1])
}
