package ai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
)

// Backend is what the orchestrator needs from the rest of the server: the
// stores and the messages service. server wires the real one; tests use
// in-memory fakes.
type Backend interface {
	// RoleByID returns a stored role (with its instructions).
	RoleByID(ctx context.Context, roleID int64) (store.Role, error)
	// SeatedRoles lists the roles seated in a room, in seating order.
	SeatedRoles(ctx context.Context, roomID int64) ([]store.Role, error)
	// RoleSeated reports whether a role is seated in a room.
	RoleSeated(ctx context.Context, roomID, roleID int64) (bool, error)
	// Members lists a room's members.
	Members(ctx context.Context, roomID int64) ([]store.Member, error)
	// RecentMessages returns up to limit messages with seq <= uptoSeq,
	// oldest first.
	RecentMessages(ctx context.Context, roomID, uptoSeq int64, limit int) ([]api.Message, error)
	// CreateAIResponse stores a role's answer and publishes its message event.
	CreateAIResponse(ctx context.Context, roomID int64, role api.Role, content string, truncated bool) (api.Message, error)
	// CreateSystem stores a system message and publishes it.
	CreateSystem(ctx context.Context, roomID int64, content string) (api.Message, error)
	// UserKey returns the user's stored credential for a provider.
	UserKey(ctx context.Context, userID int64, provider string) (Credentials, bool, error)
	// RecordUsage stores the tokens of one reply.
	RecordUsage(ctx context.Context, u UsageRecord) error
	// TokensSince sums a user's input+output tokens since t.
	TokensSince(ctx context.Context, userID int64, since time.Time) (int64, error)
}

// Publisher sends events to every socket of a room (service.Notifier).
type Publisher interface {
	Publish(roomID int64, ev wsproto.Event)
}

// UsageRecord is the cost of one reply.
type UsageRecord struct {
	UserID int64
	RoleID *int64
	RoomID *int64
	// KeyOwnerID is the user whose stored key paid (nil: the server's
	// key or a key sent with the request); usage is booked to them too.
	KeyOwnerID   *int64
	Provider     string
	Model        string
	InputTokens  int64
	OutputTokens int64
	At           time.Time
}

// Config configures an Orchestrator.
type Config struct {
	Registry *Registry
	Backend  Backend
	Notifier Publisher
	// DefaultModel is used for roles that name none.
	DefaultModel string
	// AllowServerKey lets replies fall back to the operator's keys.
	AllowServerKey bool
	Limits         Limits
	Logger         *slog.Logger
	Now            func() time.Time
}

// Orchestrator streams AI roles' replies into rooms. It implements
// service.Responder and the realtime ai_cancel hook.
type Orchestrator struct {
	cfg     Config
	reg     *Registry
	be      Backend
	pub     Publisher
	limits  Limits
	lim     *limiter
	logger  *slog.Logger
	now     func() time.Time
	baseCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	streams map[string]*liveStream

	// Caches of what every reply reads before its first token.
	members *ttlCache[int64, []store.Member]
	seats   *ttlCache[int64, []store.Role]
	keys    *ttlCache[keyRef, cachedKey]
}

type keyRef struct {
	userID   int64
	provider string
}

type cachedKey struct {
	cred Credentials
	ok   bool
}

// Cache lifetimes: seats and keys are dropped by the writers in this
// package; members and role edits come from elsewhere and may be this stale
// in a reply's preamble.
const (
	roomCacheTTL = 2 * time.Second
	keyCacheTTL  = time.Minute
)

type liveStream struct {
	roomID int64
	cancel context.CancelCauseFunc
}

// New returns an orchestrator. Call Close on shutdown.
func New(cfg Config) *Orchestrator {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultModel == "" {
		cfg.DefaultModel = "openai/gpt-4o-mini"
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	limits := cfg.Limits.withDefaults()
	ctx, stop := context.WithCancel(context.Background())
	return &Orchestrator{
		cfg: cfg, reg: cfg.Registry, be: cfg.Backend, pub: cfg.Notifier, limits: limits,
		lim: newLimiter(limits, cfg.Now), logger: cfg.Logger.With("component", "ai"), now: cfg.Now,
		baseCtx: ctx, stop: stop, streams: map[string]*liveStream{},
		members: newTTLCache[int64, []store.Member](roomCacheTTL, 10000, cfg.Now),
		seats:   newTTLCache[int64, []store.Role](roomCacheTTL, 10000, cfg.Now),
		keys:    newTTLCache[keyRef, cachedKey](keyCacheTTL, 10000, cfg.Now),
	}
}

// seatedRoles reads the roles seated in a room, cached.
func (o *Orchestrator) seatedRoles(ctx context.Context, roomID int64) ([]store.Role, error) {
	if rs, ok := o.seats.get(roomID); ok {
		return rs, nil
	}
	rs, err := o.be.SeatedRoles(ctx, roomID)
	if err != nil {
		return nil, err
	}
	o.seats.put(roomID, rs)
	return rs, nil
}

// freshSeatedRoles reads the seated roles from the store (triggers must
// not answer for a role unseated or deleted a moment ago) and refreshes the
// cache the reply's preamble reads.
func (o *Orchestrator) freshSeatedRoles(ctx context.Context, roomID int64) ([]store.Role, error) {
	rs, err := o.be.SeatedRoles(ctx, roomID)
	if err != nil {
		return nil, err
	}
	o.seats.put(roomID, rs)
	return rs, nil
}

// roomMembers reads a room's members, cached.
func (o *Orchestrator) roomMembers(ctx context.Context, roomID int64) ([]store.Member, error) {
	if ms, ok := o.members.get(roomID); ok {
		return ms, nil
	}
	ms, err := o.be.Members(ctx, roomID)
	if err != nil {
		return nil, err
	}
	o.members.put(roomID, ms)
	return ms, nil
}

// userKey reads a user's key for a provider, cached (also its absence).
func (o *Orchestrator) userKey(ctx context.Context, userID int64, provider string) (Credentials, bool, error) {
	ref := keyRef{userID, provider}
	if k, ok := o.keys.get(ref); ok {
		return k.cred, k.ok, nil
	}
	cred, ok, err := o.be.UserKey(ctx, userID, provider)
	if err != nil {
		return Credentials{}, false, err
	}
	o.keys.put(ref, cachedKey{cred, ok})
	return cred, ok, nil
}

// SeatsChanged drops the cached seats of a room.
func (o *Orchestrator) SeatsChanged(roomID int64) { o.seats.drop(roomID) }

// KeyChanged drops the cached key of a user for a provider.
func (o *Orchestrator) KeyChanged(userID int64, provider string) {
	o.keys.drop(keyRef{userID, provider})
}

// Running is the number of replies under way (started and not yet over,
// their slot in the limits still taken).
func (o *Orchestrator) Running() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.streams)
}

// Limits returns the effective limits.
func (o *Orchestrator) Limits() Limits { return o.limits }

// Close cancels every running reply and waits for them to finish storing
// what they have.
func (o *Orchestrator) Close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.stop()
	o.wg.Wait()
}

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

// roomReads are the reads a reply's prompt needs (members, seated roles,
// history up to the message answered), done in the background. They do not
// depend on the role, so MessageCreated starts them while it reads the
// role; every role answering the same message shares them (read-only).
type roomReads struct {
	done    chan struct{}
	members []store.Member
	seated  []store.Role
	hist    []api.Message
	err     error
}

// readRoom starts the room reads for a reply to the message with seq
// uptoSeq; wait for them with wait.
func (o *Orchestrator) readRoom(ctx context.Context, roomID, uptoSeq int64) *roomReads {
	rr := &roomReads{done: make(chan struct{})}
	if ms, ok := o.members.get(roomID); ok {
		if rs, ok := o.seats.get(roomID); ok {
			// Members and seats are cached: the history is the one read
			// left, which needs no goroutine of its own.
			rr.members, rr.seated = ms, rs
			hist, err := o.be.RecentMessages(ctx, roomID, uptoSeq, o.limits.HistoryMessages)
			if err != nil {
				rr.err = fmt.Errorf("room history: %w", err)
			}
			rr.hist = slices.Clip(hist)
			close(rr.done)
			return rr
		}
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer close(rr.done)
		var (
			wg                    sync.WaitGroup
			errMembers, errSeated error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			rr.members, errMembers = o.roomMembers(ctx, roomID)
		}()
		go func() {
			defer wg.Done()
			rr.seated, errSeated = o.seatedRoles(ctx, roomID)
		}()
		hist, err := o.be.RecentMessages(ctx, roomID, uptoSeq, o.limits.HistoryMessages)
		wg.Wait()
		switch {
		case errMembers != nil:
			rr.err = fmt.Errorf("room members: %w", errMembers)
		case errSeated != nil:
			rr.err = fmt.Errorf("seated roles: %w", errSeated)
		case err != nil:
			rr.err = fmt.Errorf("room history: %w", err)
		}
		// Clipped: a reply appending to its copy never writes into another's.
		rr.hist = slices.Clip(hist)
	}()
	return rr
}

// ready reports whether the reads are done.
func (rr *roomReads) ready() bool {
	select {
	case <-rr.done:
		return true
	default:
		return false
	}
}

// wait returns the reads once done (or ctx's error first).
func (rr *roomReads) wait(ctx context.Context) error {
	select {
	case <-rr.done:
		return rr.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// posting is a question announced by MessagePosting: the replies to it
// prepare and call their provider while it commits, and show nothing until
// it is committed; when it is dropped they are cancelled and end silently.
type posting struct {
	mu      sync.Mutex
	state   postingState
	msg     api.Message
	done    chan struct{}
	cancels []context.CancelCauseFunc
}

type postingState int

const (
	postingPending postingState = iota
	postingCommitted
	postingDropped
)

// errDropped ends a reply whose question was not stored.
var errDropped = errors.New("the message was not stored")

func newPosting() *posting { return &posting{done: make(chan struct{})} }

// committedPosting is the posting of a message already stored.
func committedPosting(msg api.Message) *posting {
	p := &posting{state: postingCommitted, msg: msg, done: make(chan struct{})}
	close(p.done)
	return p
}

// Committed implements service.Posting.
func (p *posting) Committed(msg api.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != postingPending {
		return
	}
	p.state, p.msg, p.cancels = postingCommitted, msg, nil
	close(p.done)
}

// Dropped implements service.Posting.
func (p *posting) Dropped() {
	p.mu.Lock()
	if p.state != postingPending {
		p.mu.Unlock()
		return
	}
	p.state = postingDropped
	cancels := p.cancels
	p.cancels = nil
	close(p.done)
	p.mu.Unlock()
	for _, c := range cancels {
		c(errDropped)
	}
}

// watch makes a drop cancel a reply's context.
func (p *posting) watch(cancel context.CancelCauseFunc) {
	p.mu.Lock()
	switch p.state {
	case postingPending:
		p.cancels = append(p.cancels, cancel)
		p.mu.Unlock()
	case postingDropped:
		p.mu.Unlock()
		cancel(errDropped)
	default:
		p.mu.Unlock()
	}
}

// dropped reports whether the question was dropped.
func (p *posting) dropped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == postingDropped
}

// settled reports whether the outcome is known.
func (p *posting) settled() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the stored question, or ok=false when it was dropped or
// ctx ended before it was settled (a settled outcome wins over an ended
// ctx: a reply failing because the server closes still says so).
func (p *posting) wait(ctx context.Context) (api.Message, bool) {
	select {
	case <-p.done:
	default:
		select {
		case <-p.done:
		case <-ctx.Done():
			return api.Message{}, false
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msg, p.state == postingCommitted
}

// MessagePosting implements service.Responder: it decides which roles
// answer the message about to be stored and starts their replies, which
// show once it is committed. It never blocks.
func (o *Orchestrator) MessagePosting(_ context.Context, room api.Room, draft api.Message, req api.CreateMessageRequest, named *store.Role) service.Posting {
	if draft.MessageType != api.MessageText || draft.UserID == nil {
		return service.NopPosting{}
	}
	mentions := len(Mentions(draft.Content)) > 0
	if draft.RoleID == nil && !mentions {
		return service.NopPosting{}
	}
	question := newPosting()
	// The history of the prompt: the room as it was when the message was
	// posted, then the message. (Messages committed at the same moment by
	// others may or may not be in it, as for the people in the room.)
	upto := room.LastSeq
	if draft.Seq > 0 {
		upto = draft.Seq // already stored (MessageCreated)
	}
	payer := *draft.UserID
	hops := newHopBudget(o.limits.MaxHops)
	// Add under the lock Close takes, so no reply starts once Close waits.
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return service.NopPosting{}
	}
	o.wg.Add(1)
	o.mu.Unlock()
	go func() {
		defer o.wg.Done()
		ctx := o.baseCtx
		var reads *roomReads
		if draft.RoleID != nil {
			// The prompt's reads do not depend on which role answers:
			// start them now, alongside the role read.
			reads = o.readRoom(ctx, room.ID, upto)
		}
		var targets []store.Role
		seen := map[int64]bool{}
		if draft.RoleID != nil {
			// The messages service read the role in this request (after
			// checking the author may use it); read it only without that.
			var r store.Role
			var err error
			if named != nil && named.ID == *draft.RoleID {
				r = *named
			} else {
				r, err = o.be.RoleByID(ctx, *draft.RoleID)
			}
			switch {
			case err != nil:
				o.logger.Warn("role for reply", "role_id", *draft.RoleID, "err", err)
			case strings.TrimSpace(r.AIInstructions) != "":
				targets = append(targets, r)
				seen[r.ID] = true
			}
		}
		if mentions {
			seated, err := o.freshSeatedRoles(ctx, room.ID)
			if err != nil {
				o.logger.Error("seated roles", "room_id", room.ID, "err", err)
			}
			for _, r := range MentionedRoles(draft.Content, seated, 0) {
				if !seen[r.ID] {
					seen[r.ID] = true
					targets = append(targets, r)
				}
			}
		}
		if reads == nil && len(targets) > 0 {
			reads = o.readRoom(ctx, room.ID, upto)
		}
		for i, r := range targets {
			o.start(trigger{room: room, role: r, replyTo: draft, question: question, payer: payer,
				apiKey: req.APIKey, model: req.Model, reads: reads, hops: hops}, i == len(targets)-1)
		}
	}()
	return question
}

// MessageCreated starts the replies to a message already stored and
// published (MessagePosting and Committed at once).
func (o *Orchestrator) MessageCreated(ctx context.Context, room api.Room, msg api.Message, req api.CreateMessageRequest, named *store.Role) {
	o.MessagePosting(ctx, room, msg, req, named).Committed(msg)
}

// Cancel stops a running reply in roomID (the realtime ai_cancel hook).
// The text streamed so far is stored, marked as truncated.
func (o *Orchestrator) Cancel(ctx context.Context, userID, roomID int64, streamID string) error {
	o.mu.Lock()
	s, ok := o.streams[streamID]
	o.mu.Unlock()
	if !ok || s.roomID != roomID {
		return service.NotFound("No such AI reply in this room (it may have finished)")
	}
	s.cancel(&cancelCause{userID: userID})
	return nil
}

type cancelCause struct{ userID int64 }

func (c *cancelCause) Error() string { return "reply cancelled" }

func newStreamID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "s_" + hex.EncodeToString(b[:])
}

func apiRole(r store.Role) api.Role {
	return api.Role{ID: r.ID, UserID: r.UserID, Name: r.Name, Avatar: r.Avatar, Description: r.Description,
		Handle: r.Handle, Model: r.Model, Temperature: r.Temperature, MaxTokens: r.MaxTokens, CreatedAt: r.CreatedAt}
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
			fail(le.Code, le.Detail)
		} else {
			o.logger.Error("check token budget", "user_id", t.payer, "err", err)
		}
		return
	}
	slot, err := o.lim.acquire(t.payer, t.room.ID)
	if err != nil {
		var le *LimitError
		errors.As(err, &le)
		fail(le.Code, le.Detail)
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

// checkBudget refuses a reply when the payer spent the daily token budget.
func (o *Orchestrator) checkBudget(ctx context.Context, userID int64) error {
	b := o.limits.DailyTokenBudget
	if b <= 0 {
		return nil
	}
	now := o.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	used, err := o.be.TokensSince(ctx, userID, day)
	if err != nil {
		return fmt.Errorf("tokens used today: %w", err)
	}
	if used >= b {
		return &LimitError{Code: api.CodeBudgetExceeded, RetryAfter: day.Add(24 * time.Hour).Sub(now),
			Detail: fmt.Sprintf("your daily AI token budget (%d tokens) is spent; it resets at midnight UTC.", b)}
	}
	return nil
}

// Call is one resolved provider call: which provider, which model, whose key.
type Call struct {
	Entry    ProviderEntry
	Provider string
	Model    string
	Cred     Credentials
	// KeyOwner is the user whose stored key pays (0: the server's key or
	// a key sent with the request).
	KeyOwner int64
}

// NoKeyError says no credential was found for a provider.
type NoKeyError struct{ Provider string }

func (e *NoKeyError) Error() string {
	return fmt.Sprintf("No %s API key: add one with `vc keys add %s`", DisplayName(e.Provider), e.Provider)
}

// ResolveCall picks the provider, model and credential for a call:
// the per-message key > the payer's stored key > the role owner's > the
// server's (when the operator allows it). owner is 0 when the role owner's
// key may not pay (see ownerMayPay).
func (o *Orchestrator) ResolveCall(ctx context.Context, model, perMessageKey string, payer, owner int64) (Call, error) {
	if model == "" {
		model = o.cfg.DefaultModel
	}
	pid, mid, err := o.reg.Resolve(model)
	if err != nil {
		return Call{}, err
	}
	e, ok := o.reg.Get(pid)
	if !ok {
		return Call{}, fmt.Errorf("%w: provider %q of model %q is not configured on this server", ErrBadRequest, pid, model)
	}
	c := Call{Entry: e, Provider: pid, Model: mid}
	if perMessageKey != "" {
		c.Cred = Credentials{APIKey: perMessageKey}
		return c, nil
	}
	for _, uid := range []int64{payer, owner} {
		if uid == 0 {
			continue
		}
		cred, ok, err := o.userKey(ctx, uid, pid)
		if err != nil {
			return Call{}, fmt.Errorf("read %s key: %w", pid, err)
		}
		if ok {
			c.Cred, c.KeyOwner = cred, uid
			return c, nil
		}
		if owner == payer {
			break
		}
	}
	if e.NoKey || (o.cfg.AllowServerKey && e.ServerKey.APIKey != "") {
		c.Cred = e.ServerKey
		return c, nil
	}
	return Call{}, &NoKeyError{Provider: pid}
}

// ownerMayPay reports whether the role owner's key may pay for a reply
// someone else asked for: only on the role's own model, and only for a
// reply the owner can see (they are a member of the room).
func (o *Orchestrator) ownerMayPay(ctx context.Context, t trigger, model string) bool {
	if model != t.role.Model {
		return false
	}
	members, err := o.roomMembers(ctx, t.room.ID)
	if err != nil {
		o.logger.Error("room members", "room_id", t.room.ID, "err", err)
		return false
	}
	return slices.ContainsFunc(members, func(m store.Member) bool { return m.UserID == t.role.UserID })
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

// buildRequest reads the room (members, seated roles, history; at once)
// unless the trigger's reads were started already, and builds the prompt.
// The model is filled in by the caller.
func (o *Orchestrator) buildRequest(ctx context.Context, t trigger) (ChatRequest, error) {
	rr := t.reads
	if rr == nil {
		rr = o.readRoom(ctx, t.room.ID, t.replyTo.Seq)
	}
	if err := rr.wait(ctx); err != nil {
		return ChatRequest{}, err
	}
	members, seated, hist := rr.members, rr.seated, rr.hist
	if len(hist) == 0 || hist[len(hist)-1].ID != t.replyTo.ID {
		hist = append(hist, t.replyTo)
	}
	people := make([]string, 0, len(members))
	for _, m := range members {
		people = append(people, m.Username)
	}
	others := make([]store.Role, 0, len(seated))
	for _, r := range seated {
		if r.ID != t.role.ID {
			others = append(others, r)
		}
	}
	system, msgs := BuildContext(ContextInput{Role: t.role, RoomName: t.room.Name, People: people, Others: others,
		History: hist, HistoryTokens: o.limits.HistoryTokens})
	return ChatRequest{System: system, Messages: msgs,
		MaxTokens: o.limits.clampTokens(t.role.MaxTokens), Temperature: t.role.Temperature}, nil
}

func (o *Orchestrator) recordUsage(log *slog.Logger, t trigger, call Call, u Usage) {
	if t.meeting != nil {
		t.meeting.usage.InputTokens += u.InputTokens
		t.meeting.usage.OutputTokens += u.OutputTokens
	}
	if u.InputTokens == 0 && u.OutputTokens == 0 {
		return
	}
	rid, room := t.role.ID, t.room.ID
	err := o.be.RecordUsage(context.WithoutCancel(o.baseCtx), UsageRecord{UserID: t.payer, RoleID: &rid, RoomID: &room,
		KeyOwnerID: keyOwner(call), Provider: call.Provider, Model: call.Provider + "/" + call.Model, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, At: o.now().UTC()})
	if err != nil {
		log.Error("record usage", "err", err)
	}
}

// keyOwner is the usage record's KeyOwnerID of a call.
func keyOwner(c Call) *int64 {
	if c.KeyOwner == 0 {
		return nil
	}
	id := c.KeyOwner
	return &id
}

// failed ends a reply that went wrong: the partial text (if any) is stored
// as truncated, then ai_error and a system message saying what to do. A
// cancellation by a member stores the partial text and ends with ai_error
// code "canceled" but no system message.
func (o *Orchestrator) failed(ctx context.Context, log *slog.Logger, streamID string, t trigger, call Call, err error, partial string) {
	room, roleID := t.room, t.role.ID
	sctx := context.WithoutCancel(ctx)
	q, ok := t.question.wait(o.baseCtx)
	if !ok {
		return // the question was not stored (or the server is closing)
	}
	var msgID int64
	if partial != "" {
		msg, serr := o.storeReply(sctx, t, apiRole(t.role), partial, true)
		if serr != nil {
			log.Error("store truncated reply", "err", serr)
		} else {
			msgID = msg.ID
		}
	}
	code, detail := Explain(err, call.Provider, o.limits.ReplyTimeout)
	var cc *cancelCause
	canceled := errors.As(context.Cause(ctx), &cc) || (errors.Is(err, ErrCanceled) && o.baseCtx.Err() == nil && ctx.Err() != nil)
	if canceled {
		code, detail = "canceled", "The reply was cancelled."
	} else if o.baseCtx.Err() != nil {
		code, detail = api.CodeUnavailable, "The server is shutting down; ask again in a moment."
	}
	if t.meeting != nil {
		t.meeting.err, t.meeting.canceled = err, cc != nil
	}
	o.pub.Publish(room.ID, wsproto.Event{Type: wsproto.TypeAIError, RoomID: room.ID, StreamID: streamID, RoleID: &roleID,
		Role: t.role.Name, ReplyTo: q.ID, MessageID: msgID, Detail: detail, Code: code, MeetingID: t.meetingID()})
	if canceled {
		return
	}
	log.Info("reply failed", "code", code, "err", err)
	if _, serr := o.be.CreateSystem(sctx, room.ID, t.role.Name+" could not answer: "+detail); serr != nil {
		log.Error("store system message", "err", serr)
	}
}

// Explain turns a reply error into an api code and a sentence a user can
// act on. It never includes a key.
func Explain(err error, provider string, timeout time.Duration) (code, detail string) {
	name := DisplayName(provider)
	var nk *NoKeyError
	var le *LimitError
	var pe *Error
	switch {
	case errors.As(err, &nk):
		return api.CodeNoAPIKey, nk.Error() + "."
	case errors.As(err, &le):
		return le.Code, le.Detail
	case errors.Is(err, ErrEndpointUnreachable) && errors.As(err, &pe):
		return api.CodeProviderError, fmt.Sprintf("%s: %s. Check the base_url of your %s key.", DisplayName(pe.Provider), pe.Message, pe.Provider)
	case errors.As(err, &pe):
		name = DisplayName(pe.Provider)
		status := ""
		if pe.Status != 0 {
			status = fmt.Sprintf(" (%d)", pe.Status)
		}
		switch pe.Kind {
		case KindAuth:
			return api.CodeProviderAuth, fmt.Sprintf("%s rejected the key%s: check it, then replace it with `vc keys add %s`.", name, status, pe.Provider)
		case KindRateLimit:
			return api.CodeProviderLimited, fmt.Sprintf("%s is rate limiting this key%s: wait a minute and ask again.", name, status)
		case KindBadRequest:
			msg := pe.Message
			if msg == "" {
				msg = "bad request"
			}
			return api.CodeProviderError, fmt.Sprintf("%s rejected the request%s: %s. Check the role's model.", name, status, strings.TrimRight(msg, "."))
		case KindTimeout:
			return api.CodeProviderError, fmt.Sprintf("%s did not finish within %s: the reply was stopped. Try again, or pick a faster model.", name, timeout)
		case KindCanceled:
			return "canceled", "The reply was cancelled."
		default:
			if pe.Message == "the stream ended before the reply was complete" || pe.Status == 0 && pe.Err != nil && strings.Contains(pe.Err.Error(), "EOF") {
				return api.CodeProviderError, fmt.Sprintf("The connection to %s was cut mid-reply: the text so far is kept, marked as truncated. Ask again for a full answer.", name)
			}
			return api.CodeProviderError, fmt.Sprintf("%s is unavailable right now%s: try again in a moment.", name, status)
		}
	case errors.Is(err, ErrBadRequest):
		return api.CodeBadRequest, err.Error() + "."
	}
	return api.CodeInternal, "Something went wrong on the server; try again."
}
