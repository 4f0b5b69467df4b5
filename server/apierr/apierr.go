// Package apierr is the catalogue of the errors vcd shows its clients: one
// table saying, for every kind of error, its wire code (an api.Code*
// constant), its HTTP status and the WebSocket close code of a socket it
// ends. The services and the AI engine only say which kind an error is;
// httpapi, realtime and signal read the table, so a new kind is one line
// here. Besides this package only server/httpapi knows HTTP statuses.
//
// A *Kind is itself an error, so kinds serve as sentinels: the service
// package's ErrNotFound is apierr.NotFound, and errors.Is works as before.
package apierr

import (
	"errors"
	"net/http"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/store"
)

// Kind is one entry of the catalogue.
type Kind struct {
	// Code is the stable wire code (api.Code*).
	Code string
	// Status is the HTTP status of an answer failing with this kind.
	Status int
	// Close is the WebSocket close code when this kind refuses or ends a
	// socket (0: it never does).
	Close int
	// text is the error text of the bare kind.
	text string
	// parent is the broader kind this one refines: errors.Is(k, parent)
	// holds, so callers testing the broad kind still match.
	parent *Kind
}

// Error returns the kind's short text ("not found").
func (k *Kind) Error() string { return k.text }

// Unwrap returns the broader kind k refines (nil for most).
func (k *Kind) Unwrap() error {
	if k.parent == nil {
		return nil
	}
	return k.parent
}

// ErrorKind implements Kinded: a bare kind is of its own kind.
func (k *Kind) ErrorKind() *Kind { return k }

// Kinded is an error that says its kind. errors.As finds the outermost one
// in a chain.
type Kinded interface {
	error
	ErrorKind() *Kind
}

// The catalogue. Codes and statuses are part of the API (docs/api.md).
var (
	// BadRequest: the request cannot be served as sent. On the chat
	// socket, ?after= ahead of the room (4009).
	BadRequest = &Kind{Code: api.CodeBadRequest, Status: http.StatusBadRequest, Close: wsproto.CloseBadRequest, text: "bad request"}
	// InvalidJSON: the body is not valid JSON for the route.
	InvalidJSON = &Kind{Code: api.CodeInvalidJSON, Status: http.StatusBadRequest, text: "invalid JSON"}
	// Validation: a field is missing or invalid (the error names it).
	Validation = &Kind{Code: api.CodeValidation, Status: http.StatusUnprocessableEntity, text: "validation failed"}
	// Unauthorized: no, bad, expired or revoked token; a wrong login.
	Unauthorized = &Kind{Code: api.CodeUnauthorized, Status: http.StatusUnauthorized, Close: wsproto.ClosePolicy, text: "unauthorized"}
	// Revoked: the token of an open socket was revoked or expired.
	Revoked = &Kind{Code: api.CodeUnauthorized, Status: http.StatusUnauthorized, Close: wsproto.CloseRevoked, text: "token revoked", parent: Unauthorized}
	// Forbidden: not allowed (not the owner or creator, registration
	// closed, an invalid invite).
	Forbidden = &Kind{Code: api.CodeForbidden, Status: http.StatusForbidden, Close: wsproto.ClosePolicy, text: "forbidden"}
	// NotFound: no such thing, or not visible to the caller.
	NotFound = &Kind{Code: api.CodeNotFound, Status: http.StatusNotFound, Close: wsproto.ClosePolicy, text: "not found"}
	// Conflict: taken (handle, membership, a seat).
	Conflict = &Kind{Code: api.CodeConflict, Status: http.StatusConflict, text: "conflict"}
	// Taken: an email or username already registered. 400, as the API
	// this one is compatible with answers; a BadRequest to errors.Is.
	Taken = &Kind{Code: api.CodeConflict, Status: http.StatusBadRequest, text: "bad request", parent: BadRequest}
	// RoomNameTaken: one of the caller's rooms has that name; a Conflict
	// to errors.Is.
	RoomNameTaken = &Kind{Code: api.CodeRoomNameTaken, Status: http.StatusConflict, text: "conflict", parent: Conflict}
	// TooLarge: the body or a message is over its size limit.
	TooLarge = &Kind{Code: api.CodeTooLarge, Status: http.StatusRequestEntityTooLarge, Close: wsproto.CloseTooBig, text: "too large"}
	// RateLimited: too many requests (or replies); retry later.
	RateLimited = &Kind{Code: api.CodeRateLimited, Status: http.StatusTooManyRequests, text: "rate limited"}
	// TooManySockets: more sockets than a user may hold open.
	TooManySockets = &Kind{Code: api.CodeRateLimited, Status: http.StatusTooManyRequests, Close: wsproto.CloseTooMany, text: "too many sockets", parent: RateLimited}
	// BudgetExceeded: the payer's daily token budget is spent.
	BudgetExceeded = &Kind{Code: api.CodeBudgetExceeded, Status: http.StatusTooManyRequests, text: "budget exceeded"}
	// Internal: a bug or an outage; the cause is logged, never shown.
	Internal = &Kind{Code: api.CodeInternal, Status: http.StatusInternalServerError, Close: wsproto.CloseInternal, text: "internal error"}
	// Unavailable: the database cannot be reached; worth retrying.
	Unavailable = &Kind{Code: api.CodeUnavailable, Status: http.StatusServiceUnavailable, Close: wsproto.CloseInternal, text: "unavailable"}
	// CallFull: a call has all the peers it takes; try again later.
	CallFull = &Kind{Code: api.CodeUnavailable, Status: http.StatusServiceUnavailable, Close: wsproto.CloseTryAgainLater, text: "the call is full"}
	// ShuttingDown: the daemon is stopping; what was sent was not acted on.
	ShuttingDown = &Kind{Code: api.CodeShuttingDown, Status: http.StatusServiceUnavailable, Close: wsproto.CloseGoingAway, text: "server shutting down"}

	// NoAPIKey: no key for the provider a reply needs.
	NoAPIKey = &Kind{Code: api.CodeNoAPIKey, Status: http.StatusBadRequest, text: "no API key"}
	// ProviderAuth: the AI provider refused the key.
	ProviderAuth = &Kind{Code: api.CodeProviderAuth, Status: http.StatusBadGateway, text: "provider rejected the key"}
	// ProviderRateLimited: the AI provider's own rate limit.
	ProviderRateLimited = &Kind{Code: api.CodeProviderLimited, Status: http.StatusTooManyRequests, text: "provider rate limit"}
	// ProviderBadRequest: the provider refused the request (an unknown
	// model, bad parameters).
	ProviderBadRequest = &Kind{Code: api.CodeProviderError, Status: http.StatusBadRequest, text: "provider rejected the request"}
	// ProviderTimeout: the reply did not finish within llm.reply_timeout.
	ProviderTimeout = &Kind{Code: api.CodeProviderError, Status: http.StatusGatewayTimeout, text: "provider timed out"}
	// ProviderUnavailable: the provider failed or could not be reached.
	ProviderUnavailable = &Kind{Code: api.CodeProviderError, Status: http.StatusBadGateway, text: "provider unavailable"}
	// ReplyFailed: a reply failed on the server's side; a gateway error
	// to the caller of /api/llm/generate, as every failed reply is.
	ReplyFailed = &Kind{Code: api.CodeInternal, Status: http.StatusBadGateway, text: "reply failed"}
	// Canceled: the reply was cancelled (the caller went away, or a
	// member sent ai_cancel). 499 is nginx's "client closed request".
	Canceled = &Kind{Code: api.CodeCanceled, Status: 499, text: "reply cancelled"}
)

// All lists every kind of the catalogue (for documentation and tests).
func All() []*Kind {
	return []*Kind{
		BadRequest, InvalidJSON, Validation, Unauthorized, Revoked, Forbidden, NotFound,
		Conflict, Taken, RoomNameTaken, TooLarge, RateLimited, TooManySockets, BudgetExceeded,
		Internal, Unavailable, CallFull, ShuttingDown,
		NoAPIKey, ProviderAuth, ProviderRateLimited, ProviderBadRequest, ProviderTimeout,
		ProviderUnavailable, ReplyFailed, Canceled,
	}
}

// Of returns the kind of err: the outermost Kinded error in its chain;
// Unavailable for a store that cannot be reached; Internal otherwise.
func Of(err error) *Kind {
	var k Kinded
	if errors.As(err, &k) {
		if kind := k.ErrorKind(); kind != nil {
			return kind
		}
	}
	if errors.Is(err, store.ErrUnavailable) {
		return Unavailable
	}
	return Internal
}

// Error is an error of a kind with what the client is told: ntfy's
// errHTTP, without the status (the Kind has it).
type Error struct {
	Kind *Kind
	// Detail is the sentence shown to the client.
	Detail string
	// Field names the offending request field, if any.
	Field string
	// RetryAfter is when the request may succeed again (0: not said).
	RetryAfter time.Duration
	// Err is the cause, for logs and errors.Is; never shown.
	Err error
}

func (e *Error) Error() string { return e.Detail }

// ErrorKind implements Kinded.
func (e *Error) ErrorKind() *Kind { return e.Kind }

// Unwrap returns the kind and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Body is the api.Error body of err, with the detail a client may see.
func (e *Error) Body() api.Error {
	return api.Error{Detail: e.Detail, Code: e.Kind.Code, Field: e.Field}
}
