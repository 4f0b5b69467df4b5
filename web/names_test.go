package web_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/web"
)

// axName is one control of the list of accessible names.
type axName struct{ role, name string }

// TestBrowser_AccessibleNames finds every control of the issue's
// "Accessible names" list by its computed role and name, as a screen
// reader does, on the screen where it lives.
func TestBrowser_AccessibleNames(t *testing.T) {
	fake := aitest.New(t, aitest.OpenAI)
	d := servertest.Start(t, servertest.WithServerOptions(server.WithWeb(web.FS())), servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = fake.URL
		c.LLM.AllowServerKey = false
	}))
	a := d.Register("alice")
	var room api.Room
	_, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "Names"})
	require.NoError(t, json.Unmarshal(body, &room))
	var role api.Role
	_, body = d.Do("POST", "/api/roles", a.Token, api.CreateRoleRequest{Name: "PM", AIInstructions: "Plan.", Handle: "pm", Model: "openai/gpt-4o-mini"})
	require.NoError(t, json.Unmarshal(body, &role))
	status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/roles", room.ID), a.Token, api.SeatRoleRequest{RoleID: role.ID})
	require.Less(t, status, 300, string(body))
	status, body = d.Do("POST", "/api/keys", a.Token, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-names-0000"})
	require.Equal(t, 201, status, string(body))

	b := newBrowser(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true))
	check := func(screen string, names ...axName) {
		t.Helper()
		for _, n := range names {
			b.waitFor(n.role, n.name)
		}
		t.Logf("%s: %d names found", screen, len(names))
	}

	b.navigate(d.URL + "/")
	check("login", axName{"textbox", "Username"}, axName{"textbox", "Password"}, axName{"checkbox", "Keep me signed in"},
		axName{"button", "Log in"}, axName{"button", "Create account"})
	b.click("button", "Create account")
	check("register", axName{"textbox", "Email"}, axName{"textbox", "Username"}, axName{"textbox", "Name"},
		axName{"textbox", "Password"}, axName{"button", "Create account"})

	loginInBrowser(b, d.URL+"/", "alice", a.Password)
	check("sidebar", axName{"navigation", "Rooms"}, axName{"button", "New room"}, axName{"button", "Log out"})
	b.click("button", "New room")
	check("new room dialog", axName{"dialog", "New room"}, axName{"textbox", "Room name"}, axName{"button", "Create"})
	b.do("close the dialog", chromedp.KeyEvent("\x1b"))
	b.waitGone("dialog", "New room")

	b.navigate(fmt.Sprintf("%s/rooms/%d", d.URL, room.ID))
	check("room", axName{"log", "Messages"}, axName{"textbox", "Message"}, axName{"button", "Send"},
		axName{"button", "Members"}, axName{"button", "Roles"}, axName{"button", "Join call"})
	// Each message is an article.
	fake.Enqueue(aitest.Response{TokenCount: 2000, TokenDelay: 20 * time.Millisecond})
	send(b, "@pm talk for a while")
	check("streaming", axName{"button", "Stop"})
	b.click("button", "Stop")
	b.waitGone("button", "Stop")
	b.until("two messages stored", `document.querySelectorAll('[role=log] article[data-seq]').length === 2`)
	require.Equal(t, 2, eval[int](b, `document.querySelectorAll('[role=log] article').length`))
	b.click("button", "Roles")
	check("roles panel", axName{"button", "Add role to room"})
	b.click("button", "Join call")
	check("call", axName{"button", "Mute"}, axName{"button", "Leave call"})
	b.click("button", "Leave call")
	b.waitFor("button", "Join call")

	b.navigate(d.URL + "/roles")
	b.click("button", "New role")
	check("role form", axName{"textbox", "Name"}, axName{"textbox", "Handle"}, axName{"textbox", "Avatar"},
		axName{"textbox", "Description"}, axName{"textbox", "Instructions"}, axName{"combobox", "Model"},
		axName{"spinbutton", "Temperature"}, axName{"spinbutton", "Max tokens"}, axName{"button", "Save"})
	require.Empty(t, b.pageErrors())
}
