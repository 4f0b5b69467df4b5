package server

import (
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/realtime"
)

// realtimeOptions maps the realtime config section to the hub's options.
func realtimeOptions(cfg config.Config) realtime.Options {
	rc := cfg.Realtime
	o := realtime.Options{
		SendQueue:         rc.SendQueue,
		MaxSocketsPerUser: rc.MaxSocketsPerUser,
		MaxFrameBytes:     rc.MaxFrameBytes,
		PingInterval:      rc.PingInterval,
		PongWait:          rc.PongWait,
		WriteTimeout:      rc.WriteTimeout,
		TypingInterval:    rc.TypingInterval,
	}
	if rc.MaxSocketsPerUser == 0 {
		o.MaxSocketsPerUser = -1 // 0 in the config: no cap
	}
	return o
}
