package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

func newRoomsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rooms",
		Aliases: []string{"room"},
		Short:   "List, create and manage rooms and their members",
		Long: `Rooms are where people and AI roles talk. A ROOM argument is a room id or the
unique name of one of your rooms.`,
		Example: `  vc rooms list
  vc rooms create general
  vc rooms add general bob`,
	}
	cmd.AddCommand(newRoomsListCmd(a), newRoomsCreateCmd(a), newRoomsShowCmd(a), newRoomsRenameCmd(a),
		newRoomsDeleteCmd(a), newRoomsMembersCmd(a), newRoomsAddCmd(a), newRoomsLeaveCmd(a), newRoomsRolesCmd(a))
	return cmd
}

// newRoomsRolesCmd is vc rooms roles: the room's side of vc roles
// seat/unseat, where people look for it.
func newRoomsRolesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roles",
		Short: "Seat AI roles in a room, list and remove them",
		Example: `  vc rooms roles add general reviewer
  vc rooms roles list general
  vc rooms roles rm general reviewer`,
	}
	add := newRolesSeatCmd(a)
	add.Use, add.Aliases, add.Example = "add ROOM ROLE", []string{"seat"}, "  vc rooms roles add general reviewer"
	rm := newRolesUnseatCmd(a)
	rm.Use, rm.Aliases, rm.Example = "rm ROOM ROLE", []string{"remove", "unseat"}, "  vc rooms roles rm general reviewer --yes"
	var o outputFlags
	list := &cobra.Command{
		Use:               "list ROOM",
		Aliases:           []string{"ls"},
		Short:             "List the roles seated in a room",
		Example:           `  vc rooms roles list general --json id,name`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			roles, err := c.ListRoomRoles(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("list roles of %q: %w", r.Name, err)
			}
			return a.show(&o, roles, func() error { return a.printRoles(roles) })
		}),
	}
	addOutputFlags(list, &o, []api.Role{})
	cmd.AddCommand(add, rm, list)
	return cmd
}

// fmtTime formats a timestamp for tables: local time on a terminal, RFC 3339
// in UTC for scripts.
func (a *app) fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if a.tableLayout() {
		return t.Local().Format("2006-01-02 15:04")
	}
	return t.UTC().Format(time.RFC3339)
}

func (a *app) printRooms(rooms []api.Room) error {
	rows := make([][]string, len(rooms))
	for i, r := range rooms {
		rows[i] = []string{strconv.FormatInt(r.ID, 10), r.Name, strconv.FormatInt(r.LastSeq, 10), a.fmtTime(r.CreatedAt)}
	}
	if len(rows) == 0 && a.stdoutTTY {
		fmt.Fprintln(a.errOut, "No rooms yet: create one with `vc rooms create NAME`.")
		return nil
	}
	return a.printTable([]string{"ID", "NAME", "MESSAGES", "CREATED"}, rows)
}

func newRoomsListCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the rooms you belong to",
		Example: `  vc rooms list
  vc rooms list --json id,name --jq '.[].name'`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			rooms, err := c.ListRooms(ctx)
			if err != nil {
				return fmt.Errorf("list rooms: %w", err)
			}
			return a.show(&o, rooms, func() error { return a.printRooms(rooms) })
		}),
	}
	addOutputFlags(cmd, &o, []api.Room{})
	return cmd
}

func newRoomsCreateCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a room",
		Example: `  vc rooms create general
  id=$(vc rooms create design --jq .id)`,
		Args: cobra.ExactArgs(1),
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			r, err := c.CreateRoom(ctx, args[0])
			if err != nil {
				return fmt.Errorf("create room %q: %w", args[0], err)
			}
			return a.report(&o, r, "Created room %s (id %d)", r.Name, r.ID)
		}),
	}
	addOutputFlags(cmd, &o, api.Room{})
	return cmd
}

// roomDetail is what `vc rooms show --json` prints.
type roomDetail struct {
	ID        int64        `json:"id"`
	Name      string       `json:"name"`
	CreatedBy int64        `json:"created_by"`
	CreatedAt time.Time    `json:"created_at"`
	LastSeq   int64        `json:"last_seq"`
	Members   []api.Member `json:"members"`
	Roles     []api.Role   `json:"roles"`
}

func newRoomsShowCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:     "show ROOM",
		Aliases: []string{"view"},
		Short:   "Show a room with its members and seated roles",
		Example: `  vc rooms show general
  vc rooms show 3 --json members --jq '.members[].username'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			ms, err := c.ListMembers(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("list members of %q: %w", r.Name, err)
			}
			roles, err := c.ListRoomRoles(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("list roles of %q: %w", r.Name, err)
			}
			d := roomDetail{ID: r.ID, Name: r.Name, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, LastSeq: r.LastSeq, Members: ms, Roles: roles}
			if o.enabled() {
				return a.writeJSON(&o, d, false)
			}
			s := a.outStyles()
			fmt.Fprintf(a.out, "%s %s\n", s.bold.Render(r.Name), s.dim.Render(fmt.Sprintf("(id %d)", r.ID)))
			var creator string
			names := make([]string, len(ms))
			for i, m := range ms {
				names[i] = m.Username
				if m.Online {
					names[i] += s.ok.Render("●")
				}
				if m.UserID == r.CreatedBy {
					creator = m.Username
				}
			}
			if creator == "" {
				creator = "user " + strconv.FormatInt(r.CreatedBy, 10)
			}
			fmt.Fprintf(a.out, "created:  %s by %s\n", a.fmtTime(r.CreatedAt), creator)
			fmt.Fprintf(a.out, "messages: %d\n", r.LastSeq)
			fmt.Fprintf(a.out, "members:  %s\n", strings.Join(names, ", "))
			rn := make([]string, len(roles))
			for i, rl := range roles {
				rn[i] = rl.Name
				if rl.Handle != "" {
					rn[i] += s.dim.Render(" @" + rl.Handle)
				}
			}
			if len(rn) == 0 {
				rn = []string{s.dim.Render("none")}
			}
			fmt.Fprintf(a.out, "roles:    %s\n", strings.Join(rn, ", "))
			return nil
		}),
	}
	addOutputFlags(cmd, &o, roomDetail{})
	return cmd
}

func newRoomsRenameCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:               "rename ROOM NAME",
		Short:             "Rename a room (its creator only)",
		Example:           `  vc rooms rename general lobby`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			name := args[1]
			r, err := c.UpdateRoom(ctx, r.ID, api.UpdateRoomRequest{Name: &name})
			if err != nil {
				return fmt.Errorf("rename room %q: %w", args[0], err)
			}
			return a.report(&o, r, "Renamed room %d to %s", r.ID, r.Name)
		}),
	}
	addOutputFlags(cmd, &o, api.Room{})
	return cmd
}

func newRoomsDeleteCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete ROOM",
		Aliases: []string{"rm"},
		Short:   "Delete a room and all its messages (its creator only)",
		Long: `Delete a room and all its messages. On a terminal vc asks for confirmation;
scripts pass --yes.`,
		Example: `  vc rooms delete scratch
  vc rooms delete 7 --yes`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			if err := a.confirmDestructive(ctx, yes, fmt.Sprintf("Delete room %s (id %d) and its %d messages?", r.Name, r.ID, r.LastSeq)); err != nil {
				return err
			}
			if err := c.DeleteRoom(ctx, r.ID); err != nil {
				return fmt.Errorf("delete room %q: %w", r.Name, err)
			}
			return a.done("Deleted room %s (id %d)", r.Name, r.ID)
		}),
	}
	addYesFlag(cmd, &yes)
	return cmd
}

func newRoomsMembersCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "members ROOM",
		Short: "List the members of a room; remove one with members rm",
		Example: `  vc rooms members general
  vc rooms members general --json username,online
  vc rooms members rm general dave`,
		SuggestFor:        []string{"remove", "kick"},
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			ms, err := c.ListMembers(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("list members of %q: %w", r.Name, err)
			}
			if o.enabled() {
				return a.writeJSON(&o, ms, false)
			}
			rows := make([][]string, len(ms))
			for i, m := range ms {
				online := "no"
				if m.Online {
					online = "yes"
				}
				rows[i] = []string{strconv.FormatInt(m.UserID, 10), m.Username, m.Name, online, a.fmtTime(m.JoinedAt)}
			}
			return a.printTable([]string{"ID", "USERNAME", "NAME", "ONLINE", "JOINED"}, rows)
		}),
	}
	addOutputFlags(cmd, &o, []api.Member{})
	cmd.AddCommand(newRoomsMembersRmCmd(a))
	return cmd
}

func newRoomsMembersRmCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "rm ROOM USER",
		Aliases: []string{"remove", "kick"},
		Short:   "Remove a member from a room (its creator only)",
		Long: `Remove USER (a username or user id) from a room. On a terminal vc asks for
confirmation; scripts pass --yes. To leave a room yourself, use vc rooms leave.`,
		Example: `  vc rooms members rm general dave
  vc rooms members rm 3 dave --yes`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: a.completeNames(func(ctx context.Context, c *client.Client, pos int, args []string) ([]string, error) {
			switch pos {
			case 0:
				return roomNames(ctx, c)
			case 1:
				r, err := resolveRoom(ctx, c, args[0])
				if err != nil {
					return nil, err
				}
				ms, err := c.ListMembers(ctx, r.ID)
				if err != nil {
					return nil, err
				}
				out := make([]string, len(ms))
				for i, m := range ms {
					out[i] = m.Username
				}
				return out, nil
			}
			return nil, nil
		}),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			ms, err := c.ListMembers(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("list members of %q: %w", r.Name, err)
			}
			m, ok := findMember(ms, args[1])
			if !ok {
				return fmt.Errorf("%s is not a member of %s (see `vc rooms members %s`)", args[1], r.Name, args[0])
			}
			if err := a.confirmDestructive(ctx, yes, fmt.Sprintf("Remove %s from room %s?", m.Username, r.Name)); err != nil {
				return err
			}
			if err := c.RemoveMember(ctx, r.ID, m.UserID); err != nil {
				return fmt.Errorf("remove %s from %q: %w", m.Username, r.Name, err)
			}
			return a.done("Removed %s from %s", m.Username, r.Name)
		}),
	}
	addYesFlag(cmd, &yes)
	return cmd
}

// findMember finds a member by username (case-insensitively) or user id.
func findMember(ms []api.Member, arg string) (api.Member, bool) {
	for _, m := range ms {
		if m.Username == arg {
			return m, true
		}
	}
	for _, m := range ms {
		if strings.EqualFold(m.Username, arg) || strconv.FormatInt(m.UserID, 10) == arg {
			return m, true
		}
	}
	return api.Member{}, false
}

func newRoomsAddCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:               "add ROOM USER",
		Short:             "Add a user to a room by username",
		Example:           `  vc rooms add general bob`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			m, err := c.AddMember(ctx, r.ID, args[1])
			if err != nil {
				return fmt.Errorf("add %s to %q: %w", args[1], r.Name, err)
			}
			return a.report(&o, m, "Added %s to %s", m.Username, r.Name)
		}),
	}
	addOutputFlags(cmd, &o, api.Member{})
	return cmd
}

func newRoomsLeaveCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "leave ROOM",
		Short: "Leave a room",
		Long: `Leave a room: you stop seeing it until a member adds you again. On a terminal
vc asks for confirmation; scripts pass --yes.`,
		Example: `  vc rooms leave general
  vc rooms leave general --yes`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, r api.Room, args []string) error {
			me, err := c.Me(ctx)
			if err != nil {
				return err
			}
			if err := a.confirmDestructive(ctx, yes, fmt.Sprintf("Leave room %s (id %d)?", r.Name, r.ID)); err != nil {
				return err
			}
			if err := c.RemoveMember(ctx, r.ID, me.ID); err != nil {
				return fmt.Errorf("leave %q: %w", r.Name, err)
			}
			return a.done("Left %s", r.Name)
		}),
	}
	addYesFlag(cmd, &yes)
	return cmd
}
