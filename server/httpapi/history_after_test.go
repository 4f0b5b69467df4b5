package httpapi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

// TestMessages_AfterZeroPagesFromStart: after=0 is "from the start", so a
// client paging forward from 0 sees every message; without after the page
// is still the newest one.
func TestMessages_AfterZeroPagesFromStart(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		a := e.Register("alice")
		r := e.room(a.Token, "paging")
		for i := range 5 {
			e.post(a.Token, r.ID, fmt.Sprint("m", i+1))
		}
		require.Equal(t, []int64{4, 5}, seqs(e.history(a.Token, r.ID, "?limit=2")), "no after: newest page")
		require.Equal(t, []int64{1, 2}, seqs(e.history(a.Token, r.ID, "?limit=2&after=0")))

		// Paging forward from 0 with the Go client sees every message once.
		c, err := client.New(e.URL, client.WithToken(a.Token))
		require.NoError(t, err)
		var got []int64
		q := client.MessageQuery{Limit: 2, AfterSet: true}
		for {
			page, err := c.ListMessages(context.Background(), r.ID, q)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			got = append(got, seqs(page)...)
			q.After = page[len(page)-1].Seq
		}
		require.Equal(t, []int64{1, 2, 3, 4, 5}, got)
		// Callers that leave After at 0 keep the newest page.
		page, err := c.ListMessages(context.Background(), r.ID, client.MessageQuery{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []int64{4, 5}, seqs(page))
	})
}

// TestMessages_AfterAheadOfRoom: like the chat socket, a resume point past
// the room's last seq is an error, not an empty page.
func TestMessages_AfterAheadOfRoom(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		a := e.Register("alice")
		r := e.room(a.Token, "ahead")
		path := fmt.Sprintf("/api/rooms/%d/messages", r.ID)
		require.Empty(t, e.history(a.Token, r.ID, "?after=0"))
		ae := e.fail("GET", path+"?after=1000000", a.Token, nil, 422)
		require.Equal(t, "after", ae.Field)
		require.Equal(t, api.CodeValidation, ae.Code)
		require.Contains(t, ae.Detail, "ahead of the room (last seq 0)")

		e.post(a.Token, r.ID, "one")
		require.Equal(t, []int64{1}, seqs(e.history(a.Token, r.ID, "?after=0")))
		require.Empty(t, e.history(a.Token, r.ID, "?after=1"), "after the last seq is the live edge")
		require.Contains(t, e.fail("GET", path+"?after=2", a.Token, nil, 422).Detail, "last seq 1")
	})
}
