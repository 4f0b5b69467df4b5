package httpapi

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/service"
)

// decodeError is a request body that is not the JSON it should be.
type decodeError struct{ msg string }

func (e *decodeError) Error() string { return "Invalid JSON body: " + e.msg }

// handleError is the one place where errors become responses: domain errors
// map to their status and api.Error body; anything else is a 500 whose cause
// is logged (once, here) and never sent.
func (a *API) handleError(c *fiber.Ctx, err error) error {
	status, body := classify(err)
	if st, b, retry, ok := aiStatus(err); ok {
		status, body = st, b
		if retry != "" {
			c.Set(fiber.HeaderRetryAfter, retry)
		}
	}
	switch status {
	case http.StatusUnauthorized:
		c.Set(fiber.HeaderWWWAuthenticate, "Bearer")
	case http.StatusServiceUnavailable:
		if c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(unavailableRetryAfter))
		}
	case http.StatusTooManyRequests:
		var rl *service.RateLimitError
		if errors.As(err, &rl) {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, int(math.Ceil(rl.RetryAfter.Seconds())))))
		}
	}
	if status >= 500 {
		a.logger.LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.String("request_id", RequestID(c)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.String("error", err.Error()),
		)
	}
	return c.Status(status).JSON(body)
}

// classify maps an error to its status and body.
func classify(err error) (int, api.Error) {
	var (
		verr *service.ValidationError
		rerr *service.RateLimitError
		serr *service.Error
		derr *decodeError
		ferr *fiber.Error
	)
	switch {
	case errors.As(err, &verr):
		return http.StatusUnprocessableEntity, api.Error{Detail: verr.Error(), Code: api.CodeValidation, Field: verr.Field}
	case errors.As(err, &rerr):
		return http.StatusTooManyRequests, api.Error{Detail: rerr.Error(), Code: api.CodeRateLimited}
	case errors.As(err, &derr):
		return http.StatusBadRequest, api.Error{Detail: derr.Error(), Code: api.CodeInvalidJSON}
	case errors.As(err, &serr):
		status, code := kindStatus(serr.Kind)
		if serr.Code != "" {
			code = serr.Code
		}
		return status, api.Error{Detail: serr.Detail, Code: code}
	case errors.As(err, &ferr):
		return fiberError(ferr)
	}
	status, code := kindStatus(err)
	if status == http.StatusServiceUnavailable {
		return status, api.Error{Detail: "The database is unreachable; try again shortly", Code: code}
	}
	if status == http.StatusInternalServerError {
		return status, api.Error{Detail: "Internal server error", Code: api.CodeInternal}
	}
	return status, api.Error{Detail: http.StatusText(status), Code: code}
}

// unavailableRetryAfter is the Retry-After (seconds) of a 503 caused by an
// unreachable database: short, since most outages are a restart or a
// failover, and clients back off further on their own.
const unavailableRetryAfter = 5

func kindStatus(err error) (int, string) {
	switch {
	case errors.Is(err, service.ErrUnavailable):
		return http.StatusServiceUnavailable, api.CodeUnavailable
	case errors.Is(err, service.ErrBadRequest):
		return http.StatusBadRequest, api.CodeBadRequest
	case errors.Is(err, service.ErrUnauthorized):
		return http.StatusUnauthorized, api.CodeUnauthorized
	case errors.Is(err, service.ErrForbidden):
		return http.StatusForbidden, api.CodeForbidden
	case errors.Is(err, service.ErrNotFound):
		return http.StatusNotFound, api.CodeNotFound
	case errors.Is(err, service.ErrConflict):
		return http.StatusConflict, api.CodeConflict
	}
	return http.StatusInternalServerError, api.CodeInternal
}

// fiberError maps Fiber's own errors (no route, body too large, ...).
func fiberError(e *fiber.Error) (int, api.Error) {
	switch e.Code {
	case http.StatusNotFound:
		return e.Code, api.Error{Detail: "Not Found", Code: api.CodeNotFound}
	case http.StatusRequestEntityTooLarge:
		return e.Code, api.Error{Detail: "Request body too large", Code: api.CodeTooLarge}
	case http.StatusMethodNotAllowed:
		return e.Code, api.Error{Detail: "Method Not Allowed", Code: api.CodeBadRequest}
	}
	if e.Code >= 500 {
		return http.StatusInternalServerError, api.Error{Detail: "Internal server error", Code: api.CodeInternal}
	}
	return e.Code, api.Error{Detail: e.Message, Code: api.CodeBadRequest}
}
