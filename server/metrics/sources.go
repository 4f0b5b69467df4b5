package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Realtime is what the chat hub counts for the metrics (realtime.Chat):
// counters it keeps anyway, read when Prometheus scrapes.
type Realtime interface {
	// ChatSockets is the number of open chat sockets.
	ChatSockets() int
	// Deliveries counts the events handed to sockets; DeliveredBytes
	// their bytes on the wire.
	Deliveries() uint64
	DeliveredBytes() uint64
	// SlowConsumerDrops counts the sockets dropped as too slow (4008).
	SlowConsumerDrops() uint64
	// Replays counts the chat sockets that resumed with ?after=.
	Replays() uint64
}

// Calls is what the signaling hub counts (signal.Hub).
type Calls interface {
	// CallStats returns the calls in progress and their participants
	// (one signaling socket each).
	CallStats() (calls, participants int)
}

// WatchRealtime adds the chat hub's counters: open chat sockets,
// deliveries, bytes, slow-consumer drops, and the chat
// sockets' replays in vcd_replays_total.
func (m *Metrics) WatchRealtime(rt Realtime) {
	if m == nil {
		return
	}
	f := factory{m.reg}
	f.gaugeFunc("open_sockets", "Open WebSockets by kind (chat, signaling).",
		prometheus.Labels{"kind": "chat"}, func() float64 { return float64(rt.ChatSockets()) })
	f.counterFunc("chat_deliveries_total", "Chat events handed to sockets (one per event per socket).",
		nil, func() float64 { return float64(rt.Deliveries()) })
	f.counterFunc("chat_delivered_bytes_total", "Bytes of the chat events handed to sockets, as framed on the wire.",
		nil, func() float64 { return float64(rt.DeliveredBytes()) })
	f.counterFunc("chat_slow_consumer_drops_total", "Chat sockets dropped for not reading fast enough (close 4008).",
		nil, func() float64 { return float64(rt.SlowConsumerDrops()) })
	m.rt.Store(&rt)
}

// WatchCalls adds the calls in progress and their participants, and the
// open signaling sockets.
func (m *Metrics) WatchCalls(c Calls) {
	if m == nil {
		return
	}
	f := factory{m.reg}
	f.gaugeFunc("calls_active", "Voice calls in progress.", nil,
		func() float64 { n, _ := c.CallStats(); return float64(n) })
	f.gaugeFunc("call_participants", "Participants of the voice calls in progress.", nil,
		func() float64 { _, n := c.CallStats(); return float64(n) })
	f.gaugeFunc("open_sockets", "Open WebSockets by kind (chat, signaling).",
		prometheus.Labels{"kind": "signaling"}, func() float64 { _, n := c.CallStats(); return float64(n) })
}

// WatchDatabase adds the connection pools' statistics (pools by name:
// "write" and "read" on SQLite, "main" on PostgreSQL) and
// vcd_database_up, which runs ping at each scrape (at most 2 s).
func (m *Metrics) WatchDatabase(pools map[string]*sql.DB, ping func(context.Context) error) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&dbCollector{pools: pools})
	factory{m.reg}.gaugeFunc("database_up", "1 when the database answered a query at this scrape, else 0.", nil,
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if ping(ctx) != nil {
				return 0
			}
			return 1
		})
}

// dbCollector reads sql.DBStats at scrape time.
type dbCollector struct {
	pools map[string]*sql.DB
}

var (
	dbConnsDesc = prometheus.NewDesc(Namespace+"_db_connections",
		"Connections of the database pool by state (in_use, idle).", []string{"pool", "state"}, nil)
	dbMaxDesc = prometheus.NewDesc(Namespace+"_db_max_open_connections",
		"The pool's cap on open connections (0: unlimited).", []string{"pool"}, nil)
	dbWaitsDesc = prometheus.NewDesc(Namespace+"_db_waits_total",
		"Times a query waited for a free connection of the pool.", []string{"pool"}, nil)
	dbWaitDesc = prometheus.NewDesc(Namespace+"_db_wait_duration_seconds_total",
		"Time queries spent waiting for a free connection of the pool.", []string{"pool"}, nil)
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dbConnsDesc
	ch <- dbMaxDesc
	ch <- dbWaitsDesc
	ch <- dbWaitDesc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	for name, db := range c.pools {
		s := db.Stats()
		ch <- prometheus.MustNewConstMetric(dbConnsDesc, prometheus.GaugeValue, float64(s.InUse), name, "in_use")
		ch <- prometheus.MustNewConstMetric(dbConnsDesc, prometheus.GaugeValue, float64(s.Idle), name, "idle")
		ch <- prometheus.MustNewConstMetric(dbMaxDesc, prometheus.GaugeValue, float64(s.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(dbWaitsDesc, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(dbWaitDesc, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
	}
}
