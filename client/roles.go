package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/virtual-company/vc/pkg/api"
)

// ListRoles returns the caller's roles (GET /api/roles/).
func (c *Client) ListRoles(ctx context.Context) ([]api.Role, error) {
	roles := []api.Role{}
	err := c.do(ctx, http.MethodGet, "/api/roles/", nil, nil, &roles)
	return roles, err
}

// CreateRole creates an AI role owned by the caller (POST /api/roles/).
func (c *Client) CreateRole(ctx context.Context, req api.CreateRoleRequest) (api.Role, error) {
	var r api.Role
	err := c.do(ctx, http.MethodPost, "/api/roles/", nil, req, &r)
	return r, err
}

// GetRole returns one role (GET /api/roles/{id}); 404 when not visible.
func (c *Client) GetRole(ctx context.Context, roleID int64) (api.Role, error) {
	var r api.Role
	err := c.do(ctx, http.MethodGet, rolePath(roleID), nil, nil, &r)
	return r, err
}

// UpdateRole changes the non-nil fields of a role (PATCH /api/roles/{id}; owner only).
func (c *Client) UpdateRole(ctx context.Context, roleID int64, req api.UpdateRoleRequest) (api.Role, error) {
	var r api.Role
	err := c.do(ctx, http.MethodPatch, rolePath(roleID), nil, req, &r)
	return r, err
}

// DeleteRole deletes a role (DELETE /api/roles/{id}; owner only).
func (c *Client) DeleteRole(ctx context.Context, roleID int64) error {
	return c.do(ctx, http.MethodDelete, rolePath(roleID), nil, nil, nil)
}

func rolePath(roleID int64) string { return fmt.Sprintf("/api/roles/%d", roleID) }
