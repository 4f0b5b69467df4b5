package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

func (a *API) createRole(c *fiber.Ctx) error {
	var req api.CreateRoleRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	r, err := a.d.Services.Roles.Create(c.UserContext(), u.ID, req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (a *API) listRoles(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	rs, err := a.d.Services.Roles.List(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(rs)
}

func (a *API) getRole(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	r, err := a.d.Services.Roles.Get(c.UserContext(), u.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) updateRole(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req api.UpdateRoleRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	r, err := a.d.Services.Roles.Update(c.UserContext(), u.ID, id, req)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) deleteRole(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	if err := a.d.Services.Roles.Delete(c.UserContext(), u.ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
