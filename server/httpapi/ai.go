package httpapi

import (
	"bufio"
	"context"
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

// aiRoutes are the endpoints of AI roles: seats (service.Seats), one-shot
// generation (server/ai), keys (service.Keys) and usage (service.Usage),
// each registered when its Deps field is set.
func (a *API) aiRoutes() []route {
	var rs []route
	if a.d.Seats != nil {
		rs = append(rs,
			route{Method: "POST", Path: "/api/rooms/:id/roles", Handler: a.seatRole, Auth: true, Doc: doc{Tag: "roles", Summary: "Seat one of your roles in a room (any member may seat their own roles)",
				Body: api.SeatRoleRequest{}, Status: 201, Out: api.Role{}, Errors: []int{400, 401, 403, 404, 409, 422}}},
			route{Method: "GET", Path: "/api/rooms/:id/roles", Handler: a.listRoomRoles, Auth: true, Doc: doc{Tag: "roles", Summary: "Roles seated in a room (members only; ai_instructions only for your own roles)",
				Status: 200, Out: []api.Role{}, Errors: idErrs}},
			route{Method: "DELETE", Path: "/api/rooms/:id/roles/:role_id", Handler: a.unseatRole, Auth: true, Doc: doc{Tag: "roles", Summary: "Unseat a role (its owner or the room's creator)",
				Status: 204, Errors: []int{401, 403, 404, 422}}})
	}
	if a.d.AI != nil {
		rs = append(rs,
			route{Method: "POST", Path: "/api/llm/generate", Handler: a.generate, Auth: true, Doc: doc{Tag: "llm",
				Summary: "One-shot generation without a room. With \"stream\": true the answer is text/event-stream: `data: {GenerateChunk}` lines with delta, the last with done (and usage) or error",
				Body:    api.GenerateRequest{}, Status: 200, Out: api.GenerateResponse{}, Errors: []int{400, 401, 403, 422, 429, 502, 504}}})
	}
	if a.d.Keys != nil {
		rs = append(rs,
			route{Method: "POST", Path: "/api/keys", Handler: a.addKey, Auth: true, Doc: doc{Tag: "keys", Summary: "Store your API key for a provider (encrypted at rest; replaces your previous key for it)",
				Body: api.CreateKeyRequest{}, Status: 201, Out: api.APIKey{}, Errors: []int{400, 401, 422}}},
			route{Method: "GET", Path: "/api/keys", Handler: a.listKeys, Auth: true, Doc: doc{Tag: "keys", Summary: "Your stored keys: provider and last four characters, never the key",
				Status: 200, Out: []api.APIKey{}, Errors: authErrs}},
			route{Method: "DELETE", Path: "/api/keys/:id", Handler: a.deleteKey, Auth: true, Doc: doc{Tag: "keys", Summary: "Delete one of your keys",
				Status: 204, Errors: []int{401, 404}}})
	}
	if a.d.Usage != nil {
		rs = append(rs,
			route{Method: "GET", Path: "/api/usage", Handler: a.usage, Auth: true, Doc: doc{Tag: "llm", Summary: "Your AI token usage by day and model, with the daily budget",
				Status: 200, Out: api.UsageReport{}, Errors: authErrs}})
	}
	return rs
}

// listModelsRoute serves GET /api/llm/models: with the AI part, the
// catalogue plus the live lists of the providers the caller has a key for.
func (a *API) listModelsRoute(c *fiber.Ctx) error {
	if a.d.AI == nil {
		return a.listModels(c)
	}
	u, _ := UserFrom(c)
	return c.JSON(a.d.AI.Models(c.UserContext(), u.ID, c.QueryBool("refresh", false)))
}

func (a *API) seatRole(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req api.SeatRoleRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	r, err := a.d.Seats.SeatRole(c.UserContext(), u.ID, id, req.RoleID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (a *API) listRoomRoles(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	rs, err := a.d.Seats.RoomRoles(c.UserContext(), u.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(rs)
}

func (a *API) unseatRole(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	roleID, err := pathID(c, "role_id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	if err := a.d.Seats.UnseatRole(c.UserContext(), u.ID, id, roleID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) addKey(c *fiber.Ctx) error {
	var req api.CreateKeyRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	k, err := a.d.Keys.AddKey(c.UserContext(), u.ID, req)
	if err != nil {
		return err
	}
	a.auditKey(c, "key_add", u.ID, k.ID, k.Provider)
	return c.Status(fiber.StatusCreated).JSON(k)
}

func (a *API) listKeys(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	ks, err := a.d.Keys.Keys(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(ks)
}

func (a *API) deleteKey(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u, _ := UserFrom(c)
	if err := a.d.Keys.DeleteKey(c.UserContext(), u.ID, id); err != nil {
		return err
	}
	a.auditKey(c, "key_delete", u.ID, id, "")
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) usage(c *fiber.Ctx) error {
	u, _ := UserFrom(c)
	rep, err := a.d.Usage.Usage(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(rep)
}

// generate serves POST /api/llm/generate. Limits, key and model are checked
// before anything is sent, so those failures are plain JSON errors; once a
// stream started, a provider failure arrives as its last chunk.
func (a *API) generate(c *fiber.Ctx) error {
	var req api.GenerateRequest
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	u, _ := UserFrom(c)
	gen, err := a.d.AI.PrepareGenerate(c.UserContext(), u.ID, req)
	if err != nil {
		return err
	}
	if !req.Stream {
		defer gen.Close()
		out, err := gen.Run(c.UserContext(), nil)
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Status(fiber.StatusOK)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer gen.Close()
		// The handler has returned: nothing from the request is used here.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		write := func(ch api.GenerateChunk) error {
			b, err := json.Marshal(ch)
			if err != nil {
				return err
			}
			if _, err := w.WriteString("data: "); err != nil {
				return err
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
			if _, err := w.WriteString("\n\n"); err != nil {
				return err
			}
			return w.Flush()
		}
		model := gen.Model()
		out, err := gen.Run(ctx, func(d string) error {
			if werr := write(api.GenerateChunk{Delta: d}); werr != nil {
				cancel() // the client went away
				return werr
			}
			return nil
		})
		last := api.GenerateChunk{Done: true, Model: model, Usage: out.Usage}
		if err != nil {
			last = api.GenerateChunk{Error: err.Error(), Model: model, Usage: out.Usage}
		}
		_ = write(last)
	})
	return nil
}
