package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/viper"
)

// ClusterConfig turns a vcd into one node of a cluster (config key
// cluster). Without NATSURL nothing of it is used: one process, no NATS.
type ClusterConfig struct {
	// NATSURL is the NATS server the nodes share (e.g.
	// nats://127.0.0.1:4222; several URLs separated by commas). Setting it
	// makes this vcd a cluster node, which needs PostgreSQL.
	NATSURL string `mapstructure:"nats_url"`
	// NodeID names this node in logs and events (default: hostname plus a
	// random suffix, new at every start).
	NodeID string `mapstructure:"node_id"`
	// SubjectPrefix starts every NATS subject of this cluster, so that
	// several clusters can share one NATS (default vc).
	SubjectPrefix string `mapstructure:"subject_prefix"`
}

// Enabled reports whether this vcd is a cluster node.
func (c ClusterConfig) Enabled() bool { return strings.TrimSpace(c.NATSURL) != "" }

func defaultCluster() ClusterConfig { return ClusterConfig{SubjectPrefix: "vc"} }

func setClusterDefaults(v *viper.Viper, d ClusterConfig) {
	v.SetDefault("cluster.nats_url", d.NATSURL)
	v.SetDefault("cluster.node_id", d.NodeID)
	v.SetDefault("cluster.subject_prefix", d.SubjectPrefix)
}

// subjectToken is what a NATS subject token may be made of here (no dots,
// wildcards or spaces).
var subjectToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// resolve names the node when the configuration does not.
func (c *ClusterConfig) resolve() {
	if !c.Enabled() || c.NodeID != "" {
		return
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "vcd"
	}
	host = strings.Map(func(r rune) rune {
		if r == '.' || r == ' ' || r == '*' || r == '>' {
			return '-'
		}
		return r
	}, host)
	var b [3]byte
	_, _ = rand.Read(b[:])
	c.NodeID = host + "-" + hex.EncodeToString(b[:])
}

func validateCluster(c Config) error {
	cc := c.Cluster
	if !cc.Enabled() {
		return nil
	}
	var errs []error
	if !isPostgresURL(c.DatabaseURL) {
		errs = append(errs, errors.New("cluster.nats_url is set but database_url is SQLite: a cluster needs PostgreSQL "+
			"(set database_url to a postgres:// URL shared by every node, or unset cluster.nats_url to run one node)"))
	}
	if cc.SubjectPrefix == "" || !subjectToken.MatchString(cc.SubjectPrefix) {
		errs = append(errs, fmt.Errorf("cluster.subject_prefix %q: must be letters, digits, '-' or '_' (one NATS subject token)", cc.SubjectPrefix))
	}
	if cc.NodeID != "" && !subjectToken.MatchString(cc.NodeID) {
		errs = append(errs, fmt.Errorf("cluster.node_id %q: must be letters, digits, '-' or '_'", cc.NodeID))
	}
	for _, u := range strings.Split(cc.NATSURL, ",") {
		u = strings.TrimSpace(u)
		if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			errs = append(errs, fmt.Errorf("cluster.nats_url %q: must start with nats:// or tls://", u))
		}
	}
	return errors.Join(errs...)
}

// isPostgresURL matches gormstore.IsPostgres (config does not import the store).
func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}
