package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

func newModelsCmd(a *app) *cobra.Command {
	var o outputFlags
	var refresh bool
	var provider string
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the AI models the server offers",
		Example: `  vc models
  vc models --provider anthropic --json id --jq '.[].id'`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			stop := a.spin("Fetching models")
			models, err := c.ListModels(ctx, refresh)
			stop()
			if err != nil {
				return fmt.Errorf("list models: %w", err)
			}
			if provider != "" {
				kept := models[:0]
				for _, m := range models {
					if strings.EqualFold(m.Provider, provider) {
						kept = append(kept, m)
					}
				}
				models = kept
			}
			if o.enabled() {
				return a.writeJSON(&o, models, false)
			}
			rows := make([][]string, len(models))
			for i, m := range models {
				ctxLen := ""
				if m.ContextLength > 0 {
					ctxLen = strconv.Itoa(m.ContextLength)
				}
				rows[i] = []string{m.ID, m.Provider, m.Name, ctxLen}
			}
			return a.printTable([]string{"ID", "PROVIDER", "NAME", "CONTEXT"}, rows)
		}),
	}
	cmd.Flags().BoolVar(&refresh, "refresh", false, "refetch the providers' live model lists")
	cmd.Flags().StringVar(&provider, "provider", "", "only the models of `PROVIDER`")
	addOutputFlags(cmd, &o, []api.Model{})
	return cmd
}

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Store and manage your AI provider API keys",
		Long: `Your provider API keys pay for the AI replies you trigger. The server stores
them encrypted and never shows them again, only their last four characters.`,
		Example: `  vc keys add openai
  printf %s "$ANTHROPIC_API_KEY" | vc keys add anthropic
  vc keys list`,
	}
	cmd.AddCommand(newKeysAddCmd(a), newKeysListCmd(a), newKeysRmCmd(a))
	return cmd
}

func newKeysAddCmd(a *app) *cobra.Command {
	var o outputFlags
	var baseURL string
	cmd := &cobra.Command{
		Use:   "add PROVIDER",
		Short: "Store an API key for a provider",
		Long: `Store an API key for PROVIDER (openai, anthropic, openrouter, or a custom
OpenAI-compatible endpoint with --base-url). The key is read from a prompt
without echo, or from stdin when piped; never from an argument, which would
land in the shell history.`,
		Example: `  vc keys add openai
  printf %s "$OPENROUTER_API_KEY" | vc keys add openrouter
  vc keys add ollama --base-url http://127.0.0.1:11434/v1 < key.txt`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return errors.New("which provider? usage: vc keys add PROVIDER")
			case len(args) > 1:
				return errors.New("the key is never taken from an argument: vc keys add PROVIDER reads it from a prompt or from stdin")
			}
			return nil
		},
		ValidArgsFunction: a.completeProvider,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var key string
			var err error
			if a.stdinTTY {
				key, err = a.promptSecret(ctx, args[0]+" API key", "the key on stdin")
			} else {
				key, err = a.readSecretStdin("the API key")
			}
			if err != nil {
				return err
			}
			key = strings.TrimSpace(key)
			if key == "" {
				return errors.New("the API key is empty")
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			k, err := c.AddKey(ctx, api.CreateKeyRequest{Provider: args[0], APIKey: key, BaseURL: baseURL})
			if err != nil {
				return fmt.Errorf("add %s key: %w", args[0], err)
			}
			return a.report(&o, k, "Stored %s key …%s (id %d)", k.Provider, k.LastFour, k.ID)
		},
	}
	cmd.Flags().StringVar(&baseURL, "base-url", "", "the `URL` of an OpenAI-compatible endpoint")
	addOutputFlags(cmd, &o, api.APIKey{})
	return cmd
}

func newKeysListCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your stored keys (never the keys themselves)",
		Example: `  vc keys list
  vc keys list --json id,provider`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			keys, err := c.ListKeys(ctx)
			if err != nil {
				return fmt.Errorf("list keys: %w", err)
			}
			if o.enabled() {
				return a.writeJSON(&o, keys, false)
			}
			if len(keys) == 0 && a.stdoutTTY {
				fmt.Fprintln(a.errOut, "No keys stored: add one with `vc keys add PROVIDER`.")
				return nil
			}
			rows := make([][]string, len(keys))
			for i, k := range keys {
				rows[i] = []string{strconv.FormatInt(k.ID, 10), k.Provider, "…" + k.LastFour, k.BaseURL, a.fmtTime(k.CreatedAt)}
			}
			return a.printTable([]string{"ID", "PROVIDER", "KEY", "BASE URL", "CREATED"}, rows)
		}),
	}
	addOutputFlags(cmd, &o, []api.APIKey{})
	return cmd
}

func newKeysRmCmd(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "rm ID",
		Aliases: []string{"delete"},
		Short:   "Delete a stored key",
		Long: `Delete a stored key: replies it paid for fail until you add another. On a
terminal vc asks for confirmation; scripts pass --yes.`,
		Example: `  vc keys rm 3
  vc keys rm 3 --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := parseID("the key", args[0])
			if err != nil {
				return err
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			if err := a.confirmDestructive(ctx, yes, fmt.Sprintf("Delete key %d?", id)); err != nil {
				return err
			}
			if err := c.DeleteKey(ctx, id); err != nil {
				return fmt.Errorf("delete key %d: %w", id, err)
			}
			return a.done("Deleted key %d", id)
		},
	}
	addYesFlag(cmd, &yes)
	return cmd
}

func newUsageCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show your AI token usage by day and model",
		Example: `  vc usage
  vc usage --jq .used_today`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			u, err := c.Usage(ctx)
			if err != nil {
				return fmt.Errorf("usage: %w", err)
			}
			return a.show(&o, u, func() error { return a.printUsage(ctx, u) })
		}),
	}
	addOutputFlags(cmd, &o, api.UsageReport{})
	return cmd
}

func (a *app) printUsage(_ context.Context, u api.UsageReport) error {
	rows := make([][]string, len(u.Rows))
	for i, r := range u.Rows {
		rows[i] = []string{r.Day, r.Model, strconv.FormatInt(r.Replies, 10), strconv.FormatInt(r.InputTokens, 10), strconv.FormatInt(r.OutputTokens, 10)}
	}
	if err := a.printTable([]string{"DAY", "MODEL", "REPLIES", "INPUT", "OUTPUT"}, rows); err != nil {
		return err
	}
	if a.tableLayout() {
		budget := "off"
		if u.DailyBudget > 0 {
			budget = fmt.Sprintf("%d of %d tokens used today", u.UsedToday, u.DailyBudget)
		}
		fmt.Fprintf(a.out, "total: %d tokens · daily budget: %s\n", u.TotalTokens, budget)
	}
	return nil
}
