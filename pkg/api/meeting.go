package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MessageMeetingMinutes is the message_type of the minutes a meeting's chair
// (or first role) writes when the meeting ends: Markdown with the sections
// Summary, Decisions, Action items and Open questions.
const MessageMeetingMinutes = "meeting_minutes"

// Meeting modes (StartMeetingRequest.Mode, Meeting.Mode).
const (
	// MeetingRoundRobin: every role speaks once per round, in the given order.
	MeetingRoundRobin = "round_robin"
	// MeetingChaired: after each turn the chair decides who speaks next,
	// or that the meeting is done.
	MeetingChaired = "chaired"
)

// Meeting statuses (Meeting.Status; the status of the meeting_end event is
// one of the four final ones).
const (
	MeetingRunning         = "running"
	MeetingDone            = "done"
	MeetingStopped         = "stopped"
	MeetingFailed          = "failed"
	MeetingBudgetExhausted = "budget_exhausted"
)

// Meeting limits.
const (
	MeetingMinRounds     = 1
	MeetingMaxRounds     = 10
	MeetingDefaultRounds = 2
	// MeetingMaxRoles is the most roles one meeting seats.
	MeetingMaxRoles = 10
	// MeetingMaxTopicBytes bounds the topic.
	MeetingMaxTopicBytes = 4 << 10
)

// RoleRef names a role by id (a JSON number, or a string of digits) or by
// handle (a JSON string, with or without the leading '@').
type RoleRef struct {
	ID     int64
	Handle string
}

// RoleByID returns a RoleRef for a role id.
func RoleByID(id int64) RoleRef { return RoleRef{ID: id} }

// RoleByHandle returns a RoleRef for a handle ("pm" or "@pm").
func RoleByHandle(handle string) RoleRef {
	return RoleRef{Handle: strings.TrimPrefix(strings.TrimSpace(handle), "@")}
}

// ParseRoleRef reads a command-line role reference: digits are an id,
// anything else a handle.
func ParseRoleRef(s string) RoleRef {
	s = strings.TrimSpace(s)
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
		return RoleRef{ID: id}
	}
	return RoleByHandle(s)
}

// String is the id or the @handle.
func (r RoleRef) String() string {
	if r.Handle != "" {
		return "@" + r.Handle
	}
	return strconv.FormatInt(r.ID, 10)
}

// MarshalJSON writes a handle as a string and an id as a number.
func (r RoleRef) MarshalJSON() ([]byte, error) {
	if r.Handle != "" {
		return json.Marshal(r.Handle)
	}
	return json.Marshal(r.ID)
}

// UnmarshalJSON reads a number (an id) or a string (a handle, or digits).
func (r *RoleRef) UnmarshalJSON(b []byte) error {
	var id int64
	if err := json.Unmarshal(b, &id); err == nil {
		*r = RoleRef{ID: id}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a role is a role id (number) or a handle (string)")
	}
	*r = ParseRoleRef(s)
	return nil
}

// StartMeetingRequest is the body of POST /api/rooms/{id}/meetings.
type StartMeetingRequest struct {
	Topic string `json:"topic"`
	// Roles are the roles taking part, in speaking order; each must be
	// seated in the room.
	Roles []RoleRef `json:"roles"`
	// Rounds is 1 to 10; 0 (or absent) means MeetingDefaultRounds.
	Rounds int `json:"rounds,omitempty"`
	// Mode is MeetingRoundRobin (default) or MeetingChaired.
	Mode string `json:"mode,omitempty"`
	// Chair is one of Roles; it decides the next speaker in chaired mode
	// and writes the minutes. Default: the first role.
	Chair *RoleRef `json:"chair,omitempty"`
	// TokenBudget ends the meeting (with minutes) once its turns used this
	// many tokens, input plus output; 0 or absent: no meeting budget.
	TokenBudget int64 `json:"token_budget,omitempty"`
}

// MeetingRole is a role taking part in a meeting.
type MeetingRole struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Handle string `json:"handle"`
}

// ActionItem is one action item of a meeting's minutes.
type ActionItem struct {
	// Owner is a role's name or a person's username.
	Owner string `json:"owner"`
	Task  string `json:"task"`
	// Due is when, as the meeting said it ("next week", "2026-12-11"), or "".
	Due string `json:"due"`
}

// MeetingMinutes is the structured outcome of a meeting; the minutes message
// holds the same content as Markdown.
type MeetingMinutes struct {
	Summary       string       `json:"summary"`
	Decisions     []string     `json:"decisions"`
	ActionItems   []ActionItem `json:"action_items"`
	OpenQuestions []string     `json:"open_questions"`
}

// Meeting is a meeting of AI roles in a room, as the API shows it.
type Meeting struct {
	ID     int64  `json:"id"`
	RoomID int64  `json:"room_id"`
	Status string `json:"status"`
	Topic  string `json:"topic"`
	// Roles in speaking order.
	Roles []MeetingRole `json:"roles"`
	Mode  string        `json:"mode"`
	// Rounds is the number of rounds asked for; Round the current one
	// (1-based; 0 before the first turn).
	Rounds int `json:"rounds"`
	Round  int `json:"round"`
	// Chair is the role id of the chair (the first role unless chosen).
	Chair int64 `json:"chair"`
	// Turns is the number of turns taken so far (at most Rounds x len(Roles)).
	Turns int `json:"turns"`
	// Speaker is the role id speaking now, absent between turns.
	Speaker *int64 `json:"speaker,omitempty"`
	// TokenBudget is 0 when the meeting has none; TokensUsed counts the
	// input and output tokens of its turns so far.
	TokenBudget int64 `json:"token_budget"`
	TokensUsed  int64 `json:"tokens_used"`
	// CreatedBy is the user id of who started the meeting.
	CreatedBy int64     `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// StartSeq and EndSeq bound the meeting's messages in the room (seq
	// after StartSeq, up to EndSeq once it ended): the transcript, with
	// the people's messages in it.
	StartSeq int64 `json:"start_seq"`
	EndSeq   int64 `json:"end_seq,omitempty"`
	// Minutes is set once the meeting ended with minutes; MinutesMessageID
	// is the id of the minutes message.
	Minutes          *MeetingMinutes `json:"minutes,omitempty"`
	MinutesMessageID int64           `json:"minutes_message_id,omitempty"`
	// Detail says why a meeting failed or was stopped.
	Detail string `json:"detail,omitempty"`
}

// Running reports whether the meeting has not ended.
func (m Meeting) Running() bool { return m.Status == MeetingRunning }
