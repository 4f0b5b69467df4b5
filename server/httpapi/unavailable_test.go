package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

// TestAPI_DatabaseOutageIs503: while the database is unreachable (its pools
// closed under the daemon), REST answers 503 with Retry-After and code
// "unavailable", never 500 or a 401 that would tell a client its token is
// bad; /health stays up and /ready says why.
func TestAPI_DatabaseOutageIs503(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		alice := e.Register("alice")
		bob := e.Register("bob") // never authenticated: not in the user cache
		r := e.room(alice.Token, "ops")
		require.NoError(t, e.Server().Store().Close())

		for _, c := range []struct{ method, path, token string }{
			{"GET", "/api/rooms", bob.Token},
			{"GET", "/api/rooms", alice.Token},
			{"POST", fmt.Sprintf("/api/rooms/%d/messages", r.ID), alice.Token},
			{"POST", "/api/auth/login", ""},
		} {
			var body any = api.CreateMessageRequest{Content: "hello"}
			if c.path == "/api/auth/login" {
				body = api.LoginRequest{Username: "bob", Password: bob.Password}
			}
			req, err := http.NewRequest(c.method, e.URL+c.path, jsonBody(t, body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := e.HTTP.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s %s", c.method, c.path)
			secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			require.NoError(t, err, "Retry-After of %s %s", c.method, c.path)
			require.Positive(t, secs)
		}
		ae := e.fail("GET", "/api/rooms", bob.Token, nil, http.StatusServiceUnavailable)
		require.Equal(t, api.CodeUnavailable, ae.Code)
		e.call("GET", "/health", "", nil, http.StatusOK, nil)
		e.call("GET", "/ready", "", nil, http.StatusServiceUnavailable, nil)
	})
}

func jsonBody(t *testing.T, v any) io.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return bytes.NewReader(b)
}
