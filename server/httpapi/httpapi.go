// Package httpapi is vcd's HTTP surface: the Fiber app, its middleware
// (request ids, access log, security headers, CORS, rate limits, auth), the
// REST handlers, the mapping of service errors to status codes and the
// OpenAPI document with its /docs page.
//
// Every route is declared in routes.go, so the whole API reads top to
// bottom in one place; each route's documentation sits next to it and feeds
// /openapi.json.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/metrics"
	"github.com/virtual-company/vc/server/service"
)

// Deps are what the HTTP layer needs.
type Deps struct {
	Services *service.Services
	// Models is the model catalogue (nil: service.BuiltinModels).
	Models service.ModelCatalog
	// Ready reports whether the daemon can serve (database reachable).
	Ready func(ctx context.Context) error
	// Degraded says why the daemon serves in degraded mode ("" or nil:
	// it does not); GET /ready then answers 200 with status "degraded"
	// (a cluster node that lost NATS still serves its own sockets).
	Degraded func() string
	// SharedLimits, when set, counts rate_limit.auth_per_minute in it (the
	// database) so that the limit holds across the nodes of a cluster.
	SharedLimits service.SharedWindows
	Logger       *slog.Logger
	// Version is shown on GET / and in the OpenAPI document.
	Version string
	// BodyLimit is the largest accepted request body in bytes.
	BodyLimit int
	// CORSOrigins are the allowed browser origins besides the same origin.
	CORSOrigins []string
	// AuthPerMinute limits register requests plus failed logins per client
	// IP (0: unlimited).
	AuthPerMinute int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (empty: the header is ignored).
	TrustedProxies []netip.Prefix
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	// ChatSocket serves GET /ws/chat/:room_id (server/realtime); nil: the
	// route is not registered.
	ChatSocket fiber.Handler
	// SignalSocket serves GET /ws/signaling/:room_id (server/signal); nil:
	// the route is not registered.
	SignalSocket fiber.Handler
	// AI serves one-shot generation and the live model list (server/ai);
	// nil: POST /api/llm/generate is not registered and GET
	// /api/llm/models uses Models.
	AI *ai.Service
	// Seats, Keys and Usage serve the seats of AI roles in rooms, users'
	// provider keys and their token usage; nil: their routes are not
	// registered.
	Seats *service.Seats
	Keys  *service.Keys
	Usage *service.Usage
	// Calls serves GET /api/rooms/:id/call and GET /api/rtc/config
	// (server/signal); nil: the routes are not registered.
	Calls CallService
	// Web serves the browser app at / (Accept: text/html), its deep links
	// and /app/* (server/webui); nil: / answers a small landing page.
	Web WebApp
	// AccessLog writes one line per request (log.access).
	AccessLog bool
	// Export serves GET /api/rooms/:id/export (server/ops); nil: the route
	// is not registered.
	Export RoomExporter
	// Metrics records requests by route pattern, logins and HTTP replays
	// (server/metrics; nil: none).
	Metrics *metrics.Metrics
	// Meetings serves /api/rooms/:id/meetings (server/meeting); nil: the
	// routes are not registered.
	Meetings MeetingService
}

// API is the HTTP layer: handlers plus the Fiber app serving them.
type API struct {
	d       Deps
	app     *fiber.App
	logger  *slog.Logger
	limiter *ipLimiter
	spec    []byte // the OpenAPI document, built once
	docs    []byte // the /docs page, built once
}

// New builds the Fiber app with every route registered.
func New(d Deps) (*API, error) {
	if d.Services == nil {
		return nil, errors.New("httpapi: no services")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Models == nil {
		d.Models = service.BuiltinModels{}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.BodyLimit <= 0 {
		d.BodyLimit = 1 << 20
	}
	if d.Ready == nil {
		d.Ready = func(context.Context) error { return nil }
	}
	a := &API{d: d, logger: d.Logger.With("component", "http")}
	if d.AuthPerMinute > 0 {
		a.limiter = newIPLimiter(d.AuthPerMinute, time.Minute, d.Now)
		if d.SharedLimits != nil {
			a.limiter.shared = &service.SharedWindow{Windows: d.SharedLimits, Scope: "auth_ip", Limit: d.AuthPerMinute,
				Window: time.Minute, Now: a.limiter.now, Logger: a.logger}
		}
	}
	a.app = fiber.New(fiber.Config{
		AppName:               "vcd",
		BodyLimit:             d.BodyLimit,
		ErrorHandler:          a.handleError,
		DisableStartupMessage: true,
		StrictRouting:         false,
		CaseSensitive:         true,
		// Without it fasthttp marks a keep-alive connection that waits for
		// its next request as active, so a graceful shutdown waits for
		// every idle client until the read timeout.
		ReduceMemoryUsage: true,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	})
	a.app.Use(a.requestID, a.accessLog, a.recoverPanic, a.securityHeaders)
	if len(d.CORSOrigins) > 0 {
		a.app.Use(corsMiddleware(d.CORSOrigins))
	}
	rs := a.routes()
	for _, r := range rs {
		h := []fiber.Handler{}
		if r.Auth {
			h = append(h, a.requireAuth)
		}
		if r.RateLimited && a.limiter != nil {
			h = append(h, a.rateLimit)
		}
		h = append(h, r.Handler)
		a.app.Add(r.Method, r.Path, h...)
	}
	a.registerWeb()
	spec, err := buildOpenAPI(rs, d.Version)
	if err != nil {
		return nil, err
	}
	a.spec = spec
	a.docs, err = renderDocs(spec)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// App returns the Fiber app (to serve it, or to test it with app.Test).
func (a *API) App() *fiber.App { return a.app }
