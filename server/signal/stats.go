package signal

// CallStats returns the calls in progress and their participants (one
// signaling socket each), for the metrics.
func (h *Hub) CallStats() (calls, participants int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.rooms {
		participants += len(c.peers)
	}
	return len(h.rooms), participants
}
