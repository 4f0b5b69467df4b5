package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/meeting"
)

// meetingTurn is what a meeting's turn adds to a trigger: the prompt the
// meeting built, and what the reply cost and how it ended.
type meetingTurn struct {
	id  int64
	req ChatRequest
	// Filled in by the reply.
	usage    Usage
	err      error
	canceled bool
}

// meetingID is the meeting_id of a reply's events (0: not a meeting turn).
func (t trigger) meetingID() int64 {
	if t.meeting == nil {
		return 0
	}
	return t.meeting.id
}

// meetingReplies is implemented by a Backend that stores meeting replies
// with their meeting_id on the message event (StoreBackend).
type meetingReplies interface {
	CreateMeetingReply(ctx context.Context, roomID, meetingID int64, role api.Role, content, messageType string, truncated bool) (api.Message, error)
}

// CreateMeetingReply implements meetingReplies.
func (b *StoreBackend) CreateMeetingReply(ctx context.Context, roomID, meetingID int64, role api.Role, content, messageType string, truncated bool) (api.Message, error) {
	return b.Messages.CreateMeetingReply(ctx, roomID, meetingID, role, content, messageType, truncated)
}

// storeReply stores a role's reply (or its truncated part): a meeting
// turn's with the meeting_id on its message event.
func (o *Orchestrator) storeReply(ctx context.Context, t trigger, role api.Role, content string, truncated bool) (api.Message, error) {
	if mr, ok := o.be.(meetingReplies); ok && t.meeting != nil {
		return mr.CreateMeetingReply(ctx, t.room.ID, t.meeting.id, role, content, api.MessageAIResponse, truncated)
	}
	return o.be.CreateAIResponse(ctx, t.room.ID, role, content, truncated)
}

// MeetingRunner returns the orchestrator as the TurnRunner of meetings: a
// turn is an ordinary reply of the role in the room (the payer's budget,
// limits and key rules apply), with the meeting's prompt and meeting_id on
// its events, and it never hands on to roles it mentions.
func (o *Orchestrator) MeetingRunner() meeting.TurnRunner { return meetingRunner{o} }

type meetingRunner struct{ o *Orchestrator }

// errClosing refuses a turn while the orchestrator shuts down.
var errClosing = errors.New("the AI orchestrator is shutting down")

func (o *Orchestrator) chatRequest(p meeting.Prompt, maxTokens *int, temperature *float64) ChatRequest {
	req := ChatRequest{System: p.System, Messages: make([]ChatMessage, len(p.Messages)),
		MaxTokens: o.limits.clampTokens(maxTokens), Temperature: temperature}
	for i, m := range p.Messages {
		req.Messages[i] = ChatMessage{Role: TurnUser, Content: m.Content}
		if m.Assistant {
			req.Messages[i].Role = TurnAssistant
		}
	}
	return req
}

// budgetError turns a refusal of the daily budget into the meeting's kind.
func budgetError(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return &meeting.LimitError{Budget: true, Detail: le.Detail}
	}
	return fmt.Errorf("check token budget: %w", err)
}

// RunTurn implements meeting.TurnRunner.
func (r meetingRunner) RunTurn(ctx context.Context, mt meeting.Turn) (meeting.TurnResult, error) {
	o := r.o
	t := trigger{room: mt.Room, role: mt.Role, payer: mt.Payer,
		question: committedPosting(api.Message{RoomID: mt.Room.ID}),
		meeting:  &meetingTurn{id: mt.MeetingID, req: o.chatRequest(mt.Prompt, mt.Role.MaxTokens, mt.Role.Temperature)}}
	if err := o.checkBudget(ctx, t.payer); err != nil {
		return meeting.TurnResult{}, budgetError(err)
	}
	streamID := newStreamID()
	slot, err := o.lim.acquire(streamID, t.payer, t.room.ID)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return meeting.TurnResult{}, &meeting.LimitError{RetryAfter: le.RetryAfter, Detail: le.Detail}
		}
		return meeting.TurnResult{}, err
	}
	defer slot.release()
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWithOrch := context.AfterFunc(o.baseCtx, func() { cancel(context.Canceled) })
	defer stopWithOrch()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return meeting.TurnResult{}, errClosing
	}
	o.streams[streamID] = &liveStream{roomID: t.room.ID, cancel: cancel}
	o.wg.Add(1)
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.streams, streamID)
		o.mu.Unlock()
		o.wg.Done()
	}()
	msg, ok := o.run(rctx, streamID, t)
	res := meeting.TurnResult{Message: msg, Usage: meeting.Usage(t.meeting.usage), Canceled: t.meeting.canceled}
	if ok || res.Canceled {
		return res, nil
	}
	if t.meeting.err == nil {
		t.meeting.err = errors.New("the reply failed")
	}
	return res, t.meeting.err
}

// Structured implements meeting.TurnRunner: one structured call on the
// role's model, paid like the role's replies, not shown in the room.
func (r meetingRunner) Structured(ctx context.Context, c meeting.StructuredCall) (json.RawMessage, meeting.Usage, error) {
	o := r.o
	if err := o.checkBudget(ctx, c.Payer); err != nil {
		return nil, meeting.Usage{}, budgetError(err)
	}
	t := trigger{room: c.Room, role: c.Role, payer: c.Payer}
	model := c.Role.Model
	if model == "" {
		model = o.cfg.DefaultModel
	}
	owner := c.Role.UserID
	if owner != c.Payer && !o.ownerMayPay(ctx, t, c.Role.Model) {
		owner = 0
	}
	call, err := o.ResolveCall(ctx, model, "", c.Payer, owner)
	if err != nil {
		return nil, meeting.Usage{}, err
	}
	sp, ok := call.Entry.Provider.(StructuredProvider)
	if !ok {
		return nil, meeting.Usage{}, fmt.Errorf("provider %s cannot answer structured requests", call.Provider)
	}
	req := StructuredRequest{ChatRequest: o.chatRequest(c.Prompt, c.Role.MaxTokens, c.Role.Temperature),
		Name: c.Schema.Name, Description: c.Schema.Description, Schema: c.Schema.JSON}
	req.Model = call.Model
	rctx, cancel := context.WithTimeoutCause(ctx, o.limits.ReplyTimeout, ErrTimeout)
	defer cancel()
	raw, u, err := sp.Structured(rctx, call.Cred, req)
	o.recordUsage(o.logger.With("room_id", c.Room.ID, "role_id", c.Role.ID, "meeting_id", c.MeetingID), t, call, u)
	return raw, meeting.Usage(u), err
}
