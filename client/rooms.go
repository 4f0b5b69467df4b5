package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/virtual-company/vc/pkg/api"
)

// ListRooms returns the rooms the caller belongs to (GET /api/rooms/).
func (c *Client) ListRooms(ctx context.Context) ([]api.Room, error) {
	rooms := []api.Room{}
	err := c.do(ctx, http.MethodGet, "/api/rooms/", nil, nil, &rooms)
	return rooms, err
}

// CreateRoom creates a room with the caller as its creator and first member
// (POST /api/rooms/).
func (c *Client) CreateRoom(ctx context.Context, name string) (api.Room, error) {
	var r api.Room
	err := c.do(ctx, http.MethodPost, "/api/rooms/", nil, api.CreateRoomRequest{Name: name}, &r)
	return r, err
}

// GetRoom returns one room (GET /api/rooms/{id}); 404 for non-members.
func (c *Client) GetRoom(ctx context.Context, roomID int64) (api.Room, error) {
	var r api.Room
	err := c.do(ctx, http.MethodGet, roomPath(roomID, ""), nil, nil, &r)
	return r, err
}

// UpdateRoom renames a room (PATCH /api/rooms/{id}; creator only).
func (c *Client) UpdateRoom(ctx context.Context, roomID int64, req api.UpdateRoomRequest) (api.Room, error) {
	var r api.Room
	err := c.do(ctx, http.MethodPatch, roomPath(roomID, ""), nil, req, &r)
	return r, err
}

// DeleteRoom deletes a room and its messages (DELETE /api/rooms/{id}; creator only).
func (c *Client) DeleteRoom(ctx context.Context, roomID int64) error {
	return c.do(ctx, http.MethodDelete, roomPath(roomID, ""), nil, nil, nil)
}

// ListMembers returns the members of a room (GET /api/rooms/{id}/members).
func (c *Client) ListMembers(ctx context.Context, roomID int64) ([]api.Member, error) {
	ms := []api.Member{}
	err := c.do(ctx, http.MethodGet, roomPath(roomID, "/members"), nil, nil, &ms)
	return ms, err
}

// AddMember adds a user to a room by username (POST /api/rooms/{id}/members).
func (c *Client) AddMember(ctx context.Context, roomID int64, username string) (api.Member, error) {
	var m api.Member
	err := c.do(ctx, http.MethodPost, roomPath(roomID, "/members"), nil, api.AddMemberRequest{Username: username}, &m)
	return m, err
}

// RemoveMember removes a user from a room: the caller leaving, or the creator
// removing someone (DELETE /api/rooms/{id}/members/{user_id}).
func (c *Client) RemoveMember(ctx context.Context, roomID, userID int64) error {
	return c.do(ctx, http.MethodDelete, roomPath(roomID, "/members/"+strconv.FormatInt(userID, 10)), nil, nil, nil)
}

// MessageQuery selects a page of a room's history. Zero fields are left out:
// the server's defaults apply (the newest 100 messages).
type MessageQuery struct {
	// Limit is how many messages at most; Offset skips that many newest ones.
	Limit, Offset int
	// After and Before bound the page by seq (exclusive). With After the
	// page holds the oldest messages after it.
	After, Before int64
	// AfterSet sends After even when it is 0 ("after=0": the room's oldest
	// messages first); set it to page forward from the beginning. Without
	// it, After 0 is left out and the page holds the newest messages.
	AfterSet bool
}

func (q MessageQuery) values() url.Values {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.After > 0 || q.AfterSet {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Before > 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	return v
}

// ListMessages returns a page of a room's messages, oldest first
// (GET /api/rooms/{id}/messages).
func (c *Client) ListMessages(ctx context.Context, roomID int64, q MessageQuery) ([]api.Message, error) {
	msgs := []api.Message{}
	err := c.do(ctx, http.MethodGet, roomPath(roomID, "/messages"), q.values(), nil, &msgs)
	return msgs, err
}

// SendMessage stores a message in a room and fans it out
// (POST /api/rooms/{id}/messages). With req.ClientID set, a resend returns
// the message already stored.
func (c *Client) SendMessage(ctx context.Context, roomID int64, req api.CreateMessageRequest) (api.Message, error) {
	var m api.Message
	err := c.do(ctx, http.MethodPost, roomPath(roomID, "/messages"), nil, req, &m)
	return m, err
}

// ListRoomRoles returns the roles seated in a room (GET /api/rooms/{id}/roles).
func (c *Client) ListRoomRoles(ctx context.Context, roomID int64) ([]api.Role, error) {
	roles := []api.Role{}
	err := c.do(ctx, http.MethodGet, roomPath(roomID, "/roles"), nil, nil, &roles)
	return roles, err
}

// SeatRole seats one of the caller's roles in a room (POST /api/rooms/{id}/roles).
func (c *Client) SeatRole(ctx context.Context, roomID, roleID int64) (api.Role, error) {
	var r api.Role
	err := c.do(ctx, http.MethodPost, roomPath(roomID, "/roles"), nil, api.SeatRoleRequest{RoleID: roleID}, &r)
	return r, err
}

// UnseatRole removes a role from a room (DELETE /api/rooms/{id}/roles/{role_id}).
func (c *Client) UnseatRole(ctx context.Context, roomID, roleID int64) error {
	return c.do(ctx, http.MethodDelete, roomPath(roomID, "/roles/"+strconv.FormatInt(roleID, 10)), nil, nil, nil)
}

// CallParticipants lists who is in a room's voice call (GET /api/rooms/{id}/call).
func (c *Client) CallParticipants(ctx context.Context, roomID int64) ([]api.CallParticipant, error) {
	ps := []api.CallParticipant{}
	err := c.do(ctx, http.MethodGet, roomPath(roomID, "/call"), nil, nil, &ps)
	return ps, err
}

// roomPath is /api/rooms/{id} followed by suffix.
func roomPath(roomID int64, suffix string) string {
	return fmt.Sprintf("/api/rooms/%d%s", roomID, suffix)
}
