package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

func TestMessages_PostAndHistory(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		alice, bob, eve := e.Register("alice"), e.Register("bob"), e.Register("eve")
		r := e.room(alice.Token, "room")
		e.call("POST", fmt.Sprintf("/api/rooms/%d/members", r.ID), alice.Token, api.AddMemberRequest{Username: "bob"}, 201, nil)

		m := e.post(alice.Token, r.ID, "hello")
		require.Equal(t, int64(1), m.Seq)
		require.Equal(t, r.ID, m.RoomID)
		require.Equal(t, "alice", m.User)
		require.Equal(t, api.MessageText, m.MessageType)
		require.Equal(t, alice.User.ID, *m.UserID)
		require.Nil(t, m.RoleID)
		// Seed shape: role_id is present and null.
		b := e.call("GET", fmt.Sprintf("/api/rooms/%d/messages", r.ID), bob.Token, nil, 200, nil)
		require.Contains(t, string(b), `"role_id":null`)

		weird := []string{"'; DROP TABLE messages; --", "emoji 👩‍💻🎉", "quotes \" ' ` \\", "日本語", "\t tabs and\nnewlines \r\n", "%_ LIKE wildcards", "\u202e bidi"}
		for _, s := range weird {
			got := e.post(bob.Token, r.ID, s)
			require.Equal(t, s, got.Content)
		}
		for i := range 10 {
			e.post(alice.Token, r.ID, fmt.Sprintf("m%d", i))
		}
		total := int64(1 + len(weird) + 10)

		all := e.history(alice.Token, r.ID, "")
		require.Len(t, all, int(total))
		for i, msg := range all {
			require.Equal(t, int64(i+1), msg.Seq, "oldest first, gap-free")
		}
		for i, s := range weird {
			require.Equal(t, s, all[i+1].Content, "stored verbatim")
		}
		// limit/offset count from the newest, answer oldest first.
		require.Equal(t, []int64{total - 2, total - 1, total}, seqs(e.history(alice.Token, r.ID, "?limit=3")))
		require.Equal(t, []int64{total - 3, total - 2}, seqs(e.history(alice.Token, r.ID, "?limit=2&offset=2")))
		require.Equal(t, []int64{16, 17, 18}, seqs(e.history(alice.Token, r.ID, "/?after=15")))
		require.Equal(t, []int64{3, 4}, seqs(e.history(alice.Token, r.ID, "?after=2&limit=2")))
		require.Equal(t, []int64{3, 4}, seqs(e.history(alice.Token, r.ID, "?before=5&limit=2")))
		require.Equal(t, []int64{2, 3, 4}, seqs(e.history(alice.Token, r.ID, "?after=1&before=5")))
		require.Empty(t, e.history(alice.Token, r.ID, fmt.Sprintf("?after=%d", total)))

		var room api.Room
		e.call("GET", fmt.Sprintf("/api/rooms/%d", r.ID), alice.Token, nil, 200, &room)
		require.Equal(t, total, room.LastSeq)

		for _, q := range []string{"?limit=abc", "?limit=0", "?limit=1001", "?offset=-1", "?after=x", "?before=-3"} {
			e.fail("GET", fmt.Sprintf("/api/rooms/%d/messages%s", r.ID, q), alice.Token, nil, 422)
		}
		// Eve is no member: 404 for reading and writing.
		e.fail("GET", fmt.Sprintf("/api/rooms/%d/messages", r.ID), eve.Token, nil, 404)
		e.fail("POST", fmt.Sprintf("/api/rooms/%d/messages", r.ID), eve.Token, api.CreateMessageRequest{Content: "hi"}, 404)
		e.fail("POST", "/api/rooms/abc/messages", eve.Token, api.CreateMessageRequest{Content: "hi"}, 404)
		e.fail("POST", fmt.Sprintf("/api/rooms/%d/messages", r.ID), "", api.CreateMessageRequest{Content: "hi"}, 401)
	})
}

func TestMessages_Validation(t *testing.T) {
	e := start(t)
	a, b := e.Register("alice"), e.Register("bob")
	r := e.room(a.Token, "room")
	path := fmt.Sprintf("/api/rooms/%d/messages", r.ID)
	require.Equal(t, "content", e.fail("POST", path, a.Token, api.CreateMessageRequest{}, 422).Field)
	require.Equal(t, "content", e.fail("POST", path, a.Token, api.CreateMessageRequest{Content: strings.Repeat("x", 16<<10+1)}, 422).Field)
	require.Equal(t, "content", e.fail("POST", path, a.Token, api.CreateMessageRequest{Content: "nul\x00byte"}, 422).Field)
	require.Equal(t, "message_type", e.fail("POST", path, a.Token, api.CreateMessageRequest{Content: "x", MessageType: "system"}, 422).Field)
	e.fail("POST", path, a.Token, []byte(`{"content": "x", "role_id": "one"}`), 400)
	e.fail("POST", path, a.Token, []byte(``), 400)
	e.call("POST", path, a.Token, api.CreateMessageRequest{Content: strings.Repeat("x", 16<<10)}, 201, nil)
	e.call("POST", path, a.Token, api.CreateMessageRequest{Content: "x", MessageType: "text"}, 201, nil)

	// role_id must name a role the sender can see.
	var own, other api.Role
	e.call("POST", "/api/roles", a.Token, api.CreateRoleRequest{Name: "Mine"}, 201, &own)
	e.call("POST", "/api/roles", b.Token, api.CreateRoleRequest{Name: "Theirs"}, 201, &other)
	var m api.Message
	e.call("POST", path, a.Token, api.CreateMessageRequest{Content: "to my role", RoleID: &own.ID}, 201, &m)
	require.Equal(t, own.ID, *m.RoleID)
	require.Equal(t, api.MessageText, m.MessageType)
	require.Equal(t, "role_id", e.fail("POST", path, a.Token, api.CreateMessageRequest{Content: "x", RoleID: &other.ID}, 422).Field)

	// Bodies over 1 MiB: 413 with a JSON detail. A raw connection announces
	// the size and stops writing, so the server's early answer cannot race
	// with a client still sending.
	conn, err := net.Dial("tcp", e.Addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"content\": \"xxxx",
		path, e.Addr, a.Token, 2<<20)
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 413, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "application/json")
	var ae api.Error
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ae))
	require.Equal(t, "Request body too large", ae.Detail)
}

func TestMessages_IdempotentClientID(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		a, b := e.Register("alice"), e.Register("bob")
		r := e.room(a.Token, "room")
		e.call("POST", fmt.Sprintf("/api/rooms/%d/members", r.ID), a.Token, api.AddMemberRequest{Username: "bob"}, 201, nil)
		path := fmt.Sprintf("/api/rooms/%d/messages", r.ID)
		var first, again, bobs api.Message
		e.call("POST", path, a.Token, api.CreateMessageRequest{Content: "once", ClientID: "c-1"}, 201, &first)
		e.call("POST", path, a.Token, api.CreateMessageRequest{Content: "once", ClientID: "c-1"}, 200, &again)
		require.Equal(t, first, again)
		require.Equal(t, "c-1", first.ClientID)
		// The same client_id from another user is another message.
		e.call("POST", path, b.Token, api.CreateMessageRequest{Content: "mine", ClientID: "c-1"}, 201, &bobs)
		require.Equal(t, int64(2), bobs.Seq, "a resend used no seq")
		require.Len(t, e.history(a.Token, r.ID, ""), 2)
	})
}

func TestMessages_ConcurrentSeqGapFree(t *testing.T) {
	servertest.EachDatabase(t, func(t *testing.T, opts ...servertest.Option) {
		e := start(t, opts...)
		const writers, each = 8, 25
		accts := make([]servertest.Account, writers)
		owner := e.Register("owner")
		r := e.room(owner.Token, "busy")
		for i := range accts {
			accts[i] = e.Register(fmt.Sprintf("writer%d", i))
			e.call("POST", fmt.Sprintf("/api/rooms/%d/members", r.ID), owner.Token, api.AddMemberRequest{Username: accts[i].User.Username}, 201, nil)
		}
		var mu sync.Mutex
		var got []int64
		var wg sync.WaitGroup
		for _, acct := range accts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					status, b := e.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", r.ID), acct.Token, api.CreateMessageRequest{Content: fmt.Sprint(j)})
					if status != 201 {
						t.Errorf("post: %d %s", status, b)
						return
					}
					var m api.Message
					if err := jsonUnmarshal(b, &m); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got = append(got, m.Seq)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(got)
		want := make([]int64, writers*each)
		for i := range want {
			want[i] = int64(i + 1)
		}
		require.Equal(t, want, got)
		require.Equal(t, want, seqs(e.history(owner.Token, r.ID, "?limit=1000")))
	})
}
