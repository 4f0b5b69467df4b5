package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/web"
)

// fetch GETs url with headers and returns the response and its raw body.
func fetch(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// A bare transport: no transparent gzip, so the test sees the wire.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func startWeb(t *testing.T) *servertest.Daemon {
	return servertest.Start(t, servertest.WithServerOptions(server.WithWeb(web.FS())))
}

func requireAppHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'self'")
	require.Contains(t, csp, "script-src 'self';")
	require.Contains(t, csp, "connect-src 'self'")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.NotContains(t, csp, "unsafe-inline")
	require.NotContains(t, csp, "unsafe-eval")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
}

var assetRE = regexp.MustCompile(`(?:src|href)="(/app/[0-9a-f]{12}/[^"]+)"`)

func TestWeb_RootNegotiation(t *testing.T) {
	d := startWeb(t)
	// API clients keep the seed's JSON at /.
	for _, accept := range []string{"", "application/json", "*/*"} {
		resp, body := fetch(t, d.URL+"/", "Accept", accept)
		require.Equal(t, 200, resp.StatusCode, accept)
		var root api.Root
		require.NoError(t, json.Unmarshal(body, &root), "Accept %q: %s", accept, body)
		require.Equal(t, "/docs", root.Docs)
	}
	// Browsers get the app.
	resp, body := fetch(t, d.URL+"/", "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.Contains(t, string(body), `<script type="module" src="/app/`)
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	requireAppHeaders(t, resp)
}

func TestWeb_DeepLinks(t *testing.T) {
	d := startWeb(t)
	for _, p := range []string{"/rooms/42", "/rooms/42/", "/roles", "/keys"} {
		resp, body := fetch(t, d.URL+p, "Accept", "text/html")
		require.Equal(t, 200, resp.StatusCode, p)
		require.Contains(t, string(body), `id="app"`, p)
		requireAppHeaders(t, resp)
	}
	// The API is untouched.
	resp, _ := fetch(t, d.URL+"/api/rooms", "Accept", "text/html")
	require.Equal(t, 401, resp.StatusCode)
	resp, _ = fetch(t, d.URL+"/app/nope.js")
	require.Equal(t, 404, resp.StatusCode)
}

func TestWeb_AssetsCompressedHashedImmutable(t *testing.T) {
	d := startWeb(t)
	_, page := fetch(t, d.URL+"/", "Accept", "text/html")
	urls := assetRE.FindAllStringSubmatch(string(page), -1)
	require.GreaterOrEqual(t, len(urls), 5, "the page links its assets under a hashed prefix")
	for _, m := range urls {
		u := d.URL + m[1]
		resp, plain := fetch(t, u)
		require.Equal(t, 200, resp.StatusCode, m[1])
		require.Empty(t, resp.Header.Get("Content-Encoding"))
		require.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"), m[1])
		requireAppHeaders(t, resp)
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag)
		if strings.HasSuffix(m[1], ".js") {
			require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
		}

		resp, b := fetch(t, u, "Accept-Encoding", "gzip, deflate, br, zstd")
		require.Equal(t, "br", resp.Header.Get("Content-Encoding"), m[1])
		require.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
		got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(b)))
		require.NoError(t, err)
		require.Equal(t, plain, got)

		resp, b = fetch(t, u, "Accept-Encoding", "gzip")
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), m[1])
		zr, err := gzip.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		got, err = io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, plain, got)

		resp, _ = fetch(t, u, "Accept-Encoding", "br;q=0, gzip;q=0")
		require.Empty(t, resp.Header.Get("Content-Encoding"))

		resp, b = fetch(t, u, "If-None-Match", etag)
		require.Equal(t, 304, resp.StatusCode)
		require.Empty(t, b)
	}
	// Without the hash: the same file, revalidated rather than immutable.
	resp, _ := fetch(t, d.URL+"/app/main.js")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	// The page itself revalidates to a 304.
	resp, _ = fetch(t, d.URL+"/", "Accept", "text/html")
	resp, b := fetch(t, d.URL+"/", "Accept", "text/html", "If-None-Match", resp.Header.Get("ETag"))
	require.Equal(t, 304, resp.StatusCode)
	require.Empty(t, b)
}

// TestWeb_NoInlineCodeNoThirdParty checks what the CSP relies on: no inline
// script or style in the page, no eval, no HTML strings, no other origin.
func TestWeb_NoInlineCodeNoThirdParty(t *testing.T) {
	fsys := web.FS()
	page, err := fs.ReadFile(fsys, "index.html")
	require.NoError(t, err)
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(page), -1) {
		require.Contains(t, tag, `src="/app/`, "every script is a file of the app")
	}
	require.NotRegexp(t, `(?i)\son[a-z]+=|style=|<style`, string(page))
	banned := regexp.MustCompile(`\beval\(|new Function\(|innerHTML|outerHTML|insertAdjacentHTML|document\.write|setAttribute\('style'|https?://(?:[a-z0-9-]+\.)+[a-z]{2,}/`)
	err = fs.WalkDir(fsys, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".js") && !strings.HasSuffix(p, ".css") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		require.NoError(t, err)
		// The SVG namespace is a name, not a request.
		src := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		require.Empty(t, banned.FindAllString(src, -1), p)
		return nil
	})
	require.NoError(t, err)
}

// TestWeb_FirstLoadSize measures what a first visit transfers for the app
// (page and every asset, brotli) and what a warm reload does (the page
// revalidated: a 304; the hashed assets come from the cache): the issue
// allows 80 KB and 2 KB.
func TestWeb_FirstLoadSize(t *testing.T) {
	d := startWeb(t)
	resp, compressed := fetch(t, d.URL+"/", "Accept", "text/html", "Accept-Encoding", "br")
	require.Equal(t, "br", resp.Header.Get("Content-Encoding"))
	total := len(compressed)
	_, page := fetch(t, d.URL+"/", "Accept", "text/html")
	// A file named twice (a script that is also preloaded) is fetched once.
	seen := map[string]bool{}
	for _, m := range assetRE.FindAllStringSubmatch(string(page), -1) {
		if seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		_, b := fetch(t, d.URL+m[1], "Accept-Encoding", "br")
		total += len(b)
	}
	t.Logf("first load: %d bytes of app (brotli), page and %d assets", total, len(seen))
	require.LessOrEqual(t, total, 80*1024)
	// A warm reload: only the page is asked for again, with its ETag.
	r304, b := fetch(t, d.URL+"/", "Accept", "text/html", "Accept-Encoding", "br", "If-None-Match", resp.Header.Get("ETag"))
	require.Equal(t, 304, r304.StatusCode)
	head := 0
	for k, vs := range r304.Header {
		for _, v := range vs {
			head += len(k) + len(v) + 4
		}
	}
	t.Logf("warm reload of the page: %d bytes of headers, %d of body", head, len(b))
	require.Less(t, head+len(b), 2*1024)
}
