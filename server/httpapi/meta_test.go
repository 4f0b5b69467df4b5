package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

func get(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestMeta_HealthReadyRoot(t *testing.T) {
	e := start(t)
	var h api.Health
	e.call("GET", "/health", "", nil, 200, &h)
	require.Equal(t, "healthy", h.Status)
	e.call("GET", "/health/", "", nil, 200, nil)
	e.call("GET", "/ready", "", nil, 200, &h)
	require.Equal(t, "ready", h.Status)

	var root api.Root
	e.call("GET", "/", "", nil, 200, &root)
	require.Equal(t, "/docs", root.Docs)
	require.NotEmpty(t, root.Message)
	resp, body := get(t, e.URL+"/", map[string]string{"Accept": "text/html,application/xhtml+xml"})
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.Contains(t, body, "/docs")

	// Readiness fails once the database is gone.
	require.NoError(t, e.Server().Store().Close())
	e.call("GET", "/ready", "", nil, 503, &h)
	require.Equal(t, "unavailable", h.Status)
}

func TestMeta_HeadersAndUnknownRoutes(t *testing.T) {
	e := start(t)
	resp, _ := get(t, e.URL+"/health", map[string]string{"X-Request-ID": "trace-123"})
	require.Equal(t, "trace-123", resp.Header.Get("X-Request-ID"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	require.NotEmpty(t, resp.Header.Get("Content-Security-Policy"))
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "no CORS by default")
	resp, _ = get(t, e.URL+"/health", nil)
	require.Len(t, resp.Header.Get("X-Request-ID"), 16, "generated when absent")

	resp, body := get(t, e.URL+"/api/nothing/here", nil)
	require.Equal(t, 404, resp.StatusCode)
	var ae api.Error
	require.NoError(t, json.Unmarshal([]byte(body), &ae))
	require.Equal(t, "Not Found", ae.Detail)
	e.fail("PUT", "/api/rooms", "", nil, 405)
}

func TestMeta_CORS(t *testing.T) {
	e := start(t, servertest.WithConfig(func(c *config.Config) { c.CORSOrigins = []string{"https://app.example.com"} }))
	resp, _ := get(t, e.URL+"/health", map[string]string{"Origin": "https://app.example.com"})
	require.Equal(t, "https://app.example.com", resp.Header.Get("Access-Control-Allow-Origin"))
	resp, _ = get(t, e.URL+"/health", map[string]string{"Origin": "https://evil.example.com"})
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestMeta_OpenAPIDescribesEveryRoute(t *testing.T) {
	e := start(t)
	resp, body := get(t, e.URL+"/openapi.json", nil)
	require.Equal(t, 200, resp.StatusCode)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	n := 0
	for _, r := range e.Server().App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" || r.Path == "/" && r.Method != "GET" {
			continue
		}
		path := r.Path
		for _, p := range r.Params {
			path = strings.Replace(path, ":"+p, "{"+p+"}", 1)
		}
		ops, ok := doc.Paths[path]
		require.True(t, ok, "%s %s is not in the OpenAPI document", r.Method, r.Path)
		_, ok = ops[strings.ToLower(r.Method)]
		require.True(t, ok, "%s %s is not in the OpenAPI document", r.Method, r.Path)
		n++
	}
	require.Greater(t, n, 20)
	for _, p := range []string{"/api/auth/register", "/api/rooms/{id}/messages", "/api/rooms/{id}/members/{user_id}", "/api/llm/models"} {
		require.Contains(t, doc.Paths, p)
	}
	// The docs page is self-contained and lists every path.
	resp, page := get(t, e.URL+"/docs", nil)
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.NotContains(t, page, "<script src=")
	for p := range doc.Paths {
		require.Contains(t, page, p)
	}
}

func TestMeta_Models(t *testing.T) {
	e := start(t)
	a := e.Register("alice")
	var ms []api.Model
	e.call("GET", "/api/llm/models", a.Token, nil, 200, &ms)
	providers := map[string]bool{}
	for _, m := range ms {
		require.NotEmpty(t, m.ID)
		require.NotEmpty(t, m.Name)
		providers[m.Provider] = true
	}
	for _, p := range []string{"openai", "anthropic", "openrouter"} {
		require.True(t, providers[p], "no %s model in %v", p, ms)
	}
}

func TestRestart_DataAndTokensSurvive(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		a := e.Register("alice")
		r := e.room(a.Token, "persistent")
		m := e.post(a.Token, r.ID, "before restart")
		var role api.Role
		e.call("POST", "/api/roles", a.Token, api.CreateRoleRequest{Name: "CTO", AIInstructions: "be brief"}, 201, &role)

		e.Restart()

		e.call("GET", "/api/auth/me", a.Token, nil, 200, nil)
		require.Equal(t, []api.Message{m}, e.history(a.Token, r.ID, ""))
		var got api.Role
		e.call("GET", fmt.Sprintf("/api/roles/%d", role.ID), a.Token, nil, 200, &got)
		require.Equal(t, role, got)
		require.Equal(t, int64(2), e.post(a.Token, r.ID, "after restart").Seq)
		_, err := e.Login("alice", a.Password)
		require.NoError(t, err)

		fi, err := os.Stat(filepath.Join(e.DataDir, config.SecretFileName))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	})
}

// TestEveryProtectedRouteNeedsAToken walks the OpenAPI document: every
// operation that declares bearer security answers 401 with
// WWW-Authenticate without a token and with a bad one.
func TestEveryProtectedRouteNeedsAToken(t *testing.T) {
	e := start(t)
	_, body := get(t, e.URL+"/openapi.json", nil)
	var doc struct {
		Paths map[string]map[string]struct {
			Security []any `json:"security"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	n := 0
	for path, ops := range doc.Paths {
		concrete := path
		for strings.Contains(concrete, "{") {
			i, j := strings.Index(concrete, "{"), strings.Index(concrete, "}")
			concrete = concrete[:i] + "1" + concrete[j+1:]
		}
		for method, op := range ops {
			if len(op.Security) == 0 {
				continue
			}
			n++
			for _, tok := range []string{"", "not-a-token"} {
				req, err := http.NewRequest(strings.ToUpper(method), e.URL+concrete, strings.NewReader(`{}`))
				require.NoError(t, err)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, 401, resp.StatusCode, "%s %s with token %q", method, concrete, tok)
				require.Equal(t, "Bearer", resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	require.Greater(t, n, 15)
}
