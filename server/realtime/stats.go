package realtime

import "sync/atomic"

// hubStats counts what the hub hands to sockets, for the metrics
// (server/metrics reads them at scrape time). One atomic add per event and
// room, never per socket, so the fan-out pays nothing per delivery.
type hubStats struct {
	deliveries atomic.Uint64
	bytes      atomic.Uint64
}

// delivered counts one event of wireLen bytes handed to n sockets.
func (s *hubStats) delivered(n, wireLen int) {
	if n <= 0 {
		return
	}
	s.deliveries.Add(uint64(n))
	s.bytes.Add(uint64(n) * uint64(wireLen))
}

// Deliveries counts the events handed to sockets (one per event per
// socket) since the hub started; a socket dropped as too slow counts too.
func (h *Hub) Deliveries() uint64 { return h.stats.deliveries.Load() }

// DeliveredBytes counts the bytes of those events as framed on the wire.
func (h *Hub) DeliveredBytes() uint64 { return h.stats.bytes.Load() }

// ChatSockets returns the number of open chat sockets (subscriptions),
// without the signaling sockets that Sockets also counts.
func (h *Hub) ChatSockets() int {
	h.mu.RLock()
	rooms := make([]*hubRoom, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	n := 0
	for _, r := range rooms {
		r.mu.Lock()
		n += len(r.subs)
		r.mu.Unlock()
	}
	return n
}

// Replays counts the chat sockets that resumed with ?after= and were
// replayed from the store.
func (c *Chat) Replays() uint64 { return c.handler.replays.Load() }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// RoomsWithSockets lists the rooms with at least one open chat socket, for
// the daemon's sweep of rooms deleted without it.
func (h *Hub) RoomsWithSockets() []int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ids := make([]int64, 0, len(h.rooms))
	for id := range h.rooms {
		ids = append(ids, id)
	}
	return ids
}
