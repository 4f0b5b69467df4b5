package httpapi

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/service"
)

// decodeError is a request body that is not the JSON it should be.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return "Invalid JSON body: " + e.msg }

// ErrorKind implements apierr.Kinded.
func (e *decodeError) ErrorKind() *apierr.Kind { return apierr.InvalidJSON }

// handleError is the one place where errors become responses: the error's
// kind in the catalogue (server/apierr) gives the status and code; domain
// errors bring their detail; anything else is a 500 whose cause is logged
// (once, here) and never sent.
func (a *API) handleError(c *fiber.Ctx, err error) error {
	status, body := classify(err)
	if retry := retryAfter(err); retry > 0 || status == http.StatusTooManyRequests {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
	}
	switch status {
	case http.StatusUnauthorized:
		c.Set(fiber.HeaderWWWAuthenticate, "Bearer")
	case http.StatusServiceUnavailable:
		if c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(unavailableRetryAfter))
		}
	}
	if status >= 500 {
		a.logger.LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.String("request_id", RequestID(c)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Any("err", err),
		)
	}
	return c.Status(status).JSON(body)
}

// retryAfter is when a request that failed with err may be tried again
// (0: not said).
func retryAfter(err error) time.Duration {
	var aerr *apierr.Error
	var rerr *service.RateLimitError
	switch {
	case errors.As(err, &aerr):
		return aerr.RetryAfter
	case errors.As(err, &rerr):
		return rerr.RetryAfter
	}
	return 0
}

// classify maps an error to its status and body.
func classify(err error) (int, api.Error) {
	var (
		aerr *apierr.Error
		verr *service.ValidationError
		rerr *service.RateLimitError
		serr *service.Error
		derr *decodeError
		ferr *fiber.Error
	)
	k := apierr.Of(err)
	switch {
	case errors.As(err, &aerr):
		return aerr.Kind.Status, aerr.Body()
	case errors.As(err, &verr):
		return k.Status, api.Error{Detail: verr.Error(), Code: k.Code, Field: verr.Field}
	case errors.As(err, &rerr):
		return k.Status, api.Error{Detail: rerr.Error(), Code: k.Code}
	case errors.As(err, &derr):
		return k.Status, api.Error{Detail: derr.Error(), Code: k.Code}
	case errors.As(err, &serr):
		return k.Status, api.Error{Detail: serr.Detail, Code: k.Code}
	case errors.As(err, &ferr):
		return fiberError(ferr)
	}
	switch k {
	case apierr.Unavailable:
		return k.Status, api.Error{Detail: "The database is unreachable; try again shortly", Code: k.Code}
	case apierr.Internal:
		return k.Status, api.Error{Detail: "Internal server error", Code: k.Code}
	}
	return k.Status, api.Error{Detail: http.StatusText(k.Status), Code: k.Code}
}

// unavailableRetryAfter is the Retry-After (seconds) of a 503 caused by an
// unreachable database: short, since most outages are a restart or a
// failover, and clients back off further on their own.
const unavailableRetryAfter = 5

// fiberError maps Fiber's own errors (no route, body too large, ...).
func fiberError(e *fiber.Error) (int, api.Error) {
	switch e.Code {
	case http.StatusNotFound:
		return e.Code, api.Error{Detail: "Not Found", Code: apierr.NotFound.Code}
	case http.StatusRequestEntityTooLarge:
		return e.Code, api.Error{Detail: "Request body too large", Code: apierr.TooLarge.Code}
	case http.StatusMethodNotAllowed:
		return e.Code, api.Error{Detail: "Method Not Allowed", Code: apierr.BadRequest.Code}
	}
	if e.Code >= 500 {
		return http.StatusInternalServerError, api.Error{Detail: "Internal server error", Code: apierr.Internal.Code}
	}
	return e.Code, api.Error{Detail: e.Message, Code: apierr.BadRequest.Code}
}
