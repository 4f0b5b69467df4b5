package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

// registerInBrowser creates an account through the register form.
func registerInBrowser(b *browser, url, username string) {
	b.t.Helper()
	b.navigate(url)
	b.click("button", "Create account")
	b.fill("textbox", "Email", username+"@example.com")
	b.fill("textbox", "Username", username)
	b.fill("textbox", "Name", "User "+username)
	b.fill("textbox", "Password", "password-"+username)
	b.click("button", "Create account")
	b.waitFor("navigation", "Rooms")
}

// loginInBrowser logs in through the login form at url.
func loginInBrowser(b *browser, url, username, password string) {
	b.t.Helper()
	b.navigate(url)
	b.fill("textbox", "Username", username)
	b.fill("textbox", "Password", password)
	b.click("button", "Log in")
	b.waitFor("navigation", "Rooms")
}

// createRoomInBrowser creates a room with the New room dialog and returns its id.
func createRoomInBrowser(b *browser, name string) int64 {
	b.t.Helper()
	b.click("button", "New room")
	b.waitFor("dialog", "New room")
	b.fill("textbox", "Room name", name)
	b.click("button", "Create")
	b.waitFor("log", "Messages")
	b.until("the room's URL", `/^\/rooms\/\d+$/.test(location.pathname)`)
	var id int64
	_, err := fmt.Sscanf(eval[string](b, "location.pathname"), "/rooms/%d", &id)
	require.NoError(b.t, err)
	return id
}

// send types a message into the composer and presses Send.
func send(b *browser, text string) {
	b.t.Helper()
	b.fill("textbox", "Message", text)
	b.click("button", "Send")
}

func TestBrowser_RegisterLoginRoomMembersChat(t *testing.T) {
	d := startWeb(t)
	alice := newBrowser(t)
	registerInBrowser(alice, d.URL+"/", "alice")

	// Log out, then log back in.
	alice.click("button", "Log out")
	alice.waitFor("button", "Log in")
	// A wrong password shows the API's detail, not a blank page.
	alice.fill("textbox", "Username", "alice")
	alice.fill("textbox", "Password", "wrong-password")
	alice.click("button", "Log in")
	alice.until("the login error", `document.querySelector('[role=alert]').textContent.includes('Incorrect username or password')`)
	alice.navigate(d.URL + "/")
	loginInBrowser(alice, d.URL+"/", "alice", "password-alice")

	roomID := createRoomInBrowser(alice, "Launch")
	alice.waitFor("link", "Launch")

	// Add bob from the members panel.
	d.Register("bob")
	alice.click("button", "Members")
	alice.fill("textbox", "Username", "bob")
	alice.click("button", "Add member")
	alice.until("bob in the member list", `[...document.querySelectorAll('.members li')].some(li => li.textContent.includes('@bob'))`)

	// Bob follows a deep link, logs in, and lands in the room.
	bob := newBrowser(t)
	roomURL := fmt.Sprintf("%s/rooms/%d", d.URL, roomID)
	loginInBrowser(bob, roomURL, "bob", "password-bob")
	bob.waitFor("log", "Messages")
	require.Equal(t, fmt.Sprintf("/rooms/%d", roomID), eval[string](bob, "location.pathname"))

	send(alice, "hello from alice")
	bob.until("alice's message", countOf("hello from alice")+" === 1")
	send(bob, "hi alice, **bob** here")
	alice.until("bob's message", `[...document.querySelectorAll('[role=log] article strong')].some(e => e.textContent === 'bob')`)
	// Each message shows once on both sides (the sender's pending copy is replaced).
	require.Equal(t, 1, eval[int](alice, countOf("hello from alice")))
	require.Equal(t, 1, eval[int](bob, countOf("hello from alice")))

	// A reload lands in the same room with its history.
	bob.do("reload", chromedp_Reload())
	bob.waitFor("log", "Messages")
	bob.until("history after reload", countOf("hello from alice")+" === 1")

	// Scripts in messages are inert.
	send(alice, `<img src=x onerror="window.__pwned=1">`)
	send(alice, `[x](javascript:window.__pwned=2) and [ok](https://example.com/)`)
	bob.until("the XSS attempts", countOf(`<img src=x onerror="window.__pwned=1">`)+" === 1")
	bob.until("the link message", `[...document.querySelectorAll('[role=log] a')].some(a => a.textContent === 'ok')`)
	require.Equal(t, 0, eval[int](bob, `document.querySelectorAll('[role=log] img').length`))
	require.Equal(t, 0, eval[int](bob, `[...document.querySelectorAll('[role=log] a')].filter(a => !/^(https?:|mailto:)/.test(a.getAttribute('href'))).length`))
	require.Equal(t, "noopener noreferrer", eval[string](bob, `[...document.querySelectorAll('[role=log] a')].find(a => a.textContent === 'ok').rel`))
	require.Equal(t, "undefined", eval[string](bob, `typeof window.__pwned`))
	require.Empty(t, bob.pageErrors())
	require.Empty(t, alice.pageErrors())
}

func TestBrowser_AIReplyStreamsAndStops(t *testing.T) {
	fake := aitest.New(t, aitest.OpenAI)
	d := servertest.Start(t, servertest.WithServerOptions(server.WithWeb(web.FS())), servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = fake.URL
		c.LLM.OpenRouter.BaseURL = fake.URL
		c.LLM.AllowServerKey = false
	}))
	a := d.Register("alice")
	var room api.Room
	status, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "AI"})
	require.Equal(t, 201, status, string(body))
	require.NoError(t, json.Unmarshal(body, &room))
	var role api.Role
	status, body = d.Do("POST", "/api/roles", a.Token, api.CreateRoleRequest{Name: "PM", Avatar: "🧭", AIInstructions: "You are a product manager.", Handle: "pm", Model: "openai/gpt-4o-mini"})
	require.Equal(t, 201, status, string(body))
	require.NoError(t, json.Unmarshal(body, &role))
	status, body = d.Do("POST", fmt.Sprintf("/api/rooms/%d/roles", room.ID), a.Token, api.SeatRoleRequest{RoleID: role.ID})
	require.Less(t, status, 300, string(body))
	status, body = d.Do("POST", "/api/keys", a.Token, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-test-1234"})
	require.Equal(t, 201, status, string(body))

	b := newBrowser(t)
	loginInBrowser(b, fmt.Sprintf("%s/rooms/%d", d.URL, room.ID), "alice", a.Password)
	b.waitFor("log", "Messages")

	// @ completes seated roles.
	b.fill("textbox", "Message", "@p")
	b.waitFor("listbox", "Mentions")
	b.do("Tab", chromedp.KeyEvent("\t"))
	require.Equal(t, "@pm ", eval[string](b, `document.querySelector('#composer').value`))
	b.do("clear the composer", chromedp_Eval(`document.querySelector('#composer').value = ''`))

	// A whole reply streams in, then becomes the stored message, in Markdown.
	fake.Enqueue(aitest.Response{Tokens: []string{"We ", "ship ", "on ", "**Friday**", "."}, TokenDelay: 40 * time.Millisecond})
	b.do("watch deltas", chromedp_Eval(`window.__seen = []; new MutationObserver(() => {
		const s = document.querySelector('article.streaming .body'); if (s) window.__seen.push(s.textContent);
	}).observe(document.querySelector('[role=log]'), {subtree: true, childList: true, characterData: true})`))
	send(b, "@pm when do we ship?")
	b.until("the stored reply", `[...document.querySelectorAll('[role=log] article.ai[data-seq] strong')].some(e => e.textContent === 'Friday')`)
	seen := eval[[]string](b, "window.__seen")
	partial := 0
	for _, s := range seen {
		if s != "" && len(s) < len("We ship on Friday") && strings.HasPrefix("We ship on Friday.", s) {
			partial++
		}
	}
	require.Positive(t, partial, "the reply showed while it streamed: %q", seen)
	require.Equal(t, 0, eval[int](b, `document.querySelectorAll('article.streaming').length`))
	require.Equal(t, 1, eval[int](b, countOf("We ship on Friday.")))
	author := eval[string](b, `[...document.querySelectorAll('[role=log] article.ai')].at(-1).querySelector('.author').textContent`)
	require.Equal(t, "PM", author)
	require.Contains(t, eval[string](b, `[...document.querySelectorAll('[role=log] article.ai')].at(-1).querySelector('.model').textContent`), "gpt-4o-mini")
	b.waitGone("button", "Stop")

	// A long reply is stopped with the Stop button.
	fake.Enqueue(aitest.Response{TokenCount: 2000, TokenDelay: 20 * time.Millisecond})
	send(b, "@pm tell me everything")
	b.waitFor("button", "Stop")
	b.until("some tokens", `(document.querySelector('article.streaming .body')?.textContent || '').includes('t3')`)
	b.click("button", "Stop")
	b.waitGone("button", "Stop")
	b.until("the stream to end", `document.querySelectorAll('article.streaming').length === 0`)
	text := eval[string](b, `[...document.querySelectorAll('[role=log] article.ai .body')].at(-1).textContent`)
	require.NotContains(t, text, "t1999", "the reply was cut short")
	require.Empty(t, b.pageErrors())
}

func TestBrowser_ReconnectAfterRestartLosesNothing(t *testing.T) {
	d := startWeb(t)
	a := d.Register("alice")
	bob := d.Register("bob")
	var room api.Room
	_, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "Ops"})
	require.NoError(t, json.Unmarshal(body, &room))
	status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/members", room.ID), a.Token, api.AddMemberRequest{Username: "bob"})
	require.Equal(t, 201, status, string(body))

	b := newBrowser(t)
	loginInBrowser(b, fmt.Sprintf("%s/rooms/%d", d.URL, room.ID), "alice", a.Password)
	b.waitFor("log", "Messages")
	send(b, "before the restart")
	b.until("the first message stored", `document.querySelectorAll('[role=log] article[data-seq]').length === 1`)

	// The daemon goes away: the page says so, and what is typed now waits.
	d.Stop()
	b.until("the reconnecting bar", `(document.querySelector('.reconnect:not([hidden])')?.textContent || '').includes('Reconnecting')`)
	send(b, "typed while offline")
	d.Restart()
	// While the page reconnects, bob posts.
	status, body = d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), bob.Token, api.CreateMessageRequest{Content: "posted during the outage"})
	require.Equal(t, 201, status, string(body))

	b.until("the bar to go", `document.querySelector('.reconnect').hidden`)
	b.until("both messages", countOf("typed while offline")+" === 1 && "+countOf("posted during the outage")+" === 1")
	b.until("every message stored", `document.querySelectorAll('[role=log] article.pending').length === 0`)
	require.Equal(t, 1, eval[int](b, countOf("before the restart")))
	require.Equal(t, 1, eval[int](b, countOf("typed while offline")))
	require.Equal(t, 1, eval[int](b, countOf("posted during the outage")))

	// The daemon stored the offline message once.
	_, body = d.Do("GET", fmt.Sprintf("/api/rooms/%d/messages", room.ID), a.Token, nil)
	var msgs []api.Message
	require.NoError(t, json.Unmarshal(body, &msgs))
	n := 0
	for _, m := range msgs {
		if m.Content == "typed while offline" {
			n++
		}
	}
	require.Equal(t, 1, n)
	require.Len(t, msgs, 3)
}

// TestBrowser_OfflineQueueSurvivesReload: a message typed while the daemon
// is down waits in the page's queue (sessionStorage, with its client_id); the
// page is reloaded while the daemon is still down (an error page), then
// opened again once the daemon is back: the message shows once, pending until
// stored, and the daemon stores it once.
func TestBrowser_OfflineQueueSurvivesReload(t *testing.T) {
	d := startWeb(t)
	a := d.Register("alice")
	var room api.Room
	_, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "Ops"})
	require.NoError(t, json.Unmarshal(body, &room))
	roomURL := fmt.Sprintf("%s/rooms/%d", d.URL, room.ID)

	b := newBrowser(t)
	loginInBrowser(b, roomURL, "alice", a.Password)
	b.waitFor("log", "Messages")
	send(b, "stored before")
	b.until("the first message stored", `document.querySelectorAll('[role=log] article[data-seq]').length === 1`)

	d.Stop()
	b.until("the reconnecting bar", `(document.querySelector('.reconnect:not([hidden])')?.textContent || '').includes('Reconnecting')`)
	send(b, "typed offline, then reloaded")
	b.until("the message queued", `(sessionStorage.getItem('vc.queue.`+fmt.Sprint(a.User.ID)+`.`+fmt.Sprint(room.ID)+`') || '').includes('typed offline, then reloaded')`)
	// A reload while the daemon is down: the browser shows its error page.
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	_, err := chromedp.Run(ctx, chromedp.Navigate(roomURL))
	cancel()
	require.Error(t, err, "the daemon is down: the page cannot load")

	d.Restart()
	b.navigate("about:blank") // leave the error page (a navigation from it to the same URL is aborted)
	b.navigate(roomURL)
	b.waitFor("log", "Messages")
	b.until("the queued message, stored", countOf("typed offline, then reloaded")+` === 1 && document.querySelectorAll('[role=log] article.pending').length === 0`)
	require.Equal(t, 1, eval[int](b, countOf("stored before")))
	b.until("the queue emptied", `sessionStorage.getItem('vc.queue.`+fmt.Sprint(a.User.ID)+`.`+fmt.Sprint(room.ID)+`') === null`)

	// Stored once, in order.
	_, body = d.Do("GET", fmt.Sprintf("/api/rooms/%d/messages", room.ID), a.Token, nil)
	var msgs []api.Message
	require.NoError(t, json.Unmarshal(body, &msgs))
	require.Len(t, msgs, 2)
	require.Equal(t, "typed offline, then reloaded", msgs[1].Content)
	require.NotEmpty(t, msgs[1].ClientID)
	// A reload now shows it once, from the history.
	b.do("reload", chromedp_Reload())
	b.until("the history", countOf("typed offline, then reloaded")+" === 1")
	require.Empty(t, b.pageErrors())
}

func TestBrowser_RolesAndKeys(t *testing.T) {
	d := startWeb(t)
	a := d.Register("alice")
	b := newBrowser(t)
	loginInBrowser(b, d.URL+"/roles", "alice", a.Password)
	b.waitFor("heading", "My roles")

	b.click("button", "New role")
	b.fill("textbox", "Name", "Reviewer")
	b.fill("textbox", "Handle", "reviewer")
	b.fill("textbox", "Avatar", "R")
	b.fill("textbox", "Description", "Reads code")
	b.fill("textbox", "Instructions", "You review Go code.")
	b.fill("spinbutton", "Temperature", "0.3")
	b.fill("spinbutton", "Max tokens", "500")
	b.click("button", "Save")
	b.waitFor("button", "Edit Reviewer")
	_, body := d.Do("GET", "/api/roles", a.Token, nil)
	var roles []api.Role
	require.NoError(t, json.Unmarshal(body, &roles))
	require.Len(t, roles, 1)
	require.Equal(t, "reviewer", roles[0].Handle)
	require.Equal(t, "You review Go code.", roles[0].AIInstructions)
	require.NotNil(t, roles[0].MaxTokens)
	require.Equal(t, 500, *roles[0].MaxTokens)

	// Edit: the API's field error shows next to the field.
	b.click("button", "Edit Reviewer")
	b.do("clear the name", chromedp_Eval(`document.activeElement.select()`))
	b.fill("textbox", "Name", "Code reviewer")
	b.click("button", "Save")
	b.waitFor("button", "Edit Code reviewer")

	b.click("button", "Delete Code reviewer")
	b.click("button", "Delete role")
	b.until("the role list to be empty", `document.querySelector('.role-list').textContent.includes('No roles yet')`)

	// Keys: added, listed masked, deleted.
	b.click("link", "Keys & usage")
	b.waitFor("heading", "API keys")
	b.fill("textbox", "API key", "sk-secret-abcd9876")
	b.click("button", "Add key")
	b.waitFor("button", "Delete openai key")
	page := eval[string](b, `document.querySelector('main').textContent`)
	require.Contains(t, page, "••••9876")
	require.NotContains(t, page, "sk-secret")
	b.click("button", "Delete openai key")
	b.click("button", "Delete key")
	b.until("no keys", `document.querySelector('.role-list').textContent.includes('No keys stored')`)

	// A revoked token brings back the login screen with a message.
	status, body := d.Do("POST", "/api/auth/logout-all", a.Token, nil)
	require.Equal(t, 204, status, string(body))
	b.navigate(d.URL + "/roles")
	b.waitFor("button", "Log in")
	require.NotEmpty(t, eval[string](b, `document.querySelector('[role=alert]').textContent`))
	require.Empty(t, b.pageErrors())
}

func TestBrowser_UnreadMentionsAndSwitcher(t *testing.T) {
	d := startWeb(t)
	a := d.Register("alice")
	bob := d.Register("bob")
	rooms := map[string]api.Room{}
	for _, name := range []string{"Launch", "Other"} {
		var r api.Room
		_, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: name})
		require.NoError(t, json.Unmarshal(body, &r))
		status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/members", r.ID), a.Token, api.AddMemberRequest{Username: "bob"})
		require.Equal(t, 201, status, string(body))
		rooms[name] = r
	}
	b := newBrowser(t)
	loginInBrowser(b, fmt.Sprintf("%s/rooms/%d", d.URL, rooms["Launch"].ID), "alice", a.Password)
	b.waitFor("log", "Messages")

	other := rooms["Other"].ID
	post := func(token, content string) {
		status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", other), token, api.CreateMessageRequest{Content: content})
		require.Equal(t, 201, status, string(body))
	}
	post(bob.Token, "hello")
	post(bob.Token, "ping @alice")
	post(a.Token, "my own message, from another device")
	// The sidebar refreshes on a timer; the test does not wait for it.
	b.do("refresh the rooms", chromedp_Eval(`window.vcApp.refreshRooms()`))
	badge := fmt.Sprintf(`(document.querySelector('nav a[href="/rooms/%d"]')?.textContent || '')`, other)
	b.until("two unread and one mention", badge+` === 'Other@12'`)
	require.Equal(t, "Launch", eval[string](b, fmt.Sprintf(`document.querySelector('nav a[href="/rooms/%d"]').textContent`, rooms["Launch"].ID)))

	// Ctrl-K jumps to the room; its badges clear.
	b.do("Ctrl-K", chromedp.KeyEvent("k", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitFor("combobox", "Go to room")
	b.fill("combobox", "Go to room", "oth")
	b.do("Enter", chromedp.KeyEvent("\r"))
	b.until("the other room", fmt.Sprintf(`location.pathname === '/rooms/%d'`, other))
	b.until("its history", countOf("ping @alice")+" === 1")
	b.until("the badges to clear", badge+` === 'Other'`)
	// A mention of alice is highlighted.
	require.Equal(t, 1, eval[int](b, `document.querySelectorAll('[role=log] article.mention').length`))

	// Rename, then delete with confirmation.
	b.click("button", "Rename")
	b.waitFor("dialog", "Rename room")
	b.do("select the name", chromedp_Eval(`document.activeElement.select()`))
	b.fill("textbox", "Room name", "Elsewhere")
	b.click("button", "Rename")
	b.waitFor("link", "Elsewhere")
	b.waitFor("heading", "Elsewhere")
	b.click("button", "Delete")
	b.waitFor("alertdialog", "Delete Elsewhere and all its messages? This cannot be undone.")
	b.click("button", "Delete room")
	b.until("the home screen", `location.pathname === '/'`)
	b.waitGone("link", "Elsewhere")
	status, _ := d.Do("GET", fmt.Sprintf("/api/rooms/%d", other), a.Token, nil)
	require.Equal(t, 404, status)
	require.Empty(t, b.pageErrors())
}
