package httpapi

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

// MeetingService runs meetings of AI roles (server/meeting).
type MeetingService interface {
	Start(ctx context.Context, userID, roomID int64, req api.StartMeetingRequest) (api.Meeting, error)
	List(ctx context.Context, userID, roomID int64) ([]api.Meeting, error)
	Get(ctx context.Context, userID, roomID, meetingID int64) (api.Meeting, error)
	Stop(ctx context.Context, userID, roomID, meetingID int64) (api.Meeting, error)
}

// meetingRoutes are the endpoints of meetings, registered when
// Deps.Meetings is set.
func (a *API) meetingRoutes() []route {
	if a.d.Meetings == nil {
		return nil
	}
	return []route{
		{Method: "POST", Path: "/api/rooms/:id/meetings", Handler: a.startMeeting, Auth: true, Doc: doc{Tag: "meetings",
			Summary: "Start a meeting of AI roles seated in the room (any member; one running meeting per room)",
			Body:    api.StartMeetingRequest{}, Status: 201, Out: api.Meeting{}, Errors: []int{400, 401, 404, 409, 413, 422}}},
		{Method: "GET", Path: "/api/rooms/:id/meetings", Handler: a.listMeetings, Auth: true, Doc: doc{Tag: "meetings",
			Summary: "The room's meetings, newest first (members only)", Status: 200, Out: []api.Meeting{}, Errors: idErrs}},
		{Method: "GET", Path: "/api/rooms/:id/meetings/:mid", Handler: a.getMeeting, Auth: true, Doc: doc{Tag: "meetings",
			Summary: "One meeting, with its minutes once it ended (members only)", Status: 200, Out: api.Meeting{}, Errors: idErrs}},
		{Method: "POST", Path: "/api/rooms/:id/meetings/:mid/stop", Handler: a.stopMeeting, Auth: true, Doc: doc{Tag: "meetings",
			Summary: "Stop a running meeting (its starter or the room's creator); a meeting that ended is answered unchanged",
			Status:  200, Out: api.Meeting{}, Errors: []int{401, 403, 404, 422}}},
	}
}

func (a *API) startMeeting(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req api.StartMeetingRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	m, err := a.d.Meetings.Start(c.UserContext(), u.ID, id, req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (a *API) listMeetings(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	ms, err := a.d.Meetings.List(c.UserContext(), u.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(ms)
}

func (a *API) getMeeting(c *fiber.Ctx) error {
	id, mid, err := meetingIDs(c)
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	m, err := a.d.Meetings.Get(c.UserContext(), u.ID, id, mid)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (a *API) stopMeeting(c *fiber.Ctx) error {
	id, mid, err := meetingIDs(c)
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	m, err := a.d.Meetings.Stop(c.UserContext(), u.ID, id, mid)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func meetingIDs(c *fiber.Ctx) (roomID, meetingID int64, err error) {
	if roomID, err = pathID(c, "id"); err != nil {
		return 0, 0, err
	}
	if meetingID, err = pathID(c, "mid"); err != nil {
		return 0, 0, err
	}
	return roomID, meetingID, nil
}
