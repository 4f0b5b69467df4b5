package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// EnvChromium names the browser binary the end-to-end tests drive (default:
// the first of chromium, chromium-browser, google-chrome on PATH).
const EnvChromium = "VC_TEST_CHROMIUM"

// chromiumPath finds a Chromium; "" when there is none.
func chromiumPath() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium (its own profile, so its own
// localStorage) with one tab, driven by accessible roles and names.
type browser struct {
	t   *testing.T
	ctx context.Context
	// errs collects uncaught page exceptions and CSP violations.
	mu   sync.Mutex
	errs []string
}

// newBrowser starts a headless Chromium, or skips the test when there is none.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no Chromium found (apt-get install chromium, or set " + EnvChromium + "): skipping the browser end-to-end test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	require.NoError(t, chromedp.Do(ctx)) // start the browser on the test's context
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			// Exceptions, console.error calls and CSP violations; not the
			// network errors a test provokes (a 401, a daemon restart).
			if m.IsException() || m.Source == "security" || m.Type == chromedp.ConsoleError && m.Source == "" {
				b.mu.Lock()
				b.errs = append(b.errs, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions with a deadline.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (page errors: %v)", what, err, b.pageErrors())
	}
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// byRole selects elements by their computed accessible role and name, as a
// screen reader finds them.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: n.NodeID, AccessibleName: name, Role: role})
		if err != nil {
			return nil, err
		}
		var ids []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if !ax.Ignored && ax.BackendDOMNodeID != 0 {
				ids = append(ids, ax.BackendDOMNodeID)
			}
		}
		if len(ids) == 0 {
			return nil, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: ids})
		if err != nil {
			return nil, err
		}
		return pushed.NodeIDs, nil
	})
}

func (b *browser) navigate(url string) { b.t.Helper(); b.do("navigate "+url, chromedp.Navigate(url)) }

// click clicks (a real mouse click) the element with this role and name.
func (b *browser) click(role, name string) {
	b.t.Helper()
	b.do(fmt.Sprintf("click %s %q", role, name), chromedp.Click(role+" "+name, byRole(role, name)))
}

// fill types text (real key events) into the field labelled name.
func (b *browser) fill(role, name, text string) {
	b.t.Helper()
	b.do(fmt.Sprintf("fill %s %q", role, name), chromedp.SendKeys(role+" "+name, text, byRole(role, name)))
}

// waitFor waits until the element with this role and name is visible.
func (b *browser) waitFor(role, name string) {
	b.t.Helper()
	b.do(fmt.Sprintf("wait for %s %q", role, name), chromedp.WaitVisible(role+" "+name, byRole(role, name)))
}

// waitGone waits until no element with this role and name is visible.
func (b *browser) waitGone(role, name string) {
	b.t.Helper()
	b.do(fmt.Sprintf("wait for %s %q to go", role, name), func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			doc, err := chromedp.Evaluate[*runtime.RemoteObject]("document")(ctx, t)
			if err != nil {
				return chromedp.Void{}, err
			}
			res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{ObjectID: doc.ObjectID, AccessibleName: name, Role: role})
			if err != nil {
				return chromedp.Void{}, err
			}
			visible := 0
			for _, ax := range res.Nodes {
				if !ax.Ignored {
					visible++
				}
			}
			if visible == 0 {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-tick.C:
			}
		}
	})
}

// until waits until the JavaScript predicate is true (checked on every
// animation frame, in the page).
func (b *browser) until(what, predicate string) {
	b.t.Helper()
	b.do("wait until "+what, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](predicate)(ctx, t)
		return chromedp.Void{}, err
	})
}

// eval evaluates a JavaScript expression into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// messageTexts is the text of every message article in the log.
const messageTexts = `[...document.querySelectorAll('[role=log] article .body')].map(e => e.textContent)`

// countOf is a JS expression counting the articles whose body is exactly text.
func countOf(text string) string {
	return fmt.Sprintf(`%s.filter(t => t.trim() === %q).length`, messageTexts, text)
}

// chromedp_Reload reloads the page.
func chromedp_Reload() chromedp.Action[chromedp.Void] { return chromedp.Reload() }

// chromedp_Eval evaluates a script for its effect.
func chromedp_Eval(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[any](expr)(ctx, t)
		return chromedp.Void{}, err
	}
}
