// Package api holds the REST wire contract of vcd: request and response bodies,
// the error body and the stable error codes. The server and the Go client both
// use these types, so the JSON field names here are the contract; the
// seed-compatible ones must never change (see docs/api.md).
//
// This package imports only the standard library.
package api

import "time"

// Message types carried in Message.MessageType.
const (
	MessageText       = "text"
	MessageSystem     = "system"
	MessageAIResponse = "ai_response"
)

// TokenTypeBearer is the token_type of every issued token.
const TokenTypeBearer = "bearer"

// Error is the body of every error response: {"detail": "..."} plus optional
// machine-readable extensions.
type Error struct {
	Detail string `json:"detail"`
	// Code is a stable machine-readable code (see the Code* constants).
	Code string `json:"code,omitempty"`
	// Field names the offending request field on validation errors.
	Field string `json:"field,omitempty"`
}

// Stable error codes carried in Error.Code.
const (
	CodeBadRequest      = "bad_request"
	CodeInvalidJSON     = "invalid_json"
	CodeValidation      = "validation_failed"
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeTooLarge        = "too_large"
	CodeRateLimited     = "rate_limited"
	CodeInternal        = "internal"
	CodeUnavailable     = "unavailable"
	CodeProviderAuth    = "provider_auth"
	CodeProviderLimited = "provider_rate_limited"
	CodeProviderError   = "provider_error"
	CodeNoAPIKey        = "no_api_key"
	CodeBudgetExceeded  = "budget_exceeded"
	CodeRoomNameTaken   = "room_name_taken" // 409: one of the caller's rooms has that name
)

// Codes that only the sockets carry.
const (
	// CodeShuttingDown is the code of the chat socket's error event for a
	// frame that arrives after the daemon began to shut down: the frame
	// was not acted on (a message was not stored); send it again once
	// reconnected.
	CodeShuttingDown = "shutting_down"
	// CodeCanceled is the code of an ai_error event that ends a reply a
	// member cancelled (ai_cancel): the text so far is stored, truncated.
	CodeCanceled = "canceled"
	// CodeBadJSON, CodeBadMessage and CodeUnknownPeer are the codes of the
	// signaling socket's error message: not a JSON object, not a valid
	// signaling message, and a "to" naming no peer of the call.
	CodeBadJSON     = "bad_json"
	CodeBadMessage  = "bad_message"
	CodeUnknownPeer = "unknown_peer"
)

// RegisterRequest is the body of POST /api/auth/register.
type RegisterRequest struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Password string `json:"password"`
	// Invite is the invite code when registration is by invite
	// (auth.registration: invite).
	Invite string `json:"invite,omitempty"`
}

// LoginRequest is the body of POST /api/auth/login. Username may hold the
// email address instead.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// ChangePasswordRequest is the body of POST /api/auth/password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// DeleteAccountRequest is the body of DELETE /api/auth/me: the password
// confirms the deletion.
type DeleteAccountRequest struct {
	Password string `json:"password"`
}

// Token is the answer to a successful login.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresAt is when the token stops being accepted (extension).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// User is a registered account as the API shows it.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Role is an AI character. AIInstructions is only shown to the role's owner.
type Role struct {
	ID             int64     `json:"id"`
	UserID         int64     `json:"user_id"`
	Name           string    `json:"name"`
	Avatar         string    `json:"avatar"`
	Description    string    `json:"description"`
	AIInstructions string    `json:"ai_instructions"`
	CreatedAt      time.Time `json:"created_at"`
	// Extensions.
	Handle      string   `json:"handle"`
	Model       string   `json:"model"`
	Temperature *float64 `json:"temperature"`
	MaxTokens   *int     `json:"max_tokens"`
	// Warning is set on a create or update whose model could not be
	// checked against the provider's live model list (the role is saved).
	Warning string `json:"warning,omitempty"`
}

// CreateRoleRequest is the body of POST /api/roles/.
type CreateRoleRequest struct {
	Name           string   `json:"name"`
	Avatar         string   `json:"avatar"`
	Description    string   `json:"description"`
	AIInstructions string   `json:"ai_instructions"`
	Handle         string   `json:"handle,omitempty"`
	Model          string   `json:"model,omitempty"`
	Temperature    *float64 `json:"temperature,omitempty"`
	MaxTokens      *int     `json:"max_tokens,omitempty"`
}

// UpdateRoleRequest is the body of PATCH /api/roles/{id}; nil fields stay as they are.
type UpdateRoleRequest struct {
	Name           *string  `json:"name,omitempty"`
	Avatar         *string  `json:"avatar,omitempty"`
	Description    *string  `json:"description,omitempty"`
	AIInstructions *string  `json:"ai_instructions,omitempty"`
	Handle         *string  `json:"handle,omitempty"`
	Model          *string  `json:"model,omitempty"`
	Temperature    *float64 `json:"temperature,omitempty"`
	MaxTokens      *int     `json:"max_tokens,omitempty"`
}

// Room is a chat room.
type Room struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedBy int64     `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// LastSeq is the seq of the newest message in the room, 0 when empty (extension).
	LastSeq int64 `json:"last_seq"`
}

// CreateRoomRequest is the body of POST /api/rooms/.
type CreateRoomRequest struct {
	Name string `json:"name"`
}

// UpdateRoomRequest is the body of PATCH /api/rooms/{id}.
type UpdateRoomRequest struct {
	Name *string `json:"name,omitempty"`
}

// Member is a user's membership of a room.
type Member struct {
	UserID   int64     `json:"user_id"`
	Username string    `json:"username"`
	Name     string    `json:"name"`
	JoinedAt time.Time `json:"joined_at"`
	// Online is true while the user has a chat socket open in the room.
	Online bool `json:"online"`
}

// AddMemberRequest is the body of POST /api/rooms/{id}/members.
type AddMemberRequest struct {
	Username string `json:"username"`
}

// Message is one chat message. RoleID is null for messages written by people.
type Message struct {
	ID          int64     `json:"id"`
	RoomID      int64     `json:"room_id"`
	UserID      *int64    `json:"user_id"`
	RoleID      *int64    `json:"role_id"`
	Content     string    `json:"content"`
	MessageType string    `json:"message_type"`
	Timestamp   time.Time `json:"timestamp"`
	// Extensions.
	Seq int64 `json:"seq"`
	// User is the author's display handle: the username, or the role's name
	// for AI responses, or "system".
	User      string `json:"user"`
	ClientID  string `json:"client_id,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// CreateMessageRequest is the body of POST /api/rooms/{id}/messages.
type CreateMessageRequest struct {
	Content     string `json:"content"`
	RoleID      *int64 `json:"role_id,omitempty"`
	MessageType string `json:"message_type,omitempty"`
	// ClientID makes the send idempotent per user: a resend with the same
	// ClientID returns the message already stored.
	ClientID string `json:"client_id,omitempty"`
	// Model and APIKey apply to the AI reply this message triggers, for that
	// one call only. APIKey is never stored or logged.
	Model  string `json:"model,omitempty"`
	APIKey string `json:"api_key,omitempty"`
}

// SeatRoleRequest is the body of POST /api/rooms/{id}/roles.
type SeatRoleRequest struct {
	RoleID int64 `json:"role_id"`
}

// Model is one entry of GET /api/llm/models.
type Model struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Provider      string `json:"provider"`
	Description   string `json:"description"`
	ContextLength int    `json:"context_length,omitempty"`
}

// GenerateRequest is the body of POST /api/llm/generate.
type GenerateRequest struct {
	Prompt string `json:"prompt"`
	Model  string `json:"model,omitempty"`
	RoleID *int64 `json:"role_id,omitempty"`
	Stream bool   `json:"stream,omitempty"`
	APIKey string `json:"api_key,omitempty"`
	// System optionally overrides the system prompt (ignored when RoleID is set).
	System string `json:"system,omitempty"`
}

// GenerateResponse is the answer of a non-streaming POST /api/llm/generate.
type GenerateResponse struct {
	Content string `json:"content"`
	Model   string `json:"model"`
	Usage   *Usage `json:"usage,omitempty"`
}

// GenerateChunk is one `data:` line of a streaming POST /api/llm/generate.
// Deltas arrive with Delta set; the last chunk has Done (and Usage) set, or
// Error when the provider failed part-way.
type GenerateChunk struct {
	Delta string `json:"delta,omitempty"`
	Done  bool   `json:"done,omitempty"`
	Model string `json:"model,omitempty"`
	Usage *Usage `json:"usage,omitempty"`
	Error string `json:"error,omitempty"`
}

// Usage counts the tokens of one AI reply.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// UsageRow is one day-and-model line of GET /api/usage.
type UsageRow struct {
	Day          string `json:"day"` // YYYY-MM-DD, UTC
	Model        string `json:"model"`
	Replies      int64  `json:"replies"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	// User is who spent, in OnMyKeysByOthers rows.
	User string `json:"user,omitempty"`
}

// UsageReport is the answer of GET /api/usage.
type UsageReport struct {
	Rows []UsageRow `json:"rows"`
	// TotalTokens is input plus output tokens over all rows.
	TotalTokens int64 `json:"total_tokens"`
	// DailyBudget is the per-user daily token budget, 0 when off.
	DailyBudget int64 `json:"daily_budget"`
	// UsedToday is the tokens spent today (UTC) that count against the budget.
	UsedToday int64 `json:"used_today"`
	// OnMyKeysByOthers is what other users spent on your stored keys (your
	// roles answering them in rooms you share), by day, model and user.
	// Rows above are what you spent, on any key.
	OnMyKeysByOthers []UsageRow `json:"on_my_keys_by_others"`
	// OnMyKeysByOthersTokens is input plus output tokens over OnMyKeysByOthers.
	OnMyKeysByOthersTokens int64 `json:"on_my_keys_by_others_tokens"`
}

// CreateKeyRequest is the body of POST /api/keys.
type CreateKeyRequest struct {
	Provider string `json:"provider"`
	APIKey   string `json:"api_key"`
	BaseURL  string `json:"base_url,omitempty"`
}

// APIKey is a stored provider key as the API shows it: never the key itself.
type APIKey struct {
	ID        int64     `json:"id"`
	Provider  string    `json:"provider"`
	LastFour  string    `json:"last_four"`
	BaseURL   string    `json:"base_url,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CallParticipant is one entry of GET /api/rooms/{id}/call.
type CallParticipant struct {
	PeerID   string    `json:"peer_id"`
	UserID   int64     `json:"user_id"`
	Username string    `json:"user"`
	JoinedAt time.Time `json:"joined_at"`
}

// ICEServer is one STUN or TURN server for WebRTC.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// RTCConfig is the answer of GET /api/rtc/config.
type RTCConfig struct {
	ICEServers []ICEServer `json:"ice_servers"`
	// ExpiresAt is when time-limited TURN credentials stop working.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Health is the answer of GET /health and GET /ready.
type Health struct {
	// Status is "healthy" (GET /health), "ready", "degraded" (a cluster
	// node that lost NATS: it still serves) or "unavailable" (503).
	Status string `json:"status"`
	// Detail says what is wrong when GET /ready is not ready or degraded.
	Detail string `json:"detail,omitempty"`
}

// Root is the answer of GET / for JSON clients.
type Root struct {
	Message string `json:"message"`
	Version string `json:"version"`
	Docs    string `json:"docs"`
}

// ExportedMessage is one line of a room export (GET
// /api/rooms/{id}/export?format=jsonl, vc export, vcd export): a message and,
// for an AI reply, the model that wrote it and the tokens it used when they
// were recorded.
type ExportedMessage struct {
	Message
	Model string `json:"model,omitempty"`
	Usage *Usage `json:"usage,omitempty"`
}
