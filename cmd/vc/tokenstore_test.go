package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zalando/go-keyring"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// These tests replace go-keyring's provider with its in-memory mock (a
// package-level switch of that library), so they do not run in parallel.

func TestTokenStore_FileWithoutKeyring(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("a keyring is always assumed there")
	}
	keyring.MockInitWithError(errors.New("must not be called"))
	dir := t.TempDir()
	s := newTokenStore(dir, envOf(nil)) // no D-Bus session: no keyring
	ctx := context.Background()
	where, err := s.save(ctx, "default", "http://a:1", "tok-1", storeAuto)
	require.NoError(t, err)
	require.Equal(t, storeFile, where)
	fi, err := os.Stat(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = s.save(ctx, "work", "http://a:1", "tok-2", storeAuto)
	require.NoError(t, err)
	tok, err := s.load(ctx, "default", "http://a:1", storeFile, false)
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
	require.NoError(t, s.remove(ctx, "default", "http://a:1", storeFile, false))
	tok, err = s.load(ctx, "default", "http://a:1", storeFile, false)
	require.NoError(t, err)
	require.Empty(t, tok)
	tok, err = s.load(ctx, "work", "http://a:1", "", false)
	require.NoError(t, err)
	require.Equal(t, "tok-2", tok)
	// The mode stays 0600 after rewrites, even if someone loosened it.
	require.NoError(t, os.Chmod(filepath.Join(dir, "tokens.json"), 0o644))
	_, err = s.save(ctx, "x", "http://a:1", "tok-3", storeFile)
	require.NoError(t, err)
	fi, err = os.Stat(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestTokenStore_Keyring(t *testing.T) {
	keyring.MockInit()
	dir := t.TempDir()
	s := newTokenStore(dir, envOf(map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/fake"}))
	ctx := context.Background()
	where, err := s.save(ctx, "default", "http://a:1", "tok-k", storeAuto)
	require.NoError(t, err)
	require.Equal(t, storeKeyring, where)
	_, err = os.Stat(filepath.Join(dir, "tokens.json"))
	require.True(t, os.IsNotExist(err), "a keyring token is not written to the file")
	tok, err := s.load(ctx, "default", "http://a:1", storeKeyring, false)
	require.NoError(t, err)
	require.Equal(t, "tok-k", tok)
	require.NoError(t, s.remove(ctx, "default", "http://a:1", storeKeyring, false))
	tok, err = s.load(ctx, "default", "http://a:1", storeKeyring, false)
	require.NoError(t, err)
	require.Empty(t, tok)

	// token_store: file skips the keyring.
	where, err = s.save(ctx, "default", "http://a:1", "tok-f", storeFile)
	require.NoError(t, err)
	require.Equal(t, storeFile, where)
}

func TestTokenStore_BrokenKeyringFallsBack(t *testing.T) {
	keyring.MockInitWithError(errors.New("no secret service"))
	dir := t.TempDir()
	s := newTokenStore(dir, envOf(map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/fake"}))
	ctx := context.Background()
	where, err := s.save(ctx, "default", "http://a:1", "tok-1", storeAuto)
	require.NoError(t, err)
	require.Equal(t, storeFile, where, "auto falls back to the file")
	_, err = s.save(ctx, "default", "http://a:1", "tok-1", storeKeyring)
	require.Error(t, err, "an explicit keyring preference reports the failure")
	tok, err := s.load(ctx, "default", "http://a:1", "", false)
	require.NoError(t, err)
	require.Equal(t, "tok-1", tok)
}

func TestTokenStore_KeyedByServerAndLegacy(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("a keyring is always assumed there")
	}
	keyring.MockInitWithError(errors.New("must not be called"))
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	// A file written by an older vc: profile -> token.
	require.NoError(t, os.WriteFile(path, []byte(`{"default": "old-tok"}`), 0o600))
	s := newTokenStore(dir, envOf(nil))
	ctx := context.Background()

	tok, err := s.load(ctx, "default", "http://a:1", "", true)
	require.NoError(t, err)
	require.Equal(t, "old-tok", tok, "the old token serves the profile's own server")
	tok, err = s.load(ctx, "default", "http://b:2", "", false)
	require.NoError(t, err)
	require.Empty(t, tok, "and no other server")

	// Adopted under its server, then a second server's token beside it.
	require.NoError(t, s.adoptLegacy("default", "http://a:1"))
	_, err = s.save(ctx, "default", "http://b:2", "tok-b", storeAuto)
	require.NoError(t, err)
	for srv, want := range map[string]string{"http://a:1": "old-tok", "http://b:2": "tok-b", "http://c:3": ""} {
		tok, err = s.load(ctx, "default", srv, storeFile, false)
		require.NoError(t, err)
		require.Equal(t, want, tok, srv)
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, `{"default": {"http://a:1": "old-tok", "http://b:2": "tok-b"}}`, string(b))
}

func TestNormalizeJSONFlag(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"rooms", "list", "--json", "id,name"}, []string{"rooms", "list", "--json=id,name"}},
		{[]string{"rooms", "list", "--json"}, []string{"rooms", "list", "--json"}},
		{[]string{"send", "x", "--json", "--wait"}, []string{"send", "x", "--json", "--wait"}},
		{[]string{"send", "x", "--", "--json", "id"}, []string{"send", "x", "--", "--json", "id"}},
		{[]string{"history", "x", "--json", "hello world"}, []string{"history", "x", "--json", "hello world"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, normalizeJSONFlag(tt.in))
	}
}
