package meeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/store"
)

// maxLimitWaits bounds how often one turn waits for a rate limit to pass
// before the meeting fails.
const maxLimitWaits = 20

// runner is one meeting being run: its state as last saved, its roles and
// its room.
type runner struct {
	e     *Engine
	m     store.Meeting
	room  api.Room
	roles []store.Role // in speaking order; deleted roles are left out
	chair store.Role
	log   *slog.Logger
}

// runMeeting runs a meeting this engine holds until it ends, the engine
// closes, or the meeting is stopped.
func (e *Engine) runMeeting(ctx context.Context, m store.Meeting) {
	log := e.logger.With("meeting_id", m.ID, "room_id", m.RoomID)
	r := &runner{e: e, m: m, log: log}
	renewDone := make(chan struct{})
	defer close(renewDone)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go r.renew(ctx, cancel, renewDone)
	if err := r.load(ctx); err != nil {
		if ctx.Err() == nil {
			log.Error("load meeting", "err", err)
			r.finish(ctx, api.MeetingFailed, false, "The meeting could not be loaded: "+err.Error())
		} else {
			r.ended(ctx) // stopped, or vcd is shutting down, before the first step
		}
		return
	}
	e.setLocal(m.RoomID, m.ID, r.roles)
	defer e.setLocal(m.RoomID, m.ID, nil)
	if r.m.Speaker != nil {
		// The node that ran the turn stopped in the middle of it: that
		// turn is over (what it said is stored); go on with the next.
		log.Info("meeting resumed after an interrupted turn", "turns", r.m.Turns, "role_id", *r.m.Speaker)
		r.m.Speaker = nil
		r.m.Turns++
		if !r.save(ctx) {
			return
		}
	}
	r.loop(ctx)
}

// renew extends the lease every LeaseTTL/3 and cancels the run when a stop
// was requested (on any node) or the lease was lost.
func (r *runner) renew(ctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}) {
	t := time.NewTicker(r.e.d.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, err := r.e.d.Store.RenewMeetingLease(ctx, r.m.ID, r.e.d.NodeID, r.e.leaseEnd())
		switch {
		case errors.Is(err, store.ErrConflict):
			cancel(errLostHold)
			return
		case err != nil:
			if ctx.Err() == nil {
				r.log.Error("renew meeting lease", "err", err)
			}
		case m.StopRequested:
			cancel(errStopped)
			return
		}
	}
}

// load reads the meeting's room and roles.
func (r *runner) load(ctx context.Context) error {
	room, err := r.e.d.Store.RoomByID(ctx, r.m.RoomID)
	if err != nil {
		return fmt.Errorf("room: %w", err)
	}
	r.room = api.Room{ID: room.ID, Name: room.Name, CreatedBy: room.CreatedBy, CreatedAt: room.CreatedAt, LastSeq: room.LastSeq}
	for _, id := range r.m.RoleIDs {
		role, err := r.e.d.Store.RoleByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since: the others go on
		}
		if err != nil {
			return fmt.Errorf("role %d: %w", id, err)
		}
		r.roles = append(r.roles, role)
		if role.ID == r.m.ChairID {
			r.chair = role
		}
	}
	if len(r.roles) == 0 {
		return errors.New("none of its roles exists any more")
	}
	if r.chair.ID == 0 {
		r.chair = r.roles[0]
	}
	return nil
}

// maxTurns is rounds x roles: no meeting takes more turns.
func (r *runner) maxTurns() int { return r.m.Rounds * len(r.m.RoleIDs) }

// round is the 1-based round of the next turn.
func (r *runner) round() int { return min(r.m.Turns/len(r.m.RoleIDs)+1, r.m.Rounds) }

func (r *runner) role(id int64) (store.Role, bool) {
	for _, x := range r.roles {
		if x.ID == id {
			return x, true
		}
	}
	return store.Role{}, false
}

// loop takes turns until the meeting ends.
func (r *runner) loop(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			r.ended(ctx)
			return
		}
		// Changes made by others since the last save: a stop request, a
		// person giving a role the floor.
		fresh, err := r.e.d.Store.MeetingByID(ctx, r.m.ID)
		if err != nil {
			if ctx.Err() != nil {
				r.ended(ctx)
				return
			}
			r.log.Error("read meeting", "err", err)
			r.finish(ctx, api.MeetingFailed, false, "The meeting's state could not be read.")
			return
		}
		if fresh.Status != api.MeetingRunning || fresh.Owner != r.e.d.NodeID {
			r.log.Info("meeting no longer held here", "status", fresh.Status)
			return
		}
		r.m.StopRequested, r.m.FloorRoleID = fresh.StopRequested, fresh.FloorRoleID
		switch {
		case r.m.StopRequested:
			r.finish(ctx, api.MeetingStopped, false, "")
			return
		case r.m.Turns >= r.maxTurns():
			r.finish(ctx, api.MeetingDone, true, "")
			return
		case r.m.TokenBudget > 0 && r.m.TokensUsed >= r.m.TokenBudget:
			r.finish(ctx, api.MeetingBudgetExhausted, true, fmt.Sprintf("The meeting's token budget (%d tokens) is spent.", r.m.TokenBudget))
			return
		}
		speaker := r.nextSpeaker(ctx)
		if !r.turn(ctx, speaker) {
			return
		}
	}
}

// nextSpeaker picks who speaks next and advances the state: the role a
// person gave the floor, else the chair's choice, else (chaired) the chair
// to open, else round robin.
func (r *runner) nextSpeaker(ctx context.Context) store.Role {
	if id := r.m.FloorRoleID; id != nil {
		r.m.FloorRoleID = nil
		if err := r.e.d.Store.TakeMeetingFloor(ctx, r.m.ID, *id); err != nil {
			r.log.Error("take the floor", "role_id", *id, "err", err)
		}
		if role, ok := r.role(*id); ok {
			return role
		}
	}
	if id := r.m.NextRoleID; id != nil {
		r.m.NextRoleID = nil
		if role, ok := r.role(*id); ok {
			return role
		}
	}
	if r.m.Mode == api.MeetingChaired && r.m.Turns == 0 {
		// The chair opens; a fallback to round robin goes on after it.
		r.m.Cursor = slices.Index(r.m.RoleIDs, r.chair.ID) + 1
		return r.chair
	}
	n := len(r.m.RoleIDs)
	for range n {
		id := r.m.RoleIDs[r.m.Cursor%n]
		r.m.Cursor++
		if role, ok := r.role(id); ok {
			return role
		}
	}
	return r.roles[0]
}

// turn runs one turn of speaker, then (chaired) asks the chair for the next
// speaker. It reports whether the meeting goes on.
func (r *runner) turn(ctx context.Context, speaker store.Role) bool {
	round := r.round()
	sid := speaker.ID
	r.m.Speaker = &sid
	if !r.save(ctx) {
		return false
	}
	r.e.d.Notifier.Publish(r.m.RoomID, wsproto.Event{Type: wsproto.TypeMeetingTurn, RoomID: r.m.RoomID, MeetingID: r.m.ID,
		Round: round, RoleID: &sid, Role: speaker.Name})
	prompt, err := r.turnPrompt(ctx, speaker, round)
	if err != nil {
		if ctx.Err() != nil {
			r.endTurn()
			r.ended(ctx)
			return false
		}
		r.log.Error("build turn prompt", "err", err)
		r.endTurn()
		r.finish(ctx, api.MeetingFailed, false, "The meeting so far could not be read.")
		return false
	}
	var res TurnResult
	for waits := 0; ; waits++ {
		res, err = r.e.d.Runner.RunTurn(ctx, Turn{Room: r.room, MeetingID: r.m.ID, Role: speaker, Payer: r.m.CreatedBy, Prompt: prompt})
		var le *LimitError
		if !errors.As(err, &le) || le.Budget || waits >= maxLimitWaits || ctx.Err() != nil {
			break
		}
		// A rate limit of the starter: wait it out, the turn is not taken.
		wait := max(le.RetryAfter, 100*time.Millisecond)
		r.log.Info("meeting turn waits for a rate limit", "role_id", sid, "wait", wait.String())
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	r.m.TokensUsed += res.Usage.Total()
	r.endTurn()
	var le *LimitError
	switch {
	case ctx.Err() != nil:
		r.ended(ctx)
		return false
	case res.Canceled:
		r.finish(ctx, api.MeetingStopped, false, speaker.Name+"'s turn was cancelled.")
		return false
	case errors.As(err, &le) && le.Budget:
		r.finish(ctx, api.MeetingBudgetExhausted, false, le.Detail)
		return false
	case err != nil:
		r.m.FailStreak++
		r.log.Info("meeting turn failed", "role_id", sid, "fail_streak", r.m.FailStreak, "err", err)
		if r.m.FailStreak >= r.e.d.MaxFailures {
			r.finish(ctx, api.MeetingFailed, false, fmt.Sprintf("%d turns in a row failed; the last: %s", r.m.FailStreak, errDetail(err)))
			return false
		}
		// The reply said why in the room (ai_error and a system
		// message): the role skips this turn.
	default:
		r.m.FailStreak = 0
	}
	if r.m.Mode == api.MeetingChaired && r.m.Turns < r.maxTurns() &&
		(r.m.TokenBudget == 0 || r.m.TokensUsed < r.m.TokenBudget) {
		done, next := r.decide(ctx)
		if ctx.Err() != nil {
			r.ended(ctx)
			return false
		}
		if done {
			r.finish(ctx, api.MeetingDone, true, "")
			return false
		}
		r.m.NextRoleID = next
	}
	// No save here: the next step saves this state with it (the next
	// turn's speaker, or the end). Should vcd stop in between, the stored
	// state still names this turn's speaker, and a takeover counts this
	// turn as taken all the same.
	return true
}

// endTurn counts the turn as taken.
func (r *runner) endTurn() {
	r.m.Speaker = nil
	r.m.Turns++
}

func errDetail(err error) string {
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// notice stores a system message in the room.
func (r *runner) notice(ctx context.Context, text string) {
	if _, err := r.e.d.Messages.CreateSystem(context.WithoutCancel(ctx), r.m.RoomID, text); err != nil {
		r.log.Error("store meeting notice", "err", err)
	}
}

// decide asks the chair who speaks next. A malformed or failed decision
// falls back to round robin for the next turn (nil, logged).
func (r *runner) decide(ctx context.Context) (done bool, next *int64) {
	prompt, err := r.decisionPrompt(ctx)
	if err != nil {
		r.log.Error("build decision prompt", "err", err)
		return false, nil
	}
	raw, usage, err := r.e.d.Runner.Structured(ctx, StructuredCall{Room: r.room, MeetingID: r.m.ID, Role: r.chair,
		Payer: r.m.CreatedBy, Prompt: prompt, Schema: decisionSchema(r.roles)})
	r.m.TokensUsed += usage.Total()
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("chair decision failed; round robin for the next turn", "chair_id", r.chair.ID, "err", err)
		}
		return false, nil
	}
	d, err := parseDecision(raw, r.roles)
	if err != nil {
		r.log.Warn("malformed chair decision; round robin for the next turn", "chair_id", r.chair.ID, "err", err, "decision", truncate(string(raw), 200))
		return false, nil
	}
	if d.Done {
		return true, nil
	}
	return false, &d.NextID
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// save writes the state and renews the lease. When the lease is lost the
// run ends without writing anything more.
func (r *runner) save(ctx context.Context) bool {
	r.m.UpdatedAt = r.e.now()
	err := r.e.d.Store.SaveMeeting(context.WithoutCancel(ctx), r.m, r.e.d.NodeID, r.e.leaseEnd())
	if err == nil {
		return true
	}
	if errors.Is(err, store.ErrConflict) {
		r.log.Warn("meeting lease lost; another node runs it now", "err", err)
	} else {
		r.log.Error("save meeting", "err", err)
	}
	return false
}

// ended handles a run whose context ended: a stop ends the meeting, a
// shutdown saves its state and releases the lease, a lost lease does
// nothing.
func (r *runner) ended(ctx context.Context) {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStopped):
		r.finish(ctx, api.MeetingStopped, false, "")
	case errors.Is(cause, errLostHold):
		r.log.Warn("meeting lease lost; another node runs it now")
	default:
		r.interrupted(ctx)
	}
}

// interrupted saves the state on shutdown and releases the lease.
func (r *runner) interrupted(ctx context.Context) {
	if r.save(ctx) {
		r.e.release(r.m.ID)
		r.log.Info("meeting paused for shutdown; it goes on at its next turn", "turns", r.m.Turns)
	}
}

// finish ends the meeting: minutes when asked (done, budget), the final
// state, and meeting_end.
func (r *runner) finish(ctx context.Context, status string, minutes bool, detail string) {
	ctx = context.WithoutCancel(ctx)
	if minutes {
		r.writeMinutes(ctx)
	}
	now := r.e.now().UTC()
	r.m.Status, r.m.Detail, r.m.EndedAt, r.m.Speaker, r.m.NextRoleID = status, detail, &now, nil, nil
	if room, err := r.e.d.Store.RoomByID(ctx, r.m.RoomID); err == nil {
		r.m.EndSeq = room.LastSeq
	}
	if !r.save(ctx) {
		return
	}
	ev := wsproto.Event{Type: wsproto.TypeMeetingEnd, RoomID: r.m.RoomID, MeetingID: r.m.ID, Status: status,
		MessageID: r.m.MinutesMessageID, Detail: detail}
	r.e.d.Notifier.Publish(r.m.RoomID, ev)
	if status == api.MeetingFailed && detail != "" {
		r.notice(ctx, "The meeting ended: "+detail)
	}
	r.log.Info("meeting ended", "status", status, "turns", r.m.Turns, "tokens", r.m.TokensUsed)
}

// writeMinutes asks the chair for the minutes as a structured answer,
// stores them as a meeting_minutes message (Markdown) and on the meeting.
func (r *runner) writeMinutes(ctx context.Context) {
	prompt, err := r.minutesPrompt(ctx)
	if err != nil {
		r.log.Error("build minutes prompt", "err", err)
		r.notice(ctx, "The minutes of the meeting could not be written.")
		return
	}
	raw, usage, err := r.e.d.Runner.Structured(ctx, StructuredCall{Room: r.room, MeetingID: r.m.ID, Role: r.chair,
		Payer: r.m.CreatedBy, Prompt: prompt, Schema: minutesSchema()})
	r.m.TokensUsed += usage.Total()
	var mm api.MeetingMinutes
	if err == nil {
		mm, err = parseMinutes(raw)
	}
	if err != nil {
		r.log.Warn("minutes failed", "chair_id", r.chair.ID, "err", err)
		r.notice(ctx, fmt.Sprintf("%s could not write the minutes of the meeting: %s", r.chair.Name, errDetail(err)))
		return
	}
	b, _ := json.Marshal(mm)
	r.m.Minutes = string(b)
	msg, err := r.e.d.Messages.CreateMeetingMessage(ctx, r.m.RoomID, r.m.ID, apiRole(r.chair), RenderMinutes(r.m.Topic, mm), api.MessageMeetingMinutes)
	if err != nil {
		r.log.Error("store minutes", "err", err)
		return
	}
	r.m.MinutesMessageID = msg.ID
}

// parseMinutes reads a structured minutes answer.
func parseMinutes(raw json.RawMessage) (api.MeetingMinutes, error) {
	var mm api.MeetingMinutes
	if err := json.Unmarshal(raw, &mm); err != nil {
		return mm, fmt.Errorf("the minutes are not the JSON asked for: %w", err)
	}
	mm.Summary = strings.TrimSpace(mm.Summary)
	if mm.Summary == "" {
		return mm, errors.New("the minutes have no summary")
	}
	if mm.Decisions == nil {
		mm.Decisions = []string{}
	}
	if mm.ActionItems == nil {
		mm.ActionItems = []api.ActionItem{}
	}
	if mm.OpenQuestions == nil {
		mm.OpenQuestions = []string{}
	}
	return mm, nil
}
