package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

func TestRoles_CRUD(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		alice, bob := e.Register("alice"), e.Register("bob")
		temp, maxTok := 0.7, 512
		var r api.Role
		e.call("POST", "/api/roles/", alice.Token, api.CreateRoleRequest{
			Name: "Chief Technology Officer", Avatar: "🤖", Description: "tech", AIInstructions: "You are the CTO. '\"; --",
			Model: "openai/gpt-4o", Temperature: &temp, MaxTokens: &maxTok}, 201, &r)
		require.Positive(t, r.ID)
		require.Equal(t, alice.User.ID, r.UserID)
		require.Equal(t, "chief-technology-officer", r.Handle)
		require.Equal(t, "You are the CTO. '\"; --", r.AIInstructions)
		require.Equal(t, "🤖", r.Avatar)
		require.Equal(t, 0.7, *r.Temperature)
		require.Equal(t, 512, *r.MaxTokens)
		require.Contains(t, r.Warning, "not checked", "no OpenAI key here: the model could not be checked")
		r.Warning = "" // only the answer to the create carries it

		// Same name again: a unique handle is derived; an explicit taken handle conflicts.
		var r2 api.Role
		e.call("POST", "/api/roles", alice.Token, api.CreateRoleRequest{Name: "Chief Technology Officer"}, 201, &r2)
		require.Equal(t, "chief-technology-officer-2", r2.Handle)
		require.Nil(t, r2.Temperature)
		e.fail("POST", "/api/roles", alice.Token, api.CreateRoleRequest{Name: "x", Handle: "Chief-Technology-Officer"}, 409)
		// Bob may use the same handle.
		var rb api.Role
		e.call("POST", "/api/roles", bob.Token, api.CreateRoleRequest{Name: "CTO", Handle: "chief-technology-officer"}, 201, &rb)

		var list []api.Role
		e.call("GET", "/api/roles", alice.Token, nil, 200, &list)
		require.Equal(t, []api.Role{r, r2}, list)
		var got api.Role
		e.call("GET", fmt.Sprintf("/api/roles/%d/", r.ID), alice.Token, nil, 200, &got)
		require.Equal(t, r, got)

		// Bob cannot see, change or delete Alice's role.
		id := fmt.Sprintf("/api/roles/%d", r.ID)
		name := "hijacked"
		e.fail("GET", id, bob.Token, nil, 404)
		e.fail("PATCH", id, bob.Token, api.UpdateRoleRequest{Name: &name}, 404)
		e.fail("DELETE", id, bob.Token, nil, 404)
		e.fail("GET", "/api/roles/abc", alice.Token, nil, 404)
		e.fail("GET", "/api/roles/0", alice.Token, nil, 404)
		e.fail("GET", "/api/roles/424242", alice.Token, nil, 404)

		// PATCH changes only the given fields.
		instr := "New instructions"
		var upd api.Role
		e.call("PATCH", id, alice.Token, api.UpdateRoleRequest{Name: &name, AIInstructions: &instr}, 200, &upd)
		require.Equal(t, "hijacked", upd.Name)
		require.Equal(t, "New instructions", upd.AIInstructions)
		require.Equal(t, r.Handle, upd.Handle)
		require.Equal(t, r.Avatar, upd.Avatar)
		e.call("GET", id, alice.Token, nil, 200, &got)
		require.Equal(t, upd, got)
		taken := r2.Handle
		e.fail("PATCH", id, alice.Token, api.UpdateRoleRequest{Handle: &taken}, 409)
		e.fail("PATCH", id, alice.Token, []byte(`{"name": 1}`), 400)

		e.call("DELETE", id, alice.Token, nil, 204, nil)
		e.fail("GET", id, alice.Token, nil, 404)
		e.fail("DELETE", id, alice.Token, nil, 404)
	})
}

func TestRoles_Validation(t *testing.T) {
	e := start(t)
	a := e.Register("alice")
	bad := func(v float64) *float64 { return &v }
	zero := 0
	cases := map[string]struct {
		req   api.CreateRoleRequest
		field string
	}{
		"no name":           {api.CreateRoleRequest{Name: ""}, "name"},
		"long name":         {api.CreateRoleRequest{Name: strings.Repeat("n", 101)}, "name"},
		"long instructions": {api.CreateRoleRequest{Name: "n", AIInstructions: strings.Repeat("i", 32<<10+1)}, "ai_instructions"},
		"bad handle":        {api.CreateRoleRequest{Name: "n", Handle: "no spaces"}, "handle"},
		"temperature":       {api.CreateRoleRequest{Name: "n", Temperature: bad(2.5)}, "temperature"},
		"max_tokens":        {api.CreateRoleRequest{Name: "n", MaxTokens: &zero}, "max_tokens"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, c.field, e.fail("POST", "/api/roles", a.Token, c.req, 422).Field)
		})
	}
	// The limits themselves are fine.
	e.call("POST", "/api/roles", a.Token, api.CreateRoleRequest{Name: strings.Repeat("n", 100), AIInstructions: strings.Repeat("i", 32<<10)}, 201, nil)
}
