package httpapi

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
)

// route is one endpoint: how it is served and how it is documented.
type route struct {
	Method string
	// Path in Fiber syntax (/api/rooms/:id); documented as /api/rooms/{id}.
	Path    string
	Handler fiber.Handler
	// Auth requires a bearer token (the user is then in c.Locals).
	Auth bool
	// RateLimited applies the per-IP auth rate limit.
	RateLimited bool
	Doc         doc
}

// doc describes a route in the OpenAPI document.
type doc struct {
	Tag     string
	Summary string
	// Body is a zero value of the request body type (nil: none).
	Body any
	// Status is the success status; Out a zero value of its body (nil: none).
	Status int
	Out    any
	// ContentType of the success body when not JSON (text/html, ...).
	ContentType string
	Query       []queryParam
	// Errors lists the error statuses the route can answer.
	Errors []int
}

type queryParam struct {
	Name, Type, Description string
}

// Statuses most routes can answer.
var (
	authErrs = []int{http.StatusUnauthorized}
	idErrs   = []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity}
)

// routes is the whole HTTP API. To add an endpoint: write its handler in
// the file of its resource and add one entry here (with its doc).
func (a *API) routes() []route {
	rs := []route{
		// Health, root and documentation.
		{Method: "GET", Path: "/", Handler: a.root, Doc: doc{Tag: "meta", Summary: "Service information (JSON with Accept: application/json, else an HTML page)", Status: 200, Out: api.Root{}}},
		{Method: "GET", Path: "/health", Handler: a.health, Doc: doc{Tag: "meta", Summary: "Liveness", Status: 200, Out: api.Health{}}},
		{Method: "GET", Path: "/ready", Handler: a.ready, Doc: doc{Tag: "meta", Summary: "Readiness: the database answers", Status: 200, Out: api.Health{}, Errors: []int{503}}},
		{Method: "GET", Path: "/openapi.json", Handler: a.openapi, Doc: doc{Tag: "meta", Summary: "This OpenAPI 3 document", Status: 200, Out: map[string]any{}}},
		{Method: "GET", Path: "/docs", Handler: a.docsPage, Doc: doc{Tag: "meta", Summary: "Interactive API documentation", Status: 200, ContentType: "text/html"}},

		// Auth.
		{Method: "POST", Path: "/api/auth/register", Handler: a.register, RateLimited: true, Doc: doc{Tag: "auth", Summary: "Create an account",
			Body: api.RegisterRequest{}, Status: 201, Out: api.User{}, Errors: []int{400, 413, 422, 429}}},
		{Method: "POST", Path: "/api/auth/login", Handler: a.login, RateLimited: true, Doc: doc{Tag: "auth", Summary: "Exchange username (or email) and password for a bearer token",
			Body: api.LoginRequest{}, Status: 200, Out: api.Token{}, Errors: []int{400, 401, 422, 429}}},
		{Method: "GET", Path: "/api/auth/me", Handler: a.me, Auth: true, Doc: doc{Tag: "auth", Summary: "The authenticated user", Status: 200, Out: api.User{}, Errors: authErrs}},
		{Method: "POST", Path: "/api/auth/logout-all", Handler: a.logoutAll, Auth: true, Doc: doc{Tag: "auth", Summary: "Revoke every token of the caller", Status: 204, Errors: authErrs}},
		{Method: "POST", Path: "/api/auth/password", Handler: a.changePassword, Auth: true, Doc: doc{Tag: "auth", Summary: "Change the caller's password; revokes every token and answers a fresh one",
			Body: api.ChangePasswordRequest{}, Status: 200, Out: api.Token{}, Errors: []int{400, 401, 413, 422, 429}}},
		{Method: "DELETE", Path: "/api/auth/me", Handler: a.deleteAccount, Auth: true, Doc: doc{Tag: "auth", Summary: "Delete the caller's account (the password confirms it)",
			Body: api.DeleteAccountRequest{}, Status: 204, Errors: []int{400, 401, 413, 422, 429}}},

		// Roles.
		{Method: "POST", Path: "/api/roles", Handler: a.createRole, Auth: true, Doc: doc{Tag: "roles", Summary: "Create a role",
			Body: api.CreateRoleRequest{}, Status: 201, Out: api.Role{}, Errors: []int{400, 401, 409, 422}}},
		{Method: "GET", Path: "/api/roles", Handler: a.listRoles, Auth: true, Doc: doc{Tag: "roles", Summary: "The caller's roles", Status: 200, Out: []api.Role{}, Errors: authErrs}},
		{Method: "GET", Path: "/api/roles/:id", Handler: a.getRole, Auth: true, Doc: doc{Tag: "roles", Summary: "One role visible to the caller", Status: 200, Out: api.Role{}, Errors: idErrs}},
		{Method: "PATCH", Path: "/api/roles/:id", Handler: a.updateRole, Auth: true, Doc: doc{Tag: "roles", Summary: "Change a role (owner only)",
			Body: api.UpdateRoleRequest{}, Status: 200, Out: api.Role{}, Errors: []int{400, 401, 403, 404, 409, 422}}},
		{Method: "DELETE", Path: "/api/roles/:id", Handler: a.deleteRole, Auth: true, Doc: doc{Tag: "roles", Summary: "Delete a role (owner only)", Status: 204, Errors: []int{401, 403, 404, 422}}},

		// Rooms and members.
		{Method: "POST", Path: "/api/rooms", Handler: a.createRoom, Auth: true, Doc: doc{Tag: "rooms", Summary: "Create a room; the caller becomes its creator and first member",
			Body: api.CreateRoomRequest{}, Status: 201, Out: api.Room{}, Errors: []int{400, 401, 409, 422}}},
		{Method: "GET", Path: "/api/rooms", Handler: a.listRooms, Auth: true, Doc: doc{Tag: "rooms", Summary: "Rooms the caller belongs to", Status: 200, Out: []api.Room{}, Errors: authErrs}},
		{Method: "GET", Path: "/api/rooms/:id", Handler: a.getRoom, Auth: true, Doc: doc{Tag: "rooms", Summary: "One room (members only)", Status: 200, Out: api.Room{}, Errors: idErrs}},
		{Method: "PATCH", Path: "/api/rooms/:id", Handler: a.updateRoom, Auth: true, Doc: doc{Tag: "rooms", Summary: "Rename a room (creator only)",
			Body: api.UpdateRoomRequest{}, Status: 200, Out: api.Room{}, Errors: []int{400, 401, 403, 404, 409, 422}}},
		{Method: "DELETE", Path: "/api/rooms/:id", Handler: a.deleteRoom, Auth: true, Doc: doc{Tag: "rooms", Summary: "Delete a room and its messages (creator only)", Status: 204, Errors: []int{401, 403, 404, 422}}},
		{Method: "GET", Path: "/api/rooms/:id/members", Handler: a.listMembers, Auth: true, Doc: doc{Tag: "rooms", Summary: "Members of a room", Status: 200, Out: []api.Member{}, Errors: idErrs}},
		{Method: "POST", Path: "/api/rooms/:id/members", Handler: a.addMember, Auth: true, Doc: doc{Tag: "rooms", Summary: "Add a user to a room (any member may)",
			Body: api.AddMemberRequest{}, Status: 201, Out: api.Member{}, Errors: []int{400, 401, 404, 409, 422}}},
		{Method: "DELETE", Path: "/api/rooms/:id/members/:user_id", Handler: a.removeMember, Auth: true, Doc: doc{Tag: "rooms", Summary: "Leave a room, or (creator) remove a member", Status: 204, Errors: []int{401, 403, 404, 422}}},

		// Messages.
		{Method: "GET", Path: "/api/rooms/:id/messages", Handler: a.listMessages, Auth: true, Doc: doc{Tag: "messages",
			Summary: "Message history, oldest first: the newest `limit` after skipping `offset` newest ones, or with `after` the oldest `limit` after that seq",
			Status:  200, Out: []api.Message{}, Errors: idErrs, Query: []queryParam{
				{"limit", "integer", "page size, 1 to 1000 (default 100)"},
				{"offset", "integer", "skip this many newest messages (default 0)"},
				{"after", "integer", "only messages with seq greater than this"},
				{"before", "integer", "only messages with seq less than this"},
			}}},
		{Method: "POST", Path: "/api/rooms/:id/messages", Handler: a.createMessage, Auth: true, Doc: doc{Tag: "messages",
			Summary: "Send a message; 201 when stored, 200 with the stored message when client_id was already used",
			Body:    api.CreateMessageRequest{}, Status: 201, Out: api.Message{}, Errors: []int{400, 401, 404, 413, 422}}},

		// LLM.
		{Method: "GET", Path: "/api/llm/models", Handler: a.listModelsRoute, Auth: true, Doc: doc{Tag: "llm", Summary: "Available models",
			Status: 200, Out: []api.Model{}, Errors: authErrs, Query: []queryParam{{"refresh", "boolean", "refetch live provider lists"}}}},
	}
	// Voice calls.
	if a.d.Calls != nil {
		rs = append(rs,
			route{Method: "GET", Path: "/api/rooms/:id/call", Handler: a.callParticipants, Auth: true, Doc: doc{Tag: "calls", Summary: "Who is in the room's voice call (members only)", Status: 200, Out: []api.CallParticipant{}, Errors: idErrs}},
			route{Method: "GET", Path: "/api/rtc/config", Handler: a.rtcConfig, Auth: true, Doc: doc{Tag: "calls", Summary: "ICE servers for WebRTC: STUN, and TURN with time-limited credentials", Status: 200, Out: api.RTCConfig{}, Errors: authErrs}},
		)
	}
	// Room exports (server/ops).
	if a.d.Export != nil {
		rs = append(rs, route{Method: "GET", Path: "/api/rooms/:id/export", Handler: a.exportRoom, Auth: true, Doc: doc{Tag: "messages",
			Summary: "A room's full history, oldest first: JSON lines (api.ExportedMessage: messages, AI replies with model and usage) or Markdown (members only)",
			Status:  200, ContentType: "application/x-ndjson", Errors: idErrs, Query: []queryParam{{"format", "string", "jsonl (default) or markdown"}}}})
	}
	// AI roles: seats, keys, usage, generation (server/ai).
	rs = append(rs, a.aiRoutes()...)
	// Meetings of AI roles (server/meeting).
	rs = append(rs, a.meetingRoutes()...)
	// WebSockets (the token may also be passed as ?token=).
	if a.d.ChatSocket != nil {
		rs = append(rs, route{Method: "GET", Path: "/ws/chat/:room_id", Handler: a.d.ChatSocket, Doc: doc{Tag: "websocket",
			Summary: "Chat WebSocket (see the README's protocol section)", Status: 101,
			Query: []queryParam{{"token", "string", "access token (or the Authorization header)"}, {"after", "integer", "replay messages after this seq first"}}}})
	}
	if a.d.SignalSocket != nil {
		rs = append(rs, route{Method: "GET", Path: "/ws/signaling/:room_id", Handler: a.d.SignalSocket, Doc: doc{Tag: "websocket",
			Summary: "WebRTC signaling WebSocket", Status: 101,
			Query: []queryParam{{"token", "string", "access token (or the Authorization header)"}}}})
	}
	return rs
}
