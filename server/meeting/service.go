package meeting

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
)

// MaxListed is the most meetings GET .../meetings answers.
const MaxListed = 100

// stopWait bounds how long a stop request waits for the meeting's run on
// this node to end.
const stopWait = 10 * time.Second

// Start validates req, stores the meeting (running, held by this engine),
// announces it with meeting_start and runs it. Any member of the room may
// start one; ErrConflict when one is running there already.
func (e *Engine) Start(ctx context.Context, userID, roomID int64, req api.StartMeetingRequest) (api.Meeting, error) {
	room, err := e.d.Rooms.RequireMember(ctx, roomID, userID)
	if err != nil {
		return api.Meeting{}, err
	}
	topic := strings.TrimSpace(req.Topic)
	switch {
	case topic == "":
		return api.Meeting{}, service.Invalid("topic", "is required: say what the meeting is about")
	case len(topic) > api.MeetingMaxTopicBytes:
		return api.Meeting{}, service.Invalid("topic", "must be at most %d bytes", api.MeetingMaxTopicBytes)
	case !utf8.ValidString(topic):
		return api.Meeting{}, service.Invalid("topic", "must be valid UTF-8")
	}
	rounds := req.Rounds
	if rounds == 0 {
		rounds = api.MeetingDefaultRounds
	}
	if rounds < api.MeetingMinRounds || rounds > api.MeetingMaxRounds {
		return api.Meeting{}, service.Invalid("rounds", "must be between %d and %d (default %d)", api.MeetingMinRounds, api.MeetingMaxRounds, api.MeetingDefaultRounds)
	}
	mode := req.Mode
	if mode == "" {
		mode = api.MeetingRoundRobin
	}
	if mode != api.MeetingRoundRobin && mode != api.MeetingChaired {
		return api.Meeting{}, service.Invalid("mode", "must be %q or %q", api.MeetingRoundRobin, api.MeetingChaired)
	}
	if req.TokenBudget < 0 {
		return api.Meeting{}, service.Invalid("token_budget", "must not be negative (0 or absent: no meeting budget)")
	}
	if len(req.Roles) == 0 {
		return api.Meeting{}, service.Invalid("roles", "name at least one role seated in the room, by id or handle")
	}
	if len(req.Roles) > api.MeetingMaxRoles {
		return api.Meeting{}, service.Invalid("roles", "at most %d roles take part in one meeting", api.MeetingMaxRoles)
	}
	seated, err := e.d.Store.SeatedRoles(ctx, roomID)
	if err != nil {
		return api.Meeting{}, fmt.Errorf("seated roles of room %d: %w", roomID, err)
	}
	roles := make([]store.Role, 0, len(req.Roles))
	byID := map[int64]store.Role{}
	for _, ref := range req.Roles {
		r, err := resolveRole(ref, seated, "roles")
		if err != nil {
			return api.Meeting{}, err
		}
		if _, dup := byID[r.ID]; dup {
			return api.Meeting{}, service.Invalid("roles", "%s is named twice", ref)
		}
		byID[r.ID] = r
		roles = append(roles, r)
	}
	chair := roles[0]
	if req.Chair != nil {
		c, err := resolveRole(*req.Chair, seated, "chair")
		if err != nil {
			return api.Meeting{}, err
		}
		if _, ok := byID[c.ID]; !ok {
			return api.Meeting{}, service.Invalid("chair", "%s is not one of the meeting's roles", *req.Chair)
		}
		chair = c
	}
	ids := make([]int64, len(roles))
	for i, r := range roles {
		ids[i] = r.ID
	}
	m := store.Meeting{RoomID: roomID, Topic: topic, RoleIDs: ids, Mode: mode, Rounds: rounds, ChairID: chair.ID,
		TokenBudget: req.TokenBudget, CreatedBy: userID, StartSeq: room.LastSeq, Owner: e.d.NodeID, LeaseUntil: e.leaseEnd()}
	if err := e.d.Store.CreateMeeting(ctx, &m); err != nil {
		if errors.Is(err, store.ErrConflict) {
			if cur, cerr := e.d.Store.RunningMeetingInRoom(ctx, roomID); cerr == nil {
				return api.Meeting{}, service.Conflict(fmt.Sprintf("Meeting %d (%q) is running in this room; stop it first (POST /api/rooms/%d/meetings/%d/stop)", cur.ID, cur.Topic, roomID, cur.ID))
			}
			return api.Meeting{}, service.Conflict("A meeting is running in this room; stop it first")
		}
		return api.Meeting{}, fmt.Errorf("start meeting: %w", err)
	}
	uid := userID
	e.d.Notifier.Publish(roomID, wsproto.Event{Type: wsproto.TypeMeetingStart, RoomID: roomID, MeetingID: m.ID,
		Topic: m.Topic, Mode: m.Mode, Rounds: m.Rounds, RoleIDs: m.RoleIDs, UserID: &uid, RoleID: &m.ChairID})
	e.logger.Info("meeting started", "meeting_id", m.ID, "room_id", roomID, "user_id", userID, "roles", len(ids), "rounds", rounds, "mode", mode)
	out := apiMeeting(m, byID)
	e.launch(m)
	return out, nil
}

// resolveRole finds a seated role by id or handle.
func resolveRole(ref api.RoleRef, seated []store.Role, field string) (store.Role, error) {
	if ref.Handle == "" {
		for _, r := range seated {
			if r.ID == ref.ID {
				return r, nil
			}
		}
		return store.Role{}, service.Invalid(field, "role %d is not seated in this room (seat it with POST /api/rooms/{id}/roles)", ref.ID)
	}
	var found []store.Role
	for _, r := range seated {
		if strings.EqualFold(r.Handle, ref.Handle) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return store.Role{}, service.Invalid(field, "no role with handle @%s is seated in this room", ref.Handle)
	case 1:
		return found[0], nil
	default:
		return store.Role{}, service.Invalid(field, "%d seated roles have the handle @%s; name the one you mean by id", len(found), ref.Handle)
	}
}

// List returns a room's meetings, newest first (members only).
func (e *Engine) List(ctx context.Context, userID, roomID int64) ([]api.Meeting, error) {
	if _, err := e.d.Rooms.RequireMember(ctx, roomID, userID); err != nil {
		return nil, err
	}
	ms, err := e.d.Store.MeetingsInRoom(ctx, roomID, MaxListed)
	if err != nil {
		return nil, fmt.Errorf("list meetings: %w", err)
	}
	roles, err := e.rolesOf(ctx, ms...)
	if err != nil {
		return nil, err
	}
	out := make([]api.Meeting, len(ms))
	for i, m := range ms {
		out[i] = apiMeeting(m, roles)
	}
	return out, nil
}

// Get returns one meeting of a room (members only).
func (e *Engine) Get(ctx context.Context, userID, roomID, meetingID int64) (api.Meeting, error) {
	if _, err := e.d.Rooms.RequireMember(ctx, roomID, userID); err != nil {
		return api.Meeting{}, err
	}
	m, err := e.meetingIn(ctx, roomID, meetingID)
	if err != nil {
		return api.Meeting{}, err
	}
	return e.view(ctx, m)
}

func (e *Engine) view(ctx context.Context, m store.Meeting) (api.Meeting, error) {
	roles, err := e.rolesOf(ctx, m)
	if err != nil {
		return api.Meeting{}, err
	}
	return apiMeeting(m, roles), nil
}

func (e *Engine) meetingIn(ctx context.Context, roomID, meetingID int64) (store.Meeting, error) {
	m, err := e.d.Store.MeetingByID(ctx, meetingID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.RoomID != roomID) {
		return store.Meeting{}, service.NotFound("Meeting not found in this room")
	}
	if err != nil {
		return store.Meeting{}, fmt.Errorf("read meeting: %w", err)
	}
	return m, nil
}

// rolesOf reads the roles of meetings (a deleted role is left out).
func (e *Engine) rolesOf(ctx context.Context, ms ...store.Meeting) (map[int64]store.Role, error) {
	out := map[int64]store.Role{}
	for _, m := range ms {
		for _, id := range m.RoleIDs {
			if _, ok := out[id]; ok {
				continue
			}
			r, err := e.d.Store.RoleByID(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("meeting role %d: %w", id, err)
			}
			out[id] = r
		}
	}
	return out, nil
}

// Stop ends a running meeting (the starter or the room's creator may): the
// turn in progress is cancelled (its text so far is kept), no minutes are
// written, and meeting_end says "stopped". A meeting that already ended is
// answered unchanged. When another node runs the meeting, it stops it at
// its next lease renewal and the answer still says "running".
func (e *Engine) Stop(ctx context.Context, userID, roomID, meetingID int64) (api.Meeting, error) {
	room, err := e.d.Rooms.RequireMember(ctx, roomID, userID)
	if err != nil {
		return api.Meeting{}, err
	}
	m, err := e.meetingIn(ctx, roomID, meetingID)
	if err != nil {
		return api.Meeting{}, err
	}
	if m.CreatedBy != userID && room.CreatedBy != userID {
		return api.Meeting{}, service.Forbidden("Only who started the meeting or the room's creator may stop it")
	}
	if m.Status != api.MeetingRunning {
		return e.view(ctx, m)
	}
	if err := e.d.Store.RequestMeetingStop(ctx, m.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return api.Meeting{}, fmt.Errorf("stop meeting: %w", err)
	}
	if done := e.interrupt(m.ID, errStopped); done != nil {
		select {
		case <-done:
		case <-time.After(stopWait):
		case <-ctx.Done():
		}
	} else if held, err := e.d.Store.ClaimMeeting(ctx, m.ID, e.d.NodeID, e.leaseEnd(), e.now()); err == nil {
		// Nobody runs it (its node is gone): end it here.
		e.launch(held)
		if done := e.interrupt(m.ID, errStopped); done != nil {
			select {
			case <-done:
			case <-time.After(stopWait):
			case <-ctx.Done():
			}
		}
	}
	m, err = e.d.Store.MeetingByID(ctx, m.ID)
	if err != nil {
		return api.Meeting{}, fmt.Errorf("read meeting: %w", err)
	}
	return e.view(ctx, m)
}
