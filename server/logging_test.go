package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	return out
}

func registerWithID(t *testing.T, d *servertest.Daemon, requestID string) {
	t.Helper()
	body, _ := json.Marshal(api.RegisterRequest{Email: "ada@example.com", Username: "ada", Password: "password-ada"})
	req, _ := http.NewRequest("POST", d.URL+"/api/auth/register", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", requestID)
	resp, err := d.HTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

// TestLogs_RequestIDOnEveryLineAndAccessToggle: the audit line a request
// causes in the service layer carries the request's id, and log.access:
// false removes the access line only.
func TestLogs_RequestIDOnEveryLineAndAccessToggle(t *testing.T) {
	for _, access := range []bool{true, false} {
		logs := &syncBuffer{}
		d := servertest.Start(t, servertest.WithLogOutput(logs), servertest.WithConfig(func(c *config.Config) { c.Log.Access = access }))
		registerWithID(t, d, "req-abc-123")
		var audit, accessLines int
		for _, l := range logs.lines(t) {
			if l["component"] == "audit" && l["action"] == "register" {
				audit++
				require.Equal(t, "req-abc-123", l["request_id"], "audit line %v", l)
			}
			if l["msg"] == "request" && strings.HasPrefix(l["path"].(string), "/api/auth/register") {
				accessLines++
				require.Equal(t, "req-abc-123", l["request_id"])
			}
		}
		require.Equal(t, 1, audit)
		if access {
			require.Equal(t, 1, accessLines)
		} else {
			require.Zero(t, accessLines, "log.access: false")
		}
	}
}
