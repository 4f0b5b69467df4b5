package realtime_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/servertest"
)

// openBoth opens a chat and a signaling socket of m in room roomID and
// waits until both are admitted.
func openBoth(t *testing.T, d *servertest.Daemon, roomID int64, token string) (chat, sig *rawConn) {
	t.Helper()
	chat = dialRaw(t, d, roomID, "token="+token)
	chat.next(wsproto.TypePresence)
	sig = dialSignal(t, d, roomID, token)
	require.Equal(t, wsproto.SignalWelcome, sig.readSignal().Type)
	return chat, sig
}

// requireRevoked waits (at most within) for both sockets to close with
// 4001 "unauthorized: token revoked".
func requireRevoked(t *testing.T, within time.Duration, socks ...*rawConn) {
	t.Helper()
	for _, s := range socks {
		code, reason := s.closeWithin(within)
		require.Equal(t, websocket.StatusCode(wsproto.CloseRevoked), code)
		require.Equal(t, "unauthorized: token revoked", reason)
	}
}

// TestAuth_PasswordChangeClosesSockets: POST /api/auth/password closes the
// user's chat and signaling sockets with 4001 within 1 s; the old token is
// refused and the fresh one works.
func TestAuth_PasswordChangeClosesSockets(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		r := room(t, alice, bob)
		chat, sig := openBoth(t, d, r.ID, alice.acct.Token)
		other := dialRaw(t, d, r.ID, "token="+bob.acct.Token)
		other.next(wsproto.TypePresence)

		// A wrong current password changes nothing: 422 on current_password.
		status, body := d.Do("POST", "/api/auth/password", alice.acct.Token, api.ChangePasswordRequest{CurrentPassword: "wrong-password", NewPassword: "a-new-password-1"})
		require.Equal(t, http.StatusUnprocessableEntity, status, string(body))
		require.Contains(t, string(body), `"field":"current_password"`)
		status, body = d.Do("POST", "/api/auth/password", alice.acct.Token, api.ChangePasswordRequest{CurrentPassword: alice.acct.Password, NewPassword: "short"})
		require.Equal(t, http.StatusUnprocessableEntity, status, string(body))
		require.Contains(t, string(body), `"field":"new_password"`)

		tok, err := alice.c.ChangePassword(context.Background(), alice.acct.Password, "a-new-password-1")
		require.NoError(t, err)
		require.NotEmpty(t, tok.AccessToken)
		requireRevoked(t, time.Second, chat, sig)

		status, _ = d.Do("GET", "/api/auth/me", alice.acct.Token, nil)
		require.Equal(t, http.StatusUnauthorized, status, "the old token still works")
		status, body = d.Do("GET", "/api/auth/me", tok.AccessToken, nil)
		require.Equal(t, http.StatusOK, status, string(body))
		_, err = alice.c.Me(context.Background()) // the client switched to the fresh token
		require.NoError(t, err)
		_, err = d.Login("alice", alice.acct.Password)
		require.Error(t, err, "the old password still logs in")
		_, err = d.Login("alice", "a-new-password-1")
		require.NoError(t, err)

		// bob is untouched.
		other.send(wsproto.ClientFrame{Type: wsproto.ClientPing})
		other.next(wsproto.TypePong)
	})
}

// TestAuth_DeleteAccountClosesSockets: DELETE /api/auth/me with the
// password deletes the account, closes its sockets with 4001 and the user
// can no longer log in.
func TestAuth_DeleteAccountClosesSockets(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		r := room(t, bob, alice) // bob's room: it outlives alice
		chat, sig := openBoth(t, d, r.ID, alice.acct.Token)

		status, body := d.Do("DELETE", "/api/auth/me", alice.acct.Token, api.DeleteAccountRequest{Password: "wrong-password"})
		require.Equal(t, http.StatusUnprocessableEntity, status, string(body))
		require.Contains(t, string(body), `"field":"password"`)

		require.NoError(t, alice.c.DeleteAccount(context.Background(), alice.acct.Password))
		requireRevoked(t, time.Second, chat, sig)

		_, err := d.Login("alice", alice.acct.Password)
		require.Error(t, err)
		status, _ = d.Do("GET", "/api/auth/me", alice.acct.Token, nil)
		require.Equal(t, http.StatusUnauthorized, status)
		members, err := bob.c.ListMembers(context.Background(), r.ID)
		require.NoError(t, err)
		for _, m := range members {
			require.NotEqual(t, "alice", m.Username)
		}
	})
}

// TestAuth_DatabaseRevocationClosesSockets: vcd admin users disable,
// reset-password and delete work on the database without the daemon; the
// daemon's revocation sweep still closes the user's sockets with 4001
// within about two seconds.
func TestAuth_DatabaseRevocationClosesSockets(t *testing.T) {
	cases := map[string]func(ctx context.Context, a *ops.Admin) error{
		"disable": func(ctx context.Context, a *ops.Admin) error {
			_, err := a.SetDisabled(ctx, "alice", true)
			return err
		},
		"reset-password": func(ctx context.Context, a *ops.Admin) error {
			_, err := a.ResetPassword(ctx, "alice", "")
			return err
		},
		"delete": func(ctx context.Context, a *ops.Admin) error {
			_, err := a.DeleteUser(ctx, "alice")
			return err
		},
	}
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		for name, change := range cases {
			t.Run(name, func(t *testing.T) {
				d := servertest.Start(t, opts...)
				alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
				r := room(t, bob, alice)
				chat, sig := openBoth(t, d, r.ID, alice.acct.Token)
				other := dialRaw(t, d, r.ID, "token="+bob.acct.Token)
				other.next(wsproto.TypePresence)

				// As vcd admin does: the store directly, not the services.
				admin := &ops.Admin{Store: d.Server().Store(), BcryptCost: 4}
				require.NoError(t, change(context.Background(), admin))
				requireRevoked(t, 2*time.Second, chat, sig)

				status, _ := d.Do("GET", "/api/auth/me", alice.acct.Token, nil)
				require.Equal(t, http.StatusUnauthorized, status, "REST still takes the revoked token")
				other.send(wsproto.ClientFrame{Type: wsproto.ClientPing})
				other.next(wsproto.TypePong)
			})
		}
	})
}
