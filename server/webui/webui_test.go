package webui

import (
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

func TestAcceptsEncoding(t *testing.T) {
	for _, c := range []struct {
		header, enc string
		want        bool
	}{
		{"gzip, deflate, br", "br", true},
		{"gzip, deflate, br", "gzip", true},
		{"gzip;q=0.5", "gzip", true},
		{"gzip;q=0", "gzip", false},
		{"br; q=0.0", "br", false},
		{"BR", "br", true},
		{"", "br", false},
		{"identity", "gzip", false},
	} {
		require.Equal(t, c.want, acceptsEncoding(c.header, c.enc), "%q %q", c.header, c.enc)
	}
}

func TestETagMatch(t *testing.T) {
	require.True(t, etagMatch(`"a", "b"`, `"b"`))
	require.True(t, etagMatch(`W/"b"`, `"b"`))
	require.True(t, etagMatch(`*`, `"b"`))
	require.False(t, etagMatch(`"c"`, `"b"`))
}

func TestNew(t *testing.T) {
	_, err := New(fstest.MapFS{"a.js": {Data: []byte("x")}})
	require.ErrorContains(t, err, "index.html")
	fsys := fstest.MapFS{
		"index.html": {Data: []byte(`<link href="/app/a.css"><!--preload--><script type="module" src="/app/m.js"></script>`)},
		"m.js":       {Data: []byte(`import "./x.js";` + string(make([]byte, 2000)))},
		"x.js":       {Data: []byte(`export {}`)},
		"a.css":      {Data: []byte(`body{}`)},
	}
	h, err := New(fsys)
	require.NoError(t, err)
	v := h.Version()
	page := string(h.index.identity)
	require.Contains(t, page, `href="/app/`+v+`/a.css"`)
	require.Contains(t, page, `src="/app/`+v+`/m.js"`)
	require.Contains(t, page, `<link rel="modulepreload" href="/app/`+v+`/x.js">`)
	require.NotNil(t, h.assets["m.js"].brotli, "a compressible file is compressed")
	require.Nil(t, h.assets["x.js"].gzip, "a file that does not shrink is sent as is")
	// The hash follows the content.
	fsys["x.js"] = &fstest.MapFile{Data: []byte(`export {};`)}
	h2, err := New(fsys)
	require.NoError(t, err)
	require.NotEqual(t, v, h2.Version())
}

// A tab opened before a restart asks for its assets under the old version:
// it gets today's file, revalidated rather than immutable.
func TestAsset_OldVersionServesTodaysFile(t *testing.T) {
	h, err := New(fstest.MapFS{
		"index.html": {Data: []byte(`<script type="module" src="/app/m.js"></script>`)},
		"m.js":       {Data: []byte(`export const m = 1`)},
	})
	require.NoError(t, err)
	app := fiber.New()
	app.Get("/app/*", h.Asset)
	old := strings.Repeat("0", len(h.Version()))
	for _, c := range []struct {
		path, cache string
		status      int
	}{
		{"/app/" + h.Version() + "/m.js", "immutable", 200},
		{"/app/" + old + "/m.js", "no-cache", 200},
		{"/app/m.js", "no-cache", 200},
		{"/app/" + old + "/nope.js", "", 404},
	} {
		resp, err := app.Test(httptest.NewRequest("GET", c.path, nil))
		require.NoError(t, err)
		require.Equal(t, c.status, resp.StatusCode, c.path)
		if c.cache != "" {
			require.Contains(t, resp.Header.Get("Cache-Control"), c.cache, c.path)
		}
	}
}
