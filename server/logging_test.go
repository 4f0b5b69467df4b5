package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
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

// TestLogs_AuditKeyChangesHoldNoSecret: adding and deleting a provider key
// is audited, without the key.
func TestLogs_AuditKeyChangesHoldNoSecret(t *testing.T) {
	logs := &syncBuffer{}
	d := servertest.Start(t, servertest.WithLogOutput(logs))
	ada := d.Register("ada")
	status, b := d.Do("POST", "/api/keys", ada.Token, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-test-very-secret-1234"})
	require.Equal(t, http.StatusCreated, status, string(b))
	var k api.APIKey
	require.NoError(t, json.Unmarshal(b, &k))
	status, b = d.Do("DELETE", "/api/keys/"+strconv.FormatInt(k.ID, 10), ada.Token, nil)
	require.Equal(t, http.StatusNoContent, status, string(b))
	var actions []string
	for _, l := range logs.lines(t) {
		if l["component"] == "audit" {
			actions = append(actions, l["action"].(string))
		}
	}
	require.Contains(t, actions, "key_add")
	require.Contains(t, actions, "key_delete")
	require.Contains(t, actions, "login")
	logs.mu.Lock()
	require.NotContains(t, logs.b.String(), "very-secret")
	logs.mu.Unlock()
}
