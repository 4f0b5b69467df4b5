package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/config"
)

// isolate points every default location at empty temp dirs and clears VCD_
// variables, so the machine's own config cannot leak in.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("HOME", dir)
	for _, kv := range os.Environ() {
		if k, _, _ := cutEq(kv); len(k) > 4 && k[:4] == "VCD_" {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	return dir
}

func cutEq(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("vcd", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return fs
}

func TestLoad_Defaults(t *testing.T) {
	dir := isolate(t)
	c, err := config.Load(config.LoadOptions{Flags: flags(t)})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8000", c.Listen)
	require.Equal(t, filepath.Join(dir, "data", "vc"), c.DataDir)
	require.Equal(t, filepath.Join(dir, "data", "vc", "vcd.db"), c.DatabaseURL)
	require.Equal(t, 12, c.BcryptCost)
	require.Equal(t, 24*time.Hour, c.TokenTTL)
	require.Equal(t, 1<<20, c.BodyLimit)
	require.Empty(t, c.SecretKey)
	require.Empty(t, c.CORSOrigins)
}

func TestLoad_Precedence(t *testing.T) {
	dir := isolate(t)
	file := filepath.Join(dir, "vcd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
listen: 127.0.0.1:1111
data_dir: /from/file
database_url: postgres://file/db
bcrypt_cost: 10
token_ttl: 2h
cors_origins: [https://a.example]
rate_limit:
  auth_per_minute: 7
llm:
  default_model: file-model
  openai:
    api_key: file-key
  custom:
    - name: local
      base_url: http://127.0.0.1:11434/v1
      models: [llama3]
rtc:
  stun_urls: [stun:stun.example:3478]
`), 0o600))
	// File over defaults.
	c, err := config.Load(config.LoadOptions{ConfigFile: file, Flags: flags(t)})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1111", c.Listen)
	require.Equal(t, "postgres://file/db", c.DatabaseURL)
	require.Equal(t, 10, c.BcryptCost)
	require.Equal(t, 2*time.Hour, c.TokenTTL)
	require.Equal(t, []string{"https://a.example"}, c.CORSOrigins)
	require.Equal(t, 7, c.RateLimit.AuthPerMinute)
	require.Equal(t, "file-model", c.LLM.DefaultModel)
	require.Equal(t, "file-key", c.LLM.OpenAI.APIKey)
	require.Equal(t, []config.CustomProvider{{Name: "local", BaseURL: "http://127.0.0.1:11434/v1", Models: []string{"llama3"}}}, c.LLM.Custom)
	require.Equal(t, []string{"stun:stun.example:3478"}, c.RTC.STUNURLs)

	// Environment over file.
	t.Setenv("VCD_LISTEN", "127.0.0.1:2222")
	t.Setenv("VCD_DATA_DIR", "/from/env")
	t.Setenv("VCD_DATABASE_URL", "")
	t.Setenv("VCD_SECRET_KEY", "env-secret")
	t.Setenv("VCD_LLM_DEFAULT_MODEL", "env-model")
	t.Setenv("VCD_OPENAI_API_KEY", "env-openai")
	t.Setenv("VCD_ANTHROPIC_BASE_URL", "http://anthropic.local")
	t.Setenv("VCD_RATE_LIMIT_AUTH_PER_MINUTE", "0")
	c, err = config.Load(config.LoadOptions{ConfigFile: file, Flags: flags(t)})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2222", c.Listen)
	require.Equal(t, "/from/env", c.DataDir)
	require.Equal(t, "env-secret", c.SecretKey)
	require.Equal(t, "env-model", c.LLM.DefaultModel)
	require.Equal(t, "env-openai", c.LLM.OpenAI.APIKey)
	require.Equal(t, "http://anthropic.local", c.LLM.Anthropic.BaseURL)
	require.Equal(t, 0, c.RateLimit.AuthPerMinute)

	// Flags over environment.
	c, err = config.Load(config.LoadOptions{ConfigFile: file, Flags: flags(t, "--listen", "127.0.0.1:3333", "--data-dir", "/from/flag", "--database-url", "/tmp/x.db")})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:3333", c.Listen)
	require.Equal(t, "/from/flag", c.DataDir)
	require.Equal(t, "/tmp/x.db", c.DatabaseURL)
}

func TestLoad_DefaultFileLocation(t *testing.T) {
	dir := isolate(t)
	p := filepath.Join(dir, "config", "vc", "vcd.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
	require.NoError(t, os.WriteFile(p, []byte("listen: 127.0.0.1:4444\n"), 0o600))
	c, err := config.Load(config.LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:4444", c.Listen)
}

func TestLoad_Invalid(t *testing.T) {
	dir := isolate(t)
	_, err := config.Load(config.LoadOptions{ConfigFile: filepath.Join(dir, "missing.yaml")})
	require.Error(t, err)
	t.Setenv("VCD_BCRYPT_COST", "99")
	_, err = config.Load(config.LoadOptions{})
	require.ErrorContains(t, err, "bcrypt_cost")
}

func TestSecret_GeneratedOnceWithMode0600(t *testing.T) {
	c := config.Defaults()
	c.DataDir = filepath.Join(t.TempDir(), "data")
	s1, err := c.Secret()
	require.NoError(t, err)
	require.Len(t, s1, 32)
	fi, err := os.Stat(filepath.Join(c.DataDir, config.SecretFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	s2, err := c.Secret()
	require.NoError(t, err)
	require.Equal(t, s1, s2, "kept across restarts")

	c.SecretKey = "configured"
	s3, err := c.Secret()
	require.NoError(t, err)
	require.Equal(t, []byte("configured"), s3)
}
