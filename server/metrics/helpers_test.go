package metrics_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// metricsRegistryValue returns a lookup of one sample by its series as
// Prometheus prints it (name{a="x",b="y"}, labels sorted; histograms as
// name_count and name_sum); a missing series reads 0.
func metricsRegistryValue(t *testing.T, reg *prometheus.Registry) func(series string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	vals := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			sel := ""
			if len(ls) > 0 {
				sel = "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				vals[f.GetName()+sel] = m.Counter.GetValue()
			case m.Gauge != nil:
				vals[f.GetName()+sel] = m.Gauge.GetValue()
			case m.Histogram != nil:
				vals[f.GetName()+"_count"+sel] = float64(m.Histogram.GetSampleCount())
				vals[f.GetName()+"_sum"+sel] = m.Histogram.GetSampleSum()
			}
		}
	}
	return func(series string) float64 { return vals[series] }
}
