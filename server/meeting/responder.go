package meeting

import (
	"context"
	"slices"
	"strings"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/internal/mention"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
)

// local is what the engine knows of a meeting it runs, for the responder:
// the handles of its roles.
type local struct {
	id      int64
	handles map[string]int64 // lower-cased handle -> role id
}

// setLocal records (or, with nil roles, forgets) the meeting running here in a room.
func (e *Engine) setLocal(roomID, meetingID int64, roles []store.Role) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.local == nil {
		e.local = map[int64]local{}
	}
	if roles == nil {
		if e.local[roomID].id == meetingID {
			delete(e.local, roomID)
		}
		return
	}
	l := local{id: meetingID, handles: map[string]int64{}}
	for _, r := range roles {
		l.handles[strings.ToLower(r.Handle)] = r.ID
	}
	e.local[roomID] = l
}

func (e *Engine) localMeeting(roomID int64) (local, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.local[roomID]
	return l, ok
}

// Responder wraps the AI responder of the messages service: while a
// meeting runs in a room, a person's @handle of one of its roles gives that
// role the meeting's next turn instead of an ordinary reply.
func (e *Engine) Responder(next service.Responder) service.Responder {
	return responder{e: e, next: next}
}

type responder struct {
	e    *Engine
	next service.Responder
}

// MessagePosting implements service.Responder.
func (r responder) MessagePosting(ctx context.Context, room api.Room, draft api.Message, req api.CreateMessageRequest, named *store.Role) service.Posting {
	if draft.MessageType != api.MessageText || draft.UserID == nil || req.RoleID != nil {
		return r.next.MessagePosting(ctx, room, draft, req, named)
	}
	handles := mention.Handles(draft.Content)
	if len(handles) == 0 {
		return r.next.MessagePosting(ctx, room, draft, req, named)
	}
	if l, ok := r.e.localMeeting(room.ID); ok {
		for _, h := range handles {
			if id, ok := l.handles[h]; ok {
				// The meeting answers it, at its next turn.
				return floorPosting{e: r.e, meetingID: l.id, roleID: id}
			}
		}
	}
	if !r.e.d.Clustered {
		// Every running meeting runs here: none of this room's roles
		// is in one.
		return r.next.MessagePosting(ctx, room, draft, req, named)
	}
	// A meeting may run on another node: look once the message is stored.
	return clusterPosting{r: r, ctx: ctx, room: room, req: req, named: named, handles: handles}
}

// floorPosting gives a meeting role the floor once the message is stored.
type floorPosting struct {
	e         *Engine
	meetingID int64
	roleID    int64
}

// Committed implements service.Posting. The floor is given before the
// post is answered, so that the turn after the current one is the role's.
func (p floorPosting) Committed(api.Message) {
	if err := p.e.d.Store.GiveMeetingFloor(context.WithoutCancel(p.e.baseCtx), p.meetingID, p.roleID); err != nil {
		p.e.logger.Info("give the meeting floor", "meeting_id", p.meetingID, "role_id", p.roleID, "err", err)
	}
}

// Dropped implements service.Posting.
func (floorPosting) Dropped() {}

// clusterPosting decides, once the message is stored, between the floor
// of a meeting running on another node and ordinary replies.
type clusterPosting struct {
	r       responder
	ctx     context.Context
	room    api.Room
	req     api.CreateMessageRequest
	named   *store.Role
	handles []string
}

// Committed implements service.Posting.
func (p clusterPosting) Committed(msg api.Message) {
	st := p.r.e.d.Store
	if m, err := st.RunningMeetingInRoom(p.ctx, p.room.ID); err == nil {
		for _, id := range m.RoleIDs {
			role, err := st.RoleByID(p.ctx, id)
			if err == nil && slices.Contains(p.handles, strings.ToLower(role.Handle)) {
				floorPosting{e: p.r.e, meetingID: m.ID, roleID: id}.Committed(msg)
				return
			}
		}
	}
	p.r.next.MessagePosting(p.ctx, p.room, msg, p.req, p.named).Committed(msg)
}

// Dropped implements service.Posting.
func (clusterPosting) Dropped() {}
