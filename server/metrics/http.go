package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteUnmatched is the route label of requests no route matched (404, 405).
const RouteUnmatched = "unmatched"

// LoginPath is the route whose answers count as logins.
const LoginPath = "/api/auth/login"

// Outcomes of vcd_logins_total.
const (
	LoginSuccess     = "success"
	LoginFailure     = "failure"
	LoginRateLimited = "rate_limited"
)

// Transports of vcd_replays_total.
const (
	ReplayWebSocket = "websocket"
	ReplayHTTP      = "http"
)

// HTTPRequest records one answered request: route is the matched route
// pattern (RouteUnmatched when none matched), method the request method.
// Answers of POST /api/auth/login also count as logins.
func (m *Metrics) HTTPRequest(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	meth := methodLabel(method)
	code := "other"
	if status >= 100 && status < len(m.status) {
		code = m.status[status]
	}
	m.httpRequests.WithLabelValues(route, meth, code).Inc()
	m.httpDuration.WithLabelValues(route, meth).Observe(d.Seconds())
	if route == LoginPath && meth == http.MethodPost {
		switch {
		case status == http.StatusOK:
			m.logins.WithLabelValues(LoginSuccess).Inc()
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			m.logins.WithLabelValues(LoginFailure).Inc()
		case status == http.StatusTooManyRequests:
			m.logins.WithLabelValues(LoginRateLimited).Inc()
		}
	}
}

// HTTPReplay records a GET /api/rooms/:id/messages?after= (a client
// catching up over HTTP); the chat sockets' replays are counted by the hub.
func (m *Metrics) HTTPReplay() {
	if m == nil {
		return
	}
	m.httpReplays.Add(1)
}

var replaysDesc = prometheus.NewDesc(Namespace+"_replays_total",
	"Resumes served from the store with ?after=, by transport (websocket: a chat socket's replay; http: GET /api/rooms/:id/messages?after=).",
	[]string{"transport"}, nil)

// replayCollector reads both replay counts at scrape time.
type replayCollector struct{ m *Metrics }

func (c replayCollector) Describe(ch chan<- *prometheus.Desc) { ch <- replaysDesc }

func (c replayCollector) Collect(ch chan<- prometheus.Metric) {
	var ws uint64
	if rt := c.m.rt.Load(); rt != nil {
		ws = (*rt).Replays()
	}
	ch <- prometheus.MustNewConstMetric(replaysDesc, prometheus.CounterValue, float64(ws), ReplayWebSocket)
	ch <- prometheus.MustNewConstMetric(replaysDesc, prometheus.CounterValue, float64(c.m.httpReplays.Load()), ReplayHTTP)
}

// methodLabel maps a request method to a constant string: the label set
// stays fixed, and no label aliases a request buffer the server reuses.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return "other"
}
