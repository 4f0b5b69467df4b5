package ai

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/store"
)

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
		return &LimitError{Kind: apierr.BudgetExceeded, RetryAfter: day.Add(24 * time.Hour).Sub(now),
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
