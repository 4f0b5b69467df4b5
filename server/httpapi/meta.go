package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

func (a *API) health(c *fiber.Ctx) error {
	return c.JSON(api.Health{Status: "healthy"})
}

func (a *API) ready(c *fiber.Ctx) error {
	if err := a.d.Ready(c.UserContext()); err != nil {
		a.logger.Warn("not ready", "request_id", RequestID(c), "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(api.Health{Status: "unavailable", Detail: "database unreachable"})
	}
	if a.d.Degraded != nil {
		if why := a.d.Degraded(); why != "" {
			return c.JSON(api.Health{Status: "degraded", Detail: why})
		}
	}
	return c.JSON(api.Health{Status: "ready"})
}

func (a *API) root(c *fiber.Ctx) error {
	info := api.Root{Message: "Virtual Company API", Version: a.d.Version, Docs: "/docs"}
	// Browsers ask for text/html; API clients send application/json, */* or nothing.
	if strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
		if a.d.Web != nil {
			return a.d.Web.Page(c)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(landingPage(info))
	}
	return c.JSON(info)
}

func (a *API) openapi(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(a.spec)
}

func (a *API) docsPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(a.docs)
}

func (a *API) listModels(c *fiber.Ctx) error {
	ms, err := a.d.Models.Models(c.UserContext(), c.QueryBool("refresh", false))
	if err != nil {
		return err
	}
	return c.JSON(ms)
}
