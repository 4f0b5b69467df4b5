package ai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
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
	// Shared, when set, counts the replies' limits cluster-wide (a cluster
	// node; nil: in this process).
	Shared SharedLimits
	// NoCaches reads members, seats and keys from the store for every
	// reply: on a cluster node, other nodes change them without telling
	// this one's caches.
	NoCaches bool
	Logger   *slog.Logger
	Now      func() time.Time
}

// Orchestrator streams AI roles' replies into rooms. It implements
// service.Responder, service.AICaches and the realtime ai_cancel hook.
//
// Its parts, one file each: posting.go (a question's state while it
// commits), reads.go (the room reads and the prompt), calls.go (which
// provider, model and key; the budget; usage), reply.go (starting and
// running one reply, and the chain of replies it hands on to) and
// explain.go (what a failed reply tells the room).
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

// Cache lifetimes: seats and keys are dropped by their writers (the seats
// and keys services, through service.AICaches); members and role edits
// are not reported and may be this stale in a reply's preamble.
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
	roomTTL, keyTTL := roomCacheTTL, keyCacheTTL
	if cfg.NoCaches {
		roomTTL, keyTTL = 0, 0
	}
	lim := newLimiter(limits, cfg.Now)
	lim.shared, lim.logger = cfg.Shared, cfg.Logger.With("component", "ai")
	return &Orchestrator{
		cfg: cfg, reg: cfg.Registry, be: cfg.Backend, pub: cfg.Notifier, limits: limits,
		lim: lim, logger: cfg.Logger.With("component", "ai"), now: cfg.Now,
		baseCtx: ctx, stop: stop, streams: map[string]*liveStream{},
		members: newTTLCache[int64, []store.Member](roomTTL, 10000, cfg.Now),
		seats:   newTTLCache[int64, []store.Role](roomTTL, 10000, cfg.Now),
		keys:    newTTLCache[keyRef, cachedKey](keyTTL, 10000, cfg.Now),
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

var _ service.AICaches = (*Orchestrator)(nil)

// SeatsChanged implements service.AICaches: it drops the cached seats of a
// room.
func (o *Orchestrator) SeatsChanged(roomID int64) { o.seats.drop(roomID) }

// KeyChanged implements service.AICaches: it drops the cached key of a user
// for a provider.
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
