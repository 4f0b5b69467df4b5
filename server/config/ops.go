package config

import (
	"fmt"

	"github.com/spf13/viper"
)

// AuthConfig configures accounts.
type AuthConfig struct {
	// Registration is open (anyone may register), closed (nobody may) or
	// invite (POST /api/auth/register needs an invite code from vcd admin
	// invite create).
	Registration string `mapstructure:"registration"`
}

func defaultAuth() AuthConfig {
	return AuthConfig{Registration: "open"}
}

func setAuthDefaults(v *viper.Viper, d Config) {
	v.SetDefault("admins", d.Admins)
	v.SetDefault("auth.registration", d.Auth.Registration)
	v.SetDefault("log.access", d.Log.Access)
}

func validateAuth(c Config) error {
	switch c.Auth.Registration {
	case "open", "closed", "invite", "":
		return nil
	}
	return fmt.Errorf("auth.registration %q: must be open, closed or invite", c.Auth.Registration)
}
