package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

// groupArgs is the Args of a command group (a command whose only job is to
// hold subcommands): cobra would print the group's help and exit 0 for
// `vc rooms lst`; like gh, vc says the subcommand is unknown, suggests the
// near ones and exits 1.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		b.WriteString("\n\nDid you mean this?\n")
		for _, x := range s {
			fmt.Fprintf(&b, "\t%s\n", x)
		}
	} else {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nRun '%s --help' for usage.", cmd.CommandPath())
	return fmt.Errorf("%s", b.String())
}

// finishTree makes every command group reject unknown subcommands (see
// groupArgs) and adds the usage line to every argument-count error, so that
// a mistyped command exits 1 with a hint instead of printing help and
// succeeding; and it completes --role, --model and --room everywhere.
func (a *app) finishTree(root *cobra.Command) {
	for _, c := range root.Commands() {
		a.finishCommand(c)
	}
}

func (a *app) finishCommand(c *cobra.Command) {
	for _, sub := range c.Commands() {
		a.finishCommand(sub)
	}
	a.addFlagCompletions(c)
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = groupArgs
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		return
	}
	if c.Args == nil {
		return
	}
	check := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w\nUsage: %s", err, cmd.UseLine())
		}
		return nil
	}
}

// addYesFlag adds --yes/-y, which skips the confirmation of a destructive
// command (and is required off a terminal).
func addYesFlag(cmd *cobra.Command, yes *bool) {
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
}

// confirmDestructive asks question on a terminal unless yes; without a
// terminal it fails asking for --yes. Every destructive command goes
// through it, so they all behave the same.
func (a *app) confirmDestructive(ctx context.Context, yes bool, question string) error {
	if yes {
		return nil
	}
	return a.confirm(ctx, question, "--yes")
}

// The helpers below carry what nearly every command repeated: take the
// command's context and a logged-in client (and resolve the ROOM argument),
// then print either the JSON of --json/--jq or a line for people. A
// command's RunE keeps only what is its own.

// clientRun is the body of a command that talks to the server as the
// logged-in user.
type clientRun func(ctx context.Context, c *client.Client, args []string) error

// roomRun is the body of a command whose first argument is a ROOM.
type roomRun func(ctx context.Context, c *client.Client, r api.Room, args []string) error

// withClient is a RunE that opens the client, then runs fn.
func (a *app) withClient(fn clientRun) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		c, err := a.client(ctx)
		if err != nil {
			return err
		}
		return fn(ctx, c, args)
	}
}

// withRoom is a RunE that opens the client and resolves args[0] as a room,
// then runs fn.
func (a *app) withRoom(fn roomRun) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		c, r, err := a.clientAndRoom(ctx, args[0])
		if err != nil {
			return err
		}
		return fn(ctx, c, r, args)
	}
}

// done prints the "✓ what happened" line of a command that changed
// something.
func (a *app) done(format string, args ...any) error {
	_, err := fmt.Fprintf(a.out, "%s "+format+"\n", append([]any{a.outStyles().ok.Render("✓")}, args...)...)
	return err
}

// report prints what a command changed: v as JSON when --json or --jq ask
// for it, else the "✓" line of format and args.
func (a *app) report(o *outputFlags, v any, format string, args ...any) error {
	if o.enabled() {
		return a.writeJSON(o, v, false)
	}
	return a.done(format, args...)
}

// show prints what a command read: v as JSON when --json or --jq ask for
// it, else what human prints.
func (a *app) show(o *outputFlags, v any, human func() error) error {
	if o.enabled() {
		return a.writeJSON(o, v, false)
	}
	return human()
}
