package server

import (
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/realtime"
)

// realtimeOptions maps the realtime config section to the hub's options.
func realtimeOptions(cfg config.Config) realtime.Options {
	rc := cfg.Realtime
	// The values mean the same in both layers (0 in max_sockets_per_user:
	// no cap); the defaults come from the config.
	return realtime.Options{
		SendQueue:         rc.SendQueue,
		MaxSocketsPerUser: rc.MaxSocketsPerUser,
		MaxFrameBytes:     rc.MaxFrameBytes,
		PingInterval:      rc.PingInterval,
		PongWait:          rc.PongWait,
		WriteTimeout:      rc.WriteTimeout,
		TypingInterval:    rc.TypingInterval,
	}
}
