package config

import (
	"time"

	"github.com/spf13/viper"
)

// RTCConfig configures WebRTC voice calls (config key rtc).
type RTCConfig struct {
	// STUNURLs are handed to clients as ICE servers.
	STUNURLs []string `mapstructure:"stun_urls"`
	// TURNURLs are TURN servers using the shared-secret (REST API) scheme.
	TURNURLs []string `mapstructure:"turn_urls"`
	// TURNSecret is the secret shared with the TURN server.
	TURNSecret string `mapstructure:"turn_secret"`
	// TURNTTL is the lifetime of issued TURN credentials.
	TURNTTL time.Duration `mapstructure:"turn_ttl"`
}

// defaultRTC has no STUN server: calls on a LAN or loopback need none, and a
// daemon must not talk to third parties unless configured to.
func defaultRTC() RTCConfig { return RTCConfig{TURNTTL: 12 * time.Hour} }

func setRTCDefaults(v *viper.Viper, d RTCConfig) {
	v.SetDefault("rtc.stun_urls", d.STUNURLs)
	v.SetDefault("rtc.turn_urls", d.TURNURLs)
	v.SetDefault("rtc.turn_secret", d.TURNSecret)
	v.SetDefault("rtc.turn_ttl", d.TURNTTL)
}

func bindRTCEnv(*viper.Viper) error { return nil }
