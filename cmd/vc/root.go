package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newRootCmd builds the vc command tree. Each command group lives in its own
// file and is added here with one line.
func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "vc",
		Short: "Virtual Company from the terminal",
		Long: `vc talks to a vcd server: rooms where people and AI roles talk, one-shot AI
answers, a chat TUI and voice calls. It works the same for people and scripts:
every command that prints data takes --json [FIELDS] and --jq EXPR, it never
prompts when stdin is not a terminal, and it exits 0 (ok), 1 (error),
2 (cancelled) or 4 (authentication required).

Profiles keep several servers apart: "vc login --server URL" stores one,
--profile NAME or VC_PROFILE selects one, --server or VC_SERVER overrides its
server, and VC_TOKEN passes a token without any stored state.`,
		Example: `  vc login --server http://127.0.0.1:8000 --username alice
  vc rooms create general
  echo "hello" | vc send general
  vc tail general
  git diff | vc ask --role reviewer "review this"`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version,
	}
	// vc --version prints what vc version prints (the template is a Go
	// template: the line holds no braces).
	root.SetVersionTemplate(currentVersion().line() + "\n")
	root.Flags().BoolP("version", "v", false, "print vc's version, as vc version does")
	root.PersistentFlags().StringVar(&a.profileFlag, "profile", "", "use the profile `name` (env VC_PROFILE)")
	root.PersistentFlags().StringVar(&a.serverFlag, "server", "", "server `URL`, overriding the profile's (env VC_SERVER)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())
	})
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	root.SetIn(a.in)

	root.AddCommand(newAuthCmd(a))
	root.AddCommand(newLoginCmd(a))
	root.AddCommand(newWhoamiCmd(a))
	root.AddCommand(newRoomsCmd(a))
	root.AddCommand(newRolesCmd(a))
	root.AddCommand(newSendCmd(a))
	root.AddCommand(newHistoryCmd(a))
	root.AddCommand(newTailCmd(a))
	root.AddCommand(newAskCmd(a))
	root.AddCommand(newMeetCmd(a))
	root.AddCommand(newMeetingsCmd(a))
	root.AddCommand(newModelsCmd(a))
	root.AddCommand(newKeysCmd(a))
	root.AddCommand(newUsageCmd(a))
	root.AddCommand(newExportCmd(a))
	root.AddCommand(newConfigCmd(a))
	root.AddCommand(newVersionCmd(a))
	// vc chat (cmd/vc/chat.go) and vc call (cmd/vc/call.go) are added here:
	chat := newChatCmd(a)
	if chat.ValidArgsFunction == nil {
		chat.ValidArgsFunction = a.completeRoomArg()
	}
	root.AddCommand(chat)
	root.AddCommand(newCallCmd(a))
	a.finishTree(root)
	return root
}
