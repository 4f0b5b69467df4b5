// Package metrics is vcd's Prometheus instrumentation: one registry (not
// the global default) holding every vcd_* metric, the Go and process
// collectors, and the /metrics handler served on its own listener
// (metrics.listen), so that metrics are never public by accident.
//
// Hot paths stay as fast as they are: what happens per delivered event
// (deliveries, bytes, slow-consumer drops, open sockets, replays) is kept
// in counters the realtime hub already maintains and read only when
// Prometheus scrapes (CounterFunc, GaugeFunc); what is observed per
// request, per stored message or per AI reply costs one histogram
// observation. A nil *Metrics is valid and records nothing, so the parts
// of the daemon call it unconditionally and metrics off costs a nil check.
//
// Labels are low-cardinality by construction: HTTP routes are the route
// patterns (/api/rooms/:id, never the path), methods and statuses come from
// fixed sets, AI models are reduced to a model family from a fixed list;
// no user id, room id or username is ever a label. The names are listed in
// docs/operations.md.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every vcd metric.
const Namespace = "vcd"

// Metrics holds the registry and every vcd metric. Build it with New; a nil
// *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	logins       *prometheus.CounterVec

	// httpReplays counts GET /api/rooms/:id/messages?after=; the chat
	// socket replays are read from rt (WatchRealtime) at scrape time.
	httpReplays atomic.Uint64
	rt          atomic.Pointer[Realtime]

	messagesStored prometheus.Counter
	commitDuration prometheus.Histogram

	aiReplies     *prometheus.CounterVec
	aiFirstToken  *prometheus.HistogramVec
	aiDuration    *prometheus.HistogramVec
	aiTokens      *prometheus.CounterVec
	aiProviderErr *prometheus.CounterVec

	clusterConnected prometheus.Gauge
	clusterLatency   prometheus.Histogram
	clusterFailed    prometheus.Counter

	status [600]string // "100".."599", so that a request allocates no label
}

// New builds the registry with the Go and process collectors, the build
// info and every vcd metric. Sources read at scrape time (sockets, the
// database pool, calls) are added with WatchRealtime, WatchCalls and
// WatchDatabase.
func New(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	for i := 100; i < len(m.status); i++ {
		m.status[i] = fmt.Sprint(i)
	}
	f := factory{reg}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f.gaugeFunc("build_info", "Always 1; the version label is the running vcd version.",
		prometheus.Labels{"version": version}, func() float64 { return 1 })

	m.httpRequests = f.counterVec("http_requests_total",
		"HTTP requests answered, by route pattern, method and status code (route \"unmatched\": no route).",
		"route", "method", "status")
	m.httpDuration = f.histogramVec("http_request_duration_seconds",
		"Time from a request's arrival to its answer, by route pattern and method.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}, "route", "method")
	m.logins = f.counterVec("logins_total",
		"Answers of POST /api/auth/login by outcome: success, failure (wrong credentials or a disabled account) or rate_limited (429).",
		"outcome")
	for _, o := range []string{LoginSuccess, LoginFailure, LoginRateLimited} {
		m.logins.WithLabelValues(o)
	}
	reg.MustRegister(replayCollector{m})

	m.messagesStored = f.counter("messages_stored_total",
		"Chat messages committed to the database (people, AI replies and system messages; resends are not counted).")
	m.commitDuration = f.histogram("message_commit_duration_seconds",
		"Time to commit one chat message (from the store call to its commit, group commits included).",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5})

	m.aiReplies = f.counterVec("ai_replies_total",
		"AI replies by provider, model family and outcome (ok, truncated: stopped at max_tokens, canceled, error).",
		"provider", "model_family", "outcome")
	m.aiFirstToken = f.histogramVec("ai_time_to_first_token_seconds",
		"Time from the provider call to the first streamed text, by provider and model family.",
		[]float64{.1, .25, .5, 1, 2, 3, 5, 10, 20, 30}, "provider", "model_family")
	m.aiDuration = f.histogramVec("ai_reply_duration_seconds",
		"Time from the provider call to the end of the stream, by provider and model family.",
		[]float64{.25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}, "provider", "model_family")
	m.aiTokens = f.counterVec("ai_tokens_total",
		"Tokens of AI replies as reported by the providers, by provider, model family and direction (input, output).",
		"provider", "model_family", "direction")
	m.aiProviderErr = f.counterVec("ai_provider_errors_total",
		"Failed provider calls by provider and kind (unavailable, auth, rate_limit, bad_request, timeout, other); cancellations are not errors.",
		"provider", "kind")

	m.clusterConnected = f.gauge("cluster_nats_connected",
		"1 while this node is connected to the cluster's NATS server, else 0 (stays 0 outside cluster mode).")
	m.clusterLatency = f.histogram("cluster_publish_latency_seconds",
		"Cross-node publish latency: from an event's publish on another node of the cluster to its arrival on this one (node clocks must agree).",
		[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1})
	m.clusterFailed = f.counter("cluster_publish_failures_total",
		"Publishes to the other nodes that could not even be buffered while NATS was unreachable (the nodes resync from the database).")
	return m
}

// Registry returns the registry (for tests and for the handler).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Server serves /metrics on its own listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Listen starts serving /metrics on addr (metrics.listen); everything else
// there answers 404.
func (m *Metrics) Listen(addr string, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln, done: make(chan error, 1)}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		if err != nil && logger != nil {
			logger.Error("metrics listener stopped", "err", err)
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address the metrics listener is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener, letting a scrape in progress finish until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// factory registers metrics under the vcd namespace.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

func (f factory) gaugeFunc(name, help string, labels prometheus.Labels, fn func() float64) {
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: labels}, fn))
}

func (f factory) counterFunc(name, help string, labels prometheus.Labels, fn func() float64) {
	f.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: labels}, fn))
}
