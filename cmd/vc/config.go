package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/viper"
)

// Config file keys. The file is $XDG_CONFIG_HOME/vc/config.yaml:
//
//	current_profile: default
//	token_store: auto            # auto | keyring | file
//	profiles:
//	  default:
//	    server: http://127.0.0.1:8000
//	    username: alice
//	    default_role: reviewer   # used by vc ask without --role
//	    default_model: ""        # used by vc ask without -m
//	    last_conversation: 0     # room id that vc ask -c continues
//	    token_store: file        # where login put this profile's token
const (
	keyCurrentProfile = "current_profile"
	keyTokenStore     = "token_store"
	keyProfiles       = "profiles"

	pkServer           = "server"
	pkUsername         = "username"
	pkDefaultRole      = "default_role"
	pkDefaultModel     = "default_model"
	pkLastConversation = "last_conversation"
	pkTokenStore       = "token_store"
)

// defaultServer is the server used when no flag, env or profile names one
// (vcd's default listen address).
const defaultServer = "http://127.0.0.1:8000"

// defaultProfile is the profile used when none is selected.
const defaultProfile = "default"

// profileKeys are the settable keys of a profile, in the order `config view`
// documents them.
var profileKeys = []string{pkServer, pkUsername, pkDefaultRole, pkDefaultModel, pkLastConversation}

var profileNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// configStore is the CLI's config file, read and written through Viper.
type configStore struct {
	dir  string
	path string
	v    *viper.Viper
}

// configDir returns $XDG_CONFIG_HOME/vc (or the platform's equivalent).
func configDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "vc"), nil
	}
	if runtime.GOOS == "windows" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("find config directory: %w", err)
		}
		return filepath.Join(d, "vc"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find config directory: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".config", "vc"), nil
}

// loadConfig reads the config file; a missing file is an empty config.
func loadConfig(dir string) (*configStore, error) {
	v := viper.New()
	path := filepath.Join(dir, "config.yaml")
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		var nf viper.ConfigFileNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
	}
	return &configStore{dir: dir, path: path, v: v}, nil
}

// save writes the config file (mode 0600, directory 0700).
func (c *configStore) save() error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	if err := c.v.WriteConfigAs(c.path); err != nil {
		return fmt.Errorf("write config %s: %w", c.path, err)
	}
	if err := os.Chmod(c.path, 0o600); err != nil {
		return fmt.Errorf("write config %s: %w", c.path, err)
	}
	return nil
}

func (c *configStore) currentProfile() string { return c.v.GetString(keyCurrentProfile) }

func (c *configStore) profileGet(profile, key string) string {
	return c.v.GetString(keyProfiles + "." + profile + "." + key)
}

func (c *configStore) profileSet(profile, key string, value any) {
	c.v.Set(keyProfiles+"."+profile+"."+key, value)
}

// hasProfile reports whether profile exists in the file.
func (c *configStore) hasProfile(profile string) bool {
	return c.v.IsSet(keyProfiles + "." + profile)
}

// profiles lists the stored profile names, sorted.
func (c *configStore) profiles() []string {
	m := c.v.GetStringMap(keyProfiles)
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// deleteProfileKey removes key of profile (Viper cannot unset, so the
// profile's map is rewritten without it).
func (c *configStore) deleteProfileKey(profile, key string) {
	m := c.v.GetStringMap(keyProfiles + "." + profile)
	if _, ok := m[key]; !ok {
		return
	}
	delete(m, key)
	all := c.v.GetStringMap(keyProfiles)
	all[profile] = m
	c.v.Set(keyProfiles, all)
}

// validProfileName checks a profile name (profiles are case-insensitive).
func validProfileName(name string) error {
	if !profileNameRE.MatchString(name) {
		return fmt.Errorf("invalid profile name %q: use lowercase letters, digits, '-' and '_'", name)
	}
	return nil
}

// configKeyHelp lists the keys `vc config get|set` accept.
func configKeyHelp() string {
	keys := []string{keyCurrentProfile, keyTokenStore}
	keys = append(keys, profileKeys...)
	for _, k := range profileKeys {
		keys = append(keys, keyProfiles+".NAME."+k)
	}
	return strings.Join(keys, "\n  ")
}

// resolveConfigKey maps a user-facing key to its full Viper key: profile
// keys without a prefix apply to the selected profile.
func resolveConfigKey(key, profile string) (string, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	switch {
	case key == keyCurrentProfile || key == keyTokenStore:
		return key, nil
	case slices.Contains(profileKeys, key):
		return keyProfiles + "." + profile + "." + key, nil
	case strings.HasPrefix(key, keyProfiles+"."):
		parts := strings.Split(key, ".")
		if len(parts) == 3 && validProfileName(parts[1]) == nil && slices.Contains(profileKeys, parts[2]) {
			return key, nil
		}
	}
	return "", fmt.Errorf("unknown config key %q; valid keys:\n  %s", key, configKeyHelp())
}
