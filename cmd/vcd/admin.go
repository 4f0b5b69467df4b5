package main

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// adminCommand builds `vcd admin`: flags and output only; server/ops does
// the work on the database.
func adminCommand(load loadFunc) *cobra.Command {
	// withAdmin opens the database (migrated) and runs f with an ops.Admin.
	withAdmin := func(cmd *cobra.Command, f func(a *ops.Admin) error) error {
		return withStore(cmd, load, func(cfg config.Config, st *gormstore.Store) error {
			if _, err := st.Migrate(cmd.Context()); err != nil {
				return fmt.Errorf("migrate database: %w", err)
			}
			logger := server.NewLogger(cmd.ErrOrStderr(), cfg.Log)
			return f(&ops.Admin{Store: st, Admins: cfg.Admins, BcryptCost: cfg.BcryptCost, Audit: logger.With("component", "audit")})
		})
	}
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Manage accounts, rooms and invites (works with or without vcd running)",
		Long: `admin changes the database directly, with or without the daemon running.
Disabling a user or resetting a password revokes their tokens the way
logout-all does; a running daemon refuses them within 5 seconds.`,
		Args: cobra.NoArgs,
	}
	var revoke bool
	grant := &cobra.Command{
		Use:   "grant USER",
		Short: "Make USER an administrator (--revoke takes it back)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd, func(a *ops.Admin) error {
				u, err := a.Grant(cmd.Context(), args[0], !revoke)
				if err != nil {
					return err
				}
				verb := "is now an administrator"
				if revoke {
					verb = "is no longer an administrator (unless listed in the config's admins)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", u.Username, verb)
				return nil
			})
		},
	}
	grant.Flags().BoolVar(&revoke, "revoke", false, "take the admin flag back")

	users := &cobra.Command{Use: "users", Short: "List, disable, enable, delete users or reset a password", Args: cobra.NoArgs}
	users.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List every user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, func(a *ops.Admin) error {
				us, err := a.Users(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tADMIN\tDISABLED\tROOMS\tMESSAGES\tCREATED")
				for _, u := range us {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%t\t%d\t%d\t%s\n", u.ID, u.Username, u.Email, u.IsAdmin, u.Disabled,
						u.Rooms, u.Messages, u.CreatedAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	})
	for _, disable := range []bool{true, false} {
		use, short := "enable USER", "Let a disabled user log in again"
		if disable {
			use, short = "disable USER", "Stop a user: refuse logins and revoke every token"
		}
		users.AddCommand(&cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withAdmin(cmd, func(a *ops.Admin) error {
					u, err := a.SetDisabled(cmd.Context(), args[0], disable)
					if err != nil {
						return err
					}
					state := "enabled"
					if disable {
						state = "disabled; their tokens are revoked"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", u.Username, state)
					return nil
				})
			},
		})
	}
	var yes bool
	del := &cobra.Command{
		Use:   "delete USER",
		Short: "Delete a user with their roles, keys and the rooms they created",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return errors.New("deleting a user also deletes the rooms they created; run again with --yes")
			}
			return withAdmin(cmd, func(a *ops.Admin) error {
				u, err := a.DeleteUser(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s (id %d)\n", u.Username, u.ID)
				return nil
			})
		},
	}
	del.Flags().BoolVarP(&yes, "yes", "y", false, "confirm")
	users.AddCommand(del)
	var pwStdin bool
	reset := &cobra.Command{
		Use:   "reset-password USER",
		Short: "Set a new password (generated and printed, or read with --password-stdin) and revoke tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := ""
			if pwStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read password from stdin: %w", err)
				}
				pw = strings.TrimRight(line, "\r\n")
			}
			return withAdmin(cmd, func(a *ops.Admin) error {
				got, err := a.ResetPassword(cmd.Context(), args[0], pw)
				if err != nil {
					return err
				}
				if pwStdin {
					fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed; their tokens are revoked\n", args[0])
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "new password of %s: %s\n", args[0], got)
				}
				return nil
			})
		},
	}
	reset.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the new password from stdin instead of generating one")
	users.AddCommand(reset)

	rooms := &cobra.Command{Use: "rooms", Short: "List or delete rooms", Args: cobra.NoArgs}
	rooms.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List every room",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd, func(a *ops.Admin) error {
				rs, err := a.Rooms(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tCREATOR\tMEMBERS\tMESSAGES\tCREATED")
				for _, r := range rs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\n", r.ID, r.Name, r.Creator, r.Members, r.Messages, r.CreatedAt.UTC().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	})
	var roomYes bool
	roomDel := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a room and its messages",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("room ID %q: must be a positive number (see vcd admin rooms list)", args[0])
			}
			if !roomYes {
				return errors.New("this deletes the room and all its messages; run again with --yes")
			}
			return withAdmin(cmd, func(a *ops.Admin) error {
				r, err := a.DeleteRoom(cmd.Context(), id)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted room %s (id %d)\n", r.Name, r.ID)
				return nil
			})
		},
	}
	roomDel.Flags().BoolVarP(&roomYes, "yes", "y", false, "confirm")
	rooms.AddCommand(roomDel)

	invite := &cobra.Command{Use: "invite", Short: "Create invite codes for auth.registration: invite", Args: cobra.NoArgs}
	var uses int
	var expires string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create an invite code (printed once; only its hash is stored)",
		Example: "  vcd admin invite create --uses 5 --expires 7d",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := ops.ParseExpiry(expires)
			if err != nil {
				return err
			}
			return withAdmin(cmd, func(a *ops.Admin) error {
				code, inv, err := a.CreateInvite(cmd.Context(), uses, d)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
				until := "never expires"
				if inv.ExpiresAt != nil {
					until = "expires " + inv.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "invite for %d registration(s), %s\n", uses, until)
				return nil
			})
		},
	}
	create.Flags().IntVar(&uses, "uses", 1, "how many accounts the code may create")
	create.Flags().StringVar(&expires, "expires", "7d", "lifetime: days (7d), a duration (12h) or never")
	invite.AddCommand(create)

	admin.AddCommand(grant, users, rooms, invite)
	return admin
}
