package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read and change vc's settings and profiles",
		Long: `vc keeps its settings in $XDG_CONFIG_HOME/vc/config.yaml (~/.config/vc without
XDG_CONFIG_HOME). Tokens are never in this file.

Keys:
  current_profile            the profile used without --profile / VC_PROFILE
  token_store                where login stores tokens: auto, keyring or file
  server                     the selected profile's server URL
  username                   the selected profile's username
  default_role               the role vc ask answers as without --role
  default_model              the model vc ask uses without -m
  last_conversation          the room id vc ask -c continues
  profiles.NAME.KEY          KEY of profile NAME (the five keys above)`,
		Example: `  vc config set current_profile work
  vc config set default_role reviewer
  vc config get server --profile work
  vc config view`,
	}
	cmd.AddCommand(newConfigGetCmd(a), newConfigSetCmd(a), newConfigViewCmd(a))
	return cmd
}

func newConfigGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get KEY",
		Short:   "Print one setting",
		Example: `  vc config get current_profile`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			p, err := a.profile()
			if err != nil {
				return err
			}
			key, err := resolveConfigKey(args[0], p)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.out, cfg.v.GetString(key))
			return err
		},
	}
}

func newConfigSetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "set KEY VALUE",
		Short:   "Change one setting",
		Example: `  vc config set token_store file`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			p, err := a.profile()
			if err != nil {
				return err
			}
			key, err := resolveConfigKey(args[0], p)
			if err != nil {
				return err
			}
			val := args[1]
			switch key {
			case keyCurrentProfile:
				if err := validProfileName(val); err != nil {
					return err
				}
			case keyTokenStore:
				if !slices.Contains([]string{storeAuto, storeKeyring, storeFile}, val) {
					return fmt.Errorf("token_store must be auto, keyring or file, not %q", val)
				}
			}
			cfg.v.Set(key, val)
			return cfg.save()
		},
	}
}

func newConfigViewCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:     "view",
		Short:   "Print the whole config file",
		Example: `  vc config view --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			all := cfg.v.AllSettings()
			if o.enabled() {
				return a.writeJSON(&o, all, false)
			}
			if len(all) == 0 {
				fmt.Fprintf(a.errOut, "%s is empty\n", cfg.path)
				return nil
			}
			b, err := yaml.Marshal(all)
			if err != nil {
				return fmt.Errorf("encode config: %w", err)
			}
			_, err = a.out.Write(b)
			return err
		},
	}
	addOutputFlags(cmd, &o, struct{}{})
	return cmd
}
