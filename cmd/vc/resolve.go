package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

// resolveRoom finds a room by id, by NAME#ID, or by unique name among the
// caller's rooms. Rooms can share a name (people keep theirs when they are
// added to another's): a name that matches several lists them as NAME#ID.
func resolveRoom(ctx context.Context, c *client.Client, arg string) (api.Room, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil && id > 0 {
		r, err := c.GetRoom(ctx, id)
		if err == nil {
			return r, nil
		}
		if !client.IsNotFound(err) {
			return api.Room{}, fmt.Errorf("room %s: %w", arg, err)
		}
		// Perhaps a room whose name is a number.
	}
	if name, idStr, ok := strings.Cut(arg, "#"); ok {
		if id, err := strconv.ParseInt(idStr, 10, 64); err == nil && id > 0 {
			r, err := c.GetRoom(ctx, id)
			switch {
			case err == nil && strings.EqualFold(r.Name, name):
				return r, nil
			case err == nil:
				return api.Room{}, fmt.Errorf("room %d is %s, not %q", id, roomRef(r), name)
			case !client.IsNotFound(err):
				return api.Room{}, fmt.Errorf("room %s: %w", arg, err)
			}
			// Perhaps a room whose name has a '#'.
		}
	}
	rooms, err := c.ListRooms(ctx)
	if err != nil {
		return api.Room{}, fmt.Errorf("list rooms: %w", err)
	}
	matches := matchByName(rooms, arg, func(r api.Room) []string { return []string{r.Name} })
	switch len(matches) {
	case 0:
		return api.Room{}, fmt.Errorf("no room %q among your rooms (see `vc rooms list`)", arg)
	case 1:
		return matches[0], nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of your rooms are named %q: name one as NAME#ID (or by its id):", len(matches), arg)
	for _, r := range matches {
		fmt.Fprintf(&b, "\n  %s  (%d messages, created %s)", roomRef(r), r.LastSeq, r.CreatedAt.UTC().Format("2006-01-02"))
	}
	return api.Room{}, errors.New(b.String())
}

// roomRef is the NAME#ID form of a room, which names it even when another
// room has the same name.
func roomRef(r api.Room) string { return r.Name + "#" + strconv.FormatInt(r.ID, 10) }

// resolveRole finds a role by id, or by unique name or @handle among roles
// (the caller's roles when nil).
func resolveRole(ctx context.Context, c *client.Client, arg string, roles []api.Role) (api.Role, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil && id > 0 {
		for _, r := range roles {
			if r.ID == id {
				return r, nil
			}
		}
		r, err := c.GetRole(ctx, id)
		if err == nil {
			return r, nil
		}
		if !client.IsNotFound(err) {
			return api.Role{}, fmt.Errorf("role %s: %w", arg, err)
		}
	}
	where := "the room's roles"
	if roles == nil {
		where = "your roles"
		var err error
		if roles, err = c.ListRoles(ctx); err != nil {
			return api.Role{}, fmt.Errorf("list roles: %w", err)
		}
	}
	name := strings.TrimPrefix(arg, "@")
	matches := matchByName(roles, name, func(r api.Role) []string { return []string{r.Name, r.Handle} })
	switch len(matches) {
	case 0:
		return api.Role{}, fmt.Errorf("no role %q among %s (see `vc roles list`)", arg, where)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, len(matches))
	for i, r := range matches {
		ids[i] = strconv.FormatInt(r.ID, 10)
	}
	return api.Role{}, fmt.Errorf("role name %q is ambiguous (ids %s): use the id", arg, strings.Join(ids, ", "))
}

// matchByName returns the items one of whose names equals name exactly, else
// those that match it case-insensitively.
func matchByName[T any](items []T, name string, names func(T) []string) []T {
	var exact, folded []T
	for _, it := range items {
		ns := names(it)
		if slices.Contains(ns, name) {
			exact = append(exact, it)
			continue
		}
		for _, n := range ns {
			if n != "" && strings.EqualFold(n, name) {
				folded = append(folded, it)
				break
			}
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return folded
}

// parseID parses a positive integer id argument.
func parseID(what, arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s must be a numeric id, not %q", what, arg)
	}
	return id, nil
}

// completeNames returns a completion function for positional arguments: at
// position i, the names list(i) gives (nil: no completion); args are the
// arguments before it.
func (a *app) completeNames(list func(ctx context.Context, c *client.Client, pos int, args []string) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		c, err := a.client(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, err := list(ctx, c, len(args), args)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func roomNames(ctx context.Context, c *client.Client) ([]string, error) {
	rooms, err := c.ListRooms(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for _, r := range rooms {
		seen[strings.ToLower(r.Name)]++
	}
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.Name
		if seen[strings.ToLower(r.Name)] > 1 {
			// A shared name completes to forms that each name one room.
			out[i] = roomRef(r)
		}
	}
	return out, nil
}

func roleNames(ctx context.Context, c *client.Client) ([]string, error) {
	roles, err := c.ListRoles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if r.Handle != "" {
			out = append(out, r.Handle)
		} else {
			out = append(out, r.Name)
		}
	}
	return out, nil
}

// completeRoomArg completes a ROOM first argument.
func (a *app) completeRoomArg() cobra.CompletionFunc {
	return a.completeNames(func(ctx context.Context, c *client.Client, pos int, _ []string) ([]string, error) {
		if pos != 0 {
			return nil, nil
		}
		return roomNames(ctx, c)
	})
}

// completeRoleArg completes a ROLE first argument.
func (a *app) completeRoleArg() cobra.CompletionFunc {
	return a.completeNames(func(ctx context.Context, c *client.Client, pos int, _ []string) ([]string, error) {
		if pos != 0 {
			return nil, nil
		}
		return roleNames(ctx, c)
	})
}

// completeRoomRole completes ROOM ROLE arguments.
func (a *app) completeRoomRole() cobra.CompletionFunc {
	return a.completeNames(func(ctx context.Context, c *client.Client, pos int, _ []string) ([]string, error) {
		switch pos {
		case 0:
			return roomNames(ctx, c)
		case 1:
			return roleNames(ctx, c)
		}
		return nil, nil
	})
}

// clientAndRoom returns the selected profile's client and the room that arg
// names (an id or a unique name): the start of every command about one room.
func (a *app) clientAndRoom(ctx context.Context, arg string) (*client.Client, api.Room, error) {
	c, err := a.client(ctx)
	if err != nil {
		return nil, api.Room{}, err
	}
	r, err := resolveRoom(ctx, c, arg)
	if err != nil {
		return nil, api.Room{}, err
	}
	return c, r, nil
}
