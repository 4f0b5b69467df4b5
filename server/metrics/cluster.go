package metrics

import "time"

// ClusterObserver is what the cluster bus (server/cluster, through
// cluster.Hooks) reports: its NATS connection state, the cross-node
// latency of the events it receives and the publishes it could not make.
// *Metrics implements it (a nil *Metrics ignores everything); the cluster
// code never imports Prometheus.
type ClusterObserver interface {
	// NATSConnected is called with true when the connection to NATS is
	// up (connected, reconnected) and false when it is lost or closed.
	NATSConnected(up bool)
	// ClusterDelivered is called for each event received from another
	// node, with the time from its publish there to its arrival here.
	ClusterDelivered(latency time.Duration)
	// ClusterPublishFailed is called when a publish could not even be
	// buffered for NATS.
	ClusterPublishFailed()
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

// ClusterDelivered implements ClusterObserver
// (vcd_cluster_publish_latency_seconds).
func (m *Metrics) ClusterDelivered(latency time.Duration) {
	if m == nil {
		return
	}
	m.clusterLatency.Observe(latency.Seconds())
}

// ClusterPublishFailed implements ClusterObserver
// (vcd_cluster_publish_failures_total).
func (m *Metrics) ClusterPublishFailed() {
	if m == nil {
		return
	}
	m.clusterFailed.Inc()
}
