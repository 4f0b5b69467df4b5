package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/viper"
)

// RealtimeConfig tunes the chat WebSocket (config key realtime).
type RealtimeConfig struct {
	// MaxSocketsPerUser caps one user's open sockets across rooms, chat and
	// signaling together (a user has at most one signaling socket per room).
	MaxSocketsPerUser int `mapstructure:"max_sockets_per_user"`
	// SendQueue is how many events may wait for one socket before it is
	// dropped as too slow (close 4008).
	SendQueue int `mapstructure:"send_queue"`
	// MaxFrameBytes is the largest frame a client may send (bigger: close 1009).
	MaxFrameBytes int64 `mapstructure:"max_frame_bytes"`
	// PingInterval is how often the server pings each socket.
	PingInterval time.Duration `mapstructure:"ping_interval"`
	// PongWait closes a socket that sent nothing (not even a pong) for this long.
	PongWait time.Duration `mapstructure:"pong_wait"`
	// WriteTimeout bounds one write to a socket.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// TypingInterval is the least time between two relayed typing events of
	// one socket.
	TypingInterval time.Duration `mapstructure:"typing_interval"`
}

func defaultRealtime() RealtimeConfig {
	return RealtimeConfig{
		MaxSocketsPerUser: 64,
		SendQueue:         1024,
		MaxFrameBytes:     64 << 10,
		PingInterval:      30 * time.Second,
		PongWait:          75 * time.Second,
		WriteTimeout:      10 * time.Second,
		TypingInterval:    2 * time.Second,
	}
}

func setRealtimeDefaults(v *viper.Viper, d RealtimeConfig) {
	v.SetDefault("realtime.max_sockets_per_user", d.MaxSocketsPerUser)
	v.SetDefault("realtime.send_queue", d.SendQueue)
	v.SetDefault("realtime.max_frame_bytes", d.MaxFrameBytes)
	v.SetDefault("realtime.ping_interval", d.PingInterval)
	v.SetDefault("realtime.pong_wait", d.PongWait)
	v.SetDefault("realtime.write_timeout", d.WriteTimeout)
	v.SetDefault("realtime.typing_interval", d.TypingInterval)
}

// validateRealtime reports realtime values that cannot work.
func validateRealtime(c RealtimeConfig) error {
	var errs []error
	if c.MaxSocketsPerUser < 0 {
		errs = append(errs, errors.New("realtime.max_sockets_per_user must not be negative (0: no cap)"))
	}
	if c.SendQueue < 1 {
		errs = append(errs, fmt.Errorf("realtime.send_queue %d: must be at least 1", c.SendQueue))
	}
	if c.MaxFrameBytes < 1024 {
		errs = append(errs, fmt.Errorf("realtime.max_frame_bytes %d: must be at least 1024", c.MaxFrameBytes))
	}
	if c.PingInterval <= 0 || c.PongWait <= c.PingInterval {
		errs = append(errs, errors.New("realtime.ping_interval must be positive and below realtime.pong_wait"))
	}
	// 0 would reach the hub as "the default": refused instead (the
	// defaults are applied when the config is loaded).
	if c.WriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("realtime.write_timeout %s: must be positive", c.WriteTimeout))
	}
	if c.TypingInterval <= 0 {
		errs = append(errs, fmt.Errorf("realtime.typing_interval %s: must be positive", c.TypingInterval))
	}
	return errors.Join(errs...)
}
