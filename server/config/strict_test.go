package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/config"
)

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "vcd.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoad_UnknownFileKey(t *testing.T) {
	dir := isolate(t)
	file := writeConfig(t, dir, "lisen: 127.0.0.1:9999\n")
	_, err := config.Load(config.LoadOptions{ConfigFile: file})
	require.ErrorContains(t, err, `unknown config key "lisen" (did you mean "listen"?)`)
	var uk *config.UnknownKeyError
	require.True(t, errors.As(err, &uk))
	require.Equal(t, "lisen", uk.Key)
	require.Equal(t, "listen", uk.Suggestion)
}

func TestLoad_UnknownNestedFileKey(t *testing.T) {
	dir := isolate(t)
	for _, tc := range []struct{ body, want string }{
		{"llm:\n  opneai:\n    api_key: x\n", `unknown config key "llm.opneai.api_key" (did you mean "llm.openai.api_key"?)`},
		{"realtime:\n  send_queu: 10\n", `unknown config key "realtime.send_queu" (did you mean "realtime.send_queue"?)`},
		{"Shutdown_Timeout: 5s\nnothing_like_any_key_at_all: 1\n", `unknown config key "nothing_like_any_key_at_all"` + "\n"},
	} {
		file := writeConfig(t, dir, tc.body)
		_, err := config.Load(config.LoadOptions{ConfigFile: file})
		require.Error(t, err, tc.body)
		require.Contains(t, err.Error()+"\n", tc.want, tc.body)
	}
}

// TestLoad_DefaultFileUnknownKey: the file found in the default location is
// checked too, not only --config.
func TestLoad_DefaultFileUnknownKey(t *testing.T) {
	dir := isolate(t)
	p := filepath.Join(dir, "config", "vc", "vcd.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
	require.NoError(t, os.WriteFile(p, []byte("lisen: 127.0.0.1:4444\n"), 0o600))
	_, err := config.Load(config.LoadOptions{})
	require.ErrorContains(t, err, `unknown config key "lisen" (did you mean "listen"?)`)
}

func TestLoad_KnownKeysStillLoad(t *testing.T) {
	dir := isolate(t)
	// Lists of sections are leaves: their items' keys are not config keys.
	file := writeConfig(t, dir, `
listen: 127.0.0.1:5555
LOG:
  Level: debug
llm:
  custom:
    - name: local
      base_url: http://127.0.0.1:11434/v1
`)
	c, err := config.Load(config.LoadOptions{ConfigFile: file})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:5555", c.Listen)
	require.Equal(t, "debug", c.Log.Level)
	require.Len(t, c.LLM.Custom, 1)
}

func TestLoad_UnknownEnv(t *testing.T) {
	isolate(t)
	t.Setenv("VCD_LISEN", "127.0.0.1:9999")
	_, err := config.Load(config.LoadOptions{})
	require.ErrorContains(t, err, `unknown config key "VCD_LISEN" (did you mean "VCD_LISTEN"?)`)

	os.Unsetenv("VCD_LISEN")
	t.Setenv("VCD_REALTIME_SEND_QUEU", "5")
	_, err = config.Load(config.LoadOptions{})
	require.ErrorContains(t, err, `unknown config key "VCD_REALTIME_SEND_QUEU" (did you mean "VCD_REALTIME_SEND_QUEUE"?)`)
}

func TestLoad_KnownEnvAccepted(t *testing.T) {
	isolate(t)
	// Automatic names, the short provider aliases and their long forms.
	t.Setenv("VCD_LISTEN", "127.0.0.1:6666")
	t.Setenv("VCD_OPENAI_API_KEY", "k1")
	t.Setenv("VCD_LLM_ANTHROPIC_API_KEY", "k2")
	t.Setenv("VCD_REALTIME_SEND_QUEUE", "7")
	t.Setenv("VCD_RTC_TURN_TTL", "1h")
	c, err := config.Load(config.LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:6666", c.Listen)
	require.Equal(t, "k1", c.LLM.OpenAI.APIKey)
	require.Equal(t, "k2", c.LLM.Anthropic.APIKey)
	require.Equal(t, 7, c.Realtime.SendQueue)
}

// TestKeys_AreStructKeys: every key with a registered default is a Config
// field, so the struct-derived set the unknown-key check uses covers every
// documented key. (The struct has a few more: referer and title of every
// provider, used by OpenRouter only.)
func TestKeys_AreStructKeys(t *testing.T) {
	require.Subset(t, config.StructKeys(), config.Keys())
}
