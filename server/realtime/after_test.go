package realtime_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/servertest"
)

// TestChat_AfterAheadCloses4009: a resume point past the room's last seq
// would admit a socket that drops every live message; it is refused.
func TestChat_AfterAheadCloses4009(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		ctx := context.Background()
		for _, s := range []string{"one", "two"} {
			_, err := alice.c.SendMessage(ctx, r.ID, api.CreateMessageRequest{Content: s})
			require.NoError(t, err)
		}

		code, reason := dialRaw(t, d, r.ID, "after=1000000&token="+alice.acct.Token).closeCode()
		require.Equal(t, websocket.StatusCode(wsproto.CloseBadRequest), code)
		require.Equal(t, "bad_request: after is ahead of the room (last seq 2)", reason)
		code, reason = dialRaw(t, d, r.ID, "after=3&token="+alice.acct.Token).closeCode()
		require.Equal(t, websocket.StatusCode(4009), code, reason)

		// The live edge and the start are fine: after=2 replays nothing,
		// after=0 replays both.
		edge := dialRaw(t, d, r.ID, "after=2&token="+alice.acct.Token)
		presence, _ := edge.next(wsproto.TypePresence)
		require.Equal(t, int64(2), presence.Seq)
		start := dialRaw(t, d, r.ID, "after=0&token="+alice.acct.Token)
		ev, _ := start.next(wsproto.TypeMessage)
		require.Equal(t, int64(1), ev.Seq)

		// The Go client reports it as a 400 instead of retrying.
		_, err := alice.c.OpenStream(ctx, r.ID, client.StreamOptions{After: 99})
		require.Equal(t, http.StatusBadRequest, client.StatusCode(err), "got %v", err)
		require.ErrorContains(t, err, "after is ahead of the room (last seq 2)")
	})
}

// TestChat_InvalidUTF8Closes1007: RFC 6455 fails a text frame that is not
// UTF-8 with 1007; a valid frame whose JSON escapes a lone surrogate gets an
// error event naming the field. Neither is stored.
func TestChat_InvalidUTF8Closes1007(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		d := servertest.Start(t, opts...)
		alice := newMember(t, d, "alice")
		r := room(t, alice)
		ctx := context.Background()

		a := dialRaw(t, d, r.ID, "token="+alice.acct.Token)
		a.next(wsproto.TypePresence)
		a.send(map[string]any{"content": "fine", "client_id": "c0"})
		a.next(wsproto.TypeAck)
		require.NoError(t, a.conn.Write(ctx, websocket.MessageText, []byte(`{"content":"lone \ud800","client_id":"c1"}`)))
		ev, _ := a.next(wsproto.TypeError)
		require.Equal(t, api.CodeValidation, ev.Code)
		require.Equal(t, "c1", ev.ClientID)
		require.Contains(t, ev.Detail, "content")
		require.Contains(t, ev.Detail, "surrogate")

		require.NoError(t, a.conn.Write(ctx, websocket.MessageText, []byte("{\"content\":\"bad \xff\",\"client_id\":\"c2\"}")))
		code, _ := a.closeCode()
		require.Equal(t, websocket.StatusCode(1007), code)

		msgs, err := alice.c.ListMessages(ctx, r.ID, client.MessageQuery{})
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "fine", msgs[0].Content)
	})
}
