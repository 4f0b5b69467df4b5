package server

import "github.com/virtual-company/vc/server/signal"

// signalCluster is the bus as the signaling hub's link to the other nodes
// (nil without a cluster: a nil *clusterNode must not become a non-nil
// interface). Build the hub before node.start, so that its node-down hook
// is registered before the bus starts.
func (n *clusterNode) signalCluster() signal.Cluster {
	if n == nil {
		return nil
	}
	return n.bus
}
