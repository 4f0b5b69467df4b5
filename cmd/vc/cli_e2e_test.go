package main_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/servertest"
)

// fakeJWT is a token whose payload carries exp; its signature is garbage,
// which vc never checks (only the server can).
func fakeJWT(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"sub":"1","exp":%d}`, exp.Unix()))) + "." + enc([]byte("sig"))
}

func TestAuth_StatusExpiredAndNoStrayLine(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("erin")

	// Not logged in: the status and exit 4, nothing else on stderr.
	r := c.run("", "--profile", "nobody", "auth", "status")
	require.Equal(t, 4, r.code, r.String())
	require.Empty(t, r.stderr)
	require.Contains(t, r.stdout, "not logged in")

	// An expired token (written by an older vc: profile -> token) is
	// reported as expired, not as "not logged in".
	exp := time.Now().Add(-time.Hour).Truncate(time.Second)
	tokPath := filepath.Join(c.home, "config", "vc", "tokens.json")
	require.NoError(t, os.WriteFile(tokPath, []byte(`{"default": "`+fakeJWT(exp)+`"}`), 0o600))
	r = c.run("", "auth", "status")
	require.Equal(t, 4, r.code, r.String())
	require.Empty(t, r.stderr)
	require.Contains(t, r.stdout, "token expired at "+exp.Format(time.RFC3339)+"; run vc login")
	require.NotContains(t, r.stdout, "not logged in")
	r = c.run("", "rooms", "list")
	require.Equal(t, 4, r.code, r.String())
	require.Equal(t, "token expired at "+exp.Format(time.RFC3339)+"; run vc login\n", r.stderr)
	r = c.run("", "auth", "status", "--json")
	require.Equal(t, 4, r.code, r.String())
	require.Contains(t, r.stdout, `"token_expired_at"`, r.stdout)
}

func TestAuth_TokenGoesOnlyToItsServer(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("fred")
	tok := strings.TrimSpace(c.ok("", "auth", "token"))

	// Another server records every Authorization header it receives.
	var mu sync.Mutex
	var auths []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"detail":"Could not validate credentials"}`)
	}))
	t.Cleanup(other.Close)

	for _, args := range [][]string{{"--server", other.URL, "rooms", "list"}, {"VC_SERVER=" + other.URL, "whoami"}} {
		r := c.run("", args...)
		require.Equal(t, 4, r.code, r.String())
		require.Contains(t, r.stderr, "not logged in to "+other.URL)
	}
	mu.Lock()
	require.Empty(t, auths, "the token must not reach another server")
	mu.Unlock()

	// VC_TOKEN is sent wherever --server says: the user chose it.
	r := c.run("", "VC_TOKEN="+tok, "--server", other.URL, "rooms", "list")
	require.Equal(t, 4, r.code, r.String())
	mu.Lock()
	require.Equal(t, []string{"Bearer " + tok}, auths)
	mu.Unlock()

	// The profile's own server, named explicitly (with a trailing slash),
	// still gets it.
	require.Equal(t, "fred\n", c.ok("", "--server", d.URL+"/", "whoami"))

	// A token file of an older vc (profile -> token) keeps working and is
	// rewritten keyed by server on the next login.
	tokPath := filepath.Join(c.home, "config", "vc", "tokens.json")
	require.NoError(t, os.WriteFile(tokPath, []byte(`{"default": "`+tok+`"}`), 0o600))
	require.Equal(t, "fred\n", c.ok("", "whoami"))
	r = c.run("", "--server", other.URL, "whoami")
	require.Equal(t, 4, r.code, r.String())
	c.ok("pw-fred-12345\n", "login", "--username", "fred", "--password-stdin")
	b, err := os.ReadFile(tokPath)
	require.NoError(t, err)
	require.Contains(t, string(b), `"`+d.URL+`"`)
	require.Equal(t, "fred\n", c.ok("", "whoami"))
}
