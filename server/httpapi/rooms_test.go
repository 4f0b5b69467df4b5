package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

func TestRooms_CreateListGet(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		alice, bob := e.Register("alice"), e.Register("bob")
		r := e.room(alice.Token, "Board 🚀 '; DROP TABLE rooms; --")
		require.Equal(t, "Board 🚀 '; DROP TABLE rooms; --", r.Name)
		require.Equal(t, alice.User.ID, r.CreatedBy)
		require.Zero(t, r.LastSeq)
		e.room(bob.Token, "bob's room")

		var rooms []api.Room
		e.call("GET", "/api/rooms", alice.Token, nil, 200, &rooms)
		require.Equal(t, []api.Room{r}, rooms)
		var got api.Room
		e.call("GET", fmt.Sprintf("/api/rooms/%d/", r.ID), alice.Token, nil, 200, &got)
		require.Equal(t, r, got)

		// Bob does not see Alice's room, as if it did not exist.
		e.fail("GET", fmt.Sprintf("/api/rooms/%d", r.ID), bob.Token, nil, 404)
		e.fail("GET", "/api/rooms/999999", bob.Token, nil, 404)
		e.fail("GET", "/api/rooms/abc", bob.Token, nil, 404)
		e.fail("GET", "/api/rooms/-1", bob.Token, nil, 404)
		e.fail("GET", "/api/rooms/99999999999999999999999", bob.Token, nil, 404)

		ae := e.fail("POST", "/api/rooms", alice.Token, api.CreateRoomRequest{Name: " "}, 422)
		require.Equal(t, "name", ae.Field)
		e.fail("POST", "/api/rooms", alice.Token, api.CreateRoomRequest{Name: string(make([]rune, 101))}, 422)
		e.fail("POST", "/api/rooms", alice.Token, []byte(`{"name": [1]}`), 400)
		e.fail("POST", "/api/rooms", "", api.CreateRoomRequest{Name: "x"}, 401)
	})
}

func TestRooms_UpdateDelete(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		alice, bob, carol := e.Register("alice"), e.Register("bob"), e.Register("carol")
		r := e.room(alice.Token, "old")
		path := fmt.Sprintf("/api/rooms/%d", r.ID)
		e.call("POST", path+"/members", alice.Token, api.AddMemberRequest{Username: "bob"}, 201, nil)

		name := "new name"
		var got api.Room
		e.call("PATCH", path, alice.Token, api.UpdateRoomRequest{Name: &name}, 200, &got)
		require.Equal(t, "new name", got.Name)
		e.fail("PATCH", path, bob.Token, api.UpdateRoomRequest{Name: &name}, 403)
		e.fail("PATCH", path, carol.Token, api.UpdateRoomRequest{Name: &name}, 404)
		empty := ""
		require.Equal(t, "name", e.fail("PATCH", path, alice.Token, api.UpdateRoomRequest{Name: &empty}, 422).Field)
		e.fail("PATCH", path, alice.Token, []byte(`{`), 400)
		e.fail("PATCH", "/api/rooms/x", alice.Token, api.UpdateRoomRequest{Name: &name}, 404)

		e.post(alice.Token, r.ID, "one")
		e.post(bob.Token, r.ID, "two")
		e.fail("DELETE", path, bob.Token, nil, 403)
		e.fail("DELETE", path, carol.Token, nil, 404)
		e.call("DELETE", path, alice.Token, nil, 204, nil)
		e.fail("GET", path, alice.Token, nil, 404)
		e.fail("GET", path+"/messages", alice.Token, nil, 404)
		e.fail("DELETE", path, alice.Token, nil, 404)
		var n int64
		require.NoError(t, e.Server().Store().DB().Raw("SELECT COUNT(*) FROM messages WHERE room_id = ?", r.ID).Scan(&n).Error)
		require.Zero(t, n, "the room's messages are deleted with it")
	})
}

func TestRooms_Members(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		alice, bob, carol, dave := e.Register("alice"), e.Register("bob"), e.Register("carol"), e.Register("dave")
		r := e.room(alice.Token, "team")
		path := fmt.Sprintf("/api/rooms/%d/members", r.ID)

		var ms []api.Member
		e.call("GET", path, alice.Token, nil, 200, &ms)
		require.Len(t, ms, 1)
		require.Equal(t, alice.User.ID, ms[0].UserID)
		require.Equal(t, "alice", ms[0].Username)

		e.fail("POST", path, bob.Token, api.AddMemberRequest{Username: "carol"}, 404)
		var m api.Member
		e.call("POST", path+"/", alice.Token, api.AddMemberRequest{Username: "BOB"}, 201, &m)
		require.Equal(t, bob.User.ID, m.UserID)
		require.Equal(t, "bob", m.Username)
		// Any member adds; duplicates and unknown users fail.
		e.call("POST", path, bob.Token, api.AddMemberRequest{Username: "carol"}, 201, nil)
		e.fail("POST", path, bob.Token, api.AddMemberRequest{Username: "carol"}, 409)
		e.fail("POST", path, bob.Token, api.AddMemberRequest{Username: "nobody"}, 404)
		require.Equal(t, "username", e.fail("POST", path, bob.Token, api.AddMemberRequest{}, 422).Field)

		e.call("GET", path, carol.Token, nil, 200, &ms)
		require.Equal(t, []string{"alice", "bob", "carol"}, []string{ms[0].Username, ms[1].Username, ms[2].Username})
		var rooms []api.Room
		e.call("GET", "/api/rooms", bob.Token, nil, 200, &rooms)
		require.Len(t, rooms, 1)
		e.fail("GET", path, dave.Token, nil, 404)

		// Removing: only the creator removes others; anyone leaves; the
		// creator cannot leave.
		e.fail("DELETE", fmt.Sprintf("%s/%d", path, carol.User.ID), bob.Token, nil, 403)
		e.fail("DELETE", fmt.Sprintf("%s/%d", path, alice.User.ID), alice.Token, nil, 403)
		e.fail("DELETE", fmt.Sprintf("%s/%d", path, dave.User.ID), alice.Token, nil, 404)
		e.fail("DELETE", fmt.Sprintf("%s/%d", path, carol.User.ID), dave.Token, nil, 404)
		e.fail("DELETE", path+"/abc", alice.Token, nil, 404)
		e.call("DELETE", fmt.Sprintf("%s/%d", path, bob.User.ID), bob.Token, nil, 204, nil)
		e.call("DELETE", fmt.Sprintf("%s/%d", path, carol.User.ID), alice.Token, nil, 204, nil)
		e.fail("GET", fmt.Sprintf("/api/rooms/%d", r.ID), bob.Token, nil, 404)
		e.fail("GET", fmt.Sprintf("/api/rooms/%d/messages", r.ID), carol.Token, nil, 404)
		e.call("GET", path, alice.Token, nil, 200, &ms)
		require.Len(t, ms, 1)
	})
}

func TestRooms_NameTaken(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		alice, bob := e.Register("alice"), e.Register("bob")
		general := e.room(alice.Token, "general")

		// Alice's own room: the same name, also with spaces around it.
		for _, name := range []string{"general", "  general "} {
			ae := e.fail("POST", "/api/rooms", alice.Token, api.CreateRoomRequest{Name: name}, 409)
			require.Equal(t, api.CodeRoomNameTaken, ae.Code)
			require.Contains(t, ae.Detail, "general")
		}
		// Another case is another name (lookups prefer the exact match).
		e.room(alice.Token, "General")

		// Bob has no room of that name yet; once he is a member of Alice's
		// "general", he cannot make his own.
		bobs := e.room(bob.Token, "general")
		e.call("DELETE", fmt.Sprintf("/api/rooms/%d", bobs.ID), bob.Token, nil, 204, nil)
		e.call("POST", fmt.Sprintf("/api/rooms/%d/members", general.ID), alice.Token, api.AddMemberRequest{Username: "bob"}, 201, nil)
		require.Equal(t, api.CodeRoomNameTaken, e.fail("POST", "/api/rooms", bob.Token, api.CreateRoomRequest{Name: "general"}, 409).Code)

		// Renaming onto a taken name is refused; renaming a room to its own
		// name is not a collision.
		other := e.room(alice.Token, "random")
		taken := "general"
		ae := e.fail("PATCH", fmt.Sprintf("/api/rooms/%d", other.ID), alice.Token, api.UpdateRoomRequest{Name: &taken}, 409)
		require.Equal(t, api.CodeRoomNameTaken, ae.Code)
		same := "random"
		e.call("PATCH", fmt.Sprintf("/api/rooms/%d", other.ID), alice.Token, api.UpdateRoomRequest{Name: &same}, 200, nil)
		var got api.Room
		e.call("GET", fmt.Sprintf("/api/rooms/%d", other.ID), alice.Token, nil, 200, &got)
		require.Equal(t, "random", got.Name)
	})
}

func TestRooms_NameTakenConcurrent(t *testing.T) {
	e := start(t)
	alice := e.Register("alice")
	const n = 8
	statuses := make(chan int, n)
	for range n {
		go func() {
			status, _ := e.Do("POST", "/api/rooms", alice.Token, api.CreateRoomRequest{Name: "race"})
			statuses <- status
		}()
	}
	created := 0
	for range n {
		switch s := <-statuses; s {
		case 201:
			created++
		default:
			require.Equal(t, 409, s)
		}
	}
	require.Equal(t, 1, created)
}
