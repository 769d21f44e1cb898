package dhcpd

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// MaxPushRoutes is the most routes DhcpPushRoutes may hold (SoftEther's
// MAX_DHCP_CLASSLESS_ROUTE_ENTRIES).
const MaxPushRoutes = 64

// Route is one classless static route pushed to DHCP clients (RFC 3442).
type Route struct {
	Prefix  netip.Prefix // destination network, masked
	Gateway netip.Addr
}

// ParsePushRoutes parses SoftEther's DhcpPushRoutes text: entries
// "network/mask/gateway" separated by commas, spaces, tabs or newlines, the
// mask written as a dotted quad or a prefix length. Host bits of the network
// are cleared. Empty text means no routes.
func ParsePushRoutes(text string) ([]Route, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) > MaxPushRoutes {
		return nil, fmt.Errorf("dhcpd: push routes: %d entries, at most %d allowed", len(fields), MaxPushRoutes)
	}
	routes := make([]Route, 0, len(fields))
	for _, f := range fields {
		parts := strings.Split(f, "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("dhcpd: push route %q: want network/mask/gateway", f)
		}
		network, err := netip.ParseAddr(parts[0])
		if err != nil || !network.Is4() {
			return nil, fmt.Errorf("dhcpd: push route %q: network %q is not an IPv4 address", f, parts[0])
		}
		bits, err := parseMask(parts[1])
		if err != nil {
			return nil, fmt.Errorf("dhcpd: push route %q: %w", f, err)
		}
		gw, err := netip.ParseAddr(parts[2])
		if err != nil || !gw.Is4() {
			return nil, fmt.Errorf("dhcpd: push route %q: gateway %q is not an IPv4 address", f, parts[2])
		}
		routes = append(routes, Route{Prefix: netip.PrefixFrom(network, bits).Masked(), Gateway: gw})
	}
	return routes, nil
}

// parseMask accepts "255.255.0.0" or "16".
func parseMask(s string) (int, error) {
	if strings.Contains(s, ".") {
		m, err := netip.ParseAddr(s)
		if err != nil {
			return 0, fmt.Errorf("mask %q is not an IPv4 netmask", s)
		}
		bits, err := maskBits(m)
		if err != nil {
			return 0, fmt.Errorf("mask %q: %w", s, err)
		}
		return bits, nil
	}
	bits, err := strconv.Atoi(s)
	if err != nil || bits < 0 || bits > 32 {
		return 0, fmt.Errorf("mask %q is neither a netmask nor a prefix length 0..32", s)
	}
	return bits, nil
}

// FormatPushRoutes writes routes in SoftEther's normalised form,
// "10.0.0.0/255.0.0.0/192.168.30.254, 0.0.0.0/0.0.0.0/192.168.30.1".
func FormatPushRoutes(routes []Route) string {
	var b strings.Builder
	for i, r := range routes {
		if i > 0 {
			b.WriteString(", ")
		}
		mask := net.IP(net.CIDRMask(r.Prefix.Bits(), 32)).String()
		fmt.Fprintf(&b, "%s/%s/%s", r.Prefix.Addr(), mask, r.Gateway)
	}
	return b.String()
}

// encodeRoutes returns the RFC 3442 option data for routes (nil for none).
func encodeRoutes(routes []Route) []byte {
	if len(routes) == 0 {
		return nil
	}
	rs := make(dhcpv4.Routes, len(routes))
	for i, r := range routes {
		rs[i] = &dhcpv4.Route{
			Dest:   &net.IPNet{IP: r.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(r.Prefix.Bits(), 32)},
			Router: r.Gateway.AsSlice(),
		}
	}
	return rs.ToBytes()
}
