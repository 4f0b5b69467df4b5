package httpapi

import (
	"bytes"
	"context"
	"io"

	"github.com/gofiber/fiber/v2"
)

// RoomExporter writes a room's full history for one of its members
// (server/ops.Exporter implements it).
type RoomExporter interface {
	// ExportForMember writes the room as "jsonl" (api.ExportedMessage per
	// line) or "markdown"; service.ErrNotFound for a room the user is not in,
	// a *service.ValidationError for an unknown format.
	ExportForMember(ctx context.Context, userID, roomID int64, format string, w io.Writer) error
}

func (a *API) exportRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	format := c.Query("format", "jsonl")
	u, _ := UserFrom(c)
	// Buffered so that an error half-way still answers with a status code.
	var buf bytes.Buffer
	if err := a.d.Export.ExportForMember(c.UserContext(), u.ID, id, format, &buf); err != nil {
		return err
	}
	if format == "markdown" {
		c.Set(fiber.HeaderContentType, "text/markdown; charset=utf-8")
	} else {
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
	}
	return c.Send(buf.Bytes())
}
