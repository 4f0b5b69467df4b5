package meeting_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/cluster/natstest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// TestMeeting_ClusterNodeDies runs a meeting on node 1 of a two-node
// cluster, watched from node 2; node 1 dies (kill -9) in the middle of the
// second turn. Once its lease runs out node 2 takes the meeting over and
// goes on with the third turn: every turn reaches the provider once.
func TestMeeting_ClusterNodeDies(t *testing.T) {
	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		t.Skipf("cluster tests need PostgreSQL: set %s", servertest.EnvPostgresDSN)
	}
	ns := natstest.Start(t)
	sc := &script{}
	oa := aitest.New(t, aitest.OpenAI)
	oa.SetHandler(sc.handle)
	arrived := make(chan struct{}, 1)
	sc.turn = func(h string, n int, r aitest.Request) aitest.Response {
		if n == 1 {
			arrived <- struct{}{}
			return aitest.Response{TokenCount: 100000, TokenDelay: 2 * time.Millisecond}
		}
		return aitest.Response{Text: h + " speaks."}
	}
	nodes := servertest.StartCluster(t, 2, dsn, ns.URL(), servertest.WithConfig(func(c *config.Config) {
		c.LLM.OpenAI.BaseURL = oa.URL
		c.LLM.AllowServerKey = false
		c.LLM.MaxRetries = 0
		c.Meetings.LeaseTTL = 2 * time.Second
	}))
	n1, n2 := nodes[0], nodes[1]
	ctx := context.Background()
	acct := n1.Register("alice")
	on1, err := client.New(n1.URL, client.WithToken(acct.Token))
	require.NoError(t, err)
	on2, err := client.New(n2.URL, client.WithToken(acct.Token))
	require.NoError(t, err)
	_, err = on1.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice-1234"})
	require.NoError(t, err)
	room, err := on1.CreateRoom(ctx, "Cluster")
	require.NoError(t, err)
	e := &env{roles: map[string]api.Role{}, room: room}
	for _, h := range []string{"pm", "cto", "law"} {
		role, err := on1.CreateRole(ctx, api.CreateRoleRequest{Name: h, Handle: h, AIInstructions: "You are " + h + ".", Model: "openai/gpt-4o-mini"})
		require.NoError(t, err)
		e.roles[h] = role
		_, err = on1.SeatRole(ctx, room.ID, role.ID)
		require.NoError(t, err)
	}
	w := watch(t, on2, room.ID)
	m, err := on1.StartMeeting(ctx, room.ID, api.StartMeetingRequest{Topic: "Failover", Roles: refs("pm", "cto", "law"), Rounds: 2})
	require.NoError(t, err)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the second turn never reached the provider")
	}
	// Node 2's socket sees node 1's turns.
	w.until("the second turn on node 2", func(evs []wsproto.Event) bool { return len(ofType(evs, wsproto.TypeAIStart)) >= 2 })
	// Someone on node 2 gives the PM the floor: it speaks next (after
	// the takeover), and no ordinary reply answers the mention.
	_, err = on2.SendMessage(ctx, room.ID, api.CreateMessageRequest{Content: "@pm one more thing on pricing"})
	require.NoError(t, err)
	n1.Kill()

	evs := w.ended()
	end := ofType(evs, wsproto.TypeMeetingEnd)[0]
	require.Equal(t, api.MeetingDone, end.Status)
	require.Equal(t, []string{"pm", "cto", "pm", "law", "pm", "cto"}, sc.speakers(), "node 2 went on at the third turn, the PM's by the floor")
	for _, ev := range ofType(evs, wsproto.TypeAIStart) {
		require.Equal(t, m.ID, ev.MeetingID, "no ordinary reply to the mention")
	}
	got, err := on2.Meeting(ctx, room.ID, m.ID)
	require.NoError(t, err)
	require.Equal(t, 6, got.Turns)
	require.NotNil(t, got.Minutes)
}
