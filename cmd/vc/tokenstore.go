package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// Where a profile's token lives.
const (
	storeAuto    = "auto"
	storeKeyring = "keyring"
	storeFile    = "file"
	storeEnv     = "env" // VC_TOKEN: never stored
)

// keyringService is the service name of vc's keyring entries; the profile
// name is the account.
const keyringService = "vc"

// keyringTimeout bounds every keyring call: a headless session can hang on
// D-Bus activation, and vc must then fall back to the file quickly.
const keyringTimeout = 3 * time.Second

// tokenStore keeps tokens per profile in the OS keyring when one is available,
// else in tokens.json (mode 0600) next to the config file.
type tokenStore struct {
	path   string
	getenv func(string) string
}

func newTokenStore(dir string, getenv func(string) string) *tokenStore {
	return &tokenStore{path: filepath.Join(dir, "tokens.json"), getenv: getenv}
}

// keyringAvailable reports quickly whether an OS keyring is likely to answer.
// On Linux and BSDs the Secret Service needs a D-Bus session bus; without one
// (CI, containers, ssh) go-keyring would fail or try to autolaunch D-Bus.
func (s *tokenStore) keyringAvailable() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	default:
		return s.getenv("DBUS_SESSION_BUS_ADDRESS") != ""
	}
}

// withTimeout runs f, giving up after keyringTimeout.
func withTimeout(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, keyringTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("keyring did not answer: %w", ctx.Err())
	}
}

// save stores token for profile and returns where it went. preference is the
// config's token_store (auto, keyring or file).
func (s *tokenStore) save(ctx context.Context, profile, token, preference string) (string, error) {
	if preference != storeFile && (preference == storeKeyring || s.keyringAvailable()) {
		err := withTimeout(ctx, func() error { return keyring.Set(keyringService, profile, token) })
		if err == nil {
			// A stale file copy must not shadow the keyring entry.
			_ = s.deleteFile(profile)
			return storeKeyring, nil
		}
		if preference == storeKeyring {
			return "", fmt.Errorf("store token in the OS keyring: %w", err)
		}
	}
	if err := s.saveFile(profile, token); err != nil {
		return "", err
	}
	return storeFile, nil
}

// load returns the token of profile from where (keyring or file; "" tries both).
func (s *tokenStore) load(ctx context.Context, profile, where string) (string, error) {
	if where == storeKeyring || (where == "" && s.keyringAvailable()) {
		var tok string
		err := withTimeout(ctx, func() error {
			t, err := keyring.Get(keyringService, profile)
			tok = t
			return err
		})
		if err == nil && tok != "" {
			return tok, nil
		}
		if where == storeKeyring && !errors.Is(err, keyring.ErrNotFound) && err != nil {
			return "", fmt.Errorf("read token from the OS keyring: %w", err)
		}
	}
	m, err := s.readFile()
	if err != nil {
		return "", err
	}
	return m[profile], nil
}

// remove deletes the token of profile from both places.
func (s *tokenStore) remove(ctx context.Context, profile, where string) error {
	if where == storeKeyring || s.keyringAvailable() {
		err := withTimeout(ctx, func() error { return keyring.Delete(keyringService, profile) })
		if err != nil && !errors.Is(err, keyring.ErrNotFound) && where == storeKeyring {
			return fmt.Errorf("delete token from the OS keyring: %w", err)
		}
	}
	return s.deleteFile(profile)
}

func (s *tokenStore) readFile() (map[string]string, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	m := map[string]string{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("read token file %s: %w", s.path, err)
		}
	}
	return m, nil
}

// writeFile replaces the token file atomically, always with mode 0600.
func (s *tokenStore) writeFile(m map[string]string) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode token file: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tokens-*.json")
	if err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write token file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	return nil
}

func (s *tokenStore) saveFile(profile, token string) error {
	m, err := s.readFile()
	if err != nil {
		return err
	}
	m[profile] = token
	return s.writeFile(m)
}

func (s *tokenStore) deleteFile(profile string) error {
	m, err := s.readFile()
	if err != nil {
		return err
	}
	if _, ok := m[profile]; !ok {
		return nil
	}
	delete(m, profile)
	return s.writeFile(m)
}
