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
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// loginFrom posts a login with X-Forwarded-For set to xff ("" for none)
// and returns the status and the Retry-After header.
func loginFrom(t *testing.T, d *servertest.Daemon, xff, username, password string) (int, string) {
	t.Helper()
	b, err := json.Marshal(api.LoginRequest{Username: username, Password: password})
	require.NoError(t, err)
	req, err := http.NewRequest("POST", d.URL+"/api/auth/login", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := d.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// TestLogin_AccountLimitAcrossIPs: guesses spread over 10 addresses (behind
// a trusted proxy) run out after max_failed_logins for that username only,
// and unknown usernames are throttled the same way.
func TestLogin_AccountLimitAcrossIPs(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.RateLimit.AuthPerMinute = 20
		c.RateLimit.MaxFailedLogins = 10
		c.HTTP.TrustedProxies = []string{"127.0.0.1/32"}
	}))
	alice, bob := d.Register("alice"), d.Register("bob")
	for _, user := range []string{"alice", "nobody"} {
		for i := range 10 {
			status, _ := loginFrom(t, d, fmt.Sprintf("203.0.113.%d", i%10+1), user, "wrong-password")
			require.Equal(t, 401, status, "%s guess %d", user, i)
		}
		status, retry := loginFrom(t, d, "203.0.113.50", user, "wrong-password")
		require.Equal(t, 429, status, user)
		secs, err := strconv.Atoi(retry)
		require.NoError(t, err)
		require.Greater(t, secs, 60, "the account waits for its 15 min window")
	}
	// Even the right password is 429 while the account is throttled (else
	// the answer would tell the guesser), by username or by email.
	status, _ := loginFrom(t, d, "198.51.100.7", "alice", alice.Password)
	require.Equal(t, 429, status)
	status, _ = loginFrom(t, d, "198.51.100.7", alice.User.Email, alice.Password)
	require.Equal(t, 429, status)
	// Other accounts are untouched, from the same addresses.
	status, _ = loginFrom(t, d, "203.0.113.1", "bob", bob.Password)
	require.Equal(t, 200, status)
}

// TestLogin_PerIPCountsFailures: the per-IP limit counts failed logins, so
// a user's right password works many times, and an address where someone
// guessed is throttled while others are not. Without trusted proxies
// X-Forwarded-For is ignored.
func TestLogin_PerIPCountsFailures(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.RateLimit.AuthPerMinute = 5
		c.HTTP.TrustedProxies = []string{"127.0.0.0/8", "10.0.0.0/8"}
	}))
	alice := d.Register("alice")
	for i := range 12 {
		status, _ := loginFrom(t, d, "198.51.100.1", "alice", alice.Password)
		require.Equal(t, 200, status, "login %d", i)
	}
	// An attacker at 203.0.113.9 (the proxy chain adds 10.0.0.2) fails 5
	// times on different names; a forged left-most entry does not help.
	for i := range 5 {
		status, _ := loginFrom(t, d, fmt.Sprintf("1.2.3.%d, 203.0.113.9, 10.0.0.2", i), fmt.Sprintf("user%d", i), "wrong-password")
		require.Equal(t, 401, status)
	}
	status, retry := loginFrom(t, d, "9.9.9.9, 203.0.113.9", "alice", alice.Password)
	require.Equal(t, 429, status)
	require.NotEmpty(t, retry)
	status, _ = loginFrom(t, d, "198.51.100.1", "alice", alice.Password)
	require.Equal(t, 200, status, "another address is not throttled")

	// Without trusted proxies the header is ignored: every guess counts
	// against the peer, whatever it claims.
	d2 := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.RateLimit.AuthPerMinute = 3 }))
	for i := range 3 {
		status, _ := loginFrom(t, d2, fmt.Sprintf("203.0.113.%d", i+1), fmt.Sprintf("user%d", i), "wrong-password")
		require.Equal(t, 401, status)
	}
	status, _ = loginFrom(t, d2, "198.51.100.99", "someone", "wrong-password")
	require.Equal(t, 429, status)
}
