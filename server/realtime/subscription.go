package realtime

import "github.com/virtual-company/vc/pkg/api"

// Subscription is one socket's place in a room: who it is, its room and
// fan-out shard, and its socketWriter (writer.go), which owns the queue and
// every write to the socket.
type Subscription struct {
	RoomID   int64
	UserID   int64
	Username string

	hub  *Hub
	room *hubRoom
	// shard is the subscription's fan-out shard in its room, for life.
	shard int

	socketWriter
}

func newSubscription(h *Hub, roomID int64, user api.User, max int) *Subscription {
	return &Subscription{
		RoomID: roomID, UserID: user.ID, Username: user.Username, hub: h,
		socketWriter: socketWriter{env: h.wenv, max: max, wake: make(chan struct{}, 1), userID: user.ID, roomID: roomID},
	}
}

// Send queues data (an encoded event for this socket only, such as an ack)
// behind the room's events already dispatched to it.
func (s *Subscription) Send(data []byte) {
	q := queued{frame: NewFrame(data)}
	if r := s.room; r != nil && r.pending.Load() > 0 {
		// Room events for this socket may still wait in its fan-out
		// worker: queue behind them.
		r.pending.Add(1)
		if s.hub.pool.dispatch(s.shard, fanoutJob{q: q, subs: []*Subscription{s}, room: r}) {
			return
		}
		r.pending.Add(-1)
	}
	s.enqueue(q)
}
