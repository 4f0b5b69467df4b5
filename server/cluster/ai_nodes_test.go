package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// aiCluster is three nodes sharing one fake OpenAI, with a room where the
// role "pm" is seated and alice's key pays.
type aiCluster struct {
	nodes []*servertest.Daemon
	oa    *aitest.Server
	accs  []servertest.Account
	room  api.Room
}

func startAICluster(t *testing.T, mutate func(*config.Config)) *aiCluster {
	t.Helper()
	oa := aitest.New(t, aitest.OpenAI)
	nodes, _ := startNodes(t, 3, servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = oa.URL
		c.LLM.AllowServerKey = false
		if mutate != nil {
			mutate(c)
		}
	}))
	accs, r := accounts(t, nodes[0], "ai", 3)
	alice := accs[0]
	status, b := nodes[0].Do("POST", "/api/roles", alice.Token, api.CreateRoleRequest{Name: "PM", AIInstructions: "You plan.",
		Handle: "pm", Model: "openai/gpt-4o-mini"})
	require.Equal(t, http.StatusCreated, status, string(b))
	var role api.Role
	require.NoError(t, jsonUnmarshal(b, &role))
	for _, acc := range accs {
		status, b = nodes[1].Do("POST", "/api/keys", acc.Token, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-test-" + acc.User.Username})
		require.Equal(t, http.StatusCreated, status, string(b))
	}
	status, b = nodes[2].Do("POST", fmt.Sprintf("/api/rooms/%d/roles", r.ID), alice.Token, api.SeatRoleRequest{RoleID: role.ID})
	require.Equal(t, http.StatusCreated, status, string(b))
	return &aiCluster{nodes: nodes, oa: oa, accs: accs, room: r}
}

// count counts the events of type typ (and message_type mt for messages).
func count(s *socket, typ, mt string) int {
	n := 0
	for _, ev := range s.events {
		if ev.Type == typ && (mt == "" || ev.MessageType == mt) {
			n++
		}
	}
	return n
}

func TestCluster_AIOneReplyPerTriggerAcrossThreeNodes(t *testing.T) {
	// Six replies at once: above the default concurrency limits, which
	// hold cluster-wide (TestCluster_AIConcurrencyLimitHoldsClusterWide).
	c := startAICluster(t, func(cfg *config.Config) {
		cfg.LLM.ConcurrentPerRoom = -1
		cfg.LLM.ConcurrentPerUser = -1
	})
	c.oa.SetDefault(aitest.Response{Text: "On Friday.", TokenDelay: time.Millisecond})
	var socks []*socket
	for i, d := range c.nodes {
		socks = append(socks, dial(t, d, c.room.ID, c.accs[i].Token, ""))
	}
	for _, s := range socks {
		s.waitUntil(t, "presence", func() bool { return s.hasEvent(wsproto.TypePresence, nil) })
	}
	const triggers = 6
	for i := range triggers {
		post(t, c.nodes[i%3], c.accs[i%3].Token, c.room.ID, fmt.Sprintf("@pm question %d?", i))
	}
	for i, s := range socks {
		s.waitUntil(t, "every reply", func() bool { return count(s, wsproto.TypeAIDone, "") >= triggers })
		s.waitUntil(t, "every stored answer", func() bool {
			return count(s, wsproto.TypeMessage, api.MessageAIResponse) >= triggers
		})
		s.mu.Lock()
		require.Equal(t, triggers, count(s, wsproto.TypeAIStart, ""), "socket on node%d: ai_start", i+1)
		require.Equal(t, triggers, count(s, wsproto.TypeAIDone, ""), "socket on node%d: ai_done", i+1)
		require.Equal(t, triggers, count(s, wsproto.TypeMessage, api.MessageAIResponse), "socket on node%d: answers", i+1)
		inOrder(t, fmt.Sprintf("socket on node%d", i+1), s.seqs, 2*triggers)
		s.mu.Unlock()
	}
	require.Len(t, c.oa.Received(), triggers, "one provider call per trigger")
}

func TestCluster_AICancelOnAnotherNodeStopsTheReply(t *testing.T) {
	c := startAICluster(t, nil)
	c.oa.SetDefault(aitest.Response{TokenCount: 2000, TokenDelay: 10 * time.Millisecond})
	watcher := dial(t, c.nodes[2], c.room.ID, c.accs[2].Token, "")
	watcher.waitUntil(t, "presence", func() bool { return watcher.hasEvent(wsproto.TypePresence, nil) })
	post(t, c.nodes[0], c.accs[0].Token, c.room.ID, "@pm write a novel")
	var streamID string
	watcher.waitUntil(t, "the first ai_delta", func() bool {
		for _, ev := range watcher.events {
			if ev.Type == wsproto.TypeAIDelta {
				streamID = ev.StreamID
				return true
			}
		}
		return false
	})
	// Cancelled through node 3; the reply runs on node 1.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, watcher.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ai_cancel","stream_id":"`+streamID+`"}`)))
	watcher.waitUntil(t, "the cut reply", func() bool {
		return watcher.hasEvent(wsproto.TypeMessage, func(ev wsproto.Event) bool {
			return ev.MessageType == api.MessageAIResponse && ev.Truncated
		})
	})
	require.Less(t, time.Since(start), 5*time.Second, "2000 tokens take 20 s: the cancel stopped it")
	watcher.mu.Lock()
	defer watcher.mu.Unlock()
	require.False(t, watcher.hasEvent(wsproto.TypeError, nil), "the cancel was not refused")
}

func TestCluster_AIConcurrencyLimitHoldsClusterWide(t *testing.T) {
	c := startAICluster(t, func(cfg *config.Config) {
		cfg.LLM.ConcurrentPerUser = 1
		cfg.LLM.ConcurrentPerRoom = -1
	})
	c.oa.SetDefault(aitest.Response{TokenCount: 500, TokenDelay: 10 * time.Millisecond})
	w := dial(t, c.nodes[1], c.room.ID, c.accs[1].Token, "")
	w.waitUntil(t, "presence", func() bool { return w.hasEvent(wsproto.TypePresence, nil) })
	post(t, c.nodes[0], c.accs[0].Token, c.room.ID, "@pm long answer please")
	w.waitUntil(t, "ai_start", func() bool { return w.hasEvent(wsproto.TypeAIStart, nil) })
	// alice's second reply, through another node, while the first streams.
	post(t, c.nodes[2], c.accs[0].Token, c.room.ID, "@pm and another")
	w.waitUntil(t, "the refusal", func() bool {
		return w.hasEvent(wsproto.TypeAIError, func(ev wsproto.Event) bool { return ev.Code == api.CodeRateLimited })
	})
	// bob is not limited by alice's reply.
	post(t, c.nodes[2], c.accs[1].Token, c.room.ID, "@pm bob asks")
	w.waitUntil(t, "bob's reply starts", func() bool { return count(w, wsproto.TypeAIStart, "") >= 2 })
}

func TestCluster_AIOwnerDiesMidReplyRoomHearsWithin30s(t *testing.T) {
	c := startAICluster(t, nil)
	c.oa.SetDefault(aitest.Response{TokenCount: 5000, TokenDelay: 20 * time.Millisecond})
	w := dial(t, c.nodes[0], c.room.ID, c.accs[0].Token, "")
	w.waitUntil(t, "presence", func() bool { return w.hasEvent(wsproto.TypePresence, nil) })
	post(t, c.nodes[2], c.accs[2].Token, c.room.ID, "@pm a very long answer")
	var streamID string
	w.waitUntil(t, "deltas from node 3", func() bool {
		for _, ev := range w.events {
			if ev.Type == wsproto.TypeAIDelta {
				streamID = ev.StreamID
				return true
			}
		}
		return false
	})
	start := time.Now()
	c.nodes[2].Kill()
	w.waitUntil(t, "ai_error for the lost reply", func() bool {
		return w.hasEvent(wsproto.TypeAIError, func(ev wsproto.Event) bool { return ev.StreamID == streamID })
	})
	w.waitUntil(t, "the stored system message", func() bool {
		return w.hasEvent(wsproto.TypeMessage, func(ev wsproto.Event) bool { return ev.MessageType == api.MessageSystem })
	})
	require.Less(t, time.Since(start), 30*time.Second)
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.events {
		if ev.Type == wsproto.TypeAIError && ev.StreamID == streamID {
			n++
		}
	}
	require.Equal(t, 1, n, "one node tells the room")
}

func TestCluster_AIRoleEditedOnOneNodeUsedByTheNextReplyOnAnother(t *testing.T) {
	c := startAICluster(t, nil)
	c.oa.SetDefault(aitest.Response{Text: "ok"})
	w := dial(t, c.nodes[1], c.room.ID, c.accs[1].Token, "")
	w.waitUntil(t, "presence", func() bool { return w.hasEvent(wsproto.TypePresence, nil) })
	// Node 2 answers once with the old instructions (and would cache them).
	post(t, c.nodes[1], c.accs[1].Token, c.room.ID, "@pm first")
	w.waitUntil(t, "first reply", func() bool { return count(w, wsproto.TypeAIDone, "") >= 1 })

	var roles []api.Role
	status, b := c.nodes[0].Do("GET", "/api/roles", c.accs[0].Token, nil)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, jsonUnmarshal(b, &roles))
	instr := "You plan, and you answer in haiku."
	status, b = c.nodes[0].Do("PATCH", fmt.Sprintf("/api/roles/%d", roles[0].ID), c.accs[0].Token, api.UpdateRoleRequest{AIInstructions: &instr})
	require.Equal(t, http.StatusOK, status, string(b))

	post(t, c.nodes[1], c.accs[1].Token, c.room.ID, "@pm second")
	w.waitUntil(t, "second reply", func() bool { return count(w, wsproto.TypeAIDone, "") >= 2 })
	got := c.oa.Received()
	require.Len(t, got, 2)
	require.Contains(t, got[1].System, "haiku", "node 2's reply used the role as edited on node 1")
	require.NotContains(t, got[0].System, "haiku")
}
