package metrics_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/servertest"
)

// registryNames starts a daemon with metrics on, makes every metric family
// have a sample (requests, a login, a message, an AI reply through a fake
// provider, the cluster hooks) and returns the series names PromQL can
// use: every family name, with _bucket, _sum and _count for histograms.
func registryNames(t *testing.T) map[string]bool {
	t.Helper()
	d := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" }))
	a := d.Register("namer")
	status, _ := d.Do("GET", "/api/rooms", a.Token, nil)
	require.Equal(t, 200, status)
	m := d.Server().Metrics()
	reg := ai.NewRegistry()
	reg.Add(ai.ProviderEntry{Provider: &fakeProvider{deltas: []string{"hi"}, err: &ai.Error{Kind: ai.KindUnavailable, Provider: "openai"}}})
	m.InstrumentRegistry(reg)
	e, _ := reg.Get("openai")
	_, _ = e.Provider.StreamChat(context.Background(), ai.Credentials{}, ai.ChatRequest{Model: "gpt-4o"}, func(string) error { return nil })
	m.NATSConnected(true)
	m.ClusterDelivered(time.Millisecond)
	m.ClusterPublishFailed()
	m.MessageStored(time.Millisecond)
	m.HTTPReplay()

	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	names := map[string]bool{"up": true} // made by Prometheus for every target
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

var (
	quoted   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promName = regexp.MustCompile(`\b(?:vcd|go|process)_[a-zA-Z0-9_:]*`)
)

// metricNames lists the metric names an expression uses (vcd_*, go_*,
// process_*), ignoring label values.
func metricNames(expr string) []string {
	return promName.FindAllString(quoted.ReplaceAllString(expr, `""`), -1)
}

// TestAlerts_MetricsExist parses configs/prometheus/alerts.yml and checks
// that every rule is complete and that every metric it uses exists in the
// daemon's registry.
func TestAlerts_MetricsExist(t *testing.T) {
	raw, err := os.ReadFile("../../configs/prometheus/alerts.yml")
	require.NoError(t, err)
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&file))
	names := registryNames(t)
	alerts := map[string]bool{}
	for _, g := range file.Groups {
		require.NotEmpty(t, g.Name)
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.False(t, alerts[r.Alert], "alert %s defined twice", r.Alert)
			alerts[r.Alert] = true
			require.NotEmpty(t, r.Expr, r.Alert)
			_, err := time.ParseDuration(r.For)
			require.NoError(t, err, "%s: for", r.Alert)
			require.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			used := metricNames(r.Expr)
			if !strings.Contains(r.Expr, "up{") {
				require.NotEmpty(t, used, "%s uses no vcd metric", r.Alert)
			}
			for _, n := range used {
				require.True(t, names[n], "%s uses %s, which vcd does not export", r.Alert, n)
			}
		}
	}
	for _, want := range []string{"VcdDatabaseDown", "VcdSlowConsumerDropsClimbing", "VcdAIProviderErrors", "VcdCommitLatencyHigh"} {
		require.True(t, alerts[want], "alert %s missing", want)
	}
}

// TestDashboard_MetricsExist parses configs/grafana/vcd.json and checks
// that it is a dashboard whose every query uses metrics vcd exports.
func TestDashboard_MetricsExist(t *testing.T) {
	raw, err := os.ReadFile("../../configs/grafana/vcd.json")
	require.NoError(t, err)
	type target struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
	type panel struct {
		ID      int      `json:"id"`
		Type    string   `json:"type"`
		Title   string   `json:"title"`
		Targets []target `json:"targets"`
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
	}
	var dash struct {
		Title         string  `json:"title"`
		UID           string  `json:"uid"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "vcd", dash.Title)
	require.NotEmpty(t, dash.UID)
	require.Positive(t, dash.SchemaVersion)
	names := registryNames(t)
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		require.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		require.NotEmpty(t, p.Title)
		require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, p.Title)
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			ns := metricNames(tg.Expr)
			require.NotEmpty(t, ns, "%s: %q uses no metric", p.Title, tg.Expr)
			for _, n := range ns {
				require.True(t, names[n], "panel %q uses %s, which vcd does not export", p.Title, n)
				used[n] = true
			}
		}
	}
	// Every vcd family has a panel.
	var missing []string
	for n := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(n, "vcd_") && !used[n] && !used[base+"_bucket"] && !used[base] && !used[base+"_sum"] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "vcd metrics without a dashboard panel")
}
