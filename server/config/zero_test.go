package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/config"
)

// TestZero_MeansNoneOrIsRefused: the defaults are applied when the config
// is loaded, so a 0 that reached the next layer would mean "default" there
// and something else here. A 0 is accepted only where the key says it
// switches the limit off.
func TestZero_MeansNoneOrIsRefused(t *testing.T) {
	for _, tc := range []struct {
		key  string
		set  func(*config.Config)
		want string // "" when 0 is valid (off)
	}{
		{"realtime.max_sockets_per_user", func(c *config.Config) { c.Realtime.MaxSocketsPerUser = 0 }, ""},
		{"realtime.write_timeout", func(c *config.Config) { c.Realtime.WriteTimeout = 0 }, "realtime.write_timeout"},
		{"realtime.typing_interval", func(c *config.Config) { c.Realtime.TypingInterval = 0 }, "realtime.typing_interval"},
		{"llm.max_retries", func(c *config.Config) { c.LLM.MaxRetries = 0 }, ""},
		{"llm.daily_token_budget", func(c *config.Config) { c.LLM.DailyTokenBudget = 0 }, ""},
		{"llm.concurrent_per_user", func(c *config.Config) { c.LLM.ConcurrentPerUser = 0 }, "llm.concurrent_per_user 0"},
		{"llm.concurrent_per_room", func(c *config.Config) { c.LLM.ConcurrentPerRoom = 0 }, "llm.concurrent_per_room 0"},
		{"llm.replies_per_minute", func(c *config.Config) { c.LLM.RepliesPerMinute = 0 }, "llm.replies_per_minute 0"},
		{"llm.max_hops", func(c *config.Config) { c.LLM.MaxHops = 0 }, "llm.max_hops 0"},
		{"llm.max_tokens", func(c *config.Config) { c.LLM.MaxTokens = 0 }, "llm.max_tokens 0"},
		{"llm.history_messages", func(c *config.Config) { c.LLM.HistoryMessages = 0 }, "llm.history_messages 0"},
		{"llm.reply_timeout", func(c *config.Config) { c.LLM.ReplyTimeout = 0 }, "llm.reply_timeout"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := config.Defaults()
			c.DataDir = t.TempDir()
			tc.set(&c)
			err := c.Validate()
			if err == nil {
				err = config.ValidateLLM(c.LLM)
			}
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
	// -1 is "no limit" for the AI limits that say so.
	c := config.Defaults()
	c.LLM.ConcurrentPerUser, c.LLM.RepliesPerMinute = -1, -1
	require.NoError(t, config.ValidateLLM(c.LLM))
	c.LLM.ReplyTimeout = time.Minute
	c.LLM.ConcurrentPerRoom = -2
	require.ErrorContains(t, config.ValidateLLM(c.LLM), "-1 for no limit")
}
