package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
)

// evalUntil evaluates a JavaScript predicate every 50 ms until it is true.
// Unlike until it also works in a hidden tab, which gets no animation frames.
func (b *browser) evalUntil(what, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](predicate))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("wait until %s: %v (last error %v; page errors: %v)", what, ctx.Err(), err, b.pageErrors())
		case <-tick.C:
		}
	}
}

// TestBrowser_TypingAndHiddenTabNotifications: two browsers in one room see
// each other type; then alice's tab is hidden (another tab comes to the
// front of her window): messages count in her title, and a mention of her,
// only that, raises a browser notification (permission granted through the
// DevTools protocol; the test wraps the real Notification constructor to see
// the calls). Back in front, the count goes.
func TestBrowser_TypingAndHiddenTabNotifications(t *testing.T) {
	d := startWeb(t)
	a := d.Register("alice")
	bob := d.Register("bob")
	var room api.Room
	_, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "Launch"})
	require.NoError(t, json.Unmarshal(body, &room))
	status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/members", room.ID), a.Token, api.AddMemberRequest{Username: "bob"})
	require.Equal(t, 201, status, string(body))
	roomURL := fmt.Sprintf("%s/rooms/%d", d.URL, room.ID)

	alice := newBrowser(t)
	_, err := chromedp.CallBrowser(alice.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: d.URL})
	require.NoError(t, err)
	loginInBrowser(alice, roomURL, "alice", a.Password)
	alice.waitFor("log", "Messages")
	bobB := newBrowser(t)
	loginInBrowser(bobB, roomURL, "bob", bob.Password)
	bobB.waitFor("log", "Messages")
	alice.until("bob online", `document.querySelector('.online-count').textContent === '2 online'`)

	// Typing shows on the other side only.
	bobB.fill("textbox", "Message", "hel")
	alice.until("bob typing", `document.querySelector('.typing').textContent === 'bob is typing…'`)
	require.Empty(t, eval[string](bobB, `document.querySelector('.typing').textContent`))
	alice.fill("textbox", "Message", "hi")
	bobB.until("alice typing", `document.querySelector('.typing').textContent === 'alice is typing…'`)
	alice.do("clear the composer", chromedp_Eval(`document.querySelector('#composer').value = ''`))
	// Bob sends what he typed: he is no longer typing (long before the
	// indicator's 4 s expiry).
	bobB.do("finish the message", chromedp_Eval(`document.querySelector('#composer').value = 'hello'`))
	bobB.click("button", "Send")
	alice.until("bob's message", countOf("hello")+" === 1")
	require.Empty(t, eval[string](alice, `document.querySelector('.typing').textContent`))

	// The real Notification, wrapped to record what the app raises.
	require.Equal(t, "granted", eval[string](alice, `Notification.permission`))
	alice.do("record notifications", chromedp_Eval(`window.__notes = []; {
		const Real = window.Notification;
		window.Notification = class extends Real {
			constructor(title, o) { super(title, o); window.__notes.push({title, body: (o && o.body) || ''}); }
		};
	}`))

	// Another tab comes to the front of alice's window: hers is hidden.
	front, cancelFront := chromedp.NewContext(alice.ctx, chromedp.WithNewWindow(false))
	defer cancelFront()
	alice.do("open another tab", func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Run(front, chromedp.Navigate("about:blank"))
		return chromedp.Void{}, err
	})
	alice.evalUntil("alice's tab hidden", `document.hidden`)

	send(bobB, "just chatting")
	alice.evalUntil("one unread in the title", `document.title === '(1) Launch · Virtual Company'`)
	send(bobB, "@alice can you look at this?")
	alice.evalUntil("two unread and a notification", `document.title === '(2) Launch · Virtual Company' && window.__notes.length === 1`)
	note := eval[map[string]string](alice, `window.__notes[0]`)
	require.Equal(t, "bob in Launch", note["title"])
	require.Equal(t, "@alice can you look at this?", note["body"])
	// Only the mention notified.
	require.Equal(t, 1, eval[int](alice, `window.__notes.length`))

	// Back to alice's tab: the count goes.
	cancelFront()
	alice.evalUntil("alice's tab visible", `!document.hidden`)
	alice.until("the title without a count", `document.title === 'Launch · Virtual Company'`)
	require.Empty(t, alice.pageErrors())
	require.Empty(t, bobB.pageErrors())
}
