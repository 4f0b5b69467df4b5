package gormstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/virtual-company/vc/server/store"
)

var _ store.MeetingStore = (*Store)(nil)

// meetingRunning is the status of a meeting that has not ended (api.MeetingRunning).
const meetingRunning = "running"

type meetingRow struct {
	ID               int64 `gorm:"primaryKey"`
	RoomID           int64
	Topic            string
	RoleIDs          string `gorm:"column:role_ids"`
	Mode             string
	Rounds           int
	ChairID          int64
	TokenBudget      int64
	CreatedBy        int64
	Status           string
	Turns            int
	Cursor           int `gorm:"column:cursor_pos"`
	Speaker          *int64
	NextRoleID       *int64
	FloorRoleID      *int64
	FailStreak       int
	TokensUsed       int64
	StartSeq         int64
	EndSeq           int64
	Minutes          string
	MinutesMessageID int64
	Detail           string
	StopRequested    bool
	Owner            string
	LeaseUntil       time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	EndedAt          *time.Time
}

func (meetingRow) TableName() string { return "meetings" }

func (r meetingRow) record() (store.Meeting, error) {
	var ids []int64
	if err := json.Unmarshal([]byte(r.RoleIDs), &ids); err != nil {
		return store.Meeting{}, fmt.Errorf("meeting %d: role ids %q: %w", r.ID, r.RoleIDs, err)
	}
	m := store.Meeting{ID: r.ID, RoomID: r.RoomID, Topic: r.Topic, RoleIDs: ids, Mode: r.Mode, Rounds: r.Rounds,
		ChairID: r.ChairID, TokenBudget: r.TokenBudget, CreatedBy: r.CreatedBy, Status: r.Status, Turns: r.Turns,
		Cursor: r.Cursor, Speaker: r.Speaker, NextRoleID: r.NextRoleID, FloorRoleID: r.FloorRoleID, FailStreak: r.FailStreak, TokensUsed: r.TokensUsed,
		StartSeq: r.StartSeq, EndSeq: r.EndSeq, Minutes: r.Minutes, MinutesMessageID: r.MinutesMessageID, Detail: r.Detail,
		StopRequested: r.StopRequested, Owner: r.Owner, LeaseUntil: r.LeaseUntil.UTC(),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.EndedAt != nil {
		t := r.EndedAt.UTC()
		m.EndedAt = &t
	}
	return m, nil
}

// CreateMeeting implements store.MeetingStore.
func (s *Store) CreateMeeting(ctx context.Context, m *store.Meeting) error {
	ids, err := json.Marshal(m.RoleIDs)
	if err != nil {
		return fmt.Errorf("create meeting: %w", err)
	}
	now := nowUTC(m.CreatedAt)
	row := meetingRow{RoomID: m.RoomID, Topic: m.Topic, RoleIDs: string(ids), Mode: m.Mode, Rounds: m.Rounds,
		ChairID: m.ChairID, TokenBudget: m.TokenBudget, CreatedBy: m.CreatedBy, Status: meetingRunning,
		StartSeq: m.StartSeq, Owner: m.Owner, LeaseUntil: nowUTC(m.LeaseUntil), CreatedAt: now, UpdatedAt: now}
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("create meeting in room %d: %w", m.RoomID, translate(err))
	}
	rec, err := row.record()
	if err != nil {
		return err
	}
	*m = rec
	return nil
}

// MeetingByID implements store.MeetingStore. It reads from the writer on
// SQLite: the engine reads back what it (or a stop request) just wrote.
func (s *Store) MeetingByID(ctx context.Context, id int64) (store.Meeting, error) {
	var row meetingRow
	if err := s.w.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return store.Meeting{}, fmt.Errorf("meeting %d: %w", id, translate(err))
	}
	return row.record()
}

// MeetingsInRoom implements store.MeetingStore.
func (s *Store) MeetingsInRoom(ctx context.Context, roomID int64, limit int) ([]store.Meeting, error) {
	var rows []meetingRow
	if err := s.r.WithContext(ctx).Where("room_id = ?", roomID).Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("meetings of room %d: %w", roomID, translate(err))
	}
	out := make([]store.Meeting, 0, len(rows))
	for _, r := range rows {
		m, err := r.record()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// RunningMeetingInRoom implements store.MeetingStore.
func (s *Store) RunningMeetingInRoom(ctx context.Context, roomID int64) (store.Meeting, error) {
	var row meetingRow
	if err := s.r.WithContext(ctx).Where("room_id = ? AND status = ?", roomID, meetingRunning).Take(&row).Error; err != nil {
		return store.Meeting{}, fmt.Errorf("running meeting of room %d: %w", roomID, translate(err))
	}
	return row.record()
}

// ClaimMeeting implements store.MeetingStore.
func (s *Store) ClaimMeeting(ctx context.Context, id int64, owner string, until, now time.Time) (store.Meeting, error) {
	res := s.w.WithContext(ctx).Model(&meetingRow{}).
		Where("id = ? AND status = ? AND (owner = '' OR owner = ? OR lease_until < ?)", id, meetingRunning, owner, now.UTC()).
		Updates(map[string]any{"owner": owner, "lease_until": until.UTC()})
	if res.Error != nil {
		return store.Meeting{}, fmt.Errorf("claim meeting %d: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return store.Meeting{}, fmt.Errorf("claim meeting %d: %w", id, store.ErrConflict)
	}
	return s.MeetingByID(ctx, id)
}

// ClaimableMeetings implements store.MeetingStore.
func (s *Store) ClaimableMeetings(ctx context.Context, now time.Time) ([]int64, error) {
	var ids []int64
	err := s.r.WithContext(ctx).Model(&meetingRow{}).Where("status = ? AND (owner = '' OR lease_until < ?)", meetingRunning, now.UTC()).
		Order("id").Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("claimable meetings: %w", translate(err))
	}
	return ids, nil
}

// SaveMeeting implements store.MeetingStore.
func (s *Store) SaveMeeting(ctx context.Context, m store.Meeting, owner string, until time.Time) error {
	var ended *time.Time
	if m.EndedAt != nil {
		t := m.EndedAt.UTC()
		ended = &t
	}
	upd := map[string]any{
		"status": m.Status, "turns": m.Turns, "cursor_pos": m.Cursor, "speaker": m.Speaker, "next_role_id": m.NextRoleID,
		"fail_streak": m.FailStreak, "tokens_used": m.TokensUsed, "end_seq": m.EndSeq, "minutes": m.Minutes,
		"minutes_message_id": m.MinutesMessageID, "detail": m.Detail, "ended_at": ended,
		"lease_until": until.UTC(), "updated_at": nowUTC(m.UpdatedAt),
	}
	res := s.w.WithContext(ctx).Model(&meetingRow{}).Where("id = ? AND status = ? AND owner = ?", m.ID, meetingRunning, owner).Updates(upd)
	if res.Error != nil {
		return fmt.Errorf("save meeting %d: %w", m.ID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("save meeting %d: not held by this node: %w", m.ID, store.ErrConflict)
	}
	return nil
}

// RenewMeetingLease implements store.MeetingStore.
func (s *Store) RenewMeetingLease(ctx context.Context, id int64, owner string, until time.Time) (store.Meeting, error) {
	res := s.w.WithContext(ctx).Model(&meetingRow{}).Where("id = ? AND status = ? AND owner = ?", id, meetingRunning, owner).
		Update("lease_until", until.UTC())
	if res.Error != nil {
		return store.Meeting{}, fmt.Errorf("renew lease of meeting %d: %w", id, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return store.Meeting{}, fmt.Errorf("renew lease of meeting %d: not held by this node: %w", id, store.ErrConflict)
	}
	return s.MeetingByID(ctx, id)
}

// ReleaseMeeting implements store.MeetingStore.
func (s *Store) ReleaseMeeting(ctx context.Context, id int64, owner string) error {
	err := s.w.WithContext(ctx).Model(&meetingRow{}).Where("id = ? AND owner = ?", id, owner).
		Updates(map[string]any{"owner": "", "lease_until": time.Unix(0, 0).UTC()}).Error
	if err != nil {
		return fmt.Errorf("release meeting %d: %w", id, translate(err))
	}
	return nil
}

// RequestMeetingStop implements store.MeetingStore.
func (s *Store) RequestMeetingStop(ctx context.Context, id int64) error {
	return s.setRunning(ctx, id, "stop_requested", true)
}

// GiveMeetingFloor implements store.MeetingStore.
func (s *Store) GiveMeetingFloor(ctx context.Context, id, roleID int64) error {
	return s.setRunning(ctx, id, "floor_role_id", roleID)
}

// TakeMeetingFloor implements store.MeetingStore.
func (s *Store) TakeMeetingFloor(ctx context.Context, id, roleID int64) error {
	err := s.w.WithContext(ctx).Model(&meetingRow{}).Where("id = ? AND floor_role_id = ?", id, roleID).
		Update("floor_role_id", nil).Error
	if err != nil {
		return fmt.Errorf("meeting %d: take the floor of role %d: %w", id, roleID, translate(err))
	}
	return nil
}

func (s *Store) setRunning(ctx context.Context, id int64, col string, v any) error {
	res := s.w.WithContext(ctx).Model(&meetingRow{}).Where("id = ? AND status = ?", id, meetingRunning).
		Updates(map[string]any{col: v})
	if res.Error != nil {
		return fmt.Errorf("meeting %d: set %s: %w", id, col, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("meeting %d is not running: %w", id, store.ErrNotFound)
	}
	return nil
}
