package httpapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

func TestAuth_RegisterLoginMe(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		var u api.User
		e.call("POST", "/api/auth/register", "", api.RegisterRequest{Email: "Alice@Example.com", Username: "alice", Name: "Alice", Password: "correct horse"}, 201, &u)
		require.Positive(t, u.ID)
		require.Equal(t, "alice", u.Username)
		require.Equal(t, "alice@example.com", u.Email)
		require.Equal(t, "Alice", u.Name)
		require.WithinDuration(t, time.Now(), u.CreatedAt, time.Minute)

		// Duplicates, as the seed words them (400).
		ae := e.fail("POST", "/api/auth/register", "", api.RegisterRequest{Email: "alice@example.com", Username: "other", Password: "password1"}, 400)
		require.Equal(t, "Email already registered", ae.Detail)
		ae = e.fail("POST", "/api/auth/register/", "", api.RegisterRequest{Email: "x@example.com", Username: "ALICE", Password: "password1"}, 400)
		require.Equal(t, "Username already taken", ae.Detail)

		// Login by username and by email; trailing slash works.
		var tok api.Token
		e.call("POST", "/api/auth/login", "", api.LoginRequest{Username: "alice", Password: "correct horse"}, 200, &tok)
		require.Equal(t, "bearer", tok.TokenType)
		require.NotEmpty(t, tok.AccessToken)
		e.call("POST", "/api/auth/login/", "", api.LoginRequest{Username: "alice@example.com", Password: "correct horse"}, 200, nil)

		var me api.User
		e.call("GET", "/api/auth/me", tok.AccessToken, nil, 200, &me)
		require.Equal(t, u, me)
		e.call("GET", "/api/auth/me/", tok.AccessToken, nil, 200, nil)

		// Wrong password and unknown user answer the same.
		a1 := e.fail("POST", "/api/auth/login", "", api.LoginRequest{Username: "alice", Password: "wrong password"}, 401)
		a2 := e.fail("POST", "/api/auth/login", "", api.LoginRequest{Username: "nobody", Password: "wrong password"}, 401)
		require.Equal(t, "Incorrect username or password", a1.Detail)
		require.Equal(t, a1, a2)
		e.fail("POST", "/api/auth/login", "", api.LoginRequest{Username: "alice"}, 422)
		e.fail("POST", "/api/auth/login", "", []byte(`{"username":`), 400)
	})
}

func TestAuth_RegisterValidation(t *testing.T) {
	e := start(t)
	ok := api.RegisterRequest{Email: "v@example.com", Username: "valid_user.1", Name: "V", Password: "12345678"}
	cases := []struct {
		name  string
		mod   func(*api.RegisterRequest)
		field string
	}{
		{"bad email", func(r *api.RegisterRequest) { r.Email = "not-an-email" }, "email"},
		{"email with name", func(r *api.RegisterRequest) { r.Email = "V <v@example.com>" }, "email"},
		{"no email", func(r *api.RegisterRequest) { r.Email = "" }, "email"},
		{"empty username", func(r *api.RegisterRequest) { r.Username = "" }, "username"},
		{"short username", func(r *api.RegisterRequest) { r.Username = "ab" }, "username"},
		{"long username", func(r *api.RegisterRequest) { r.Username = strings.Repeat("a", 33) }, "username"},
		{"username with space", func(r *api.RegisterRequest) { r.Username = "a b c" }, "username"},
		{"weak password", func(r *api.RegisterRequest) { r.Password = "1234567" }, "password"},
		{"long name", func(r *api.RegisterRequest) { r.Name = strings.Repeat("é", 101) }, "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := ok
			c.mod(&req)
			ae := e.fail("POST", "/api/auth/register", "", req, 422)
			require.Equal(t, c.field, ae.Field)
			require.Equal(t, api.CodeValidation, ae.Code)
		})
	}
	ae := e.fail("POST", "/api/auth/register", "", []byte(`{"email": 5}`), 400)
	require.Contains(t, ae.Detail, "Invalid JSON body")
	ae = e.fail("POST", "/api/auth/register", "", []byte(`not json`), 400)
	require.Contains(t, ae.Detail, "Invalid JSON body")
	// Unknown fields are ignored; 100 characters of name is fine.
	req := ok
	req.Name = strings.Repeat("é", 100)
	e.call("POST", "/api/auth/register", "", map[string]any{"email": req.Email, "username": req.Username, "name": req.Name, "password": req.Password, "extra": true}, 201, nil)
}

func TestAuth_Unauthenticated(t *testing.T) {
	e := start(t)
	req, _ := http.NewRequest("GET", e.URL+"/api/auth/me", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)
	require.Equal(t, "Bearer", resp.Header.Get("WWW-Authenticate"))
	for _, path := range []string{"/api/roles", "/api/rooms/", "/api/rooms/1/messages", "/api/llm/models", "/api/rooms/1/members"} {
		e.fail("GET", path, "", nil, 401)
		e.fail("GET", path, "garbage", nil, 401)
	}
	e.fail("POST", "/api/auth/logout-all", "", nil, 401)
}

// secret reads the daemon's generated signing secret.
func secret(t *testing.T, e *env) []byte {
	b, err := os.ReadFile(filepath.Join(e.DataDir, config.SecretFileName))
	require.NoError(t, err)
	return b
}

func TestAuth_TokenRejected(t *testing.T) {
	e := start(t)
	acct := e.Register("tokens")
	sec := secret(t, e)
	sub := strconv.FormatInt(acct.User.ID, 10)
	now := time.Now()
	claims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": exp.Unix(), "ver": 0}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	// A well-formed token made the same way is accepted: the rejections
	// below are about the one thing each changes.
	e.call("GET", "/api/auth/me", sign(jwt.SigningMethodHS256, sec, claims(now.Add(time.Hour))), nil, 200, nil)

	none := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(now.Add(time.Hour)))
	bad := map[string]string{
		"alg none":      none,
		"HS512":         sign(jwt.SigningMethodHS512, sec, claims(now.Add(time.Hour))),
		"bad signature": sign(jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes!!"), claims(now.Add(time.Hour))),
		"expired":       sign(jwt.SigningMethodHS256, sec, claims(now.Add(-time.Hour))),
		"no exp":        sign(jwt.SigningMethodHS256, sec, jwt.MapClaims{"sub": sub, "iat": now.Unix(), "ver": 0}),
		"unknown user":  sign(jwt.SigningMethodHS256, sec, jwt.MapClaims{"sub": "999999", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ver": 0}),
		"old version":   sign(jwt.SigningMethodHS256, sec, jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ver": -1}),
		"tampered":      acct.Token[:len(acct.Token)-2] + "xx",
		"not a jwt":     "abc.def.ghi",
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			status, b := e.Do("GET", "/api/auth/me", tok, nil)
			require.Equal(t, 401, status, "%s", b)
		})
	}
}

func TestAuth_LogoutAllRevokes(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		a := e.Register("revoker")
		other := e.Register("bystander")
		second, err := e.Login("revoker", a.Password)
		require.NoError(t, err)
		e.call("GET", "/api/auth/me", second.AccessToken, nil, 200, nil)

		e.call("POST", "/api/auth/logout-all", a.Token, nil, 204, nil)
		e.fail("GET", "/api/auth/me", a.Token, nil, 401)
		e.fail("GET", "/api/auth/me", second.AccessToken, nil, 401)
		// Other users are untouched; a new login works.
		e.call("GET", "/api/auth/me", other.Token, nil, 200, nil)
		fresh, err := e.Login("revoker", a.Password)
		require.NoError(t, err)
		e.call("GET", "/api/auth/me", fresh.AccessToken, nil, 200, nil)
	})
}

func TestAuth_ConcurrentRegisterOneWins(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		const n = 20
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], _ = e.Do("POST", "/api/auth/register", "", api.RegisterRequest{
					Email: "racer" + strconv.Itoa(i) + "@example.com", Username: "racer", Password: "password1"})
			}()
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case 201:
				created++
			case 400:
			default:
				t.Fatalf("unexpected status %d", s)
			}
		}
		require.Equal(t, 1, created, "statuses: %v", statuses)
	})
}

func TestAuth_RateLimit(t *testing.T) {
	e := start(t, servertest.WithConfig(func(c *config.Config) { c.RateLimit.AuthPerMinute = 3 }))
	for range 3 {
		e.fail("POST", "/api/auth/login", "", api.LoginRequest{Username: "x", Password: "y"}, 401)
	}
	req, _ := http.NewRequest("POST", e.URL+"/api/auth/register", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 429, resp.StatusCode)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, ra >= 1 && ra <= 60, "Retry-After %d", ra)
	// Other endpoints are not limited.
	e.call("GET", "/health", "", nil, 200, nil)
}
