package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/cluster/natstest"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// scrape fetches /metrics from the daemon's metrics listener.
func scrape(t *testing.T, d *servertest.Daemon) map[string]*dto.MetricFamily {
	t.Helper()
	addr := d.Server().MetricsAddr()
	require.NotNil(t, addr, "metrics listener not running")
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the value of the sample of family name whose labels
// include want (histograms: the sample count); ok is false when none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// waitFor scrapes until cond holds or the deadline passes.
func waitFor(t *testing.T, d *servertest.Daemon, what string, cond func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams := scrape(t, d)
		if cond(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %s did not happen within 10s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a scrape: there is no event to wait on
	}
}

func atLeast(name string, labels map[string]string, n float64) func(map[string]*dto.MetricFamily) bool {
	return func(f map[string]*dto.MetricFamily) bool {
		v, ok := value(f, name, labels)
		return ok && v >= n
	}
}

// TestMetrics_DaemonCounts runs a real daemon with metrics.listen on
// loopback, drives requests, a chat socket, messages, a replay and a failed
// login, and checks that the counters moved with the right labels, and that
// no user or room id (nor a concrete path) is a label.
func TestMetrics_DaemonCounts(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" }))
	before := scrape(t, d)
	v, ok := value(before, "vcd_database_up", nil)
	require.True(t, ok)
	require.Equal(t, 1.0, v)
	_, ok = value(before, "go_goroutines", nil)
	require.True(t, ok, "Go collector missing")
	_, ok = value(before, "process_cpu_seconds_total", nil)
	require.True(t, ok, "process collector missing")

	alice := d.Register("alice") // one register, one successful login
	_, err := d.Login("alice", "not-her-password")
	require.Error(t, err)
	status, body := d.Do("POST", "/api/rooms", alice.Token, api.CreateRoomRequest{Name: "metrics-room"})
	require.Equal(t, http.StatusCreated, status, string(body))
	var room api.Room
	require.NoError(t, json.Unmarshal(body, &room))

	// A chat socket, admitted once the presence event arrives.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s/ws/chat/%d?token=%s", d.Addr, room.ID, alice.Token), nil)
	require.NoError(t, err)
	defer conn.CloseNow()
	readType := func(typ string) {
		t.Helper()
		for {
			_, b, err := conn.Read(ctx)
			require.NoError(t, err, "waiting for %s", typ)
			var ev wsproto.Event
			require.NoError(t, json.Unmarshal(b, &ev))
			if ev.Type == typ {
				return
			}
		}
	}
	readType(wsproto.TypePresence)
	waitFor(t, d, "one open chat socket", atLeast("vcd_open_sockets", map[string]string{"kind": "chat"}, 1))

	for i := range 3 {
		status, body = d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), alice.Token, api.CreateMessageRequest{Content: fmt.Sprintf("hello %d", i)})
		require.Equal(t, http.StatusCreated, status, string(body))
		readType(wsproto.TypeMessage)
	}
	status, body = d.Do("GET", fmt.Sprintf("/api/rooms/%d/messages?after=1", room.ID), alice.Token, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	status, _ = d.Do("GET", "/no/such/path/42", "", nil)
	require.Equal(t, http.StatusNotFound, status)

	fams := waitFor(t, d, "the deliveries", atLeast("vcd_chat_deliveries_total", nil, 3))
	msgRoute := map[string]string{"route": "/api/rooms/:id/messages", "method": "POST", "status": "201"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"vcd_http_requests_total", msgRoute, 3},
		{"vcd_http_requests_total", map[string]string{"route": "/api/rooms/:id/messages", "method": "GET", "status": "200"}, 1},
		{"vcd_http_requests_total", map[string]string{"route": "/api/auth/login", "method": "POST", "status": "401"}, 1},
		{"vcd_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 1},
		{"vcd_http_request_duration_seconds", map[string]string{"route": "/api/rooms/:id/messages", "method": "POST"}, 3},
		{"vcd_logins_total", map[string]string{"outcome": "success"}, 1},
		{"vcd_logins_total", map[string]string{"outcome": "failure"}, 1},
		{"vcd_messages_stored_total", nil, 3},
		{"vcd_message_commit_duration_seconds", nil, 3},
		{"vcd_replays_total", map[string]string{"transport": "http"}, 1},
		{"vcd_chat_delivered_bytes_total", nil, 3 * float64(len(`{"type":"message"}`))},
		{"vcd_db_connections", map[string]string{"pool": "write", "state": "idle"}, 0},
		{"vcd_db_waits_total", map[string]string{"pool": "read"}, 0},
	} {
		v, ok := value(fams, c.name, c.labels)
		require.True(t, ok, "%s%v missing", c.name, c.labels)
		require.GreaterOrEqual(t, v, c.min, "%s%v", c.name, c.labels)
	}
	v, _ = value(fams, "vcd_logins_total", map[string]string{"outcome": "failure"})
	require.Equal(t, 1.0, v, "exactly one failed login")
	v, _ = value(fams, "vcd_logins_total", map[string]string{"outcome": "rate_limited"})
	require.Equal(t, 0.0, v)
	v, _ = value(fams, "vcd_replays_total", map[string]string{"transport": "websocket"})
	require.Equal(t, 0.0, v)

	// A socket resuming with ?after= is a websocket replay.
	conn2, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s/ws/chat/%d?token=%s&after=1", d.Addr, room.ID, alice.Token), nil)
	require.NoError(t, err)
	defer conn2.CloseNow()
	fams = waitFor(t, d, "a websocket replay", atLeast("vcd_replays_total", map[string]string{"transport": "websocket"}, 1))
	waitFor(t, d, "two open chat sockets", atLeast("vcd_open_sockets", map[string]string{"kind": "chat"}, 2))

	// No id, name or concrete path is a label value.
	ids := map[string]bool{strconv.FormatInt(room.ID, 10): true, strconv.FormatInt(alice.User.ID, 10): true}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				lv := l.GetValue()
				if l.GetName() != "status" && ids[lv] {
					t.Errorf("%s: label %s=%q is an id", name, l.GetName(), lv)
				}
				if strings.Contains(lv, "alice") || strings.Contains(lv, "metrics-room") ||
					strings.Contains(lv, "/api/rooms/"+strconv.FormatInt(room.ID, 10)) || strings.Contains(lv, "/no/such") {
					t.Errorf("%s: label %s=%q names a user, room or path", name, l.GetName(), lv)
				}
			}
		}
	}
}

// TestMetrics_OffByDefault: without metrics.listen nothing listens and the
// daemon has no metrics.
func TestMetrics_OffByDefault(t *testing.T) {
	d := servertest.Start(t)
	require.Nil(t, d.Server().MetricsAddr())
	require.Nil(t, d.Server().Metrics())
}

// TestMetrics_DaemonAIReplies: replies through a real daemon's providers
// (the fake OpenAI server speaks the real SSE format) are counted by
// provider, model family and outcome, with tokens and provider errors.
func TestMetrics_DaemonAIReplies(t *testing.T) {
	fake := aitest.New(t, aitest.OpenAI)
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.Metrics.Listen = "127.0.0.1:0"
		c.LLM.OpenAI.BaseURL = fake.URL
		c.LLM.OpenAI.APIKey = "sk-server-test"
		c.LLM.AllowServerKey = true
		c.LLM.MaxRetries = 0
	}))
	a := d.Register("carol")
	fake.Enqueue(aitest.Response{Text: "one two three", InputTokens: 12},
		aitest.Response{Status: 401, ErrorMessage: "Incorrect API key"})
	status, body := d.Do("POST", "/api/llm/generate", a.Token, api.GenerateRequest{Prompt: "count", Model: "openai/gpt-4o-mini"})
	require.Equal(t, http.StatusOK, status, string(body))
	status, body = d.Do("POST", "/api/llm/generate", a.Token, api.GenerateRequest{Prompt: "again", Model: "openai/gpt-4o-mini"})
	require.NotEqual(t, http.StatusOK, status, string(body))

	fams := scrape(t, d)
	labels := func(kv ...string) map[string]string {
		m := map[string]string{"provider": "openai"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"vcd_ai_replies_total", labels("model_family", "gpt-4o-mini", "outcome", "ok"), 1},
		{"vcd_ai_replies_total", labels("model_family", "gpt-4o-mini", "outcome", "error"), 1},
		{"vcd_ai_provider_errors_total", labels("kind", "auth"), 1},
		{"vcd_ai_tokens_total", labels("model_family", "gpt-4o-mini", "direction", "input"), 12},
		{"vcd_ai_tokens_total", labels("model_family", "gpt-4o-mini", "direction", "output"), 3},
		{"vcd_ai_time_to_first_token_seconds", labels("model_family", "gpt-4o-mini"), 1},
		{"vcd_ai_reply_duration_seconds", labels("model_family", "gpt-4o-mini"), 2},
	} {
		v, ok := value(fams, c.name, c.labels)
		require.True(t, ok, "%s%v missing", c.name, c.labels)
		require.Equal(t, c.want, v, "%s%v", c.name, c.labels)
	}
}

// TestMetrics_LoginRateLimited: a login refused by the failed-login limit
// (429) counts as rate_limited, not as a failure.
func TestMetrics_LoginRateLimited(t *testing.T) {
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.Metrics.Listen = "127.0.0.1:0"
		c.RateLimit.MaxFailedLogins = 1
	}))
	d.Register("dave")
	for range 2 {
		_, err := d.Login("dave", "wrong-password")
		require.Error(t, err)
	}
	fams := scrape(t, d)
	for outcome, want := range map[string]float64{"success": 1, "failure": 1, "rate_limited": 1} {
		v, ok := value(fams, "vcd_logins_total", map[string]string{"outcome": outcome})
		require.True(t, ok)
		require.Equal(t, want, v, outcome)
	}
}

// TestMetrics_Cluster: on cluster nodes (PostgreSQL and an embedded NATS)
// the NATS connection state is 1 and an event posted on one node counts
// in the other node's cross-node publish latency.
func TestMetrics_Cluster(t *testing.T) {
	dsn := os.Getenv(servertest.EnvPostgresDSN)
	if dsn == "" {
		t.Skip("cluster mode needs PostgreSQL: set " + servertest.EnvPostgresDSN)
	}
	nats := natstest.Start(t)
	nodes := servertest.StartCluster(t, 2, dsn, nats.URL(), servertest.WithConfig(func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" }))
	n1, n2 := nodes[0], nodes[1]
	for _, n := range nodes {
		waitFor(t, n, "NATS connected", atLeast("vcd_cluster_nats_connected", nil, 1))
	}
	erin := n1.Register("erin")
	status, body := n1.Do("POST", "/api/rooms", erin.Token, api.CreateRoomRequest{Name: "cluster-room"})
	require.Equal(t, http.StatusCreated, status, string(body))
	var room api.Room
	require.NoError(t, json.Unmarshal(body, &room))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s/ws/chat/%d?token=%s", n2.Addr, room.ID, erin.Token), nil)
	require.NoError(t, err)
	defer conn.CloseNow()
	for {
		_, b, err := conn.Read(ctx)
		require.NoError(t, err)
		var ev wsproto.Event
		require.NoError(t, json.Unmarshal(b, &ev))
		if ev.Type == wsproto.TypePresence {
			break
		}
	}
	status, body = n1.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), erin.Token, api.CreateMessageRequest{Content: "across"})
	require.Equal(t, http.StatusCreated, status, string(body))
	for {
		_, b, err := conn.Read(ctx)
		require.NoError(t, err, "waiting for the message on node2")
		var ev wsproto.Event
		require.NoError(t, json.Unmarshal(b, &ev))
		if ev.Type == wsproto.TypeMessage {
			break
		}
	}
	waitFor(t, n2, "a cross-node delivery", atLeast("vcd_cluster_publish_latency_seconds", nil, 1))
	v, ok := value(scrape(t, n2), "vcd_cluster_publish_failures_total", nil)
	require.True(t, ok)
	require.Equal(t, 0.0, v)
}
