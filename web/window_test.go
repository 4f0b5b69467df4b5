package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
)

// TestBrowser_LongRoomStaysSmall scrolls a room of 10 000 messages back to
// its first message and down again: the page keeps under 2 000 DOM nodes
// and 100 MB of JS heap, and a live message still shows at the end.
func TestBrowser_LongRoomStaysSmall(t *testing.T) {
	d := startWeb(t)
	a := d.Register("alice")
	ctx := context.Background()
	svc := d.Server().Services()
	room, err := svc.Rooms.Create(ctx, a.User.ID, api.CreateRoomRequest{Name: "Archive"})
	require.NoError(t, err)
	const total = 10_000
	for i := 1; i <= total; i++ {
		_, _, err := svc.Messages.Create(ctx, a.User.ID, room.ID, api.CreateMessageRequest{Content: fmt.Sprintf("message %d", i)})
		require.NoError(t, err)
	}

	b := newBrowser(t)
	loginInBrowser(b, fmt.Sprintf("%s/rooms/%d", d.URL, room.ID), "alice", a.Password)
	b.waitFor("log", "Messages")
	b.until("the newest message", countOf(fmt.Sprintf("message %d", total))+" === 1")

	const nodes = `(() => { let n = 0; const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL); while (w.nextNode()) n++; return n; })()`
	type walk struct {
		MaxNodes int     `json:"maxNodes"`
		Pages    int     `json:"pages"`
		HeapMB   float64 `json:"heapMB"`
		First    string  `json:"first"`
		Last     string  `json:"last"`
	}
	up := evalAsyncLong[walk](b, `(async () => {
		const v = window.vcApp.view, nodes = () => `+nodes+`;
		let maxNodes = nodes(), pages = 0;
		while (!(v.atStart && v.firstSeq === 1)) {
			const before = v.firstSeq;
			v.log.scrollTop = 0;
			await v.loadOlder();
			if (v.firstSeq !== before) pages++; else await new Promise(r => setTimeout(r, 5));
			maxNodes = Math.max(maxNodes, nodes());
		}
		const texts = `+messageTexts+`;
		return {maxNodes, pages, heapMB: performance.memory.usedJSHeapSize / 1048576, first: texts[0], last: texts.at(-1)};
	})()`)
	t.Logf("back to the first of %d messages in %d pages: at most %d DOM nodes, %.1f MB of JS heap", total, up.Pages, up.MaxNodes, up.HeapMB)
	require.Equal(t, "message 1", up.First)
	require.NotEqual(t, fmt.Sprintf("message %d", total), up.Last, "the newest were dropped from the DOM")
	require.Less(t, up.MaxNodes, 2000)
	require.Less(t, up.HeapMB, 100.0)

	// A message that arrives while scrolled back shows once back at the end.
	status, body := d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), a.Token, api.CreateMessageRequest{Content: "while you were reading"})
	require.Equal(t, 201, status, string(body))
	down := evalAsyncLong[walk](b, `(async () => {
		const v = window.vcApp.view, nodes = () => `+nodes+`;
		let maxNodes = 0, pages = 0;
		while (v.trimmedEnd) {
			const before = v.lastShownSeq;
			v.log.scrollTop = v.log.scrollHeight;
			await v.loadNewer();
			if (v.lastShownSeq !== before) pages++; else await new Promise(r => setTimeout(r, 5));
			maxNodes = Math.max(maxNodes, nodes());
		}
		const texts = `+messageTexts+`;
		return {maxNodes, pages, first: texts[0], last: texts.at(-1)};
	})()`)
	t.Logf("down again in %d pages: at most %d DOM nodes", down.Pages, down.MaxNodes)
	require.Less(t, down.MaxNodes, 2000)
	require.Equal(t, "while you were reading", down.Last)
	require.Equal(t, 1, eval[int](b, countOf(fmt.Sprintf("message %d", total))))

	// Live again.
	status, body = d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), a.Token, api.CreateMessageRequest{Content: "live again"})
	require.Equal(t, 201, status, string(body))
	b.until("the live message", countOf("live again")+" === 1")
	require.Empty(t, b.pageErrors())
}

// evalAsyncLong is evalAsync with room for a long walk.
func evalAsyncLong[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Minute)
	defer cancel()
	v, err := runEval[T](ctx, expr)
	if err != nil {
		b.t.Fatalf("eval: %v", err)
	}
	return v
}
