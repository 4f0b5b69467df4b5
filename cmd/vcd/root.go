package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/connlimit"
	"github.com/virtual-company/vc/server/gctune"
	"github.com/virtual-company/vc/server/store/gormstore"
	"github.com/virtual-company/vc/web"
)

// newRootCmd builds `vcd` (serve) with its subcommands.
func newRootCmd() *cobra.Command {
	var configFile string
	load := func(cmd *cobra.Command) (config.Config, error) {
		return config.Load(config.LoadOptions{ConfigFile: configFile, Flags: cmd.Flags()})
	}
	root := &cobra.Command{
		Use:   "vcd",
		Short: "Virtual Company daemon",
		Long: `vcd serves the Virtual Company API: accounts, rooms, AI roles, realtime chat
and voice call signaling. Configuration comes from flags, VCD_* environment
variables, a config file ($XDG_CONFIG_HOME/vc/vcd.yaml or /etc/vc/vcd.yaml)
and defaults, in that order.`,
		Example:       "  vcd --listen 127.0.0.1:8000 --data-dir ./data\n  VCD_DATABASE_URL=postgres://vc@db/vc vcd",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			logger := server.NewLogger(os.Stderr, cfg.Log)
			// Every connection is a descriptor: run with all the kernel allows
			// (http.max_conns is derived from the result).
			if before, soft, hard, err := connlimit.RaiseFileLimit(); err != nil {
				logger.Warn("raise open file limit", "soft", before, "hard", hard, "err", err)
			} else {
				logger.Info("open file limit", "soft_before", before, "soft", soft, "hard", hard)
			}
			defer gctune.Start(uint64(cfg.GCMinHeapMiB) << 20).Stop()
			srv, err := server.New(cfg, logger, server.WithWeb(web.FS()))
			if err != nil {
				return err
			}
			return srv.Run(cmd.Context())
		},
	}
	root.PersistentFlags().StringVar(&configFile, "config", "", "config file (default $XDG_CONFIG_HOME/vc/vcd.yaml, then /etc/vc/vcd.yaml)")
	config.AddFlags(root.PersistentFlags())

	root.AddCommand(&cobra.Command{
		Use:     "migrate",
		Short:   "Apply pending database migrations and exit",
		Example: "  vcd migrate --database-url postgres://vc@db/vc",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, load, func(_ config.Config, st *gormstore.Store) error {
				v, err := st.Migrate(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "database schema at version %d\n", v)
				return nil
			})
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "vcd %s\n", server.Version)
		},
	})
	root.AddCommand(opsCommands(load)...)
	root.AddCommand(adminCommand(load))
	return root
}
