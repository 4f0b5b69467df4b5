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

// RoomsWithCalls lists the rooms with a call in progress, for the daemon's
// sweep of rooms deleted without it.
func (h *Hub) RoomsWithCalls() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]int64, 0, len(h.rooms))
	for id := range h.rooms {
		ids = append(ids, id)
	}
	return ids
}
