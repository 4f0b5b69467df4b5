package cluster_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestCompose_ThreeNodesOneDatabaseOneKey reads configs/cluster/compose.yaml
// (there is no container engine here to start it): three vcd nodes with
// distinct ids share the database URL, the secret key and NATS; PostgreSQL
// has a health check the nodes wait for; the load balancer mounts
// haproxy.cfg and gives it the three nodes' addresses.
func TestCompose_ThreeNodesOneDatabaseOneKey(t *testing.T) {
	raw, err := os.ReadFile("../../configs/cluster/compose.yaml")
	require.NoError(t, err)
	var file struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   yaml.Node         `yaml:"depends_on"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &file))

	ids := map[string]bool{}
	shared := map[string]map[string]bool{}
	for _, name := range []string{"vcd1", "vcd2", "vcd3"} {
		svc, ok := file.Services[name]
		require.True(t, ok, "service %s", name)
		env := svc.Environment
		require.NotEmpty(t, env["VCD_CLUSTER_NODE_ID"], name)
		ids[env["VCD_CLUSTER_NODE_ID"]] = true
		for _, k := range []string{"VCD_DATABASE_URL", "VCD_SECRET_KEY", "VCD_CLUSTER_NATS_URL"} {
			require.NotEmpty(t, env[k], "%s: %s", name, k)
			if shared[k] == nil {
				shared[k] = map[string]bool{}
			}
			shared[k][env[k]] = true
		}
		require.True(t, strings.HasPrefix(env["VCD_DATABASE_URL"], "postgres://"), "a cluster needs PostgreSQL")
		require.Contains(t, yamlText(t, svc.DependsOn), "service_healthy", "%s waits for the database", name)
	}
	require.Len(t, ids, 3, "distinct node ids")
	for k, values := range shared {
		require.Len(t, values, 1, "every node has the same %s", k)
	}
	db := file.Services["db"]
	require.Contains(t, db.Image, "postgres")
	require.NotNil(t, db.Healthcheck)
	require.Contains(t, strings.Join(db.Healthcheck.Test, " "), "pg_isready")
	require.Contains(t, file.Services["nats"].Image, "nats")

	lb := file.Services["lb"]
	require.Contains(t, lb.Image, "haproxy")
	require.Contains(t, strings.Join(lb.Volumes, " "), "./haproxy.cfg:")
	for _, k := range []string{"LB_BIND", "VCD1_ADDR", "VCD2_ADDR", "VCD3_ADDR"} {
		require.NotEmpty(t, lb.Environment[k], k)
	}
}

func yamlText(t *testing.T, n yaml.Node) string {
	t.Helper()
	out, err := yaml.Marshal(&n)
	require.NoError(t, err)
	return string(out)
}

// TestHAProxyConfig_Valid checks configs/cluster/haproxy.cfg with HAProxy
// itself, as compose.yaml runs it (node names that may not resolve yet)
// and as run-local.sh does (addresses on 127.0.0.1); it health-checks the
// nodes on /ready.
func TestHAProxyConfig_Valid(t *testing.T) {
	raw, err := os.ReadFile("../../configs/cluster/haproxy.cfg")
	require.NoError(t, err)
	require.Contains(t, string(raw), "option httpchk GET /ready")
	require.Contains(t, string(raw), "timeout tunnel", "WebSockets outlive the HTTP timeouts")
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt install haproxy): the file was only read")
	}
	for _, addrs := range [][3]string{
		{"vcd1:8000", "vcd2:8000", "vcd3:8000"},
		{"127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"},
	} {
		cmd := exec.Command(bin, "-c", "-f", "../../configs/cluster/haproxy.cfg")
		cmd.Env = append(os.Environ(), "LB_BIND=127.0.0.1:8000",
			"VCD1_ADDR="+addrs[0], "VCD2_ADDR="+addrs[1], "VCD3_ADDR="+addrs[2])
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "haproxy -c with nodes %v:\n%s", addrs, out)
	}
}
