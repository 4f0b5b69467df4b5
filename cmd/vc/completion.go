package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
)

// modelCacheTTL is how long completion reuses the server's model list:
// fetching it can take seconds (vcd asks every provider), too slow for a
// Tab press, and the list changes rarely. vcd caches it as long.
const modelCacheTTL = 10 * time.Minute

// builtinProviders are the providers vcd knows without configuration; keys
// for custom OpenAI-compatible endpoints take any name.
var builtinProviders = []string{"openai", "anthropic", "openrouter"}

// addFlagCompletions completes the flags that name a role, a model or a
// room on every command that has them, so that new commands get it too.
func (a *app) addFlagCompletions(c *cobra.Command) {
	for name, f := range map[string]cobra.CompletionFunc{
		"role":  a.completeFlag(roleNames),
		"model": a.completeFlag(a.modelIDs),
		"room":  a.completeFlag(roomNames),
	} {
		if c.Flags().Lookup(name) == nil {
			continue
		}
		if _, ok := c.GetFlagCompletionFunc(name); ok {
			continue
		}
		_ = c.RegisterFlagCompletionFunc(name, f)
	}
}

// completeFlag completes a flag value from list.
func (a *app) completeFlag(list func(ctx context.Context, c *client.Client) ([]string, error)) cobra.CompletionFunc {
	return a.completeNames(func(ctx context.Context, c *client.Client, _ int, _ []string) ([]string, error) {
		return list(ctx, c)
	})
}

// completeProvider completes the PROVIDER of vc keys add: the built-in
// providers and those of the (cached) model list.
func (a *app) completeProvider(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := slices.Clone(builtinProviders)
	if m, ok := a.readModelCache(); ok {
		for _, p := range m.Providers {
			if !slices.Contains(names, p) {
				names = append(names, p)
			}
		}
	}
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// modelCache is the cached model list of one server.
type modelCache struct {
	Server    string    `json:"server"`
	FetchedAt time.Time `json:"fetched_at"`
	IDs       []string  `json:"ids"`
	Providers []string  `json:"providers"`
}

// modelCachePath is the cache file of the selected server's model list,
// under $XDG_CACHE_HOME/vc (one file per server).
func (a *app) modelCachePath() (string, error) {
	dir := a.getenv("XDG_CACHE_HOME")
	if dir == "" {
		home := a.getenv("HOME")
		if home == "" {
			h, err := os.UserCacheDir()
			if err != nil {
				return "", err
			}
			dir = h
		} else {
			dir = filepath.Join(home, ".cache")
		}
	}
	srv, err := a.server()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(canonServer(srv)))
	return filepath.Join(dir, "vc", "models-"+hex.EncodeToString(sum[:8])+".json"), nil
}

// readModelCache returns the cached model list if it is fresh.
func (a *app) readModelCache() (modelCache, bool) {
	path, err := a.modelCachePath()
	if err != nil {
		return modelCache{}, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return modelCache{}, false
	}
	var m modelCache
	if json.Unmarshal(b, &m) != nil || time.Since(m.FetchedAt) > modelCacheTTL || time.Since(m.FetchedAt) < 0 {
		return modelCache{}, false
	}
	return m, true
}

// modelIDs returns the ids of the server's models, from the cache when it
// is fresh, else from the server (and caches them).
func (a *app) modelIDs(ctx context.Context, c *client.Client) ([]string, error) {
	if m, ok := a.readModelCache(); ok {
		return m.IDs, nil
	}
	models, err := c.ListModels(ctx, false)
	if err != nil {
		return nil, err
	}
	m := modelCache{Server: c.BaseURL(), FetchedAt: time.Now().UTC()}
	for _, x := range models {
		m.IDs = append(m.IDs, x.ID)
		if x.Provider != "" && !slices.Contains(m.Providers, x.Provider) {
			m.Providers = append(m.Providers, x.Provider)
		}
	}
	if path, err := a.modelCachePath(); err == nil {
		// A cache that cannot be written only costs the next Tab a fetch.
		if os.MkdirAll(filepath.Dir(path), 0o700) == nil {
			if b, err := json.Marshal(m); err == nil {
				_ = os.WriteFile(path, b, 0o600)
			}
		}
	}
	return m.IDs, nil
}
