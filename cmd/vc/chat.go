package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui"
	"github.com/virtual-company/vc/tui/callpanel"
)

func newChatCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chat [ROOM]",
		Short: "Chat full screen with people and AI roles",
		Long: `Open the chat TUI: your rooms with unread counts, the messages of the current
room (AI replies stream in live, with Markdown), its members and seated roles,
and an input line with history, @ completion and slash commands.

When you are not logged in, a login / register form comes first and the new
token is stored in the profile as by "vc login".

Keys: enter sends, alt+enter starts a new line, ctrl+k switches room, tab
cycles focus (or completes an @name), pgup/pgdn and the mouse wheel scroll
(older history loads on demand), / searches the loaded history, ctrl+x or /stop
stops an AI reply, ? shows every key and command, ctrl+c quits.

Typing while the rooms or members panel has the focus goes to the input.

Commands: /join ROOM (or NAME#ID), /create ROOM, /seat ROLE, /role ROLE (the
next message only), /invite USER, /kick USER, /set joins|bell on|off, /stop,
/members, /help, /quit.`,
		Example: `  vc chat
  vc chat general
  NO_COLOR=1 vc chat --profile work`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !a.stdinTTY || !a.stdoutTTY {
				return errors.New("vc chat needs a terminal: in scripts use vc send, vc tail and vc history")
			}
			loggedIn := true
			c, err := a.client(ctx)
			var ae *authError
			if errors.As(err, &ae) {
				loggedIn = false
				c, err = a.anonClient()
			}
			if err != nil {
				return err
			}
			var room string
			if len(args) == 1 {
				room = args[0]
			}
			opts := tui.Options{
				Room:     room,
				Server:   c.BaseURL(),
				LoggedIn: loggedIn,
				OnLogin: func(ctx context.Context, username string, _ api.Token) error {
					// Login already set the client's token; store it like vc login.
					_, err := a.storeLogin(ctx, c, username)
					return err
				},
				// /call, /hangup, m to mute: voice calls in the current room.
				CallPanel: callpanel.New(c, callpanel.Options{Context: ctx}),
			}
			in, ok := a.in.(*os.File)
			if !ok {
				in = os.Stdin
			}
			return tui.Run(ctx, tui.ClientBackend{Client: c}, opts, in, a.out)
		},
	}
	return cmd
}
