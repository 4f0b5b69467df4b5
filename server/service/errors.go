package service

import (
	"fmt"
	"time"

	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/store"
)

// Error kinds. Every error a service returns is one of these (test with
// errors.Is), a *ValidationError, a *RateLimitError, or an internal error.
// They are entries of the error catalogue (server/apierr), which says how
// each reaches a client; a service never chooses a status or a code.
var (
	ErrBadRequest   error = apierr.BadRequest
	ErrUnauthorized error = apierr.Unauthorized
	ErrForbidden    error = apierr.Forbidden
	ErrNotFound     error = apierr.NotFound
	ErrConflict     error = apierr.Conflict
	// ErrUnavailable is store.ErrUnavailable: the database cannot be
	// reached, so the request may succeed later (HTTP 503 with
	// Retry-After; close 1011 on sockets). It is the same value so that a
	// wrapped store error is this kind without a translation at every call.
	ErrUnavailable = store.ErrUnavailable
)

// Error is a domain error with the message shown to the client.
type Error struct {
	// Kind is one of the Err* kinds above, or a narrower apierr kind
	// (apierr.Taken, apierr.RoomNameTaken) that errors.Is still reports
	// as its broader one.
	Kind error
	// Detail is the human-readable message for the client.
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// Unwrap returns the kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, detail string) error { return &Error{Kind: kind, Detail: detail} }

// NotFound returns an ErrNotFound error with the given detail.
func NotFound(detail string) error { return newError(ErrNotFound, detail) }

// Forbidden returns an ErrForbidden error with the given detail.
func Forbidden(detail string) error { return newError(ErrForbidden, detail) }

// Unauthorized returns an ErrUnauthorized error with the given detail.
func Unauthorized(detail string) error { return newError(ErrUnauthorized, detail) }

// Conflict returns an ErrConflict error with the given detail.
func Conflict(detail string) error { return newError(ErrConflict, detail) }

// ValidationError says which request field is invalid and why (HTTP 422).
type ValidationError struct {
	Field   string
	Message string
}

// ErrorKind implements apierr.Kinded.
func (e *ValidationError) ErrorKind() *apierr.Kind { return apierr.Validation }

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// Invalid returns a *ValidationError.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// RateLimitError says the caller must wait RetryAfter (HTTP 429).
type RateLimitError struct {
	RetryAfter time.Duration
	Detail     string
}

// ErrorKind implements apierr.Kinded.
func (e *RateLimitError) ErrorKind() *apierr.Kind { return apierr.RateLimited }

func (e *RateLimitError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return "Too many requests"
}
