package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/web"
)

// EnvScreenshots, when set, makes TestBrowser_Screenshots write the
// screenshots of docs/web.md into that directory (docs/web from the
// repository root: VC_WEB_SCREENSHOTS=$PWD/docs/web).
const EnvScreenshots = "VC_WEB_SCREENSHOTS"

// TestBrowser_Screenshots takes the screenshots of docs/web.md: the login
// screen, a room with an AI reply and the members panel, the role manager,
// keys and usage, a phone-sized room in dark mode.
func TestBrowser_Screenshots(t *testing.T) {
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		t.Skip("set " + EnvScreenshots + "=DIR to write the screenshots of docs/web.md")
	}
	fake := aitest.New(t, aitest.OpenAI)
	d := servertest.Start(t, servertest.WithServerOptions(server.WithWeb(web.FS())), servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = fake.URL
		c.LLM.AllowServerKey = false
	}))
	a := d.Register("alice")
	bob := d.Register("bob")
	var room api.Room
	_, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "Launch"})
	require.NoError(t, json.Unmarshal(body, &room))
	d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "Design review"})
	d.Do("POST", fmt.Sprintf("/api/rooms/%d/members", room.ID), a.Token, api.AddMemberRequest{Username: "bob"})
	var role api.Role
	_, body = d.Do("POST", "/api/roles", a.Token, api.CreateRoleRequest{Name: "PM", Avatar: "🧭", AIInstructions: "You are a pragmatic product manager.", Handle: "pm", Model: "openai/gpt-4o-mini", Description: "Keeps the launch on track"})
	require.NoError(t, json.Unmarshal(body, &role))
	d.Do("POST", fmt.Sprintf("/api/rooms/%d/roles", room.ID), a.Token, api.SeatRoleRequest{RoleID: role.ID})
	d.Do("POST", "/api/keys", a.Token, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-demo-key-4821"})
	d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), bob.Token, api.CreateMessageRequest{Content: "Build 1.4 is green. Release notes are in `docs/release.md`."})

	shot := func(b *browser, name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
	b := newBrowser(t)
	b.navigate(d.URL + "/")
	b.waitFor("button", "Log in")
	shot(b, "login.png")

	loginInBrowser(b, fmt.Sprintf("%s/rooms/%d", d.URL, room.ID), "alice", a.Password)
	b.waitFor("log", "Messages")
	fake.Enqueue(aitest.Response{Text: "Plan for **Friday**:\n\n1. Freeze at noon\n2. Smoke tests on staging\n3. Ship at 16:00\n\n| Owner | Task |\n|---|---|\n| bob | release notes |\n| alice | announcement |", TokenDelay: 5 * time.Millisecond})
	send(b, "@pm what is the plan for the launch?")
	b.until("the stored reply", `document.querySelectorAll('[role=log] article.ai[data-seq]').length === 1`)
	b.click("button", "Members")
	b.until("the member list", `document.querySelectorAll('.members li').length === 2`)
	shot(b, "room.png")

	b.click("link", "My roles")
	b.waitFor("button", "Edit PM")
	b.click("button", "Edit PM")
	b.waitFor("button", "Save")
	shot(b, "roles.png")

	b.click("link", "Keys & usage")
	b.waitFor("heading", "Usage")
	b.until("the chart", `!!document.querySelector('svg.chart')`)
	shot(b, "keys.png")

	phone := newBrowser(t, chromedp.WindowSize(390, 800))
	phone.do("dark mode", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return chromedp.Void{}, err
	}, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 800, DeviceScaleFactor: 1, Mobile: true})
		return chromedp.Void{}, err
	})
	loginInBrowser(phone, fmt.Sprintf("%s/rooms/%d", d.URL, room.ID), "bob", bob.Password)
	phone.waitFor("log", "Messages")
	phone.until("the reply", `document.querySelectorAll('[role=log] article.ai').length === 1`)
	shot(phone, "phone-dark.png")
}
