package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newExportCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export ROOM",
		Short: "Print a room's full history (for leaving or auditing)",
		Long: `Print every message of a room, oldest first, with the model and token usage
of AI replies: as JSON lines (one message per line, the default) or as a
Markdown transcript.`,
		Example: `  vc export general > general.jsonl
  vc export general --format markdown > general.md`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeRoomArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "jsonl" && format != "markdown" {
				return fmt.Errorf("--format %q: use jsonl or markdown", format)
			}
			ctx := cmd.Context()
			c, room, err := a.clientAndRoom(ctx, args[0])
			if err != nil {
				return err
			}
			if err := c.ExportRoom(ctx, room.ID, format, a.out); err != nil {
				return fmt.Errorf("export %q: %w", room.Name, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "jsonl", "jsonl or markdown")
	return cmd
}
