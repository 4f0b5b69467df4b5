package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

// CallService is the voice-call state the HTTP layer reads (server/signal's
// Hub implements it).
type CallService interface {
	// Participants lists who is in a room's call, in join order.
	Participants(roomID int64) []api.CallParticipant
	// RTCConfig returns the ICE servers for a user.
	RTCConfig(userID int64) api.RTCConfig
}

func (a *API) callParticipants(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	if _, err := a.d.Services.Rooms.RequireMember(c.UserContext(), id, u.ID); err != nil {
		return err
	}
	return c.JSON(a.d.Calls.Participants(id))
}

func (a *API) rtcConfig(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	c.Set(fiber.HeaderCacheControl, "no-store") // carries credentials
	return c.JSON(a.d.Calls.RTCConfig(u.ID))
}
