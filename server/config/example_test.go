package config_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/config"
)

// TestExampleDocumentsEveryKey keeps configs/vcd.example.yaml complete: every
// key vcd knows must appear in it, and it must load.
func TestExampleDocumentsEveryKey(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "..", "..", "configs", "vcd.example.yaml")
	v := viper.New()
	v.SetConfigFile(path)
	require.NoError(t, v.ReadInConfig())
	documented := map[string]bool{}
	for _, k := range v.AllKeys() {
		documented[k] = true
	}
	for _, k := range config.Keys() {
		require.True(t, documented[k], "configs/vcd.example.yaml does not document %q", k)
	}

	isolate(t)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "vcd.yaml")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	c, err := config.Load(config.LoadOptions{ConfigFile: p})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8000", c.Listen)
}
