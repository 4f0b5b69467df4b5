package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/virtual-company/vc/pkg/api"
)

// StartMeeting starts a meeting of AI roles in a room (POST
// /api/rooms/{id}/meetings). Errors: 409 when a meeting is already running
// in the room, 422 (with Field) for bad input, 404 for a room the caller is
// not a member of.
func (c *Client) StartMeeting(ctx context.Context, roomID int64, req api.StartMeetingRequest) (api.Meeting, error) {
	var m api.Meeting
	err := c.do(ctx, http.MethodPost, roomPath(roomID, "/meetings"), nil, req, &m)
	return m, err
}

// Meetings lists a room's meetings, newest first (GET /api/rooms/{id}/meetings).
func (c *Client) Meetings(ctx context.Context, roomID int64) ([]api.Meeting, error) {
	ms := []api.Meeting{}
	err := c.do(ctx, http.MethodGet, roomPath(roomID, "/meetings"), nil, nil, &ms)
	return ms, err
}

// Meeting returns one meeting with its minutes once it ended (GET
// /api/rooms/{id}/meetings/{mid}).
func (c *Client) Meeting(ctx context.Context, roomID, meetingID int64) (api.Meeting, error) {
	var m api.Meeting
	err := c.do(ctx, http.MethodGet, meetingPath(roomID, meetingID, ""), nil, nil, &m)
	return m, err
}

// StopMeeting stops a running meeting (POST
// /api/rooms/{id}/meetings/{mid}/stop; the starter or the room's creator).
// It answers the meeting as it is after the stop; stopping a meeting that
// already ended answers it unchanged.
func (c *Client) StopMeeting(ctx context.Context, roomID, meetingID int64) (api.Meeting, error) {
	var m api.Meeting
	err := c.do(ctx, http.MethodPost, meetingPath(roomID, meetingID, "/stop"), nil, nil, &m)
	return m, err
}

func meetingPath(roomID, meetingID int64, suffix string) string {
	return roomPath(roomID, fmt.Sprintf("/meetings/%d%s", meetingID, suffix))
}
