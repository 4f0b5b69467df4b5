package config

import (
	"errors"
	"time"

	"github.com/spf13/viper"
)

// MeetingsConfig tunes meetings of AI roles (config key meetings). A
// node holds its meetings under cluster.node_id (random when empty).
type MeetingsConfig struct {
	// LeaseTTL is how long a node's hold on a running meeting lasts
	// without renewal (renewed every third of it): when a node dies,
	// another one (or the restarted one) takes its meetings over after at
	// most this long. A node that shuts down cleanly hands them over at once.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// MaxFailures ends a meeting as failed after this many turns in a row
	// failed (the provider was unavailable, for example).
	MaxFailures int `mapstructure:"max_failures"`
}

func defaultMeetings() MeetingsConfig {
	return MeetingsConfig{LeaseTTL: 30 * time.Second, MaxFailures: 3}
}

func setMeetingsDefaults(v *viper.Viper, d MeetingsConfig) {
	v.SetDefault("meetings.lease_ttl", d.LeaseTTL)
	v.SetDefault("meetings.max_failures", d.MaxFailures)
}

// validateMeetings reports meetings values that cannot work.
func validateMeetings(c MeetingsConfig) error {
	var errs []error
	if c.LeaseTTL < time.Second {
		errs = append(errs, errors.New("meetings.lease_ttl must be at least 1s"))
	}
	if c.MaxFailures < 1 {
		errs = append(errs, errors.New("meetings.max_failures must be at least 1"))
	}
	return errors.Join(errs...)
}
