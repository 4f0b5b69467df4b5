// Package meeting runs meetings of AI roles in a room (issue 18): several
// roles discuss a topic in turns (round robin, or chaired: the chair picks
// the next speaker), people in the room take part, and the meeting ends with
// minutes. Each turn is an ordinary AI reply in the room, produced by a
// TurnRunner (the AI orchestrator); this package decides who speaks, builds
// the prompts, keeps the meeting's state in the store and holds a lease on
// every meeting it runs, so that after a restart (or on another node of a
// cluster) a meeting goes on at its next turn, and never runs twice.
package meeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/store"
)

// PromptMessage is one conversation turn of a prompt.
type PromptMessage struct {
	// Assistant marks the speaking role's own words; everything else is
	// a user turn (prefixed with its author).
	Assistant bool
	Content   string
}

// Prompt is a system prompt and a conversation.
type Prompt struct {
	System   string
	Messages []PromptMessage
}

// Turn is one reply a role gives in a meeting.
type Turn struct {
	Room      api.Room
	MeetingID int64
	Role      store.Role
	// Payer is the user whose budget and keys pay: the meeting's starter.
	Payer  int64
	Prompt Prompt
}

// Usage counts tokens.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
}

// Total is input plus output tokens.
func (u Usage) Total() int64 { return u.InputTokens + u.OutputTokens }

// TurnResult is how a turn went.
type TurnResult struct {
	// Message is the stored reply (ID 0 when nothing was stored).
	Message api.Message
	Usage   Usage
	// Canceled is set when a member cancelled the reply (ai_cancel).
	Canceled bool
}

// Schema is a JSON schema a structured answer must follow.
type Schema struct {
	Name        string
	Description string
	JSON        map[string]any
}

// StructuredCall asks a role for a JSON object that follows Schema (tool use
// on Anthropic, a JSON schema response format on OpenAI-compatible
// providers). It is not shown in the room.
type StructuredCall struct {
	Room      api.Room
	MeetingID int64
	Role      store.Role
	Payer     int64
	Prompt    Prompt
	Schema    Schema
}

// TurnRunner produces the AI side of a meeting.
type TurnRunner interface {
	// RunTurn streams one reply of t.Role into the room as an ordinary AI
	// reply (ai_start, ai_delta, message, ai_done, all with MeetingID)
	// and returns when it ended. A failed reply has already said so in
	// the room (ai_error and a system message) when RunTurn returns its
	// error; a *LimitError says the payer may not spend now.
	RunTurn(ctx context.Context, t Turn) (TurnResult, error)
	// Structured makes one structured call and returns the JSON object.
	Structured(ctx context.Context, c StructuredCall) (json.RawMessage, Usage, error)
}

// LimitError is a refusal by the AI limits: the payer's daily token budget
// is spent (Budget), or a rate limit says to come back after RetryAfter.
type LimitError struct {
	Budget     bool
	RetryAfter time.Duration
	Detail     string
}

func (e *LimitError) Error() string { return e.Detail }

// Publisher sends events to every socket of a room.
type Publisher interface {
	Publish(roomID int64, ev wsproto.Event)
}

// Messages stores the messages of a meeting that are not replies: the
// minutes and system notices.
type Messages interface {
	// CreateSystem stores and publishes a system message.
	CreateSystem(ctx context.Context, roomID int64, content string) (api.Message, error)
	// CreateMeetingMessage stores a role's message of the given type
	// (api.MessageMeetingMinutes) and publishes it with meeting_id.
	CreateMeetingMessage(ctx context.Context, roomID, meetingID int64, role api.Role, content, messageType string) (api.Message, error)
}

// Rooms checks membership.
type Rooms interface {
	// RequireMember returns the room when userID is a member (else a
	// service not-found error).
	RequireMember(ctx context.Context, roomID, userID int64) (api.Room, error)
}

// Store is the part of the store meetings use.
type Store interface {
	store.MeetingStore
	RoleByID(ctx context.Context, id int64) (store.Role, error)
	SeatedRoles(ctx context.Context, roomID int64) ([]store.Role, error)
	RoomByID(ctx context.Context, id int64) (store.Room, error)
	Messages(ctx context.Context, roomID int64, q store.MessageQuery) ([]store.Message, error)
}

// Deps are an Engine's collaborators and tunables.
type Deps struct {
	Store    Store
	Rooms    Rooms
	Messages Messages
	Runner   TurnRunner
	Notifier Publisher
	// NodeID names this vcd in the leases it takes (default: random).
	NodeID string
	// LeaseTTL is how long a lease lasts without renewal: how soon
	// another node takes over the meetings of a node that died (default 30 s).
	LeaseTTL time.Duration
	// PollInterval is how often the engine looks for meetings nobody
	// holds (default LeaseTTL/3).
	PollInterval time.Duration
	// Clustered says other nodes may run meetings too: a person's
	// @handle of a role is then checked against the store's running
	// meeting of the room before an ordinary reply is started (one
	// indexed read, only for messages that mention someone).
	Clustered bool
	// MaxFailures ends a meeting as failed after this many provider
	// failures in a row (default 3).
	MaxFailures int
	// TranscriptChars bounds the meeting so far in a prompt, newest kept
	// (default 48 000 characters, about 12 000 tokens).
	TranscriptChars int
	Logger          *slog.Logger
	Now             func() time.Time
}

// Causes of a meeting run's end other than the meeting's own course.
var (
	errStopped  = errors.New("the meeting was stopped")
	errShutdown = errors.New("vcd is shutting down")
	errLostHold = errors.New("another node holds the meeting")
)

// apiMeeting converts a stored meeting to its API shape.
func apiMeeting(m store.Meeting, roles map[int64]store.Role) api.Meeting {
	out := api.Meeting{ID: m.ID, RoomID: m.RoomID, Status: m.Status, Topic: m.Topic, Mode: m.Mode, Rounds: m.Rounds,
		Chair: m.ChairID, Turns: m.Turns, Speaker: m.Speaker, TokenBudget: m.TokenBudget, TokensUsed: m.TokensUsed,
		CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, StartSeq: m.StartSeq, EndSeq: m.EndSeq,
		MinutesMessageID: m.MinutesMessageID, Detail: m.Detail, Roles: make([]api.MeetingRole, 0, len(m.RoleIDs))}
	if m.EndedAt != nil {
		out.EndedAt = *m.EndedAt
	}
	if n := len(m.RoleIDs); n > 0 {
		out.Round = min(m.Turns/n+1, m.Rounds)
		if m.Turns == 0 && m.Speaker == nil {
			out.Round = 0
		}
	}
	for _, id := range m.RoleIDs {
		r, ok := roles[id]
		if !ok {
			out.Roles = append(out.Roles, api.MeetingRole{ID: id, Name: fmt.Sprintf("role %d", id)})
			continue
		}
		out.Roles = append(out.Roles, api.MeetingRole{ID: r.ID, Name: r.Name, Handle: r.Handle})
	}
	if m.Minutes != "" {
		var mm api.MeetingMinutes
		if json.Unmarshal([]byte(m.Minutes), &mm) == nil {
			out.Minutes = &mm
		}
	}
	return out
}

func apiRole(r store.Role) api.Role {
	return api.Role{ID: r.ID, UserID: r.UserID, Name: r.Name, Avatar: r.Avatar, Description: r.Description,
		Handle: r.Handle, Model: r.Model, Temperature: r.Temperature, MaxTokens: r.MaxTokens, CreatedAt: r.CreatedAt}
}
