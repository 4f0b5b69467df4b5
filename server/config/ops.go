package config

import (
	"fmt"
	"net"

	"github.com/spf13/viper"
)

// AuthConfig configures accounts.
type AuthConfig struct {
	// Registration is open (anyone may register), closed (nobody may) or
	// invite (POST /api/auth/register needs an invite code from vcd admin
	// invite create).
	Registration string `mapstructure:"registration"`
}

// MetricsConfig configures the Prometheus metrics (server/metrics).
type MetricsConfig struct {
	// Listen is the address of the metrics listener, which serves only
	// /metrics (e.g. 127.0.0.1:9090); empty: metrics are off. It is its own
	// listener so that metrics are never public by accident.
	Listen string `mapstructure:"listen"`
}

func defaultAuth() AuthConfig {
	return AuthConfig{Registration: "open"}
}

func setAuthDefaults(v *viper.Viper, d Config) {
	v.SetDefault("admins", d.Admins)
	v.SetDefault("auth.registration", d.Auth.Registration)
	v.SetDefault("log.access", d.Log.Access)
	v.SetDefault("metrics.listen", d.Metrics.Listen)
}

func validateMetrics(c Config) error {
	if c.Metrics.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
		return fmt.Errorf("metrics.listen %q: must be host:port (e.g. 127.0.0.1:9090) or empty for off", c.Metrics.Listen)
	}
	if c.Metrics.Listen == c.Listen {
		return fmt.Errorf("metrics.listen %q: must differ from listen", c.Metrics.Listen)
	}
	return nil
}

func validateAuth(c Config) error {
	switch c.Auth.Registration {
	case "open", "closed", "invite", "":
		return nil
	}
	return fmt.Errorf("auth.registration %q: must be open, closed or invite", c.Auth.Registration)
}
