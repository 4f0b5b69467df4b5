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
	if draft.MessageType != api.MessageText || draft.UserID == nil {
		return r.next.MessagePosting(ctx, room, draft, req, named)
	}
	handles := mention.Handles(draft.Content)
	if len(handles) == 0 {
		return r.next.MessagePosting(ctx, room, draft, req, named)
	}
	if l, ok := r.e.localMeeting(room.ID); ok && req.RoleID == nil {
		for _, h := range handles {
			if id, ok := l.handles[h]; ok {
				// The meeting answers it, at its next turn.
				return floorPosting{e: r.e, roomID: room.ID, meetingID: l.id, roleID: id}
			}
		}
	}
	// No meeting runs here for that role; one may run on another node.
	return floorPosting{e: r.e, roomID: room.ID, handles: handles, inner: r.next.MessagePosting(ctx, room, draft, req, named)}
}

// floorPosting gives a meeting role the floor once the message is stored.
type floorPosting struct {
	e         *Engine
	roomID    int64
	meetingID int64 // 0: look for a running meeting in the store
	roleID    int64
	handles   []string
	inner     service.Posting
}

// Committed implements service.Posting.
func (p floorPosting) Committed(msg api.Message) {
	if p.inner != nil {
		p.inner.Committed(msg)
	}
	if p.meetingID != 0 {
		// The meeting runs here: give the floor before the post is
		// answered, so that the turn after the current one is the role's.
		if err := p.e.d.Store.GiveMeetingFloor(context.WithoutCancel(p.e.baseCtx), p.meetingID, p.roleID); err != nil {
			p.e.logger.Info("give the meeting floor", "meeting_id", p.meetingID, "role_id", p.roleID, "err", err)
		}
		return
	}
	p.e.goBackground(func(ctx context.Context) {
		meetingID, roleID := p.meetingID, p.roleID
		if meetingID == 0 {
			m, err := p.e.d.Store.RunningMeetingInRoom(ctx, p.roomID)
			if err != nil {
				return // none (or unreadable: an ordinary reply was started)
			}
			for _, id := range m.RoleIDs {
				role, err := p.e.d.Store.RoleByID(ctx, id)
				if err == nil && slices.Contains(p.handles, strings.ToLower(role.Handle)) {
					meetingID, roleID = m.ID, id
					break
				}
			}
			if meetingID == 0 {
				return
			}
		}
		if err := p.e.d.Store.GiveMeetingFloor(ctx, meetingID, roleID); err != nil {
			p.e.logger.Info("give the meeting floor", "meeting_id", meetingID, "role_id", roleID, "err", err)
		}
	})
}

// Dropped implements service.Posting.
func (p floorPosting) Dropped() {
	if p.inner != nil {
		p.inner.Dropped()
	}
}

// goBackground runs f in a goroutine the engine waits for on Close.
func (e *Engine) goBackground(f func(ctx context.Context)) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		f(e.baseCtx)
	}()
}
