package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

func (a *API) register(c *fiber.Ctx) error {
	var req api.RegisterRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, err := a.d.Services.Auth.Register(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(u)
}

func (a *API) login(c *fiber.Ctx) error {
	var req api.LoginRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	tok, err := a.d.Services.Auth.Login(c.UserContext(), req)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(tok)
}

func (a *API) me(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	return c.JSON(u)
}

func (a *API) logoutAll(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	if err := a.d.Services.Auth.LogoutAll(c.UserContext(), u.ID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) changePassword(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	var req api.ChangePasswordRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	tok, err := a.d.Services.Auth.ChangePassword(c.UserContext(), u.ID, req)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(tok)
}

func (a *API) deleteAccount(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	var req api.DeleteAccountRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if err := a.d.Services.Auth.DeleteAccount(c.UserContext(), u.ID, req); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
