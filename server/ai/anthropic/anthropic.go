// Package anthropic implements ai.Provider with the official
// anthropic-sdk-go SDK (the Messages API, streamed).
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/ai"
)

// DefaultBaseURL is Anthropic's API root.
const DefaultBaseURL = "https://api.anthropic.com"

// defaultMaxTokens is sent when the request has none: the Messages API
// requires max_tokens.
const defaultMaxTokens = 1024

// Config configures the provider.
type Config struct {
	// BaseURL is where requests go (default DefaultBaseURL).
	BaseURL string
	// MaxRetries for 429 and 5xx before the stream starts (0: none, as
	// llm.max_retries, whose default is 2).
	MaxRetries int
	// HTTPClient replaces the default HTTP client (ai.NewHTTPClient).
	HTTPClient *http.Client
	// UserHTTPClient, when set, makes the calls that go to the base_url of
	// a user's key (ai.NewUserEndpointClient: public addresses only).
	UserHTTPClient *http.Client
}

// Provider talks to the Anthropic Messages API.
type Provider struct {
	client     sdk.Client
	userClient *http.Client
}

// New returns a provider for cfg.
func New(cfg Config) *Provider {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	retries := max(cfg.MaxRetries, 0)
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithMaxRetries(retries),
		// An explicit (empty) key keeps the SDK's environment and profile
		// credential chain out; every call passes its own key.
		option.WithAPIKey(""),
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = ai.NewHTTPClient()
	}
	opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	return &Provider{client: sdk.NewClient(opts...), userClient: cfg.UserHTTPClient}
}

// ID implements ai.Provider.
func (p *Provider) ID() string { return ai.ProviderAnthropic }

func (p *Provider) callOptions(cred ai.Credentials) []option.RequestOption {
	opts := []option.RequestOption{option.WithAPIKey(cred.APIKey)}
	if cred.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cred.BaseURL))
		if p.userClient != nil {
			opts = append(opts, option.WithHTTPClient(p.userClient))
		}
	}
	return opts
}

// messageParams turns a chat request into the Messages API's parameters
// (streamed replies and structured calls alike).
func messageParams(req ai.ChatRequest) sdk.MessageNewParams {
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = defaultMaxTokens
	}
	params := sdk.MessageNewParams{Model: sdk.Model(req.Model), MaxTokens: int64(maxTokens)}
	if req.System != "" {
		params.System = []sdk.TextBlockParam{{Text: req.System}}
	}
	for _, m := range req.Messages {
		if m.Role == ai.TurnAssistant {
			params.Messages = append(params.Messages, sdk.NewAssistantMessage(sdk.NewTextBlock(m.Content)))
		} else {
			params.Messages = append(params.Messages, sdk.NewUserMessage(sdk.NewTextBlock(m.Content)))
		}
	}
	if req.Temperature != nil {
		params.Temperature = sdk.Float(*req.Temperature)
	}
	return params
}

// StreamChat implements ai.Provider.
func (p *Provider) StreamChat(ctx context.Context, cred ai.Credentials, req ai.ChatRequest, onDelta func(string) error) (ai.Result, error) {
	params := messageParams(req)
	stream := p.client.Messages.NewStreaming(ctx, params, p.callOptions(cred)...)
	defer stream.Close()

	var res ai.Result
	stopped := false
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "message_start":
			res.Usage.InputTokens = ev.Message.Usage.InputTokens
			res.Usage.OutputTokens = ev.Message.Usage.OutputTokens
		case "content_block_delta":
			if ev.Delta.Type == "text_delta" && ev.Delta.Text != "" {
				if err := onDelta(ev.Delta.Text); err != nil {
					return res, err
				}
			}
		case "message_delta":
			if ev.Usage.OutputTokens > 0 {
				res.Usage.OutputTokens = ev.Usage.OutputTokens
			}
			if ev.Usage.InputTokens > 0 {
				res.Usage.InputTokens = ev.Usage.InputTokens
			}
			res.Truncated = ev.Delta.StopReason == sdk.StopReasonMaxTokens
		case "message_stop":
			stopped = true
		}
	}
	if err := stream.Err(); err != nil {
		return res, mapError(ctx, err)
	}
	if cerr := ai.ContextError(ctx, ai.ProviderAnthropic); cerr != nil {
		return res, cerr
	}
	if !stopped {
		return res, &ai.Error{Kind: ai.KindUnavailable, Provider: ai.ProviderAnthropic, Message: ai.ErrStreamCut.Error(), Err: ai.ErrStreamCut}
	}
	return res, nil
}

// ListModels implements ai.Provider.
func (p *Provider) ListModels(ctx context.Context, cred ai.Credentials) ([]api.Model, error) {
	page, err := p.client.Models.List(ctx, sdk.ModelListParams{Limit: sdk.Int(1000)}, p.callOptions(cred)...)
	if err != nil {
		return nil, mapError(ctx, err)
	}
	out := make([]api.Model, 0, len(page.Data))
	for _, m := range page.Data {
		name := m.DisplayName
		if name == "" {
			name = m.ID
		}
		out = append(out, api.Model{ID: ai.ProviderAnthropic + "/" + m.ID, Name: name, Provider: ai.ProviderAnthropic, ContextLength: int(m.MaxInputTokens)})
	}
	return out, nil
}

func mapError(ctx context.Context, err error) error {
	if cerr := ai.ContextError(ctx, ai.ProviderAnthropic); cerr != nil {
		return cerr
	}
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		e := &ai.Error{Kind: ai.KindForStatus(apiErr.StatusCode), Provider: ai.ProviderAnthropic, Status: apiErr.StatusCode, Err: err}
		if apiErr.StatusCode == 529 { // overloaded
			e.Kind = ai.KindUnavailable
		}
		var body struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(apiErr.RawJSON()), &body) == nil {
			e.Message = body.Error.Message
		}
		if apiErr.Response != nil {
			e.RetryAfter = retryAfter(apiErr.Response.Header)
		}
		return e
	}
	return &ai.Error{Kind: ai.KindUnavailable, Provider: ai.ProviderAnthropic, Err: err}
}

func retryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second))
		}
	}
	return 0
}

var _ ai.Provider = (*Provider)(nil)
