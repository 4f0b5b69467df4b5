package ai

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrPrivateAddress refuses a connection from a user's endpoint to an
// address that is not public (loopback, private, link-local, ...).
var ErrPrivateAddress = errors.New("the address is private or internal")

// ErrEndpointUnreachable is the one error a user sees when a call to the
// base_url of their own key got no HTTP answer: refused, reset, timed out,
// unresolvable and blocked connections all read the same, so the endpoint
// cannot be used to tell closed, open and filtered ports apart.
var ErrEndpointUnreachable = errors.New("your endpoint could not be reached")

// Ranges that PublicAddr refuses besides the ones netip classifies.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// PublicAddr reports whether ip is a public unicast address that a user's
// endpoint may point at. IPv4-mapped IPv6 addresses are judged as IPv4, and
// NAT64 and 6to4 addresses by the IPv4 address they carry.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		return PublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return PublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}

// CheckUserBaseURL checks the base_url of a key a user adds: an http(s) URL
// whose host, when it is an IP address, is public. Host names are checked
// when connecting (NewUserEndpointClient), where the resolved address is
// known.
func CheckUserBaseURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http(s) URL")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // an IPv6 zone
	}
	if ip, err := netip.ParseAddr(host); err == nil && !PublicAddr(ip) {
		return fmt.Errorf("points at %s, a private or internal address: keys may only point at public addresses", ip)
	}
	return nil
}

// publicOnly is a net.Dialer Control hook: it runs after the name was
// resolved, on the address actually dialled, so a name that resolves to
// an internal address (or changes to one later: DNS rebinding) is refused.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !PublicAddr(ap.Addr()) {
		return ErrPrivateAddress
	}
	return nil
}

// NewUserEndpointClient returns the HTTP client for calls to the base_url
// of a user's key: it connects to public addresses only, and ignores the
// proxy settings of the environment (a proxy would connect on our behalf,
// out of reach of the check).
func NewUserEndpointClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: publicOnly}).DialContext
	t.MaxIdleConns = 4 * MaxIdleConnsPerProvider
	t.MaxIdleConnsPerHost = MaxIdleConnsPerProvider
	return &http.Client{Transport: t}
}

// maskEndpointError turns the failure of a call to a user's own endpoint
// that got no HTTP answer (and streamed nothing) into ErrEndpointUnreachable,
// without socket details. Other errors are returned as they are.
func maskEndpointError(err error, cred Credentials, started bool) error {
	if err == nil || cred.BaseURL == "" || started {
		return err
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Status != 0 || pe.Kind == KindCanceled {
		return err
	}
	msg := ErrEndpointUnreachable.Error()
	if errors.Is(pe.Err, ErrPrivateAddress) {
		// Said plainly: the user controls the name and its resolution.
		msg += " (it resolves to a private or internal address, which this server does not allow)"
	}
	return &Error{Kind: KindUnavailable, Provider: pe.Provider, Message: msg, Err: ErrEndpointUnreachable}
}
