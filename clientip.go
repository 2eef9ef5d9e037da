package jwtpair

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The headers a trusted proxy may name the client in ([WithProxyHeader]).
const (
	headerXFF       = "X-Forwarded-For"
	headerForwarded = "Forwarded"
)

// proxies is who may tell the client's address: the trusted proxies
// (WithTrustedProxies) and the header they write it in.
type proxies struct {
	trusted []netip.Prefix // none: RemoteAddr is the client
	header  string         // canonical: headerXFF or headerForwarded
}

// parseProxies parses the CIDRs (or single addresses) of WithTrustedProxies.
func parseProxies(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) == 0 {
		return nil, fmt.Errorf("jwtpair: WithTrustedProxies needs at least one address or CIDR")
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("jwtpair: trusted proxy %q is neither an IP address nor a CIDR", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("jwtpair: trusted proxy %q: write IPv4 addresses in IPv4 form", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ClientIP returns the client's address as throttling counts it
// ([WithThrottle]): the host of r.RemoteAddr, unless that is a trusted
// proxy ([WithTrustedProxies]). Then the proxies' header
// (X-Forwarded-For, or Forwarded with [WithProxyHeader]) is read from
// right to left, past every address of a trusted proxy, and the first
// other address is the client; when every address in it is a trusted
// proxy's, the leftmost is. An entry that is not an IP address (garbage,
// "unknown", an obfuscated Forwarded node) ends the walk at the last
// trusted hop, whose address is returned. Headers from a peer that is not a
// trusted proxy are ignored, so a client cannot choose its own address.
// IPv4-mapped IPv6 addresses are returned as IPv4, without zones. The zero
// Addr means RemoteAddr holds no IP address (a Unix socket).
func (a *Auth) ClientIP(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !a.trustedProxy(peer) {
		return peer
	}
	vals := r.Header[a.throttle.proxies.header]
	last := peer
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for v != "" {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				v, entry = v[:j], v[j+1:]
			} else {
				v, entry = "", v
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			var ip netip.Addr
			if a.throttle.proxies.header == headerForwarded {
				ip = forwardedFor(entry)
			} else {
				ip = parseHostAddr(entry)
			}
			switch {
			case !ip.IsValid():
				return last
			case !a.trustedProxy(ip):
				return ip
			}
			last = ip
		}
	}
	return last
}

// trustedProxy reports whether ip is one of the trusted proxies.
func (a *Auth) trustedProxy(ip netip.Addr) bool {
	for _, p := range a.throttle.proxies.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseHostAddr parses an IP address, bare or with a port ("192.0.2.1",
// "192.0.2.1:443", "[2001:db8::1]:443", "2001:db8::1", "[2001:db8::1]"),
// unmapped and without its zone. It returns the zero Addr for anything
// else.
func parseHostAddr(s string) netip.Addr {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		host, _, serr := net.SplitHostPort(s)
		if serr != nil {
			host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		}
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}
		}
	}
	return ip.Unmap().WithZone("")
}

// forwardedFor returns the address of the for= parameter of one element of
// a Forwarded header (RFC 7239 §4): for=192.0.2.60, for="[2001:db8::17]:4711".
func forwardedFor(element string) netip.Addr {
	for pair := range strings.SplitSeq(element, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "for") {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		return parseHostAddr(value)
	}
	return netip.Addr{}
}

// clientKey is the address a throttle counts a client under: the IPv4
// address, or the /64 of an IPv6 one (the smallest network a site is
// given, RFC 6177: one host can use every address of its /64), or
// "unknown" without one.
func clientKey(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "unknown"
	case ip.Is6():
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}
