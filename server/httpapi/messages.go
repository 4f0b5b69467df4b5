package httpapi

import (
	"math"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/service"
)

func (a *API) listMessages(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var q service.HistoryQuery
	limit, err := queryInt(c, "limit", service.DefaultHistoryLimit)
	if err != nil {
		return err
	}
	if limit < 1 || limit > service.MaxHistoryLimit {
		return service.Invalid("limit", "must be between 1 and %d", service.MaxHistoryLimit)
	}
	offset, err := queryInt(c, "offset", 0)
	if err != nil {
		return err
	}
	if offset < 0 || offset > math.MaxInt32 {
		return service.Invalid("offset", "must be between 0 and %d", math.MaxInt32)
	}
	q.Limit, q.Offset = int(limit), int(offset)
	if q.After, err = queryInt(c, "after", 0); err != nil {
		return err
	}
	q.AfterSet = c.Query("after") != ""
	if q.Before, err = queryInt(c, "before", 0); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	ms, err := a.d.Services.Messages.History(c.UserContext(), u.ID, id, q)
	if err != nil {
		return err
	}
	if q.AfterSet {
		a.d.Metrics.HTTPReplay()
	}
	return c.JSON(ms)
}

func (a *API) createMessage(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req api.CreateMessageRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	m, created, err := a.d.Services.Messages.Create(c.UserContext(), u.ID, id, req)
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if !created {
		status = fiber.StatusOK
	}
	return c.Status(status).JSON(m)
}
