package service

import (
	"context"
	"fmt"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/store"
)

// UsageStore is what the usage service reads.
type UsageStore interface {
	UsageByDay(ctx context.Context, userID int64, since time.Time) ([]store.UsageRow, error)
	UsageOnKeysOf(ctx context.Context, ownerID int64, since time.Time) ([]store.UsageRow, error)
	TokensSince(ctx context.Context, userID int64, since time.Time) (int64, error)
}

// Usage reports what users' AI replies cost, in tokens.
type Usage struct {
	store UsageStore
	// budget is llm.daily_token_budget (0: none).
	budget int64
	now    func() time.Time
}

// NewUsage returns the usage service; dailyBudget is the daily token budget
// reports show (0: none).
func NewUsage(st UsageStore, dailyBudget int64, now func() time.Time) *Usage {
	if now == nil {
		now = time.Now
	}
	return &Usage{store: st, budget: dailyBudget, now: now}
}

// Usage reports userID's token usage by day and model, with the budget.
func (s *Usage) Usage(ctx context.Context, userID int64) (api.UsageReport, error) {
	rows, err := s.store.UsageByDay(ctx, userID, time.Time{})
	if err != nil {
		return api.UsageReport{}, fmt.Errorf("usage: %w", err)
	}
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	used, err := s.store.TokensSince(ctx, userID, today)
	if err != nil {
		return api.UsageReport{}, fmt.Errorf("usage today: %w", err)
	}
	rep := api.UsageReport{Rows: make([]api.UsageRow, len(rows)), DailyBudget: s.budget, UsedToday: used}
	for i, r := range rows {
		rep.Rows[i] = api.UsageRow{Day: r.Day, Model: r.Model, Replies: r.Replies, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens}
		rep.TotalTokens += r.InputTokens + r.OutputTokens
	}
	others, err := s.store.UsageOnKeysOf(ctx, userID, time.Time{})
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
