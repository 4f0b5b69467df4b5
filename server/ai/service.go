package ai

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/secrets"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
)

// Service is the AI part of the REST API: seats of roles in rooms, API
// keys, usage, models and one-shot generation. Errors are service errors
// (mapped by httpapi) or *StatusError for provider failures.
type Service struct {
	st       Store
	keys     *secrets.Keyring
	services *service.Services
	orch     *Orchestrator
	cat      *Catalogue
	pub      Publisher
	now      func() time.Time
	// allowPrivate lets users' keys point at non-public addresses.
	allowPrivate bool
}

// ServiceDeps are the collaborators of a Service.
type ServiceDeps struct {
	Store        Store
	Keys         *secrets.Keyring
	Services     *service.Services
	Orchestrator *Orchestrator
	Catalogue    *Catalogue
	// Notifier tells rooms that their seated roles changed.
	Notifier Publisher
	Now      func() time.Time
	// AllowPrivateBaseURLs lets the base_url of users' keys be a
	// loopback, private or link-local address (llm.allow_private_base_urls).
	AllowPrivateBaseURLs bool
}

// NewService returns the service.
func NewService(d ServiceDeps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{st: d.Store, keys: d.Keys, services: d.Services, orch: d.Orchestrator, cat: d.Catalogue, pub: d.Notifier, now: d.Now,
		allowPrivate: d.AllowPrivateBaseURLs}
}

// SetNotifier replaces the notifier (while wiring).
func (s *Service) SetNotifier(p Publisher) { s.pub = p }

// StatusError is a failure with its own HTTP status (provider errors on
// /api/llm/generate: 429, 502, 504, ...).
type StatusError struct {
	Status     int
	Body       api.Error
	RetryAfter time.Duration
}

func (e *StatusError) Error() string { return e.Body.Detail }

// SeatRole seats one of userID's roles in a room userID belongs to.
func (s *Service) SeatRole(ctx context.Context, userID, roomID, roleID int64) (api.Role, error) {
	if roleID <= 0 {
		return api.Role{}, service.Invalid("role_id", "is required")
	}
	if _, err := s.services.Rooms.RequireMember(ctx, roomID, userID); err != nil {
		return api.Role{}, err
	}
	r, err := s.services.Roles.Stored(ctx, userID, roleID)
	if err != nil {
		if errors.Is(err, service.ErrNotFound) {
			return api.Role{}, service.Invalid("role_id", "no such role")
		}
		return api.Role{}, err
	}
	if r.UserID != userID {
		return api.Role{}, service.Forbidden("Only the role's owner can seat it")
	}
	if err := s.st.SeatRole(ctx, roomID, roleID, userID); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.Role{}, service.Conflict("The role is already seated in this room")
		}
		return api.Role{}, fmt.Errorf("seat role: %w", err)
	}
	s.orch.SeatsChanged(roomID)
	s.roomChanged(roomID)
	return service.RoleOf(r, userID), nil
}

// RoomRoles lists the roles seated in a room (members only);
// ai_instructions only for the caller's own roles.
func (s *Service) RoomRoles(ctx context.Context, userID, roomID int64) ([]api.Role, error) {
	if _, err := s.services.Rooms.RequireMember(ctx, roomID, userID); err != nil {
		return nil, err
	}
	rs, err := s.st.SeatedRoles(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("seated roles: %w", err)
	}
	out := make([]api.Role, len(rs))
	for i, r := range rs {
		out[i] = service.RoleOf(r, userID)
	}
	return out, nil
}

// UnseatRole removes a role from a room: its owner or the room's creator may.
func (s *Service) UnseatRole(ctx context.Context, userID, roomID, roleID int64) error {
	room, err := s.services.Rooms.RequireMember(ctx, roomID, userID)
	if err != nil {
		return err
	}
	seated, err := s.st.RoleSeated(ctx, roomID, roleID)
	if err != nil {
		return fmt.Errorf("role seated: %w", err)
	}
	if !seated {
		return service.NotFound("The role is not seated in this room")
	}
	r, err := s.st.RoleByID(ctx, roleID)
	if err != nil {
		return fmt.Errorf("find role: %w", err)
	}
	if r.UserID != userID && room.CreatedBy != userID {
		return service.Forbidden("Only the role's owner or the room's creator can unseat it")
	}
	if err := s.st.UnseatRole(ctx, roomID, roleID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return service.NotFound("The role is not seated in this room")
		}
		return fmt.Errorf("unseat role: %w", err)
	}
	s.orch.SeatsChanged(roomID)
	s.roomChanged(roomID)
	return nil
}

func (s *Service) roomChanged(roomID int64) {
	if s.pub != nil {
		s.pub.Publish(roomID, wsproto.Event{Type: wsproto.TypeMembers, RoomID: roomID})
	}
}

// knownProvider reports whether keys for provider make sense here.
func (s *Service) knownProvider(p string) bool {
	if _, ok := s.orch.reg.Get(p); ok {
		return true
	}
	switch p {
	case ProviderOpenAI, ProviderAnthropic, ProviderOpenRouter:
		return true
	}
	return false
}

// AddKey stores userID's key for a provider (replacing the previous one),
// sealed with AES-256-GCM; the answer shows only its last four characters.
func (s *Service) AddKey(ctx context.Context, userID int64, req api.CreateKeyRequest) (api.APIKey, error) {
	provider := strings.ToLower(strings.TrimSpace(req.Provider))
	key := strings.TrimSpace(req.APIKey)
	switch {
	case provider == "":
		return api.APIKey{}, service.Invalid("provider", "is required")
	case !s.knownProvider(provider):
		return api.APIKey{}, service.Invalid("provider", "unknown provider %q (known: %s)", provider, strings.Join(s.providerIDs(), ", "))
	case key == "":
		return api.APIKey{}, service.Invalid("api_key", "is required")
	case len(key) > 1024:
		return api.APIKey{}, service.Invalid("api_key", "is longer than 1024 characters")
	case strings.IndexFunc(key, unicode.IsSpace) >= 0:
		return api.APIKey{}, service.Invalid("api_key", "must not contain spaces")
	}
	base := strings.TrimSpace(req.BaseURL)
	if base != "" {
		if err := CheckUserBaseURL(base, s.allowPrivate); err != nil {
			return api.APIKey{}, service.Invalid("base_url", "%s", err.Error())
		}
	}
	ct, ver, err := s.keys.Seal([]byte(key), KeyAAD(userID, provider))
	if err != nil {
		return api.APIKey{}, fmt.Errorf("seal key: %w", err)
	}
	last := key
	if len(last) > 4 {
		last = last[len(last)-4:]
	}
	k := store.APIKey{UserID: userID, Provider: provider, BaseURL: base, Ciphertext: ct, KeyVersion: ver, LastFour: last, CreatedAt: s.now()}
	if err := s.st.CreateAPIKey(ctx, &k); err != nil {
		return api.APIKey{}, fmt.Errorf("store key: %w", err)
	}
	s.orch.KeyChanged(userID, provider)
	return keyOf(k), nil
}

func (s *Service) providerIDs() []string {
	ids := s.orch.reg.IDs()
	for _, p := range []string{ProviderOpenAI, ProviderAnthropic, ProviderOpenRouter} {
		found := false
		for _, id := range ids {
			found = found || id == p
		}
		if !found {
			ids = append(ids, p)
		}
	}
	return ids
}

func keyOf(k store.APIKey) api.APIKey {
	return api.APIKey{ID: k.ID, Provider: k.Provider, LastFour: k.LastFour, BaseURL: k.BaseURL, CreatedAt: k.CreatedAt.UTC()}
}

// Keys lists userID's stored keys (never the keys themselves).
func (s *Service) Keys(ctx context.Context, userID int64) ([]api.APIKey, error) {
	ks, err := s.st.APIKeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]api.APIKey, len(ks))
	for i, k := range ks {
		out[i] = keyOf(k)
	}
	return out, nil
}

// DeleteKey removes one of userID's keys.
func (s *Service) DeleteKey(ctx context.Context, userID, keyID int64) error {
	if err := s.st.DeleteAPIKey(ctx, userID, keyID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return service.NotFound("Key not found")
		}
		return fmt.Errorf("delete key: %w", err)
	}
	for _, p := range s.providerIDs() {
		s.orch.KeyChanged(userID, p)
	}
	return nil
}

// Usage reports userID's token usage by day and model, with the budget.
func (s *Service) Usage(ctx context.Context, userID int64) (api.UsageReport, error) {
	rows, err := s.st.UsageByDay(ctx, userID, time.Time{})
	if err != nil {
		return api.UsageReport{}, fmt.Errorf("usage: %w", err)
	}
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	used, err := s.st.TokensSince(ctx, userID, today)
	if err != nil {
		return api.UsageReport{}, fmt.Errorf("usage today: %w", err)
	}
	rep := api.UsageReport{Rows: make([]api.UsageRow, len(rows)), DailyBudget: s.orch.limits.DailyTokenBudget, UsedToday: used}
	for i, r := range rows {
		rep.Rows[i] = api.UsageRow{Day: r.Day, Model: r.Model, Replies: r.Replies, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens}
		rep.TotalTokens += r.InputTokens + r.OutputTokens
	}
	others, err := s.st.UsageOnKeysOf(ctx, userID, time.Time{})
	if err != nil {
		return api.UsageReport{}, fmt.Errorf("usage on your keys: %w", err)
	}
	rep.OnMyKeysByOthers = make([]api.UsageRow, len(others))
	for i, r := range others {
		rep.OnMyKeysByOthers[i] = api.UsageRow{Day: r.Day, Model: r.Model, User: r.User, Replies: r.Replies, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens}
		rep.OnMyKeysByOthersTokens += r.InputTokens + r.OutputTokens
	}
	return rep, nil
}

// publicPrompt is the system prompt of a role for someone who does not own
// it: what its public name and description say, never its instructions.
func publicPrompt(r store.Role) string {
	p := fmt.Sprintf("You are %s (@%s).", r.Name, r.Handle)
	if d := strings.TrimSpace(r.Description); d != "" {
		p += fmt.Sprintf(" Your role: %s.", strings.TrimRight(d, "."))
	}
	return p
}

// Models lists the catalogue with the live lists of the providers userID
// (or the server) has a key for.
func (s *Service) Models(ctx context.Context, userID int64, refresh bool) []api.Model {
	return s.cat.Models(ctx, refresh, func(ctx context.Context, provider string) (Credentials, bool) {
		c, ok, err := s.orch.be.UserKey(ctx, userID, provider)
		if err != nil {
			return Credentials{}, false
		}
		return c, ok
	})
}

// Generation is a prepared one-shot call holding its limit slot; Run it
// once, then Close it.
type Generation struct {
	s       *Service
	userID  int64
	roleID  *int64
	call    Call
	req     ChatRequest
	release func()
}

// Model is the provider-qualified model the generation uses.
func (g *Generation) Model() string { return g.call.Provider + "/" + g.call.Model }

// Close releases the generation's limit slot.
func (g *Generation) Close() {
	if g.release != nil {
		g.release()
		g.release = nil
	}
}

// PrepareGenerate validates a one-shot request, resolves model and key and
// takes a limit slot. Failures are service errors or *StatusError.
func (s *Service) PrepareGenerate(ctx context.Context, userID int64, req api.GenerateRequest) (*Generation, error) {
	prompt := req.Prompt
	if strings.TrimSpace(prompt) == "" {
		return nil, service.Invalid("prompt", "is required")
	}
	if len(prompt) > 256<<10 {
		return nil, service.Invalid("prompt", "is longer than 256 KiB")
	}
	system, model := req.System, req.Model
	var maxTokens *int
	var temp *float64
	foreign, override := false, false
	if req.RoleID != nil {
		r, err := s.services.Roles.Stored(ctx, userID, *req.RoleID)
		if err != nil {
			if errors.Is(err, service.ErrNotFound) {
				return nil, service.Invalid("role_id", "no such role")
			}
			return nil, err
		}
		system = r.AIInstructions
		if r.UserID != userID {
			// A role seen through a shared room: its instructions are its
			// owner's, and its owner's key pays only for replies in rooms.
			foreign, system = true, publicPrompt(r)
		}
		if model == "" {
			model = r.Model
		}
		override = model != r.Model
		maxTokens, temp = r.MaxTokens, r.Temperature
	}
	o := s.orch
	// Only the caller's own key (sent or stored) or the server's pays.
	call, err := o.ResolveCall(ctx, model, req.APIKey, userID, userID)
	if err != nil {
		if foreign && override && errors.As(err, new(*NoKeyError)) {
			return nil, service.Forbidden("A role you do not own answers here only with your own key: its owner's key pays only for its replies in rooms, on its own model. Add a key with `vc keys add`.")
		}
		return nil, toStatusError(err, "", o.limits.ReplyTimeout)
	}
	if err := o.checkBudget(ctx, userID); err != nil {
		return nil, toStatusError(err, call.Provider, o.limits.ReplyTimeout)
	}
	slot, err := o.lim.acquire(userID, 0)
	if err != nil {
		return nil, toStatusError(err, call.Provider, o.limits.ReplyTimeout)
	}
	return &Generation{s: s, userID: userID, roleID: req.RoleID, call: call, release: slot.release, req: ChatRequest{
		Model: call.Model, System: system, Messages: []ChatMessage{{Role: TurnUser, Content: prompt}},
		MaxTokens: o.limits.clampTokens(maxTokens), Temperature: temp,
	}}, nil
}

// Run calls the provider, passing deltas to onDelta (nil: collect only).
// It records the usage and returns the whole reply.
func (g *Generation) Run(ctx context.Context, onDelta func(string) error) (api.GenerateResponse, error) {
	o := g.s.orch
	rctx, cancel := context.WithTimeoutCause(ctx, o.limits.ReplyTimeout, ErrTimeout)
	defer cancel()
	var sb strings.Builder
	deltas := int64(0)
	res, err := g.call.Entry.Provider.StreamChat(rctx, g.call.Cred, g.req, func(d string) error {
		sb.WriteString(d)
		deltas++
		if onDelta != nil {
			return onDelta(d)
		}
		return nil
	})
	if merr := maskEndpointError(err, g.call.Cred, deltas > 0); merr != err {
		o.logger.Info("user endpoint unreachable", "user_id", g.userID, "provider", g.call.Provider, "err", err)
		err = merr
	}
	u := res.Usage
	if u.OutputTokens == 0 {
		u.OutputTokens = deltas
	}
	if u.InputTokens > 0 || u.OutputTokens > 0 {
		rerr := o.be.RecordUsage(context.WithoutCancel(ctx), UsageRecord{UserID: g.userID, RoleID: g.roleID, KeyOwnerID: keyOwner(g.call), Provider: g.call.Provider,
			Model: g.Model(), InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, At: o.now().UTC()})
		if rerr != nil {
			o.logger.Error("record usage", "user_id", g.userID, "err", rerr)
		}
	}
	out := api.GenerateResponse{Content: sb.String(), Model: g.Model(), Usage: &api.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens}}
	if err != nil {
		return out, toStatusError(err, g.call.Provider, o.limits.ReplyTimeout)
	}
	return out, nil
}

// toStatusError maps reply errors to HTTP answers.
func toStatusError(err error, provider string, timeout time.Duration) error {
	var se *service.Error
	var ve *service.ValidationError
	if errors.As(err, &se) || errors.As(err, &ve) {
		return err
	}
	code, detail := Explain(err, provider, timeout)
	st := &StatusError{Status: 502, Body: api.Error{Detail: detail, Code: code}}
	var le *LimitError
	var pe *Error
	switch {
	case errors.As(err, &le):
		st.Status, st.RetryAfter = 429, le.RetryAfter
	case errors.As(err, new(*NoKeyError)):
		st.Status = 400
	case errors.As(err, &pe):
		switch pe.Kind {
		case KindRateLimit:
			st.Status, st.RetryAfter = 429, pe.RetryAfter
		case KindTimeout:
			st.Status = 504
		case KindBadRequest:
			st.Status = 400
		case KindCanceled:
			st.Status = 499
		}
	case errors.Is(err, ErrBadRequest):
		st.Status = 400
		st.Body = api.Error{Detail: err.Error(), Code: api.CodeBadRequest, Field: "model"}
	}
	return st
}
