package gormstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore"
)

func TestMeetings_OneRunningPerRoomAndLease(t *testing.T) {
	eachStore(t, func(t *testing.T, s *gormstore.Store, _ string) {
		ctx := context.Background()
		u, room := userAndRoom(t, s, "meeter")
		now := time.Now().UTC()
		m := store.Meeting{RoomID: room.ID, Topic: "pricing", RoleIDs: []int64{3, 1, 2}, Mode: "round_robin", Rounds: 2,
			ChairID: 3, CreatedBy: u.ID, Owner: "node-a", LeaseUntil: now.Add(time.Minute)}
		require.NoError(t, s.CreateMeeting(ctx, &m))
		require.NotZero(t, m.ID)
		require.Equal(t, []int64{3, 1, 2}, m.RoleIDs)
		require.Equal(t, "running", m.Status)

		second := m
		second.ID = 0
		err := s.CreateMeeting(ctx, &second)
		require.True(t, errors.Is(err, store.ErrConflict), "second running meeting: %v", err)

		// Held by node-a: node-b may not claim it nor write it.
		_, err = s.ClaimMeeting(ctx, m.ID, "node-b", now.Add(time.Minute), now)
		require.True(t, errors.Is(err, store.ErrConflict), "claim of a held meeting: %v", err)
		ids, err := s.ClaimableMeetings(ctx, now)
		require.NoError(t, err)
		require.Empty(t, ids)
		m.Turns = 1
		require.True(t, errors.Is(s.SaveMeeting(ctx, m, "node-b", now.Add(time.Minute)), store.ErrConflict))
		require.NoError(t, s.SaveMeeting(ctx, m, "node-a", now.Add(time.Minute)))

		// Once the lease ends, node-b takes it over; node-a can no longer write.
		later := now.Add(2 * time.Minute)
		ids, err = s.ClaimableMeetings(ctx, later)
		require.NoError(t, err)
		require.Equal(t, []int64{m.ID}, ids)
		got, err := s.ClaimMeeting(ctx, m.ID, "node-b", later.Add(time.Minute), later)
		require.NoError(t, err)
		require.Equal(t, 1, got.Turns)
		require.Equal(t, "node-b", got.Owner)
		require.True(t, errors.Is(s.SaveMeeting(ctx, got, "node-a", later), store.ErrConflict))

		require.NoError(t, s.GiveMeetingFloor(ctx, m.ID, 2))
		require.NoError(t, s.RequestMeetingStop(ctx, m.ID))
		got, err = s.MeetingByID(ctx, m.ID)
		require.NoError(t, err)
		require.True(t, got.StopRequested)
		require.Equal(t, int64(2), *got.FloorRoleID)
		require.Nil(t, got.NextRoleID)
		require.NoError(t, s.SaveMeeting(ctx, got, "node-b", later.Add(time.Minute)))
		require.NoError(t, s.TakeMeetingFloor(ctx, m.ID, 1)) // another role: stays
		got, err = s.MeetingByID(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), *got.FloorRoleID, "SaveMeeting leaves the floor alone")
		require.NoError(t, s.TakeMeetingFloor(ctx, m.ID, 2))
		got, err = s.MeetingByID(ctx, m.ID)
		require.NoError(t, err)
		require.Nil(t, got.FloorRoleID)

		// Ending it frees the room for the next meeting.
		ended := later
		got.Status, got.EndedAt = "stopped", &ended
		require.NoError(t, s.SaveMeeting(ctx, got, "node-b", later))
		_, err = s.RunningMeetingInRoom(ctx, room.ID)
		require.True(t, errors.Is(err, store.ErrNotFound))
		require.True(t, errors.Is(s.GiveMeetingFloor(ctx, m.ID, 1), store.ErrNotFound))
		next := store.Meeting{RoomID: room.ID, Topic: "again", RoleIDs: []int64{1}, Mode: "chaired", Rounds: 1, ChairID: 1,
			CreatedBy: u.ID, Owner: "node-b", LeaseUntil: later}
		require.NoError(t, s.CreateMeeting(ctx, &next))
		list, err := s.MeetingsInRoom(ctx, room.ID, 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, next.ID, list[0].ID, "newest first")
		require.NotNil(t, list[1].EndedAt)

		require.NoError(t, s.ReleaseMeeting(ctx, next.ID, "node-b"))
		ids, err = s.ClaimableMeetings(ctx, now)
		require.NoError(t, err)
		require.Equal(t, []int64{next.ID}, ids)
	})
}
