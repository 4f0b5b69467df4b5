package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// TestChangePassword_WrongCurrentThrottled: a wrong current password is 422
// on current_password and counts against the account's failed-login limit,
// which then answers 429 even to the right one (a stolen token cannot be
// used to guess the password); the account's logins are throttled too.
func TestChangePassword_WrongCurrentThrottled(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.RateLimit.MaxFailedLogins = 3
	}))
	alice := d.Register("alice")
	for i := range 3 {
		status, body := d.Do("POST", "/api/auth/password", alice.Token, api.ChangePasswordRequest{CurrentPassword: "wrong-password", NewPassword: "a-new-password-1"})
		require.Equal(t, http.StatusUnprocessableEntity, status, "try %d: %s", i, body)
		require.Contains(t, string(body), `"field":"current_password"`)
	}
	status, body := d.Do("POST", "/api/auth/password", alice.Token, api.ChangePasswordRequest{CurrentPassword: alice.Password, NewPassword: "a-new-password-1"})
	require.Equal(t, http.StatusTooManyRequests, status, string(body))
	status, body = d.Do("DELETE", "/api/auth/me", alice.Token, api.DeleteAccountRequest{Password: alice.Password})
	require.Equal(t, http.StatusTooManyRequests, status, string(body))
	_, err := d.Login("alice", alice.Password)
	require.Error(t, err)
	// Nothing changed: the token still works.
	status, _ = d.Do("GET", "/api/auth/me", alice.Token, nil)
	require.Equal(t, http.StatusOK, status)
}
