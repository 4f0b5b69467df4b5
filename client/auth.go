package client

import (
	"context"
	"net/http"

	"github.com/virtual-company/vc/pkg/api"
)

// Register creates an account (POST /api/auth/register). It does not log in.
func (c *Client) Register(ctx context.Context, req api.RegisterRequest) (api.User, error) {
	var u api.User
	err := c.do(ctx, http.MethodPost, "/api/auth/register", nil, req, &u)
	return u, err
}

// Login exchanges a username (or email) and password for a token
// (POST /api/auth/login) and makes the client use it.
func (c *Client) Login(ctx context.Context, username, password string) (api.Token, error) {
	var t api.Token
	err := c.do(ctx, http.MethodPost, "/api/auth/login", nil, api.LoginRequest{Username: username, Password: password}, &t)
	if err != nil {
		return api.Token{}, err
	}
	c.SetToken(t.AccessToken)
	return t, nil
}

// Me returns the authenticated user (GET /api/auth/me).
func (c *Client) Me(ctx context.Context) (api.User, error) {
	var u api.User
	err := c.do(ctx, http.MethodGet, "/api/auth/me", nil, nil, &u)
	return u, err
}

// LogoutAll invalidates every token of the caller, this one included
// (POST /api/auth/logout-all).
func (c *Client) LogoutAll(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/auth/logout-all", nil, nil, nil)
}

// ChangePassword replaces the caller's password (POST /api/auth/password).
// Every earlier token is revoked; the client switches to the fresh token
// the server answers.
func (c *Client) ChangePassword(ctx context.Context, current, newPassword string) (api.Token, error) {
	var t api.Token
	err := c.do(ctx, http.MethodPost, "/api/auth/password", nil, api.ChangePasswordRequest{CurrentPassword: current, NewPassword: newPassword}, &t)
	if err != nil {
		return api.Token{}, err
	}
	c.SetToken(t.AccessToken)
	return t, nil
}

// DeleteAccount deletes the caller's account, confirmed by its password
// (DELETE /api/auth/me).
func (c *Client) DeleteAccount(ctx context.Context, password string) error {
	return c.do(ctx, http.MethodDelete, "/api/auth/me", nil, api.DeleteAccountRequest{Password: password}, nil)
}

// Health reports whether the server is up (GET /health).
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var h api.Health
	err := c.do(ctx, http.MethodGet, "/health", nil, nil, &h)
	return h, err
}

// Ready reports whether the server can serve requests, its database
// included (GET /ready); a non-ready server answers 503 with a detail.
func (c *Client) Ready(ctx context.Context) (api.Health, error) {
	var h api.Health
	err := c.do(ctx, http.MethodGet, "/ready", nil, nil, &h)
	return h, err
}
