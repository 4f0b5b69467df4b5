package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// HTTPConfig configures the HTTP server.
type HTTPConfig struct {
	// TrustedProxies lists the reverse proxies (CIDRs or single IPs) whose
	// X-Forwarded-For header names the client. Without it the header is
	// ignored and the client is the connection's peer.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
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
