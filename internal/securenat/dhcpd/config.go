package dhcpd

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Lease-time limits of SoftEther's DhcpExpireTimeSpan (docs/protocol/securenat.md#options).
const (
	// DefaultLeaseTime is used when Config.LeaseTime is zero.
	DefaultLeaseTime = 7200 * time.Second
	// MinLeaseTime is the shortest lease handed out; shorter settings are
	// raised to it, as SoftEther does.
	MinLeaseTime = 15 * time.Second
	// InfiniteLease as Config.LeaseTime makes leases that never expire
	// (lease-time option 0xFFFFFFFF). Any negative duration means the same.
	InfiniteLease time.Duration = -1
)

// offerHold is how long an OFFER reserves its address for the client.
const offerHold = 5 * time.Second

// Config is the DHCP server's configuration, taken from the hub's SecureNAT
// options. Invalid (zero) netip.Addr values mean "not set".
type Config struct {
	// ServerIP is the virtual host's own address (the DHCP server
	// identifier); Mask is the subnet mask of the served segment.
	ServerIP, Mask netip.Addr
	// RangeStart..RangeEnd (inclusive) is the dynamic pool.
	RangeStart, RangeEnd netip.Addr
	// Gateway, DNS and DNS2 are sent as the router and DNS-server options
	// when valid.
	Gateway, DNS, DNS2 netip.Addr
	// Domain is sent as the domain-name option; empty means no option.
	// SoftEther fills its DhcpDomainName setting with the host's domain when
	// a hub is created (see config.HostDomain), so the caller passes the stored
	// setting here unchanged. As in SoftEther, the option is only sent when
	// DNS is set as well.
	Domain string
	// LeaseTime is the lease length: 0 means DefaultLeaseTime, a negative
	// value means infinite (see LeaseTimeFromSeconds for the config value),
	// shorter than MinLeaseTime is raised to it. Whole seconds are used.
	LeaseTime time.Duration
	// PushRoutes is SoftEther's DhcpPushRoutes text (see ParsePushRoutes),
	// sent as options 121 and 249.
	PushRoutes string
	// Static maps a client MAC (any of "00-AC-85-40-B5-50",
	// "00:ac:85:40:b5:50", "00ac.8540.b550", "00ac8540b550") to the address
	// reserved for it. The address must be inside the subnet; it may lie
	// inside or outside the pool, and is never given to another client.
	Static map[string]netip.Addr
	// ServerMAC is the virtual host's MAC address, the source of replies.
	ServerMAC net.HardwareAddr
	// Log receives the "SecureNAT: …" security-log lines; nil discards them
	// (SoftEther's SaveLog=false).
	Log *slog.Logger
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Restore are leases to start with: those a server of the same
	// segment granted before (a farm's dynamic hub that moved to another
	// node keeps them in etcd), so that its clients keep their addresses.
	// A lease whose address or MAC a later lease took is dropped.
	Restore []Lease
	// OnLease, when set, is told of every lease the server grants or
	// renews, under the server's lock: it must not block (queue and
	// return).
	OnLease func(Lease)
}

// LeaseTimeFromSeconds converts SoftEther's DhcpExpireTimeSpan setting
// (seconds; 0 and 0xFFFFFFFF mean infinite) to a Config.LeaseTime.
func LeaseTimeFromSeconds(sec uint32) time.Duration {
	if sec == 0 || sec == 0xFFFFFFFF {
		return InfiniteLease
	}
	return time.Duration(sec) * time.Second
}

// settings is a validated Config in the form the server works with.
type settings struct {
	serverIP   netip.Addr
	mask       netip.Addr
	subnet     netip.Prefix
	broadcast  netip.Addr
	start, end netip.Addr
	gateway    netip.Addr
	dns        []netip.Addr
	domain     string
	lease      time.Duration // 0 = infinite
	routes     []byte        // RFC 3442 option data, nil = none
	static     map[[6]byte]netip.Addr
	staticIP   map[netip.Addr][6]byte
	excluded   map[netip.Addr]bool // never handed out dynamically
	serverMAC  [6]byte
	log        *slog.Logger
	clock      func() time.Time
	onLease    func(Lease)
}

func (c *Config) validate() (*settings, error) {
	s := &settings{domain: c.Domain, log: c.Log, clock: c.Clock, onLease: c.OnLease}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if !c.ServerIP.Is4() {
		return nil, fmt.Errorf("dhcpd: server IP %v is not an IPv4 address", c.ServerIP)
	}
	bits, err := maskBits(c.Mask)
	if err != nil {
		return nil, fmt.Errorf("dhcpd: subnet mask: %w", err)
	}
	if bits > 30 {
		return nil, fmt.Errorf("dhcpd: subnet mask %v leaves no room for clients", c.Mask)
	}
	s.serverIP, s.mask = c.ServerIP, c.Mask
	if len(c.ServerMAC) != 6 || isZeroMAC(c.ServerMAC) {
		return nil, fmt.Errorf("dhcpd: server MAC %q must be 6 non-zero bytes", c.ServerMAC.String())
	}
	copy(s.serverMAC[:], c.ServerMAC)
	if !c.RangeStart.Is4() || !c.RangeEnd.Is4() {
		return nil, fmt.Errorf("dhcpd: range %v - %v is not an IPv4 range", c.RangeStart, c.RangeEnd)
	}
	// The clients' subnet is the pool's, which need not be the virtual
	// host's: SecureNAT is often only the DHCP server of a bridged LAN,
	// whose router is the gateway it hands out. As SoftEther, an end
	// before the start means a pool of one address.
	s.start, s.end = c.RangeStart, c.RangeEnd
	if s.end.Less(s.start) {
		s.end = s.start
	}
	s.subnet = netip.PrefixFrom(s.start, bits).Masked()
	s.broadcast = lastAddr(s.subnet)
	if !s.subnet.Contains(s.end) {
		s.log.Warn("SecureNAT: the DHCP pool spans more than one subnet; only the addresses in the first are handed out",
			"start", s.start, "end", s.end, "subnet", s.subnet)
	}

	// The server's own address, the gateway and the DNS servers may sit
	// inside a pool configured by hand; they are silently left out of it
	// (SoftEther hands them out, docs/protocol/securenat.md#dhcp-server).
	s.excluded = map[netip.Addr]bool{c.ServerIP: true, s.subnet.Addr(): true, s.broadcast: true}
	for _, a := range []struct {
		name string
		ip   netip.Addr
	}{{"gateway", c.Gateway}, {"DNS server", c.DNS}, {"second DNS server", c.DNS2}} {
		if !a.ip.IsValid() || a.ip.IsUnspecified() {
			continue
		}
		if !a.ip.Is4() {
			return nil, fmt.Errorf("dhcpd: %s %v is not an IPv4 address", a.name, a.ip)
		}
		s.excluded[a.ip] = true
	}
	if c.Gateway.Is4() && !c.Gateway.IsUnspecified() {
		s.gateway = c.Gateway
	}
	for _, d := range []netip.Addr{c.DNS, c.DNS2} {
		if d.Is4() && !d.IsUnspecified() {
			s.dns = append(s.dns, d)
		}
	}
	if !c.DNS.Is4() || c.DNS.IsUnspecified() {
		s.domain = "" // SoftEther sends the domain only together with DNS server 1
	}

	switch lt := c.LeaseTime; {
	case lt == 0:
		s.lease = DefaultLeaseTime
	case lt < 0 || lt >= 0xFFFFFFFF*time.Second:
		s.lease = 0
	case lt < MinLeaseTime:
		s.lease = MinLeaseTime
	default:
		s.lease = lt.Truncate(time.Second)
	}

	routes, err := ParsePushRoutes(c.PushRoutes)
	if err != nil {
		return nil, err
	}
	s.routes = encodeRoutes(routes)

	s.static = make(map[[6]byte]netip.Addr, len(c.Static))
	s.staticIP = make(map[netip.Addr][6]byte, len(c.Static))
	for text, ip := range c.Static {
		mac, err := ParseMAC(text)
		if err != nil {
			return nil, fmt.Errorf("dhcpd: static reservation: %w", err)
		}
		if !ip.Is4() || !s.subnet.Contains(ip) || ip == s.subnet.Addr() || ip == s.broadcast {
			return nil, fmt.Errorf("dhcpd: static address %v for %s is not a host address of %v", ip, FormatMAC(mac[:]), s.subnet)
		}
		if s.excluded[ip] {
			return nil, fmt.Errorf("dhcpd: static address %v for %s is the server, gateway or DNS address", ip, FormatMAC(mac[:]))
		}
		if other, dup := s.staticIP[ip]; dup && other != mac {
			return nil, fmt.Errorf("dhcpd: static address %v is reserved for both %s and %s", ip, FormatMAC(other[:]), FormatMAC(mac[:]))
		}
		if old, dup := s.static[mac]; dup && old != ip {
			return nil, fmt.Errorf("dhcpd: MAC %s has two static addresses, %v and %v", FormatMAC(mac[:]), old, ip)
		}
		s.static[mac] = ip
		s.staticIP[ip] = mac
	}
	return s, nil
}

// maskBits returns the prefix length of a contiguous IPv4 netmask.
func maskBits(m netip.Addr) (int, error) {
	if !m.Is4() {
		return 0, fmt.Errorf("%v is not an IPv4 netmask", m)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&0x80000000 != 0 {
		ones++
		v <<= 1
	}
	if v != 0 {
		return 0, fmt.Errorf("%v is not a contiguous netmask", m)
	}
	return ones, nil
}

// lastAddr is the highest address of p (its broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(uint64(1)<<hostBits - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func isZeroMAC(m []byte) bool {
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

// ParseMAC parses a 6-byte MAC address written as "00-AC-85-40-B5-50"
// (SoftEther), "00:ac:85:40:b5:50", "00ac.8540.b550" or "00ac8540b550".
func ParseMAC(s string) ([6]byte, error) {
	var mac [6]byte
	t := strings.TrimSpace(s)
	if len(t) == 12 {
		if _, err := hex.Decode(mac[:], []byte(t)); err == nil {
			return mac, nil
		}
	}
	hw, err := net.ParseMAC(t)
	if err != nil || len(hw) != 6 {
		return mac, fmt.Errorf("%q is not a 6-byte MAC address", s)
	}
	copy(mac[:], hw)
	return mac, nil
}

// FormatMAC writes a MAC address the way SoftEther's logs and tables do:
// "00-AC-85-40-B5-50".
func FormatMAC(mac []byte) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, 3*len(mac))
	for i, x := range mac {
		if i > 0 {
			b = append(b, '-')
		}
		b = append(b, digits[x>>4], digits[x&15])
	}
	return string(b)
}
