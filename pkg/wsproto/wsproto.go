// Package wsproto is the WebSocket wire contract of vcd: the events of the chat
// socket (/ws/chat/{room_id}) and the messages of the signaling socket
// (/ws/signaling/{room_id}). The server encodes these types and the Go client
// decodes them; the seed-compatible shapes (join, leave, message, offer,
// answer, ice_candidate) must never change.
//
// This package imports only the standard library.
package wsproto

import (
	"encoding/json"
	"time"
)

// Chat event types sent by the server.
const (
	TypeJoin     = "join"     // seed: a user connected
	TypeLeave    = "leave"    // seed: a user disconnected
	TypeMessage  = "message"  // seed: a stored message
	TypePresence = "presence" // who is online, sent to a socket on connect
	TypeTyping   = "typing"   // someone is typing (relayed, never stored)
	TypeAck      = "ack"      // a client_id send was stored
	TypeError    = "error"    // recoverable bad input; the socket stays open
	TypeAIStart  = "ai_start" // a role started answering
	TypeAIDelta  = "ai_delta" // a piece of a role's answer
	TypeAIDone   = "ai_done"  // a role finished; the message event came first
	TypeAIError  = "ai_error" // a role's answer failed
	// TypeMembers tells a room that its members or seated roles changed; clients
	// refetch /members or /roles.
	TypeMembers = "members"
	// TypeCall tells a room that its voice call started, changed or ended.
	TypeCall = "call"
	// TypePong answers a client "ping" frame (an application-level keepalive).
	TypePong = "pong"
	// TypeRoomAdded tells a user, on every chat socket they have open (in
	// any room), that they were added to the room RoomID; clients refetch
	// /api/rooms. It is a per-user event, never sent to a room.
	TypeRoomAdded = "room_added"
	// TypeMeetingStart: a meeting of AI roles started in the room (MeetingID,
	// Topic, Mode, Rounds, RoleIDs in speaking order, UserID of the starter).
	TypeMeetingStart = "meeting_start"
	// TypeMeetingTurn comes before each turn of a meeting: MeetingID, Round
	// and RoleID of the role about to speak.
	TypeMeetingTurn = "meeting_turn"
	// TypeMeetingEnd: a meeting ended; Status is done, stopped, failed or
	// budget_exhausted, MessageID the minutes message when there is one.
	TypeMeetingEnd = "meeting_end"
)

// Chat frame types sent by the client. A frame without type is a message
// (the seed's way).
const (
	ClientMessage  = "message"
	ClientTyping   = "typing"
	ClientAICancel = "ai_cancel"
	ClientPing     = "ping"
)

// Close codes used on the chat and signaling sockets besides the standard ones
// (1000 normal, 1001 going away, 1008 policy violation, 1009 too big,
// 1013 try again later).
const (
	ClosePolicy       = 1008 // bad token, unknown room, not a member
	CloseTooBig       = 1009 // a frame over the size limit
	CloseGoingAway    = 1001 // the daemon is shutting down
	CloseSlowConsumer = 4008 // the client did not read fast enough and was dropped
	CloseRemoved      = 4003 // the user was removed from the room
	CloseTooMany      = 4029 // too many sockets for this user
	CloseBadRequest   = 4009 // a request the server cannot serve, e.g. ?after= ahead of the room
	CloseInvalidData  = 1007 // a text frame that is not valid UTF-8 (RFC 6455 7.4.1)
)

// Close codes for revoked sessions, replaced sockets and server trouble.
const (
	// CloseRevoked: the token was revoked (logout-all) or expired; reason
	// "unauthorized: token revoked" or "unauthorized: token expired". Log in
	// again rather than reconnect with the same token.
	CloseRevoked = 4001
	// CloseReplaced: the same user opened another signaling socket for the
	// room, which took this one's place.
	CloseReplaced = 4000
	// CloseInternal is 1011; with a reason starting "unavailable:" the
	// database could not be reached and a retry may succeed.
	CloseInternal = 1011
	// CloseTryAgainLater is 1013: a temporary refusal (a full call).
	CloseTryAgainLater = 1013
)

// Event is every event the chat socket sends. Which fields are set depends on
// Type; unknown fields and types must be ignored by clients.
type Event struct {
	Type   string `json:"type"`
	RoomID int64  `json:"room_id,omitempty"`

	// message (also: join/leave/typing use User, UserID).
	ID          int64     `json:"id,omitempty"`
	Seq         int64     `json:"seq,omitempty"`
	User        string    `json:"user,omitempty"`
	UserID      *int64    `json:"user_id,omitempty"`
	RoleID      *int64    `json:"role_id,omitempty"`
	Content     string    `json:"content,omitempty"`
	MessageType string    `json:"message_type,omitempty"`
	Timestamp   time.Time `json:"timestamp,omitzero"`
	ClientID    string    `json:"client_id,omitempty"`
	Truncated   bool      `json:"truncated,omitempty"`

	// presence: who is online now.
	Online []PresenceUser `json:"online,omitempty"`

	// ai_start, ai_delta, ai_done, ai_error.
	StreamID  string `json:"stream_id,omitempty"`
	ReplyTo   int64  `json:"reply_to,omitempty"`
	Role      string `json:"role,omitempty"` // role name on ai_start
	Model     string `json:"model,omitempty"`
	Delta     string `json:"delta,omitempty"`
	MessageID int64  `json:"message_id,omitempty"`
	Usage     *Usage `json:"usage,omitempty"`

	// error, ai_error.
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code,omitempty"`

	// call: the participants now in the room's call (empty when it ended).
	Participants []CallPeer `json:"participants,omitempty"`

	// MeetingID is set on meeting_start, meeting_turn and meeting_end, and
	// on the ai_start, ai_delta, message and ai_done events of a meeting's
	// turns (and its minutes).
	MeetingID int64 `json:"meeting_id,omitempty"`
	// meeting_turn: the round (1-based); meeting_end: the final status.
	Round  int    `json:"round,omitempty"`
	Status string `json:"status,omitempty"`
	// meeting_start.
	Topic   string  `json:"topic,omitempty"`
	Mode    string  `json:"mode,omitempty"`
	Rounds  int     `json:"rounds,omitempty"`
	RoleIDs []int64 `json:"role_ids,omitempty"`
}

// PresenceUser is one online user in a presence event.
type PresenceUser struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"user"`
}

// CallPeer is one participant of a room's call.
type CallPeer struct {
	PeerID   string `json:"peer_id"`
	UserID   int64  `json:"user_id,omitempty"`
	Username string `json:"user"`
}

// Usage counts the tokens of one AI reply.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// messageWire is the shape of a message event: the seed's clients expect
// role_id (and user_id) to be present, null for messages from people.
type messageWire struct {
	Type        string    `json:"type"`
	RoomID      int64     `json:"room_id"`
	ID          int64     `json:"id"`
	Seq         int64     `json:"seq"`
	User        string    `json:"user"`
	UserID      *int64    `json:"user_id"`
	RoleID      *int64    `json:"role_id"`
	Content     string    `json:"content"`
	MessageType string    `json:"message_type"`
	Timestamp   time.Time `json:"timestamp"`
	ClientID    string    `json:"client_id,omitempty"`
	Truncated   bool      `json:"truncated,omitempty"`
	MeetingID   int64     `json:"meeting_id,omitempty"`
}

// eventAlias has Event's fields without its MarshalJSON method.
type eventAlias Event

// MarshalJSON writes message events in their full seed shape and every other
// event with only the fields that apply.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Type == TypeMessage {
		return json.Marshal(messageWire{
			Type: e.Type, RoomID: e.RoomID, ID: e.ID, Seq: e.Seq, User: e.User,
			UserID: e.UserID, RoleID: e.RoleID, Content: e.Content,
			MessageType: e.MessageType, Timestamp: e.Timestamp.UTC(),
			ClientID: e.ClientID, Truncated: e.Truncated, MeetingID: e.MeetingID,
		})
	}
	return json.Marshal(eventAlias(e))
}

// ClientFrame is what a client sends on the chat socket. A frame without Type
// (or with Type "message") is a chat message, as in the seed.
type ClientFrame struct {
	Type        string `json:"type,omitempty"`
	Content     string `json:"content,omitempty"`
	RoleID      *int64 `json:"role_id,omitempty"`
	MessageType string `json:"message_type,omitempty"`
	// ClientID makes a send idempotent; the server answers with an ack event.
	ClientID string `json:"client_id,omitempty"`
	// Model and APIKey apply to the AI reply this message triggers, for that
	// one call only. APIKey is never stored or logged.
	Model  string `json:"model,omitempty"`
	APIKey string `json:"api_key,omitempty"`
	// StreamID names the AI reply to cancel with ai_cancel.
	StreamID string `json:"stream_id,omitempty"`
}

// Signaling message types.
const (
	SignalOffer        = "offer"         // seed: relayed unchanged
	SignalAnswer       = "answer"        // seed: relayed unchanged
	SignalICECandidate = "ice_candidate" // seed: relayed unchanged
	SignalWelcome      = "welcome"       // server -> the new peer: its id and who is there
	SignalPeerJoined   = "peer_joined"   // server -> others: a peer joined the call
	SignalPeerLeft     = "peer_left"     // server -> others: a peer left the call
	SignalError        = "error"         // server -> sender: a malformed message
	// SignalState carries a peer's own state (for example mute) to the others.
	SignalState = "state"
	// SignalNegotiate asks the other peer for the turn to offer
	// ({"request":true}) or grants it ({"grant":true}); see client/call.
	SignalNegotiate = "negotiate"
)

// Signal is every message of the signaling socket, both ways. Data is relayed
// unchanged; From is stamped by the server; without To a message goes to every
// other peer in the room.
type Signal struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
	To   string          `json:"to,omitempty"`
	From string          `json:"from,omitempty"`

	RoomID int64      `json:"room_id,omitempty"`
	PeerID string     `json:"peer_id,omitempty"` // welcome: yours; peer_joined/left: theirs
	User   string     `json:"user,omitempty"`    // peer_joined/left and relayed messages: the sender's username
	UserID int64      `json:"user_id,omitempty"`
	Peers  []CallPeer `json:"peers,omitempty"`  // welcome: the peers already in the call
	Detail string     `json:"detail,omitempty"` // error
	Code   string     `json:"code,omitempty"`   // error: bad_json, bad_message, too_large, unknown_peer
}

// SDP is the data of an offer or answer signal (the browser's
// RTCSessionDescriptionInit).
type SDP struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// ICECandidate is the data of an ice_candidate signal (the browser's
// RTCIceCandidateInit).
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}
