package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/cluster/natstest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// closedWith waits until s is closed and checks its close code.
func closedWith(t *testing.T, s *socket, code int, within time.Duration) {
	t.Helper()
	start := time.Now()
	s.waitUntil(t, fmt.Sprintf("close %d", code), func() bool { return s.closed })
	require.Less(t, time.Since(start), within)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Equal(t, websocket.StatusCode(code), s.code)
}

func TestCluster_LogoutAllAndPasswordChangeRevokeOnEveryNode(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "rev", 2)
	bob := accs[1]
	s2 := dial(t, nodes[1], r.ID, bob.Token, "")
	s3 := dial(t, nodes[2], r.ID, bob.Token, "")
	s2.waitUntil(t, "presence", func() bool { return s2.hasEvent(wsproto.TypePresence, nil) })
	s3.waitUntil(t, "presence", func() bool { return s3.hasEvent(wsproto.TypePresence, nil) })
	// Node 3 has just authenticated bob: a cache would say the token is good.
	status, _ := nodes[2].Do("GET", "/api/auth/me", bob.Token, nil)
	require.Equal(t, http.StatusOK, status)

	status, b := nodes[0].Do("POST", "/api/auth/logout-all", bob.Token, nil)
	require.Equal(t, http.StatusNoContent, status, string(b))
	// At once on every node: the token is refused and the sockets close.
	for _, d := range nodes {
		status, _ := d.Do("GET", "/api/auth/me", bob.Token, nil)
		require.Equal(t, http.StatusUnauthorized, status, "old token on %s", d.URL)
	}
	closedWith(t, s2, wsproto.CloseRevoked, 2*time.Second)
	closedWith(t, s3, wsproto.CloseRevoked, 2*time.Second)

	// A password change on node 2 does the same.
	tok, err := nodes[1].Login(bob.User.Username, bob.Password)
	require.NoError(t, err)
	s1 := dial(t, nodes[0], r.ID, tok.AccessToken, "")
	s1.waitUntil(t, "presence", func() bool { return s1.hasEvent(wsproto.TypePresence, nil) })
	status, b = nodes[1].Do("POST", "/api/auth/password", tok.AccessToken,
		api.ChangePasswordRequest{CurrentPassword: bob.Password, NewPassword: "a-new-password-for-bob"})
	require.Equal(t, http.StatusOK, status, string(b))
	closedWith(t, s1, wsproto.CloseRevoked, 2*time.Second)
	status, _ = nodes[2].Do("GET", "/api/auth/me", tok.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestCluster_MemberRemovalAndRoomDeletionCloseSocketsEverywhere(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "mem", 3)
	bob2 := dial(t, nodes[1], r.ID, accs[1].Token, "")
	bob3 := dial(t, nodes[2], r.ID, accs[1].Token, "")
	carol3 := dial(t, nodes[2], r.ID, accs[2].Token, "")
	carol2 := dial(t, nodes[1], r.ID, accs[2].Token, "")
	for _, s := range []*socket{bob2, bob3, carol2, carol3} {
		s.waitUntil(t, "presence", func() bool { return s.hasEvent(wsproto.TypePresence, nil) })
	}
	// Posts on nodes 2 and 3, so that their membership caches know bob
	// and carol are members.
	for _, d := range nodes[1:] {
		post(t, d, accs[1].Token, r.ID, "bob, before")
		post(t, d, accs[2].Token, r.ID, "carol, before")
	}
	refused := func(d *servertest.Daemon, a servertest.Account) {
		t.Helper()
		status, b := d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", r.ID), a.Token, api.CreateMessageRequest{Content: "after"})
		require.Equal(t, http.StatusNotFound, status, "%s may no longer post: %s", a.User.Username, b)
	}
	status, b := nodes[0].Do("DELETE", fmt.Sprintf("/api/rooms/%d/members/%d", r.ID, accs[1].User.ID), accs[0].Token, nil)
	require.Equal(t, http.StatusNoContent, status, string(b))
	closedWith(t, bob2, wsproto.CloseRemoved, 2*time.Second)
	closedWith(t, bob3, wsproto.CloseRemoved, 2*time.Second)
	carol2.mu.Lock()
	require.False(t, carol2.closed, "carol was not removed")
	carol2.mu.Unlock()
	// The removal reached nodes 2 and 3 (their sockets closed): their
	// caches forgot bob's membership, and carol still posts.
	refused(nodes[1], accs[1])
	refused(nodes[2], accs[1])
	post(t, nodes[2], accs[2].Token, r.ID, "carol, still here")

	status, b = nodes[0].Do("DELETE", fmt.Sprintf("/api/rooms/%d", r.ID), accs[0].Token, nil)
	require.Equal(t, http.StatusNoContent, status, string(b))
	closedWith(t, carol2, wsproto.CloseRemoved, 2*time.Second)
	closedWith(t, carol3, wsproto.CloseRemoved, 2*time.Second)
	refused(nodes[1], accs[2])
	refused(nodes[2], accs[2])
}

func TestCluster_PresenceAndTypingAcrossNodesKilledNodeExpires(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "pres", 3)
	alice, carol := accs[0], accs[2]
	c3 := dial(t, nodes[2], r.ID, carol.Token, "")
	c3.waitUntil(t, "presence", func() bool { return c3.hasEvent(wsproto.TypePresence, nil) })
	a1 := dial(t, nodes[0], r.ID, alice.Token, "")
	// alice, on node 1, sees carol of node 3 online (her join was relayed).
	a1.waitUntil(t, "presence listing carol", func() bool {
		return a1.hasEvent(wsproto.TypePresence, func(ev wsproto.Event) bool {
			for _, u := range ev.Online {
				if u.UserID == carol.User.ID {
					return true
				}
			}
			return false
		})
	})
	c3.waitUntil(t, "alice's join", func() bool {
		return c3.hasEvent(wsproto.TypeJoin, func(ev wsproto.Event) bool { return ev.UserID != nil && *ev.UserID == alice.User.ID })
	})
	status, b := nodes[1].Do("GET", fmt.Sprintf("/api/rooms/%d/members", r.ID), alice.Token, nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(b), `"online":true`)

	// Typing on node 3 reaches node 1.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, c3.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"typing"}`)))
	a1.waitUntil(t, "carol typing", func() bool {
		return a1.hasEvent(wsproto.TypeTyping, func(ev wsproto.Event) bool { return ev.UserID != nil && *ev.UserID == carol.User.ID })
	})

	// Node 3 dies: within 15 s alice hears carol left, and she is offline.
	start := time.Now()
	nodes[2].Kill()
	a1.waitUntil(t, "carol's leave", func() bool {
		return a1.hasEvent(wsproto.TypeLeave, func(ev wsproto.Event) bool { return ev.UserID != nil && *ev.UserID == carol.User.ID })
	})
	require.Less(t, time.Since(start), 15*time.Second)
	// Every live node drops her (each on its own heartbeat clock).
	for _, d := range nodes[:2] {
		for carolOnline(t, d, alice.Token, r.ID, carol.User.ID) {
			require.Less(t, time.Since(start), 15*time.Second, "carol still online on %s", d.URL)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func carolOnline(t *testing.T, d *servertest.Daemon, token string, roomID, userID int64) bool {
	t.Helper()
	var members []api.Member
	status, b := d.Do("GET", fmt.Sprintf("/api/rooms/%d/members", roomID), token, nil)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, jsonUnmarshal(b, &members))
	for _, m := range members {
		if m.UserID == userID {
			return m.Online
		}
	}
	return false
}

func TestCluster_GracefulShutdownClosesItsSockets1001OthersUnaffected(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "term", 2)
	s3 := dial(t, nodes[2], r.ID, accs[1].Token, "")
	s1 := dial(t, nodes[0], r.ID, accs[1].Token, "")
	s3.waitUntil(t, "presence", func() bool { return s3.hasEvent(wsproto.TypePresence, nil) })
	s1.waitUntil(t, "presence", func() bool { return s1.hasEvent(wsproto.TypePresence, nil) })
	post(t, nodes[1], accs[0].Token, r.ID, "before")
	nodes[2].Stop()
	closedWith(t, s3, wsproto.CloseGoingAway, 10*time.Second)
	post(t, nodes[1], accs[0].Token, r.ID, "after")
	s1.waitUntil(t, "both messages", func() bool { return len(s1.seqs) >= 2 })
	s1.mu.Lock()
	defer s1.mu.Unlock()
	inOrder(t, "socket on node1", s1.seqs, 2)
	require.False(t, s1.closed)
}

func TestCluster_RefusesSQLiteAndAForeignSecret(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Cluster.NATSURL = "nats://127.0.0.1:4222"
	_, err := server.New(cfg, nil)
	require.ErrorContains(t, err, "a cluster needs PostgreSQL")

	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		t.Skipf("the secret check needs PostgreSQL: set %s", servertest.EnvPostgresDSN)
	}
	ns := natstest.Start(t)
	nodes := servertest.StartCluster(t, 1, dsn, ns.URL())
	other := nodes[0].Config
	other.DataDir = t.TempDir()
	other.Listen = "127.0.0.1:0"
	other.Cluster.NodeID = "intruder"
	other.SecretKey = "another-secret-key-0123456789abcdefghij"
	_, err = server.New(other, nil)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "secret_key differs from the cluster's"), err.Error())
	require.Contains(t, err.Error(), `"node1"`)

	// A rotation: a node with the new key and the old one as previous
	// starts and re-seals the probe; then a node with only the old key is
	// the odd one out.
	rotated := other
	rotated.Cluster.NodeID = "rotated"
	rotated.LLM.PreviousSecretKeys = []string{nodes[0].Config.SecretKey}
	srv, err := server.New(rotated, nil)
	require.NoError(t, err)
	require.NoError(t, srv.Shutdown(context.Background()))
	stale := nodes[0].Config
	stale.DataDir = t.TempDir()
	stale.Listen = "127.0.0.1:0"
	stale.Cluster.NodeID = "stale"
	_, err = server.New(stale, nil)
	require.ErrorContains(t, err, `sealed in the database`)
	require.ErrorContains(t, err, `"rotated"`)
}

func TestCluster_LoginLimitsHoldClusterWide(t *testing.T) {
	nodes, _ := startNodes(t, 3, servertest.WithConfig(func(c *config.Config) {
		c.RateLimit.MaxFailedLogins = 3
		c.RateLimit.AuthPerMinute = 1_000_000
	}))
	dave := nodes[0].Register("dave")
	// Three wrong passwords, one per node: the account's budget is spent
	// everywhere, even for the right password.
	for _, d := range nodes {
		_, err := d.Login("dave", "wrong-password")
		require.ErrorContains(t, err, "401")
	}
	for _, d := range nodes {
		status, b := d.Do("POST", "/api/auth/login", "", api.LoginRequest{Username: "dave", Password: dave.Password})
		require.Equal(t, http.StatusTooManyRequests, status, "%s: %s", d.URL, b)
	}

	// The per-address limit too.
	ip, _ := startNodes(t, 3, servertest.WithConfig(func(c *config.Config) { c.RateLimit.AuthPerMinute = 4 }))
	for i := range 4 {
		_, err := ip[i%3].Login("nobody", "wrong-password")
		require.ErrorContains(t, err, "401")
	}
	status, _ := ip[2].Do("POST", "/api/auth/login", "", api.LoginRequest{Username: "nobody", Password: "x"})
	require.Equal(t, http.StatusTooManyRequests, status)
}

func TestCluster_PerUserEventsReachTheUsersSocketsOnOtherNodes(t *testing.T) {
	nodes, _ := startNodes(t, 3)
	accs, r := accounts(t, nodes[0], "usr", 2)
	bob := accs[1]
	s3 := dial(t, nodes[2], r.ID, bob.Token, "")
	s3.waitUntil(t, "presence", func() bool { return s3.hasEvent(wsproto.TypePresence, nil) })
	// alice, on node 1, adds bob to a second room: his socket on node 3
	// hears of it.
	other := shareRoom(t, nodes[0], accs[0], bob)
	s3.waitUntil(t, "room_added", func() bool {
		return s3.hasEvent(wsproto.TypeRoomAdded, func(ev wsproto.Event) bool { return ev.RoomID == other.ID })
	})
}
