package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

func (a *API) createRoom(c *fiber.Ctx) error {
	var req api.CreateRoomRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	r, err := a.d.Services.Rooms.Create(c.UserContext(), u.ID, req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (a *API) listRooms(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	rs, err := a.d.Services.Rooms.List(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(rs)
}

func (a *API) getRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	r, err := a.d.Services.Rooms.RequireMember(c.UserContext(), id, u.ID)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) updateRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req api.UpdateRoomRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	r, err := a.d.Services.Rooms.Update(c.UserContext(), u.ID, id, req)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) deleteRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	if err := a.d.Services.Rooms.Delete(c.UserContext(), u.ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) listMembers(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	ms, err := a.d.Services.Rooms.Members(c.UserContext(), u.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(ms)
}

func (a *API) addMember(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req api.AddMemberRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	m, err := a.d.Services.Rooms.AddMember(c.UserContext(), u.ID, id, req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (a *API) removeMember(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	target, err := pathID(c, "user_id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	if err := a.d.Services.Rooms.RemoveMember(c.UserContext(), u.ID, id, target); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
