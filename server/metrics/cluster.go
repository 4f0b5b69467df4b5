package metrics

import "time"

// ClusterObserver is what the cluster transport (server/cluster) reports:
// its NATS connection state and how long a cross-node publish took.
// *Metrics implements it (a nil *Metrics ignores both); the cluster code
// takes it as a dependency, so it does not import Prometheus.
type ClusterObserver interface {
	// NATSConnected is called with true when the connection to NATS is
	// up (connected, reconnected) and false when it is lost or closed.
	NATSConnected(up bool)
	// ClusterPublished is called after an event was handed to NATS for
	// the other nodes, with the time the publish took.
	ClusterPublished(d time.Duration)
}

var _ ClusterObserver = (*Metrics)(nil)

// NATSConnected implements ClusterObserver (vcd_cluster_nats_connected).
func (m *Metrics) NATSConnected(up bool) {
	if m == nil {
		return
	}
	if up {
		m.clusterConnected.Set(1)
	} else {
		m.clusterConnected.Set(0)
	}
}

// ClusterPublished implements ClusterObserver
// (vcd_cluster_publish_duration_seconds).
func (m *Metrics) ClusterPublished(d time.Duration) {
	if m == nil {
		return
	}
	m.clusterPublish.Observe(d.Seconds())
}
