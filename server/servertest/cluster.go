package servertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/virtual-company/vc/server/config"
)

// StartCluster runs n daemons as the nodes of one cluster: one fresh
// schema of the PostgreSQL server at dsn (dropped when the test ends), one
// secret_key, cluster.nats_url natsURL and node ids node1..nodeN. Each
// daemon has its own port. opts apply to every node.
func StartCluster(t testing.TB, n int, dsn, natsURL string, opts ...Option) []*Daemon {
	t.Helper()
	dbURL := postgresSchema(t, dsn)
	nodes := make([]*Daemon, n)
	for i := range nodes {
		id := fmt.Sprintf("node%d", i+1)
		nodeOpts := append([]Option{WithConfig(func(c *config.Config) {
			c.DatabaseURL = dbURL
			c.SecretKey = "cluster-test-secret-key-0123456789abcdef"
			c.Cluster.NATSURL = natsURL
			c.Cluster.NodeID = id
		})}, opts...)
		nodes[i] = Start(t, nodeOpts...)
	}
	return nodes
}

// Kill stops the daemon the way kill -9 would look from outside: its
// connections drop without close frames, it leaves its cluster without a
// goodbye and writes nothing more to the database. Stop does nothing after
// it.
func (d *Daemon) Kill() {
	d.mu.Lock()
	srv, done := d.server, d.done
	d.server, d.done = nil, nil
	d.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Kill()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		d.t.Errorf("servertest: killed daemon did not stop")
	}
}
