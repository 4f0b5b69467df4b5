package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// Error kinds. Every error a service returns is one of these (test with
// errors.Is), a *ValidationError, a *RateLimitError, or an internal error.
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	// ErrUnavailable is store.ErrUnavailable: the database cannot be
	// reached, so the request may succeed later (HTTP 503 with
	// Retry-After; close 1011 on sockets). It is the same value so that a
	// wrapped store error is this kind without a translation at every call.
	ErrUnavailable = store.ErrUnavailable
)

// Error is a domain error with the message shown to the client.
type Error struct {
	// Kind is one of the Err* kinds above.
	Kind error
	// Detail is the human-readable message for the client.
	Detail string
	// Code overrides the default api.Code* of Kind ("" keeps it).
	Code string
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

// BadRequest returns an ErrBadRequest error with the given detail.
func BadRequest(detail string) error { return newError(ErrBadRequest, detail) }

// ValidationError says which request field is invalid and why (HTTP 422).
type ValidationError struct {
	Field   string
	Message string
}

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

func (e *RateLimitError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return "Too many requests"
}
