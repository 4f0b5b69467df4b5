package realtime_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/servertest"
)

// TestAdmin_RoomDeleteClosesSockets: vcd admin rooms delete works on the
// database without the daemon; the daemon's sweep notices the room is gone
// and closes its chat sockets (4003 "room deleted") and signaling sockets
// (1008 "room deleted") within about two seconds, as a delete through the
// API does. Sockets of other rooms stay open.
func TestAdmin_RoomDeleteClosesSockets(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice, bob := newMember(t, d, "alice"), newMember(t, d, "bob")
		doomed := room(t, alice, bob)
		kept, err := bob.c.CreateRoom(context.Background(), "kept")
		require.NoError(t, err)

		chat, sig := openBoth(t, d, doomed.ID, alice.acct.Token)
		bobChat := dialRaw(t, d, doomed.ID, "token="+bob.acct.Token)
		bobChat.next(wsproto.TypePresence)
		other := dialRaw(t, d, kept.ID, "token="+bob.acct.Token)
		other.next(wsproto.TypePresence)

		// As vcd admin does: the store directly, not the services.
		admin := &ops.Admin{Store: d.Server().Store(), BcryptCost: 4}
		_, err = admin.DeleteRoom(context.Background(), doomed.ID)
		require.NoError(t, err)

		for _, s := range []*rawConn{chat, bobChat} {
			code, reason := s.closeWithin(3 * time.Second)
			require.Equal(t, websocket.StatusCode(wsproto.CloseRemoved), code)
			require.Equal(t, "room deleted", reason)
		}
		code, reason := sig.closeWithin(3 * time.Second)
		require.Equal(t, websocket.StatusCode(wsproto.ClosePolicy), code)
		require.Equal(t, "room deleted", reason)

		status, _ := d.Do("GET", "/api/rooms/"+strconv.FormatInt(doomed.ID, 10), alice.acct.Token, nil)
		require.Equal(t, http.StatusNotFound, status)
		other.send(wsproto.ClientFrame{Type: wsproto.ClientPing})
		other.next(wsproto.TypePong)
	})
}
