package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// loadFunc loads the configuration for a subcommand.
type loadFunc func(cmd *cobra.Command) (config.Config, error)

// withStore loads the configuration, opens its database and runs f on it;
// the store is closed when f returns.
func withStore(cmd *cobra.Command, load loadFunc, f func(cfg config.Config, st *gormstore.Store) error) error {
	cfg, err := load(cmd)
	if err != nil {
		return err
	}
	st, err := server.OpenStore(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(cfg, st)
}

// opsCommands are the operator subcommands: they parse flags and call
// server/ops, which does the work.
func opsCommands(load loadFunc) []*cobra.Command {
	backup := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the database to FILE (safe while vcd runs)",
		Long: `backup writes a consistent copy of the SQLite database to FILE while the
daemon keeps running, and checks the copy. On PostgreSQL it prints the pg_dump
command for the configured database instead (and exits 1).`,
		Example: "  vcd backup /var/backups/vc/vcd-$(date +%F).db",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return ops.Backup(cmd.Context(), cfg, args[0], cmd.OutOrStdout())
		},
	}
	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the database with a backup (vcd must be stopped)",
		Long: `restore checks FILE (SQLite integrity check, schema version) and makes it the
database; the current database is kept as <name>.pre-restore. It refuses while
a daemon holds the data directory, and refuses a backup from a newer vcd.`,
		Example: "  systemctl stop vcd && vcd restore vcd-2026-01-31.db && systemctl start vcd",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return ops.Restore(cmd.Context(), cfg, args[0], cmd.OutOrStdout())
		},
	}
	var roomID int64
	var format string
	export := &cobra.Command{
		Use:     "export --room ID",
		Short:   "Print a room's full history (messages, AI replies with model and usage)",
		Example: "  vcd export --room 3 --format markdown > general.md",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if roomID <= 0 {
				return fmt.Errorf("--room ID is required")
			}
			if err := ops.CheckFormat(format); err != nil {
				return err
			}
			return withStore(cmd, load, func(_ config.Config, st *gormstore.Store) error {
				return (&ops.Exporter{Store: st}).Export(cmd.Context(), roomID, format, cmd.OutOrStdout())
			})
		},
	}
	export.Flags().Int64Var(&roomID, "room", 0, "room id")
	export.Flags().StringVar(&format, "format", ops.FormatJSONL, "jsonl or markdown")
	var healthURL string
	var healthTimeout time.Duration
	health := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 when the daemon answers GET /ready (for container health checks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url := healthURL
			if url == "" {
				cfg, err := load(cmd)
				if err != nil {
					return err
				}
				url = ops.ReadyURL(cfg.Listen)
			}
			if err := ops.CheckReady(cmd.Context(), url, healthTimeout); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ready")
			return nil
		},
	}
	health.Flags().StringVar(&healthURL, "url", "", "the /ready URL (default: from the listen address)")
	health.Flags().DurationVar(&healthTimeout, "timeout", 3*time.Second, "give up after this long")
	return []*cobra.Command{backup, restore, export, health}
}
