// Package ai is the reply engine: one streaming chat interface over the LLM
// providers (implemented in the openai and anthropic sub-packages), the
// model catalogue, the context builder, the trigger rules, the limits, the
// orchestrator that streams a role's reply to every member of a room, and
// one-shot generation (generate.go). Seats, keys and usage are services
// (server/service); errors say their kind in the catalogue (server/apierr),
// never an HTTP status.
package ai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/virtual-company/vc/pkg/api"
)

// Provider IDs of the built-in providers. Custom OpenAI-compatible endpoints
// use their configured name.
const (
	ProviderOpenAI     = "openai"
	ProviderAnthropic  = "anthropic"
	ProviderOpenRouter = "openrouter"
)

// Chat turn roles in ChatMessage.Role.
const (
	TurnUser      = "user"
	TurnAssistant = "assistant"
)

// ChatMessage is one turn of a conversation sent to a provider.
type ChatMessage struct {
	Role    string // TurnUser or TurnAssistant
	Content string
}

// ChatRequest is one streaming chat call.
type ChatRequest struct {
	// Model is the provider's own model id (without the provider prefix).
	Model       string
	System      string
	Messages    []ChatMessage
	MaxTokens   int
	Temperature *float64
}

// Credentials say who pays for a call and where it goes. BaseURL overrides
// the provider's configured base URL when set; only a user's stored key
// carries one, so calls with a BaseURL go through the provider's
// user-endpoint client (public addresses only, unless the operator allows
// private ones).
type Credentials struct {
	APIKey  string
	BaseURL string
}

// Usage counts the tokens of one call.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
}

// Result is how a completed stream ended.
type Result struct {
	Usage Usage
	// Truncated is true when the provider stopped because of max_tokens.
	Truncated bool
}

// Provider is one LLM backend. Implementations must be safe for concurrent use.
type Provider interface {
	// ID is the provider id ("openai", "anthropic", "openrouter" or a custom name).
	ID() string
	// StreamChat streams a reply, calling onDelta for every piece of text in
	// order. It returns when the reply is complete, ctx is done, onDelta
	// returns an error, or the provider fails; errors are *Error values.
	StreamChat(ctx context.Context, cred Credentials, req ChatRequest, onDelta func(string) error) (Result, error)
	// ListModels returns the provider's live model list.
	ListModels(ctx context.Context, cred Credentials) ([]api.Model, error)
}

// ErrorKind classifies provider failures.
type ErrorKind int

// Error kinds; Error.Is maps them to the Err* sentinels.
const (
	KindUnavailable ErrorKind = iota // 5xx, connection refused, a stream cut mid-way
	KindAuth                         // 401/403: the key is missing, wrong or revoked
	KindRateLimit                    // 429
	KindBadRequest                   // 400/404/422: unknown model, bad parameters
	KindTimeout                      // the per-reply deadline passed
	KindCanceled                     // the reply was cancelled
)

// Sentinels for errors.Is on provider errors.
var (
	ErrAuth        = errors.New("provider rejected the key")
	ErrRateLimited = errors.New("provider rate limit")
	ErrBadRequest  = errors.New("provider rejected the request")
	ErrUnavailable = errors.New("provider unavailable")
	ErrTimeout     = errors.New("provider timed out")
	ErrCanceled    = errors.New("reply cancelled")
)

// Error is a typed provider failure. It never carries the API key.
type Error struct {
	Kind     ErrorKind
	Provider string
	// Status is the HTTP status the provider answered, 0 when none.
	Status int
	// Message is the provider's own error text (safe to show), if any.
	Message string
	// RetryAfter is the provider's Retry-After hint on 429, if any.
	RetryAfter time.Duration
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Provider, e.sentinel().Error())
	if e.Status != 0 {
		s += fmt.Sprintf(" (%d)", e.Status)
	}
	switch {
	case e.Kind == KindAuth:
		// A provider's own text about a rejected key may quote part of it.
	case e.Message != "":
		s += ": " + e.Message
	case e.Err != nil:
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's kind.
func (e *Error) Is(target error) bool { return target == e.sentinel() }

func (e *Error) sentinel() error {
	switch e.Kind {
	case KindAuth:
		return ErrAuth
	case KindRateLimit:
		return ErrRateLimited
	case KindBadRequest:
		return ErrBadRequest
	case KindTimeout:
		return ErrTimeout
	case KindCanceled:
		return ErrCanceled
	default:
		return ErrUnavailable
	}
}

// KindForStatus maps an HTTP status from a provider to an error kind.
func KindForStatus(status int) ErrorKind {
	switch {
	case status == 401 || status == 403:
		return KindAuth
	case status == 429:
		return KindRateLimit
	case status == 408 || status == 504:
		return KindTimeout
	case status >= 400 && status < 500:
		return KindBadRequest
	default:
		return KindUnavailable
	}
}

// ContextError turns a context error seen while calling a provider into a
// typed error: a deadline is a timeout, anything else a cancellation.
// It returns nil when ctx is not done.
func ContextError(ctx context.Context, provider string) error {
	cause := context.Cause(ctx)
	if cause == nil {
		return nil
	}
	if errors.Is(cause, context.DeadlineExceeded) || errors.Is(cause, ErrTimeout) {
		return &Error{Kind: KindTimeout, Provider: provider, Err: cause}
	}
	return &Error{Kind: KindCanceled, Provider: provider, Err: cause}
}

// MaxIdleConnsPerProvider is how many idle keep-alive connections to one
// provider host the providers' HTTP clients keep. net/http's default of 2
// would close most connections after a burst of concurrent replies and
// open new ones (a TCP, often TLS, handshake before the first token) for
// the next.
const MaxIdleConnsPerProvider = 256

// NewHTTPClient returns the HTTP client a provider uses when none is
// configured: net/http's default transport with MaxIdleConnsPerProvider
// idle connections per host. No overall timeout: replies stream for long;
// the per-reply timeout is the caller's context.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * MaxIdleConnsPerProvider
	t.MaxIdleConnsPerHost = MaxIdleConnsPerProvider
	return &http.Client{Transport: t}
}
