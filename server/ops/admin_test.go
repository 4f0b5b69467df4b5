package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/servertest"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cliAdmin opens the daemon's database the way `vcd admin` does: a second
// store on the same file, outside the daemon.
func cliAdmin(t *testing.T, cfg config.Config, audit *slog.Logger) *ops.Admin {
	t.Helper()
	st, err := server.OpenStore(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(context.Background())
	require.NoError(t, err)
	return &ops.Admin{Store: st, Admins: cfg.Admins, BcryptCost: 4, Audit: audit}
}

// waitStatus polls GET path with token until it answers want.
func waitStatus(t *testing.T, d *servertest.Daemon, path, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, _ := d.Do("GET", path, token, nil)
		if status == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "GET %s kept answering %d, want %d", path, status, want)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAdmin_DisableEnableResetOnARunningDaemon(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		logs := &lockedBuffer{}
		d := servertest.Start(t, append(opts, servertest.WithLogOutput(logs))...)
		ada := d.Register("ada")
		bob := d.Register("bob")
		a := cliAdmin(t, d.Config, slog.New(slog.NewJSONHandler(logs, nil)).With("component", "audit"))

		_, err := a.SetDisabled(context.Background(), "ada", true)
		require.NoError(t, err)
		waitStatus(t, d, "/api/auth/me", ada.Token, http.StatusUnauthorized)
		_, err = d.Login("ada", ada.Password)
		require.ErrorContains(t, err, "disabled")
		// Others are untouched.
		status, _ := d.Do("GET", "/api/auth/me", bob.Token, nil)
		require.Equal(t, http.StatusOK, status)

		_, err = a.SetDisabled(context.Background(), "ada", false)
		require.NoError(t, err)
		tok, err := d.Login("ada", ada.Password)
		require.NoError(t, err)
		status, _ = d.Do("GET", "/api/auth/me", tok.AccessToken, nil)
		require.Equal(t, http.StatusOK, status)

		pw, err := a.ResetPassword(context.Background(), "bob", "")
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(pw), 8)
		waitStatus(t, d, "/api/auth/me", bob.Token, http.StatusUnauthorized)
		_, err = d.Login("bob", bob.Password)
		require.Error(t, err)
		_, err = d.Login("bob", pw)
		require.NoError(t, err)

		_, err = a.SetDisabled(context.Background(), "nobody", true)
		require.ErrorContains(t, err, `no user "nobody"`)

		out := logs.String()
		require.Contains(t, out, `"action":"user_disable"`)
		require.Contains(t, out, `"action":"password_reset"`)
		require.Contains(t, out, `"action":"login_failed"`)
		require.Contains(t, out, `"action":"login"`)
		require.NotContains(t, out, pw, "the audit log must not hold the new password")
		require.NotContains(t, out, bob.Password)
	})
}

func TestAdmin_ListGrantDelete(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.Admins = []string{"Bob"} }))
	ada := d.Register("ada")
	d.Register("bob")
	room := createRoom(t, d, ada.Token, "general")
	status, b := d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), ada.Token, api.CreateMessageRequest{Content: "hi"})
	require.Equal(t, http.StatusCreated, status, string(b))
	a := cliAdmin(t, d.Config, nil)
	ctx := context.Background()

	us, err := a.Users(ctx)
	require.NoError(t, err)
	require.Len(t, us, 2)
	require.Equal(t, "ada", us[0].Username)
	require.False(t, us[0].IsAdmin, "the first user is not an admin unless the config says so")
	require.True(t, us[1].IsAdmin, "bob is listed in admins")
	require.Equal(t, int64(1), us[0].Messages)

	_, err = a.Grant(ctx, "ada", true)
	require.NoError(t, err)
	us, err = a.Users(ctx)
	require.NoError(t, err)
	require.True(t, us[0].IsAdmin)

	rs, err := a.Rooms(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, "ada", rs[0].Creator)
	require.Equal(t, int64(1), rs[0].Messages)

	_, err = a.DeleteRoom(ctx, room.ID)
	require.NoError(t, err)
	rs, err = a.Rooms(ctx)
	require.NoError(t, err)
	require.Empty(t, rs)
	_, err = a.DeleteRoom(ctx, room.ID)
	require.ErrorContains(t, err, "no room")

	_, err = a.DeleteUser(ctx, "ada")
	require.NoError(t, err)
	us, err = a.Users(ctx)
	require.NoError(t, err)
	require.Len(t, us, 1)
	waitStatus(t, d, "/api/auth/me", ada.Token, http.StatusUnauthorized)
}

func register(d *servertest.Daemon, username, invite string) (int, api.Error) {
	status, b := d.Do("POST", "/api/auth/register", "", api.RegisterRequest{Email: username + "@example.com",
		Username: username, Password: "password-" + username, Invite: invite})
	var e api.Error
	_ = json.Unmarshal(b, &e)
	return status, e
}

func TestRegistration_ClosedAndInvite(t *testing.T) {
	closed := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.Auth.Registration = "closed" }))
	status, e := register(closed, "ada", "")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, e.Detail, "Registration is closed")

	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.Auth.Registration = "invite" }))
	status, e = register(d, "ada", "")
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Equal(t, "invite", e.Field)
	status, e = register(d, "ada", "made-up-code")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, e.Detail, "invite code is invalid")

	a := cliAdmin(t, d.Config, nil)
	now := time.Now()
	a.Now = func() time.Time { return now }
	code, _, err := a.CreateInvite(context.Background(), 2, 7*24*time.Hour)
	require.NoError(t, err)
	status, e = register(d, "ada", code)
	require.Equal(t, http.StatusCreated, status, e.Detail)
	status, _ = register(d, "bob", code)
	require.Equal(t, http.StatusCreated, status)
	status, e = register(d, "cyd", code)
	require.Equal(t, http.StatusForbidden, status, "the invite is used up")

	// An expired invite: created "ten days ago" for seven days.
	a.Now = func() time.Time { return now.Add(-10 * 24 * time.Hour) }
	old, _, err := a.CreateInvite(context.Background(), 5, 7*24*time.Hour)
	require.NoError(t, err)
	status, _ = register(d, "dee", old)
	require.Equal(t, http.StatusForbidden, status)
	require.False(t, strings.Contains(code, " "))

	_, err = ops.ParseExpiry("7d")
	require.NoError(t, err)
	_, err = ops.ParseExpiry("soon")
	require.Error(t, err)
}
