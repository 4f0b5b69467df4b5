package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// HTTPConfig configures the HTTP server: the listener's connection limits
// and the reverse proxies it trusts (config key http).
type HTTPConfig struct {
	// MaxConns caps open connections, WebSockets included; over it a new
	// connection gets 503 and is closed at once. 0 derives it from the soft
	// RLIMIT_NOFILE: limit - max(128, limit/8), leaving descriptors for the
	// database and the providers (see connlimit.DefaultMaxConns).
	MaxConns int `mapstructure:"max_conns"`
	// MaxConnsPerIP caps the open connections of one client IP (0: no cap).
	MaxConnsPerIP int `mapstructure:"max_conns_per_ip"`
	// IdleTimeout closes a connection that sends nothing for this long:
	// before its first request, between requests, and while its request
	// headers are incomplete.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// TrustedProxies lists the reverse proxies (CIDRs or single IPs) whose
	// X-Forwarded-For header names the client. Without it the header is
	// ignored and the client is the connection's peer.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
}

// defaultHTTP: 256 connections per IP leaves room for a whole office
// behind one NAT (each person a few chat sockets and a keep-alive
// connection) while one host cannot take the daemon's descriptors; 10 s is
// far more than any client needs between connecting and sending a header.
func defaultHTTP() HTTPConfig {
	return HTTPConfig{MaxConnsPerIP: 256, IdleTimeout: 10 * time.Second}
}

func setHTTPDefaults(v *viper.Viper, d HTTPConfig) {
	v.SetDefault("http.max_conns", d.MaxConns)
	v.SetDefault("http.max_conns_per_ip", d.MaxConnsPerIP)
	v.SetDefault("http.idle_timeout", d.IdleTimeout)
	v.SetDefault("http.trusted_proxies", d.TrustedProxies)
}

// validateHTTP reports http values that cannot work.
func validateHTTP(c HTTPConfig) error {
	var errs []error
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("http.max_conns %d: must not be negative (0: derived from the open file limit)", c.MaxConns))
	}
	if c.MaxConnsPerIP < 0 {
		errs = append(errs, fmt.Errorf("http.max_conns_per_ip %d: must not be negative (0: no cap)", c.MaxConnsPerIP))
	}
	if c.IdleTimeout < time.Second {
		errs = append(errs, fmt.Errorf("http.idle_timeout %s: must be at least 1s", c.IdleTimeout))
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// TrustedProxyPrefixes parses TrustedProxies.
func (h HTTPConfig) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("http.trusted_proxies %q: not a CIDR or IP address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
