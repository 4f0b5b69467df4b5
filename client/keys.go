package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/virtual-company/vc/pkg/api"
)

// AddKey stores a provider API key for the caller, encrypted at rest
// (POST /api/keys). The answer shows the last four characters only.
func (c *Client) AddKey(ctx context.Context, req api.CreateKeyRequest) (api.APIKey, error) {
	var k api.APIKey
	err := c.do(ctx, http.MethodPost, "/api/keys", nil, req, &k)
	return k, err
}

// ListKeys returns the caller's stored keys, never the keys themselves
// (GET /api/keys).
func (c *Client) ListKeys(ctx context.Context) ([]api.APIKey, error) {
	keys := []api.APIKey{}
	err := c.do(ctx, http.MethodGet, "/api/keys", nil, nil, &keys)
	return keys, err
}

// DeleteKey deletes a stored key (DELETE /api/keys/{id}).
func (c *Client) DeleteKey(ctx context.Context, keyID int64) error {
	return c.do(ctx, http.MethodDelete, fmt.Sprintf("/api/keys/%d", keyID), nil, nil, nil)
}

// Usage returns the caller's token usage by day and model and their daily
// budget (GET /api/usage).
func (c *Client) Usage(ctx context.Context) (api.UsageReport, error) {
	var u api.UsageReport
	err := c.do(ctx, http.MethodGet, "/api/usage", nil, nil, &u)
	return u, err
}

// RTCConfig returns the ICE servers for voice calls (GET /api/rtc/config).
func (c *Client) RTCConfig(ctx context.Context) (api.RTCConfig, error) {
	var r api.RTCConfig
	err := c.do(ctx, http.MethodGet, "/api/rtc/config", nil, nil, &r)
	return r, err
}
