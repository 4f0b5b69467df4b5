package store

import (
	"context"
	"time"
)

// Meeting is a meeting of AI roles in a room and the durable state of its
// engine: whichever vcd holds the lease (Owner until LeaseUntil) runs it,
// and writes its state only while it does.
type Meeting struct {
	ID     int64
	RoomID int64
	Topic  string
	// RoleIDs in speaking order.
	RoleIDs     []int64
	Mode        string
	Rounds      int
	ChairID     int64
	TokenBudget int64
	CreatedBy   int64
	Status      string
	// Turns is the number of turns taken; Cursor the round-robin position
	// of the next speaker (an index into RoleIDs, modulo its length).
	Turns  int
	Cursor int
	// Speaker is the role whose turn started and has not ended (nil
	// between turns): a node that takes the meeting over counts that turn
	// as taken and goes on with the next.
	Speaker *int64
	// NextRoleID is the role the chair chose to speak next; nil: the mode
	// decides.
	NextRoleID *int64
	// FloorRoleID is the role a person gave the floor (an @handle in the
	// room); it speaks next, before the chair's choice. Only
	// GiveMeetingFloor and TakeMeetingFloor write it.
	FloorRoleID *int64
	// FailStreak counts provider failures in a row.
	FailStreak int
	TokensUsed int64
	// StartSeq is the room's last seq when the meeting started; EndSeq
	// its last seq when it ended.
	StartSeq int64
	EndSeq   int64
	// Minutes is the JSON of api.MeetingMinutes ("" until written).
	Minutes          string
	MinutesMessageID int64
	Detail           string
	// StopRequested asks the owner to stop the meeting.
	StopRequested bool
	Owner         string
	LeaseUntil    time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	EndedAt       *time.Time
}

// MeetingStore reads and writes meetings.
type MeetingStore interface {
	// CreateMeeting inserts m (running, held by m.Owner until m.LeaseUntil)
	// and sets its ID and timestamps; ErrConflict when the room already
	// has a running meeting.
	CreateMeeting(ctx context.Context, m *Meeting) error
	// MeetingByID returns a meeting (ErrNotFound: none).
	MeetingByID(ctx context.Context, id int64) (Meeting, error)
	// MeetingsInRoom lists a room's meetings, newest first, at most limit.
	MeetingsInRoom(ctx context.Context, roomID int64, limit int) ([]Meeting, error)
	// RunningMeetingInRoom returns the room's running meeting (ErrNotFound: none).
	RunningMeetingInRoom(ctx context.Context, roomID int64) (Meeting, error)
	// ClaimMeeting makes owner the holder of a running meeting until
	// `until` when nobody holds it (no owner, or the lease ended before
	// now) or owner holds it already, and returns it; ErrConflict when
	// another owner holds it or it is not running.
	ClaimMeeting(ctx context.Context, id int64, owner string, until, now time.Time) (Meeting, error)
	// ClaimableMeetings lists the ids of running meetings nobody holds at now.
	ClaimableMeetings(ctx context.Context, now time.Time) ([]int64, error)
	// SaveMeeting writes the engine state of m (everything but the
	// request fields, the owner, the lease, FloorRoleID and StopRequested) and extends the lease to
	// until, if owner still holds it; ErrConflict when it does not (the
	// meeting ended or another node took it over).
	SaveMeeting(ctx context.Context, m Meeting, owner string, until time.Time) error
	// RenewMeetingLease extends owner's lease to until and returns the
	// meeting as stored (a stop request shows there); ErrConflict when
	// owner no longer holds it.
	RenewMeetingLease(ctx context.Context, id int64, owner string, until time.Time) (Meeting, error)
	// ReleaseMeeting ends owner's lease at once, so that the next vcd to
	// look (on restart, or another node) takes the meeting over.
	ReleaseMeeting(ctx context.Context, id int64, owner string) error
	// RequestMeetingStop sets StopRequested on a running meeting.
	RequestMeetingStop(ctx context.Context, id int64) error
	// GiveMeetingFloor sets FloorRoleID of a running meeting.
	GiveMeetingFloor(ctx context.Context, id, roleID int64) error
	// TakeMeetingFloor clears FloorRoleID if it is still roleID (the
	// engine gave that role its turn).
	TakeMeetingFloor(ctx context.Context, id, roleID int64) error
}
