package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

func newRolesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "roles",
		Aliases: []string{"role"},
		Short:   "Create and manage AI roles and seat them in rooms",
		Long: `Roles are AI characters with their own instructions and model. Seat a role in
a room and it answers messages addressed to it (--role, or an @handle
mention). A ROLE argument is a role id, or the unique name or @handle of one
of your roles.`,
		Example: `  vc roles create --name Reviewer --handle reviewer --instructions-file reviewer.md
  vc roles seat general reviewer
  vc roles list`,
	}
	cmd.AddCommand(newRolesListCmd(a), newRolesCreateCmd(a), newRolesShowCmd(a), newRolesEditCmd(a),
		newRolesDeleteCmd(a), newRolesSeatCmd(a), newRolesUnseatCmd(a))
	return cmd
}

func (a *app) printRoles(roles []api.Role) error {
	if len(roles) == 0 && a.stdoutTTY {
		fmt.Fprintln(a.errOut, "No roles yet: create one with `vc roles create --name NAME`.")
		return nil
	}
	rows := make([][]string, len(roles))
	for i, r := range roles {
		handle := ""
		if r.Handle != "" {
			handle = "@" + r.Handle
		}
		rows[i] = []string{strconv.FormatInt(r.ID, 10), r.Name, handle, r.Model, oneLine(r.Description, 48)}
	}
	return a.printTable([]string{"ID", "NAME", "HANDLE", "MODEL", "DESCRIPTION"}, rows)
}

// oneLine shortens s to one line of at most n runes, for tables.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newRolesListCmd(a *app) *cobra.Command {
	var o outputFlags
	var room string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your roles, or the roles seated in a room",
		Example: `  vc roles list
  vc roles list --room general --json id,name`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			var roles []api.Role
			var err error
			if room != "" {
				r, err := resolveRoom(ctx, c, room)
				if err != nil {
					return err
				}
				if roles, err = c.ListRoomRoles(ctx, r.ID); err != nil {
					return fmt.Errorf("list roles of %q: %w", r.Name, err)
				}
			} else if roles, err = c.ListRoles(ctx); err != nil {
				return fmt.Errorf("list roles: %w", err)
			}
			return a.show(&o, roles, func() error { return a.printRoles(roles) })
		}),
	}
	cmd.Flags().StringVar(&room, "room", "", "list the roles seated in `ROOM` instead")
	addOutputFlags(cmd, &o, []api.Role{})
	return cmd
}

// roleFlags are the fields create and edit take.
type roleFlags struct {
	name, avatar, description, instructions, instructionsFile, handle, model string
	temperature                                                              float64
	maxTokens                                                                int
}

func (f *roleFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "the role's `name`")
	fl.StringVar(&f.avatar, "avatar", "", "an `emoji` or image URL shown next to the role's messages")
	fl.StringVar(&f.description, "description", "", "a short `text` saying what the role does")
	fl.StringVar(&f.instructions, "instructions", "", "the AI instructions (system prompt) as `text`")
	fl.StringVar(&f.instructionsFile, "instructions-file", "", "read the AI instructions from `FILE` (- for stdin)")
	fl.StringVar(&f.handle, "handle", "", "the @`handle` that mentions the role (default: from the name)")
	fl.StringVarP(&f.model, "model", "m", "", "the `model` the role answers with (see vc models)")
	fl.Float64Var(&f.temperature, "temperature", 0, "sampling `temperature`")
	fl.IntVar(&f.maxTokens, "max-tokens", 0, "the most `tokens` in one reply")
	cmd.MarkFlagsMutuallyExclusive("instructions", "instructions-file")
}

// readInstructions returns the instructions of --instructions or
// --instructions-file, and whether one was given.
func (a *app) readInstructions(cmd *cobra.Command, f *roleFlags) (string, bool, error) {
	if cmd.Flags().Changed("instructions") {
		return f.instructions, true, nil
	}
	if !cmd.Flags().Changed("instructions-file") {
		return "", false, nil
	}
	if f.instructionsFile == "-" {
		s, err := a.readStdin(1 << 20)
		return s, true, err
	}
	b, err := os.ReadFile(f.instructionsFile)
	if err != nil {
		return "", false, fmt.Errorf("read instructions: %w", err)
	}
	return string(b), true, nil
}

func newRolesCreateCmd(a *app) *cobra.Command {
	var f roleFlags
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Create an AI role",
		Example: `  vc roles create --name "Product Manager" --handle pm --instructions "You are a pragmatic PM."
  vc roles create Reviewer --instructions-file - < reviewer.md`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				if f.name != "" && f.name != args[0] {
					return errors.New("give the name once: as an argument or with --name")
				}
				f.name = args[0]
			}
			instr, _, err := a.readInstructions(cmd, &f)
			if err != nil {
				return err
			}
			if f.name == "" {
				if f.name, err = a.promptLine(ctx, "Role name", "", "--name"); err != nil {
					return err
				}
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			req := api.CreateRoleRequest{Name: f.name, Avatar: f.avatar, Description: f.description,
				AIInstructions: instr, Handle: f.handle, Model: f.model}
			if cmd.Flags().Changed("temperature") {
				req.Temperature = &f.temperature
			}
			if cmd.Flags().Changed("max-tokens") {
				req.MaxTokens = &f.maxTokens
			}
			r, err := c.CreateRole(ctx, req)
			if err != nil {
				return fmt.Errorf("create role %q: %w", f.name, err)
			}
			return a.report(&o, r, "Created role %s (id %d, @%s)", r.Name, r.ID, r.Handle)
		},
	}
	f.add(cmd)
	addOutputFlags(cmd, &o, api.Role{})
	return cmd
}

func newRolesShowCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:     "show ROLE",
		Aliases: []string{"view"},
		Short:   "Show a role",
		Example: `  vc roles show reviewer
  vc roles show 3 --json ai_instructions --jq .ai_instructions`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoleArg(),
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			r, err := resolveRole(ctx, c, args[0], nil)
			if err != nil {
				return err
			}
			if o.enabled() {
				return a.writeJSON(&o, r, false)
			}
			s := a.outStyles()
			title := r.Name
			if r.Avatar != "" {
				title = r.Avatar + " " + title
			}
			fmt.Fprintf(a.out, "%s %s\n", s.ai.Render(title), s.dim.Render(fmt.Sprintf("(id %d)", r.ID)))
			if r.Handle != "" {
				fmt.Fprintf(a.out, "handle:      @%s\n", r.Handle)
			}
			if r.Model != "" {
				fmt.Fprintf(a.out, "model:       %s\n", r.Model)
			}
			if r.Temperature != nil {
				fmt.Fprintf(a.out, "temperature: %g\n", *r.Temperature)
			}
			if r.MaxTokens != nil {
				fmt.Fprintf(a.out, "max tokens:  %d\n", *r.MaxTokens)
			}
			if r.Description != "" {
				fmt.Fprintf(a.out, "description: %s\n", r.Description)
			}
			if r.AIInstructions != "" {
				fmt.Fprintf(a.out, "instructions:\n%s\n", indent(r.AIInstructions, "  "))
			}
			return nil
		}),
	}
	addOutputFlags(cmd, &o, api.Role{})
	return cmd
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func newRolesEditCmd(a *app) *cobra.Command {
	var f roleFlags
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "edit ROLE",
		Short: "Change a role's fields (its owner only)",
		Long:  `Change the fields given as flags; the others stay as they are.`,
		Example: `  vc roles edit reviewer --model anthropic/claude-sonnet-4-5
  vc roles edit 3 --instructions-file reviewer.md --temperature 0.2`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoleArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			instr, hasInstr, err := a.readInstructions(cmd, &f)
			if err != nil {
				return err
			}
			var req api.UpdateRoleRequest
			changed := hasInstr
			if hasInstr {
				req.AIInstructions = &instr
			}
			for flag, dst := range map[string]**string{"name": &req.Name, "avatar": &req.Avatar,
				"description": &req.Description, "handle": &req.Handle, "model": &req.Model} {
				if cmd.Flags().Changed(flag) {
					v, _ := cmd.Flags().GetString(flag)
					*dst = &v
					changed = true
				}
			}
			if cmd.Flags().Changed("temperature") {
				req.Temperature, changed = &f.temperature, true
			}
			if cmd.Flags().Changed("max-tokens") {
				req.MaxTokens, changed = &f.maxTokens, true
			}
			if !changed {
				return errors.New("nothing to change: pass the fields to change as flags (see vc roles edit --help)")
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			r, err := resolveRole(ctx, c, args[0], nil)
			if err != nil {
				return err
			}
			r, err = c.UpdateRole(ctx, r.ID, req)
			if err != nil {
				return fmt.Errorf("edit role %q: %w", args[0], err)
			}
			return a.report(&o, r, "Updated role %s (id %d)", r.Name, r.ID)
		},
	}
	f.add(cmd)
	addOutputFlags(cmd, &o, api.Role{})
	return cmd
}

func newRolesDeleteCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:               "delete ROLE",
		Aliases:           []string{"rm"},
		Short:             "Delete a role (its owner only)",
		Example:           `  vc roles delete reviewer --yes`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoleArg(),
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			r, err := resolveRole(ctx, c, args[0], nil)
			if err != nil {
				return err
			}
			if err := a.confirmDestructive(ctx, yes, fmt.Sprintf("Delete role %s (id %d)?", r.Name, r.ID)); err != nil {
				return err
			}
			if err := c.DeleteRole(ctx, r.ID); err != nil {
				return fmt.Errorf("delete role %q: %w", r.Name, err)
			}
			return a.done("Deleted role %s (id %d)", r.Name, r.ID)
		}),
	}
	addYesFlag(cmd, &yes)
	return cmd
}

func newRolesSeatCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:               "seat ROOM ROLE",
		Short:             "Seat one of your roles in a room",
		Example:           `  vc roles seat general reviewer`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: a.completeRoomRole(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, room api.Room, args []string) error {
			role, err := resolveRole(ctx, c, args[1], nil)
			if err != nil {
				return err
			}
			seated, err := c.SeatRole(ctx, room.ID, role.ID)
			if err != nil {
				return fmt.Errorf("seat %q in %q: %w", role.Name, room.Name, err)
			}
			return a.report(&o, seated, "Seated %s in %s", seated.Name, room.Name)
		}),
	}
	addOutputFlags(cmd, &o, api.Role{})
	return cmd
}

func newRolesUnseatCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "unseat ROOM ROLE",
		Short: "Remove a role from a room",
		Long: `Remove a role from a room: it stops answering there. On a terminal vc asks
for confirmation; scripts pass --yes.`,
		Example:           `  vc roles unseat general reviewer --yes`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: a.completeRoomRole(),
		RunE: a.withRoom(func(ctx context.Context, c *client.Client, room api.Room, args []string) error {
			seated, err := c.ListRoomRoles(ctx, room.ID)
			if err != nil {
				return fmt.Errorf("list roles of %q: %w", room.Name, err)
			}
			role, err := resolveRole(ctx, c, args[1], seated)
			if err != nil {
				return err
			}
			if err := a.confirmDestructive(ctx, yes, fmt.Sprintf("Remove role %s from room %s?", role.Name, room.Name)); err != nil {
				return err
			}
			if err := c.UnseatRole(ctx, room.ID, role.ID); err != nil {
				return fmt.Errorf("unseat %q from %q: %w", role.Name, room.Name, err)
			}
			return a.done("Unseated %s from %s", role.Name, room.Name)
		}),
	}
	addYesFlag(cmd, &yes)
	return cmd
}
