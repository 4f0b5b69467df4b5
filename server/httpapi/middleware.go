package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/logctx"
	"github.com/virtual-company/vc/server/metrics"
	"github.com/virtual-company/vc/server/service"
)

// Locals keys.
const (
	localRequestID = "request_id"
	localUser      = "user"
)

// HeaderRequestID carries the request id both ways.
const HeaderRequestID = "X-Request-ID"

// UserFrom returns the authenticated user of a request that went through
// the auth middleware.
func UserFrom(c *fiber.Ctx) (api.User, bool) {
	u, ok := c.Locals(localUser).(api.User)
	return u, ok
}

// RequestID returns the request's id.
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// requestID takes a sane X-Request-ID from the client or makes one, and
// echoes it in the response.
func (a *API) requestID(c *fiber.Ctx) error {
	id := c.Get(HeaderRequestID)
	if !validRequestID(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	} else {
		id = utils.CopyString(id)
	}
	c.Locals(localRequestID, id)
	c.Set(HeaderRequestID, id)
	c.SetUserContext(logctx.WithRequestID(c.UserContext(), id))
	return c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if ch <= ' ' || ch > '~' {
			return false
		}
	}
	return true
}

// accessLog writes one line per request. It runs the error handler itself so
// that the logged status is the one sent. The path is logged without its
// query string, which may carry a token.
func (a *API) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	mw := c.Route() // this middleware's route: still current after Next when no route matched
	err := c.Next()
	if err != nil {
		if herr := a.handleError(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	if a.d.Metrics != nil {
		route := metrics.RouteUnmatched
		if r := c.Route(); r != mw {
			route = r.Path
		}
		a.d.Metrics.HTTPRequest(c.Method(), route, c.Response().StatusCode(), time.Since(start))
	}
	if !a.d.AccessLog {
		return nil
	}
	status := c.Response().StatusCode()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	a.logger.LogAttrs(c.UserContext(), level, "request",
		slog.String("request_id", RequestID(c)),
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("ip", c.IP()),
	)
	return nil
}

// recoverPanic turns a handler panic into a 500 (logged once, by the error
// handler, with the stack).
func (a *API) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.Next()
}

// securityHeaders sets the usual hardening headers.
func (a *API) securityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	return c.Next()
}

func corsMiddleware(origins []string) fiber.Handler {
	return cors.New(cors.Config{
		AllowOrigins:  strings.Join(origins, ","),
		AllowMethods:  "GET,POST,PATCH,PUT,DELETE,OPTIONS",
		AllowHeaders:  "Authorization,Content-Type,X-Request-ID",
		ExposeHeaders: "X-Request-ID,Retry-After",
		MaxAge:        600,
	})
}

// requireAuth authenticates the bearer token and stores the user in Locals.
func (a *API) requireAuth(c *fiber.Ctx) error {
	token, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
	if !ok {
		return service.Unauthorized("Not authenticated")
	}
	u, err := a.d.Services.Auth.Authenticate(c.UserContext(), token)
	if err != nil {
		return err
	}
	c.Locals(localUser, u)
	return c.Next()
}

// bearerToken extracts the token of an "Authorization: Bearer x" header.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// rateLimit applies the per-IP limit of abuse-prone endpoints. Logins
// count only when they fail, so that a user's right password still works
// from an address where someone else guesses, once its window has room.
func (a *API) rateLimit(c *fiber.Ctx) error {
	ip := a.clientIP(c)
	if c.Route().Path == loginPath {
		if wait := a.limiter.blocked(ip); wait > 0 {
			return &service.RateLimitError{RetryAfter: wait, Detail: "Too many failed logins from this address; try again later"}
		}
		err := c.Next()
		if errors.Is(err, service.ErrUnauthorized) {
			a.limiter.allow(ip)
		}
		return err
	}
	if wait, ok := a.limiter.allow(ip); !ok {
		return &service.RateLimitError{RetryAfter: wait, Detail: "Too many requests; try again later"}
	}
	return c.Next()
}

// loginPath is the route whose failures (not attempts) count per IP.
const loginPath = "/api/auth/login"

// clientIP is the peer's address, or behind a trusted reverse proxy the
// rightmost X-Forwarded-For address that is not a trusted proxy (the
// entries left of it can be forged by the client).
func (a *API) clientIP(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.IP()
	}
	peer = peer.Unmap()
	if !a.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(string(c.Request().Header.Peek(fiber.HeaderXForwardedFor)), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled entry: trust nothing left of it
		}
		if hop = hop.Unmap(); !a.trusted(hop) {
			return hop.String()
		}
		peer = hop
	}
	return peer.String()
}

func (a *API) trusted(ip netip.Addr) bool {
	for _, p := range a.d.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ipLimiter is a fixed-window counter per key.
type ipLimiter struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	now     func() time.Time
	windows map[string]*ipWindow
	// shared counts in the database instead (cluster nodes).
	shared *service.SharedWindow
}

type ipWindow struct {
	start time.Time
	count int
}

func newIPLimiter(limit int, window time.Duration, now func() time.Time) *ipLimiter {
	return &ipLimiter{limit: limit, window: window, now: now, windows: make(map[string]*ipWindow)}
}

// blocked says how long key must wait before its next request (0: none),
// without counting one.
func (l *ipLimiter) blocked(key string) time.Duration {
	if l.shared != nil {
		return l.shared.Blocked(key)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= l.window || w.count < l.limit {
		return 0
	}
	return w.start.Add(l.window).Sub(now)
}

// allow counts one request for key and says whether it may proceed, or how
// long to wait.
func (l *ipLimiter) allow(key string) (time.Duration, bool) {
	if l.shared != nil {
		return l.shared.Hit(key)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.windows) > 10000 {
		for k, w := range l.windows {
			if now.Sub(w.start) >= l.window {
				delete(l.windows, k)
			}
		}
	}
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &ipWindow{start: now}
		l.windows[strings.Clone(key)] = w
	}
	if w.count >= l.limit {
		return w.start.Add(l.window).Sub(now), false
	}
	w.count++
	return 0, true
}
