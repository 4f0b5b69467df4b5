package realtime

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/service"
)

// ClusterLink is the hub's view of the other vcd nodes of a cluster (see
// server/cluster); nil on a single node. The hub relays what only it knows
// of (typing, join, leave) and merges the others' presence into its own.
type ClusterLink interface {
	// Relay sends an event that did not come through the services to the
	// other nodes' sockets in the room. It must not block.
	Relay(roomID int64, ev wsproto.Event)
	// Online lists the users online in the room on other nodes.
	Online(roomID int64) []wsproto.PresenceUser
	// IsOnline reports whether the user is online in the room on another node.
	IsOnline(roomID, userID int64) bool
}

// SetCluster links the hub to the other nodes; call it while wiring, before
// serving.
func (h *Hub) SetCluster(l ClusterLink) {
	h.mu.Lock()
	h.cluster = l
	h.mu.Unlock()
}

func (h *Hub) link() ClusterLink {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cluster
}

// relay hands ev to the cluster link, if any.
func (h *Hub) relay(roomID int64, ev wsproto.Event) {
	if l := h.link(); l != nil {
		if ev.RoomID == 0 {
			ev.RoomID = roomID
		}
		l.Relay(roomID, ev)
	}
}

// LocalOnline reports whether the user has a socket in the room on this
// node (IsOnline also asks the cluster).
func (h *Hub) LocalOnline(roomID, userID int64) bool {
	r := h.room(roomID)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.online[userID] > 0
}

// Presence returns, per room with sockets on this node, the users online
// here (the payload of this node's cluster heartbeats).
func (h *Hub) Presence() map[int64][]wsproto.PresenceUser {
	h.mu.RLock()
	rooms := make([]*hubRoom, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	out := make(map[int64][]wsproto.PresenceUser, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		if len(r.names) > 0 {
			users := make([]wsproto.PresenceUser, 0, len(r.names))
			for id, name := range r.names {
				users = append(users, wsproto.PresenceUser{UserID: id, Username: name})
			}
			out[r.id] = users
		}
		r.mu.Unlock()
	}
	return out
}

// mergeOnline adds the users of more not yet in list, keeping it sorted by id.
func mergeOnline(list, more []wsproto.PresenceUser) []wsproto.PresenceUser {
	if len(more) == 0 {
		return list
	}
	seen := make(map[int64]bool, len(list))
	for _, u := range list {
		seen[u.UserID] = true
	}
	for _, u := range more {
		if !seen[u.UserID] {
			list = append(list, u)
			seen[u.UserID] = true
		}
	}
	slices.SortFunc(list, func(a, b wsproto.PresenceUser) int { return int(a.UserID - b.UserID) })
	return list
}

// Resync reads from the store, for every room with sockets here, the
// messages newer than the last one sent out and delivers them in seq
// order. The cluster calls it when events may have been lost (NATS came
// back); it is the hub's gap filling for a gap nothing came after.
func (h *Hub) Resync(ctx context.Context) {
	if h.backfill == nil {
		return
	}
	h.mu.RLock()
	rooms := make([]*hubRoom, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.RUnlock()
	for _, r := range rooms {
		if ctx.Err() != nil {
			return
		}
		h.resyncRoom(ctx, r)
	}
}

func (h *Hub) resyncRoom(ctx context.Context, r *hubRoom) {
	r.mu.Lock()
	from := r.last
	r.mu.Unlock()
	page := h.opts.ReplayPage
	for {
		msgs, err := h.backfill(ctx, r.id, from, page)
		if err != nil {
			h.log.Warn("resync room from the store", "room_id", r.id, "after_seq", from, "err", err)
			return
		}
		r.mu.Lock()
		for _, m := range msgs {
			if m.Seq <= r.last {
				continue
			}
			data, err := json.Marshal(service.MessageEvent(m))
			if err != nil {
				continue
			}
			r.hold(queued{frame: NewFrame(data), seq: m.Seq})
		}
		r.flush()
		r.mu.Unlock()
		if len(msgs) < page {
			return
		}
		from = msgs[len(msgs)-1].Seq
	}
}
