package service

import (
	"context"
	"errors"
	"strconv"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/store"
)

const detailRoleNotFound = "Role not found"

// RoleSeats is optionally implemented by the store once roles can be seated
// in rooms: a role is then also visible to the members of those rooms.
type RoleSeats interface {
	RoleVisibleThroughRoom(ctx context.Context, roleID, userID int64) (bool, error)
}

// Roles manages AI roles. A role is visible to its owner (and, through
// RoleSeats, to members of rooms where it is seated); only the owner changes
// or deletes it and sees its ai_instructions.
type Roles struct {
	store  store.Store
	models ModelChecker
}

// ModelChecker checks a role's model when it is set (server/ai implements
// it): an error (a *ValidationError) refuses the model; a warning accepts a
// model that could not be checked and says why.
type ModelChecker interface {
	CheckModel(ctx context.Context, userID int64, model string) (warning string, err error)
}

// SetModelChecker makes role create and update check models with m (nil:
// no check). Call it while wiring the server, before it serves requests.
func (s *Roles) SetModelChecker(m ModelChecker) { s.models = m }

// checkModel runs the model checker, if any, on a model being set.
func (s *Roles) checkModel(ctx context.Context, userID int64, model string) (string, error) {
	if s.models == nil || model == "" {
		return "", nil
	}
	return s.models.CheckModel(ctx, userID, model)
}

// RoleOf converts a stored role to its API shape; ai_instructions is only
// shown to the owner.
func RoleOf(r store.Role, viewerID int64) api.Role {
	out := api.Role{ID: r.ID, UserID: r.UserID, Name: r.Name, Avatar: r.Avatar, Description: r.Description,
		AIInstructions: r.AIInstructions, CreatedAt: r.CreatedAt.UTC(), Handle: r.Handle, Model: r.Model,
		Temperature: r.Temperature, MaxTokens: r.MaxTokens}
	if viewerID != r.UserID {
		out.AIInstructions = ""
	}
	return out
}

// Create makes a role owned by userID. Without a handle one is derived from
// the name, made unique among the owner's roles with a -2, -3, ... suffix.
func (s *Roles) Create(ctx context.Context, userID int64, req api.CreateRoleRequest) (api.Role, error) {
	if err := ValidateCreateRole(req); err != nil {
		return api.Role{}, err
	}
	warning, err := s.checkModel(ctx, userID, req.Model)
	if err != nil {
		return api.Role{}, err
	}
	r := store.Role{UserID: userID, Name: req.Name, Avatar: req.Avatar, Description: req.Description,
		AIInstructions: req.AIInstructions, Model: req.Model, Temperature: req.Temperature, MaxTokens: req.MaxTokens}
	if req.Handle != "" {
		r.Handle = normalizeHandle(req.Handle)
		if err := s.store.CreateRole(ctx, &r); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return api.Role{}, Conflict("You already have a role with handle @" + r.Handle)
			}
			return api.Role{}, internal("create role", err)
		}
		return withWarning(RoleOf(r, userID), warning), nil
	}
	base := DeriveHandle(req.Name)
	for i := 1; ; i++ {
		r.Handle = base
		if i > 1 {
			suffix := "-" + strconv.Itoa(i)
			r.Handle = base[:min(len(base), MaxHandleLen-len(suffix))] + suffix
		}
		err := s.store.CreateRole(ctx, &r)
		if err == nil {
			return withWarning(RoleOf(r, userID), warning), nil
		}
		if !errors.Is(err, store.ErrConflict) || i >= 1000 {
			return api.Role{}, internal("create role", err)
		}
	}
}

// List returns the caller's roles.
func (s *Roles) List(ctx context.Context, userID int64) ([]api.Role, error) {
	rs, err := s.store.RolesByOwner(ctx, userID)
	if err != nil {
		return nil, internal("list roles", err)
	}
	out := make([]api.Role, len(rs))
	for i, r := range rs {
		out[i] = RoleOf(r, userID)
	}
	return out, nil
}

// visible returns the role if userID may see it, ErrNotFound otherwise.
func (s *Roles) visible(ctx context.Context, userID, roleID int64) (store.Role, error) {
	r, err := s.store.RoleByID(ctx, roleID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Role{}, NotFound(detailRoleNotFound)
	case err != nil:
		return store.Role{}, internal("find role", err)
	}
	if r.UserID == userID {
		return r, nil
	}
	if seats, ok := s.store.(RoleSeats); ok {
		ok, err := seats.RoleVisibleThroughRoom(ctx, roleID, userID)
		if err != nil {
			return store.Role{}, internal("find role", err)
		}
		if ok {
			return r, nil
		}
	}
	return store.Role{}, NotFound(detailRoleNotFound)
}

// Get returns a role visible to userID.
func (s *Roles) Get(ctx context.Context, userID, roleID int64) (api.Role, error) {
	r, err := s.visible(ctx, userID, roleID)
	if err != nil {
		return api.Role{}, err
	}
	return RoleOf(r, userID), nil
}

// Stored returns the full stored role (with instructions) if userID may see
// it; for server-side use (AI replies), never for output.
func (s *Roles) Stored(ctx context.Context, userID, roleID int64) (store.Role, error) {
	return s.visible(ctx, userID, roleID)
}

func (s *Roles) owned(ctx context.Context, userID, roleID int64, action string) (store.Role, error) {
	r, err := s.visible(ctx, userID, roleID)
	if err != nil {
		return store.Role{}, err
	}
	if r.UserID != userID {
		return store.Role{}, Forbidden("Only the role's owner may " + action + " it")
	}
	return r, nil
}

// Update changes the given fields of a role (owner only).
func (s *Roles) Update(ctx context.Context, userID, roleID int64, req api.UpdateRoleRequest) (api.Role, error) {
	r, err := s.owned(ctx, userID, roleID, "change")
	if err != nil {
		return api.Role{}, err
	}
	if err := ValidateUpdateRole(req); err != nil {
		return api.Role{}, err
	}
	var warning string
	if req.Model != nil && *req.Model != r.Model {
		if warning, err = s.checkModel(ctx, userID, *req.Model); err != nil {
			return api.Role{}, err
		}
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&r.Name, req.Name)
	set(&r.Avatar, req.Avatar)
	set(&r.Description, req.Description)
	set(&r.AIInstructions, req.AIInstructions)
	set(&r.Model, req.Model)
	if req.Handle != nil {
		r.Handle = normalizeHandle(*req.Handle)
	}
	if req.Temperature != nil {
		r.Temperature = req.Temperature
	}
	if req.MaxTokens != nil {
		r.MaxTokens = req.MaxTokens
	}
	if err := s.store.UpdateRole(ctx, r); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			return api.Role{}, Conflict("You already have a role with handle @" + r.Handle)
		case errors.Is(err, store.ErrNotFound):
			return api.Role{}, NotFound(detailRoleNotFound)
		}
		return api.Role{}, internal("update role", err)
	}
	return withWarning(RoleOf(r, userID), warning), nil
}

func withWarning(r api.Role, warning string) api.Role {
	r.Warning = warning
	return r
}

// Delete removes a role (owner only).
func (s *Roles) Delete(ctx context.Context, userID, roleID int64) error {
	if _, err := s.owned(ctx, userID, roleID, "delete"); err != nil {
		return err
	}
	if err := s.store.DeleteRole(ctx, roleID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFound(detailRoleNotFound)
		}
		return internal("delete role", err)
	}
	return nil
}
