package ai

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/store"
)

// trigger is one reply to produce.
type trigger struct {
	room api.Room
	role store.Role
	// replyTo is the message answered: a draft (no id or seq) until
	// question says it is committed; read it from question.wait before
	// publishing anything.
	replyTo  api.Message
	question *posting
	payer    int64 // the human whose message started the chain
	apiKey   string
	model    string
	hop      int
	// hops is the budget of role-to-role replies shared by every reply
	// that descends from one human message.
	hops *hopBudget
	// reads are the room reads for the prompt, started early (nil: the
	// reply reads them itself).
	reads *roomReads
	// meeting is set on a meeting's turn (meeting.go).
	meeting *meetingTurn
}

// start checks the limits and runs one reply: in its own goroutine, or in
// the caller's when inline (the caller is a goroutine of the orchestrator
// with nothing else to do; it saves a hop before the first token).
func (o *Orchestrator) start(t trigger, inline bool) {
	streamID := newStreamID()
	roleID := t.role.ID
	if t.question == nil {
		t.question = committedPosting(t.replyTo)
	}
	fail := func(code, detail string) {
		q, ok := t.question.wait(o.baseCtx)
		if !ok {
			return // the question was not stored: nothing to answer
		}
		o.pub.Publish(t.room.ID, wsproto.Event{Type: wsproto.TypeAIError, RoomID: t.room.ID, StreamID: streamID,
			RoleID: &roleID, Role: t.role.Name, ReplyTo: q.ID, Detail: detail, Code: code})
		if _, err := o.be.CreateSystem(context.WithoutCancel(o.baseCtx), t.room.ID, t.role.Name+" could not answer: "+detail); err != nil {
			o.logger.Error("store system message", "room_id", t.room.ID, "err", err)
		}
	}
	if o.baseCtx.Err() != nil {
		return
	}
	if err := o.checkBudget(o.baseCtx, t.payer); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			fail(le.Kind.Code, le.Detail)
		} else {
			o.logger.Error("check token budget", "user_id", t.payer, "err", err)
		}
		return
	}
	slot, err := o.lim.acquire(streamID, t.payer, t.room.ID)
	if err != nil {
		var le *LimitError
		errors.As(err, &le)
		fail(le.Kind.Code, le.Detail)
		return
	}
	ctx, cancel := context.WithCancelCause(o.baseCtx)
	t.question.watch(cancel)
	o.mu.Lock()
	o.streams[streamID] = &liveStream{roomID: t.room.ID, cancel: cancel}
	o.mu.Unlock()
	reply := func() {
		reply, ok := o.run(ctx, streamID, t)
		cancel(nil)
		// Free the slot before handing on, so a chain of roles needs one
		// slot at a time. A reply to a question that was not stored does
		// not count against the per-minute limit.
		if t.question.dropped() {
			slot.refund()
		}
		slot.release()
		o.mu.Lock()
		delete(o.streams, streamID)
		o.mu.Unlock()
		if ok {
			o.handOn(t, reply)
		}
	}
	if inline {
		reply()
		return
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		reply()
	}()
}

// run produces one reply: ai_start, ai_delta..., the stored message, ai_done;
// or ai_error and a system message.
func (o *Orchestrator) run(ctx context.Context, streamID string, t trigger) (api.Message, bool) {
	room, roleID := t.room, t.role.ID
	role := apiRole(t.role)
	log := o.logger.With("room_id", room.ID, "role_id", roleID, "stream_id", streamID)
	model := t.role.Model
	if t.model != "" && t.hop == 0 {
		model = t.model
	}
	// The key and the context are independent reads: do them at once, the
	// time to the first token is their slowest, not their sum.
	var req ChatRequest
	var reqErr error
	built := make(chan struct{})
	if t.meeting != nil {
		req = t.meeting.req
		close(built)
	} else if t.reads != nil && t.reads.ready() {
		req, reqErr = o.buildRequest(ctx, t)
		close(built)
	} else {
		go func() {
			defer close(built)
			req, reqErr = o.buildRequest(ctx, t)
		}()
	}
	owner := t.role.UserID
	if owner != t.payer && !o.ownerMayPay(ctx, t, model) {
		owner = 0
	}
	call, err := o.ResolveCall(ctx, model, t.apiKey, t.payer, owner)
	<-built
	if err != nil {
		o.failed(ctx, log, streamID, t, call, err, "")
		return api.Message{}, false
	}
	// ai_start goes out once the question is stored and published, and
	// before any delta: the provider call below may start earlier, its
	// deltas wait here.
	announce := sync.OnceValue(func() bool {
		q, ok := t.question.wait(ctx)
		if ok {
			o.pub.Publish(room.ID, wsproto.Event{Type: wsproto.TypeAIStart, RoomID: room.ID, StreamID: streamID,
				RoleID: &roleID, Role: t.role.Name, ReplyTo: q.ID, Model: call.Provider + "/" + call.Model, MeetingID: t.meetingID()})
		}
		return ok
	})
	if t.question.settled() {
		announce()
	} else {
		go announce()
	}
	if reqErr != nil {
		if announce() {
			o.failed(ctx, log, streamID, t, call, reqErr, "")
		}
		return api.Message{}, false
	}
	req.Model = call.Model
	rctx, cancel := context.WithTimeoutCause(ctx, o.limits.ReplyTimeout, ErrTimeout)
	defer cancel()
	var text strings.Builder
	deltas := int64(0)
	res, err := call.Entry.Provider.StreamChat(rctx, call.Cred, req, func(d string) error {
		if !announce() {
			return errDropped
		}
		text.WriteString(d)
		deltas++
		o.pub.Publish(room.ID, wsproto.Event{Type: wsproto.TypeAIDelta, RoomID: room.ID, StreamID: streamID, Delta: d, MeetingID: t.meetingID()})
		return nil
	})
	if merr := maskEndpointError(err, call.Cred, deltas > 0); merr != err {
		log.Info("user endpoint unreachable", "provider", call.Provider, "err", err)
		err = merr
	}
	usage := res.Usage
	if usage.OutputTokens == 0 {
		usage.OutputTokens = deltas
	}
	if !announce() {
		// The question was not stored: the call was cancelled; what it
		// cost is still the payer's.
		o.recordUsage(log, t, call, usage)
		return api.Message{}, false
	}
	if err != nil {
		o.recordUsage(log, t, call, usage)
		o.failed(ctx, log, streamID, t, call, err, text.String())
		return api.Message{}, false
	}
	content := text.String()
	if content == "" {
		o.recordUsage(log, t, call, usage)
		o.failed(ctx, log, streamID, t, call, &Error{Kind: KindUnavailable, Provider: call.Provider, Message: "the reply was empty"}, "")
		return api.Message{}, false
	}
	msg, err := o.storeReply(context.WithoutCancel(ctx), t, role, content, res.Truncated)
	if err != nil {
		log.Error("store reply", "err", err)
		q, _ := t.question.wait(ctx)
		o.pub.Publish(room.ID, wsproto.Event{Type: wsproto.TypeAIError, RoomID: room.ID, StreamID: streamID,
			RoleID: &roleID, Role: t.role.Name, ReplyTo: q.ID, Detail: "The reply could not be stored.", Code: api.CodeInternal, MeetingID: t.meetingID()})
		return api.Message{}, false
	}
	o.recordUsage(log, t, call, usage)
	o.pub.Publish(room.ID, wsproto.Event{Type: wsproto.TypeAIDone, RoomID: room.ID, StreamID: streamID,
		RoleID: &roleID, MessageID: msg.ID, Usage: &wsproto.Usage{InputTokens: usage.InputTokens, OutputTokens: usage.OutputTokens}, MeetingID: t.meetingID()})
	return msg, true
}

// handOn starts the replies of roles that a role's reply mentions, as far
// as the hop budget of the human message that started the chain lasts: one
// budget for every branch, so two roles mentioning each other cannot
// multiply the replies.
func (o *Orchestrator) handOn(t trigger, reply api.Message) {
	if o.baseCtx.Err() != nil || t.hops == nil || t.hops.left() <= 0 {
		return
	}
	if len(Mentions(reply.Content)) == 0 {
		return
	}
	seated, err := o.freshSeatedRoles(o.baseCtx, t.room.ID)
	if err != nil {
		o.logger.Error("seated roles", "room_id", t.room.ID, "err", err)
		return
	}
	var next []store.Role
	for _, r := range MentionedRoles(reply.Content, seated, t.role.ID) {
		if !t.hops.take() {
			o.logger.Info("hop budget spent", "room_id", t.room.ID, "role_id", r.ID, "max_hops", o.limits.MaxHops)
			break
		}
		next = append(next, r)
	}
	for i, r := range next {
		o.start(trigger{room: t.room, role: r, replyTo: reply, question: committedPosting(reply), payer: t.payer, hop: t.hop + 1, hops: t.hops}, i == len(next)-1)
	}
}

// hopBudget counts the role-to-role replies still allowed after one human
// message (llm.max_hops). Safe for concurrent use: branches of a chain
// run at once.
type hopBudget struct{ n atomic.Int64 }

func newHopBudget(max int) *hopBudget {
	b := &hopBudget{}
	b.n.Store(int64(max))
	return b
}

func (b *hopBudget) left() int64 { return b.n.Load() }

// take spends one hop; false when none is left.
func (b *hopBudget) take() bool {
	for {
		n := b.n.Load()
		if n <= 0 {
			return false
		}
		if b.n.CompareAndSwap(n, n-1) {
			return true
		}
	}
}
