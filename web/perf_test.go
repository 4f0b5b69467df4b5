package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/web"
)

// transfers sums what the page's navigation and resources moved over the
// network (transferSize: 0 for a cache hit, headers only for a 304), split
// into the app (the page and /app/) and the API.
const transfers = `(() => {
	const nav = performance.getEntriesByType('navigation')[0];
	let app = nav.transferSize, apiBytes = 0;
	for (const r of performance.getEntriesByType('resource')) {
		if (r.name.includes('/app/')) app += r.transferSize; else if (r.name.includes('/api/')) apiBytes += r.transferSize;
	}
	return {app, api: apiBytes};
})()`

type transferSizes struct {
	App int `json:"app"`
	API int `json:"api"`
}

// TestBrowser_Performance measures, through Chromium on loopback: the time
// from navigation to the newest messages of a room on screen (cold cache and
// warm), what a warm reload transfers, and the main thread's long tasks
// while a reply streams at 200 tokens per second. It logs the figures (run
// with -v); the bounds it asserts are loose, so a loaded machine does not
// fail it, and docs/web.md has the figures of a quiet one.
func TestBrowser_Performance(t *testing.T) {
	fake := aitest.New(t, aitest.OpenAI)
	d := servertest.Start(t, servertest.WithServerOptions(server.WithWeb(web.FS())), servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = fake.URL
		c.LLM.AllowServerKey = false
	}))
	a := d.Register("alice")
	var room api.Room
	_, body := d.Do("POST", "/api/rooms", a.Token, api.CreateRoomRequest{Name: "Busy"})
	require.NoError(t, json.Unmarshal(body, &room))
	for i := range 300 {
		status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), a.Token, api.CreateMessageRequest{Content: fmt.Sprintf("message %d with *some* `markdown`", i)})
		require.Equal(t, 201, status, string(body))
	}
	roomURL := fmt.Sprintf("%s/rooms/%d", d.URL, room.ID)

	b := newBrowser(t)
	// Signed in already, cold cache: the token is put in place on a page of
	// the origin, then the cache is emptied.
	b.navigate(d.URL + "/health")
	b.do("sign in", chromedp_Eval(fmt.Sprintf(`localStorage.setItem('vc.token', %q)`, a.Token)),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, network.ClearBrowserCache, cdp.Empty{})
			return chromedp.Void{}, err
		})
	b.navigate(roomURL)
	b.until("the newest messages", `performance.getEntriesByName('vc:newest').length > 0`)
	cold := eval[float64](b, `performance.getEntriesByName('vc:newest')[0].startTime`)
	coldBytes := eval[transferSizes](b, transfers)
	require.Contains(t, eval[string](b, messageTexts+".at(-1)"), "message 299")

	b.do("reload", chromedp_Reload())
	b.until("the newest messages", `performance.getEntriesByName('vc:newest').length > 0`)
	warm := eval[float64](b, `performance.getEntriesByName('vc:newest')[0].startTime`)
	warmBytes := eval[transferSizes](b, transfers)
	t.Logf("navigation to the newest messages: cold cache %.0f ms, warm %.0f ms", cold, warm)
	t.Logf("warm timeline: %s", eval[string](b, `JSON.stringify([['dom', Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd)],
		...performance.getEntriesByType('resource').filter(r => r.name.includes('/api/')).map(r => [r.name.replace(location.origin, ''), Math.round(r.startTime), Math.round(r.responseEnd)])])`))
	t.Logf("transferred: cold app %d B + API %d B; warm reload app %d B + API %d B", coldBytes.App, coldBytes.API, warmBytes.App, warmBytes.API)
	require.Less(t, warmBytes.App, 2048, "a warm reload of the app transfers under 2 KB")
	require.Less(t, warm, 3000.0)

	// A reply streaming 200 tokens per second: every delta shows, and the
	// long tasks (over 50 ms) of the main thread are counted.
	status, body := d.Do("POST", "/api/keys", a.Token, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-perf-0000"})
	require.Equal(t, 201, status, string(body))
	var role api.Role
	_, body = d.Do("POST", "/api/roles", a.Token, api.CreateRoleRequest{Name: "Fast", AIInstructions: "Be fast.", Handle: "fast", Model: "openai/gpt-4o-mini"})
	require.NoError(t, json.Unmarshal(body, &role))
	status, body = d.Do("POST", fmt.Sprintf("/api/rooms/%d/roles", room.ID), a.Token, api.SeatRoleRequest{RoleID: role.ID})
	require.Less(t, status, 300, string(body))
	const tokens = 600
	fake.Enqueue(aitest.Response{TokenCount: tokens, TokenDelay: 5 * time.Millisecond})
	b.do("observe long tasks", chromedp_Eval(`window.__long = []; new PerformanceObserver(l => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({type: 'longtask'})`))
	send(b, "@fast go")
	b.until("the whole reply", fmt.Sprintf(`%s.some(t => t.includes('t%d'))`, messageTexts, tokens-1))
	long := eval[[]float64](b, "window.__long")
	maxTask := 0.0
	for _, l := range long {
		maxTask = max(maxTask, l)
	}
	t.Logf("a %d-token reply at 200 tokens/s: %d long tasks over 50 ms (longest %.0f ms)", tokens, len(long), maxTask)
	text := eval[string](b, messageTexts+".at(-1)")
	for i := range tokens {
		require.Contains(t, text, fmt.Sprintf("t%d ", i)[:len(fmt.Sprintf("t%d", i))])
	}
	require.Empty(t, b.pageErrors())
}
