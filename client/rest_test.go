package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

func newClient(t *testing.T, d *servertest.Daemon, username string) (*client.Client, api.User) {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(d.URL)
	require.NoError(t, err)
	u, err := c.Register(ctx, api.RegisterRequest{Email: username + "@example.com", Username: username, Name: "N " + username, Password: "password-" + username})
	require.NoError(t, err)
	tok, err := c.Login(ctx, username, "password-"+username)
	require.NoError(t, err)
	require.Equal(t, api.TokenTypeBearer, tok.TokenType)
	require.Equal(t, tok.AccessToken, c.Token(), "Login sets the token")
	return c, u
}

// requireStatus checks err is a *client.Error with status and a detail.
func requireStatus(t *testing.T, err error, status int) *client.Error {
	t.Helper()
	var ce *client.Error
	require.True(t, errors.As(err, &ce), "want *client.Error, got %v", err)
	require.Equal(t, status, ce.StatusCode)
	require.NotEmpty(t, ce.Detail)
	require.Equal(t, ce.Detail, ce.Error())
	return ce
}

func TestREST_AuthRoomsMembersMessagesRoles(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := servertest.Start(t)
	alice, au := newClient(t, d, "alice")
	bob, bu := newClient(t, d, "bob")

	h, err := alice.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, "healthy", h.Status)
	me, err := alice.Me(ctx)
	require.NoError(t, err)
	require.Equal(t, au, me)

	// Errors carry the status and the server's detail.
	anon, err := client.New(d.URL)
	require.NoError(t, err)
	_, err = anon.Register(ctx, api.RegisterRequest{Email: "x@example.com", Username: "alice", Name: "x", Password: "password-x"})
	ce := requireStatus(t, err, http.StatusBadRequest)
	require.Equal(t, "Username already taken", ce.Detail)
	_, err = anon.Register(ctx, api.RegisterRequest{Email: "not-an-email", Username: "zed", Name: "z", Password: "password-z"})
	ce = requireStatus(t, err, http.StatusUnprocessableEntity)
	require.Equal(t, "email", ce.Field)
	_, err = anon.Login(ctx, "alice", "wrong-password")
	requireStatus(t, err, http.StatusUnauthorized)
	require.True(t, client.IsUnauthorized(err))
	_, err = anon.Me(ctx)
	require.True(t, client.IsUnauthorized(err))

	// Rooms.
	room, err := alice.CreateRoom(ctx, "general")
	require.NoError(t, err)
	require.Equal(t, au.ID, room.CreatedBy)
	rooms, err := alice.ListRooms(ctx)
	require.NoError(t, err)
	require.Len(t, rooms, 1)
	_, err = bob.GetRoom(ctx, room.ID)
	require.True(t, client.IsNotFound(err), "non-members get 404")
	name := "lobby"
	room, err = alice.UpdateRoom(ctx, room.ID, api.UpdateRoomRequest{Name: &name})
	require.NoError(t, err)
	require.Equal(t, "lobby", room.Name)

	// Members.
	m, err := alice.AddMember(ctx, room.ID, "bob")
	require.NoError(t, err)
	require.Equal(t, bu.ID, m.UserID)
	ms, err := bob.ListMembers(ctx, room.ID)
	require.NoError(t, err)
	require.Len(t, ms, 2)

	// Messages and the history query.
	for _, text := range []string{"one", "two", "three", "four"} {
		msg, err := bob.SendMessage(ctx, room.ID, api.CreateMessageRequest{Content: text})
		require.NoError(t, err)
		require.Equal(t, text, msg.Content)
	}
	again, err := bob.SendMessage(ctx, room.ID, api.CreateMessageRequest{Content: "five", ClientID: "c-1"})
	require.NoError(t, err)
	dup, err := bob.SendMessage(ctx, room.ID, api.CreateMessageRequest{Content: "five", ClientID: "c-1"})
	require.NoError(t, err)
	require.Equal(t, again.ID, dup.ID, "a resend with the same client_id is stored once")
	all, err := alice.ListMessages(ctx, room.ID, client.MessageQuery{})
	require.NoError(t, err)
	require.Len(t, all, 5)
	page, err := alice.ListMessages(ctx, room.ID, client.MessageQuery{Limit: 2, Offset: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"three", "four"}, contents(page))
	page, err = alice.ListMessages(ctx, room.ID, client.MessageQuery{After: 1, Before: 4})
	require.NoError(t, err)
	require.Equal(t, []string{"two", "three"}, contents(page))
	_, err = alice.SendMessage(ctx, room.ID, api.CreateMessageRequest{Content: ""})
	requireStatus(t, err, http.StatusUnprocessableEntity)

	// Roles.
	role, err := alice.CreateRole(ctx, api.CreateRoleRequest{Name: "Reviewer", Avatar: "R", AIInstructions: "Review."})
	require.NoError(t, err)
	roles, err := alice.ListRoles(ctx)
	require.NoError(t, err)
	require.Len(t, roles, 1)
	desc := "reviews code"
	role, err = alice.UpdateRole(ctx, role.ID, api.UpdateRoleRequest{Description: &desc})
	require.NoError(t, err)
	require.Equal(t, "reviews code", role.Description)
	got, err := alice.GetRole(ctx, role.ID)
	require.NoError(t, err)
	require.Equal(t, role.ID, got.ID)
	err = bob.DeleteRole(ctx, role.ID)
	require.Error(t, err)
	require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, client.StatusCode(err))
	require.NoError(t, alice.DeleteRole(ctx, role.ID))
	_, err = alice.GetRole(ctx, role.ID)
	require.True(t, client.IsNotFound(err))

	// Models.
	models, err := alice.ListModels(ctx, false)
	require.NoError(t, err)
	require.NotEmpty(t, models)

	// Leaving, deleting.
	require.NoError(t, bob.RemoveMember(ctx, room.ID, bu.ID))
	_, err = bob.ListMessages(ctx, room.ID, client.MessageQuery{})
	require.True(t, client.IsNotFound(err))
	require.NoError(t, alice.DeleteRoom(ctx, room.ID))
	_, err = alice.GetRoom(ctx, room.ID)
	require.True(t, client.IsNotFound(err))

	// LogoutAll invalidates the token.
	require.NoError(t, alice.LogoutAll(ctx))
	_, err = alice.Me(ctx)
	require.True(t, client.IsUnauthorized(err))
}

func contents(ms []api.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Content
	}
	return out
}
