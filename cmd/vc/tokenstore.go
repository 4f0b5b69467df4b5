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

// keyringService is the service name of vc's keyring entries; the account
// is "PROFILE@SERVER" (older versions used the profile name alone).
const keyringService = "vc"

// keyringAccount is the keyring account of profile's token for server.
func keyringAccount(profile, server string) string { return profile + "@" + server }

// keyringTimeout bounds every keyring call: a headless session can hang on
// D-Bus activation, and vc must then fall back to the file quickly.
const keyringTimeout = 3 * time.Second

// tokenStore keeps tokens per profile and server URL in the OS keyring when
// one is available, else in tokens.json (mode 0600) next to the config file.
// A token belongs to the server that issued it: keying by server means a
// --server pointing elsewhere never receives it.
//
// tokens.json maps profile -> server URL -> token. Files written by older
// versions map profile -> token; such a token is taken as belonging to the
// profile's configured server (the caller says which, through legacy) and is
// rewritten in the new form on the next save.
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
func (s *tokenStore) save(ctx context.Context, profile, server, token, preference string) (string, error) {
	if preference != storeFile && (preference == storeKeyring || s.keyringAvailable()) {
		err := withTimeout(ctx, func() error { return keyring.Set(keyringService, keyringAccount(profile, server), token) })
		if err == nil {
			// A stale file copy must not shadow the keyring entry.
			_ = s.deleteFile(profile, server)
			return storeKeyring, nil
		}
		if preference == storeKeyring {
			return "", fmt.Errorf("store token in the OS keyring: %w", err)
		}
	}
	if err := s.saveFile(profile, server, token); err != nil {
		return "", err
	}
	return storeFile, nil
}

// load returns the token of profile for server from where (keyring or file;
// "" tries both). legacy says whether a token stored by an older vc for the
// profile alone belongs to server (it does for the profile's own server).
func (s *tokenStore) load(ctx context.Context, profile, server, where string, legacy bool) (string, error) {
	if where == storeKeyring || (where == "" && s.keyringAvailable()) {
		tok, err := s.keyringGet(ctx, keyringAccount(profile, server))
		if err == nil && tok == "" && legacy {
			if tok, err = s.keyringGet(ctx, profile); err == nil && tok != "" {
				// Move it under the new account; the old one is dropped only
				// once the new one is written.
				if withTimeout(ctx, func() error { return keyring.Set(keyringService, keyringAccount(profile, server), tok) }) == nil {
					_ = withTimeout(ctx, func() error { return keyring.Delete(keyringService, profile) })
				}
			}
		}
		if err == nil && tok != "" {
			return tok, nil
		}
		if where == storeKeyring && err != nil {
			return "", fmt.Errorf("read token from the OS keyring: %w", err)
		}
	}
	f, err := s.readFile()
	if err != nil {
		return "", err
	}
	if tok := f.tokens[profile][server]; tok != "" {
		return tok, nil
	}
	if legacy {
		return f.legacy[profile], nil
	}
	return "", nil
}

// keyringGet reads one keyring entry; a missing entry is "" without error.
func (s *tokenStore) keyringGet(ctx context.Context, account string) (string, error) {
	var tok string
	err := withTimeout(ctx, func() error {
		t, err := keyring.Get(keyringService, account)
		tok = t
		return err
	})
	if errors.Is(err, keyring.ErrNotFound) {
		return "", nil
	}
	return tok, err
}

// remove deletes the token of profile for server from both places (and a
// token an older vc stored for the profile alone, when legacy).
func (s *tokenStore) remove(ctx context.Context, profile, server, where string, legacy bool) error {
	if where == storeKeyring || s.keyringAvailable() {
		err := withTimeout(ctx, func() error { return keyring.Delete(keyringService, keyringAccount(profile, server)) })
		if err != nil && !errors.Is(err, keyring.ErrNotFound) && where == storeKeyring {
			return fmt.Errorf("delete token from the OS keyring: %w", err)
		}
		if legacy {
			_ = withTimeout(ctx, func() error { return keyring.Delete(keyringService, profile) })
		}
	}
	if legacy {
		if err := s.deleteLegacy(profile); err != nil {
			return err
		}
	}
	return s.deleteFile(profile, server)
}

// tokenFile is the content of tokens.json.
type tokenFile struct {
	tokens map[string]map[string]string // profile -> server -> token
	legacy map[string]string            // profile -> token, from older versions
}

func (s *tokenStore) readFile() (tokenFile, error) {
	f := tokenFile{tokens: map[string]map[string]string{}, legacy: map[string]string{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read token file: %w", err)
	}
	if len(b) == 0 {
		return f, nil
	}
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &raw); err != nil {
		return f, fmt.Errorf("read token file %s: %w", s.path, err)
	}
	for profile, v := range raw {
		var old string
		if json.Unmarshal(v, &old) == nil {
			f.legacy[profile] = old
			continue
		}
		m := map[string]string{}
		if err := json.Unmarshal(v, &m); err != nil {
			return f, fmt.Errorf("read token file %s: profile %q: %w", s.path, profile, err)
		}
		f.tokens[profile] = m
	}
	return f, nil
}

// writeFile replaces the token file atomically, always with mode 0600.
func (s *tokenStore) writeFile(tf tokenFile) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	m := map[string]any{}
	for p, t := range tf.legacy {
		m[p] = t
	}
	for p, t := range tf.tokens {
		if len(t) > 0 {
			m[p] = t
		}
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

func (s *tokenStore) saveFile(profile, server, token string) error {
	f, err := s.readFile()
	if err != nil {
		return err
	}
	if f.tokens[profile] == nil {
		f.tokens[profile] = map[string]string{}
	}
	f.tokens[profile][server] = token
	return s.writeFile(f)
}

func (s *tokenStore) deleteFile(profile, server string) error {
	f, err := s.readFile()
	if err != nil {
		return err
	}
	if _, ok := f.tokens[profile][server]; !ok {
		return nil
	}
	delete(f.tokens[profile], server)
	return s.writeFile(f)
}

// deleteLegacy drops the token an older vc stored for profile alone.
func (s *tokenStore) deleteLegacy(profile string) error {
	f, err := s.readFile()
	if err != nil {
		return err
	}
	if _, ok := f.legacy[profile]; !ok {
		return nil
	}
	delete(f.legacy, profile)
	return s.writeFile(f)
}

// adoptLegacy keys the token an older vc stored for profile alone by server,
// the server it was issued by.
func (s *tokenStore) adoptLegacy(profile, server string) error {
	f, err := s.readFile()
	if err != nil {
		return err
	}
	tok, ok := f.legacy[profile]
	if !ok {
		return nil
	}
	delete(f.legacy, profile)
	if f.tokens[profile] == nil {
		f.tokens[profile] = map[string]string{}
	}
	if f.tokens[profile][server] == "" {
		f.tokens[profile][server] = tok
	}
	return s.writeFile(f)
}
