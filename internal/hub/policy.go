package hub

// Kind says what is attached through a port (docs/protocol/hub.md#session-types).
type Kind int

// Port kinds.
const (
	KindClient      Kind = iota // VPN session in client mode (also monitor mode)
	KindBridge                  // VPN session in bridge/router mode
	KindSecureNAT               // the SecureNAT virtual host
	KindLocalBridge             // a local bridge to a NIC or TAP device
	KindCascade                 // server side of a cascade link
	KindL3                      // an interface of the virtual layer-3 switch
)

var kindNames = [...]string{"Client", "Bridge", "SecureNAT", "LocalBridge", "Cascade", "L3"}

// String returns a short name of the kind.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Unknown"
}

// Policy holds the frame-level policy items of docs/protocol/hub.md#policies that the hub enforces.
// Login-time items (Access, MaxConnection, TimeOut, ...) belong to the session.
type Policy struct {
	NoBridge, NoRouting bool // MAC cap 3 / private-IPv4 cap 4 (client mode sets both)
	MaxMAC, MaxIP       int  // caps, at least 3 and 4; 0 = none
	MaxIPv6             int  // cap on tracked (link-local) IPv6 sources, at least 5; 0 = none
	CheckMAC, CheckIP   bool // 13 s exclusivity of an address used by another port

	// Monitor mode: receives a copy of every frame; everything it sends is dropped.
	Monitor bool

	PrivacyFilter      bool // docs/protocol/hub.md#privacy-filter
	NoBroadcastLimiter bool // no storm limiter (docs/protocol/hub.md#storm-limiter)

	ArpDHCPOnly, DHCPFilter, DHCPNoServer, NoServer, NoServerV6 bool
	FilterIPv4, FilterIPv6, FilterNonIP                         bool
	RSandRAFilter, RAFilter, DHCPv6Filter, DHCPv6NoServer       bool

	// MaxUpload and MaxDownload are bits per second; a token bucket one second
	// deep. 0 = unlimited.
	MaxUpload, MaxDownload uint64
	// QoS classifies frames to this port into a priority queue (docs/protocol/hub.md#qos).
	QoS bool
	// VLanID (1-4095, 0 = none) tags every frame the port sends and gives
	// it only frames tagged with this ID, untagged (docs/protocol/hub.md#vlan).
	VLanID uint16
}

// hasIngressFilters reports whether any docs/protocol/hub.md#ingress-policy-order filter must look at frames this
// port sends.
func (p *Policy) hasIngressFilters() bool {
	return p.NoServer || p.NoServerV6 || p.ArpDHCPOnly || p.FilterIPv4 || p.FilterIPv6 ||
		p.FilterNonIP || p.DHCPFilter || p.DHCPv6Filter || p.DHCPNoServer ||
		p.DHCPv6NoServer || p.RSandRAFilter || p.RAFilter
}

// hasEgressFilters reports whether frames to this port must pass filters.
func (p *Policy) hasEgressFilters() bool {
	return p.RSandRAFilter || p.DHCPFilter || p.DHCPv6Filter || p.ArpDHCPOnly ||
		p.FilterIPv4 || p.FilterIPv6 || p.FilterNonIP || p.PrivacyFilter
}

// macLimit is the cap on MAC addresses of a port, 0 for none (docs/protocol/hub.md#mac-table).
func (p *Policy) macLimit() int {
	return capLimit(p.NoBridge, 3, p.MaxMAC, 3)
}

// ipv4Limit is the cap on tracked IPv4 source addresses (docs/protocol/hub.md#ip-table).
func (p *Policy) ipv4Limit() int {
	return capLimit(p.NoRouting, 4, p.MaxIP, 4)
}

// ipv6Limit is the cap on tracked IPv6 source addresses (docs/protocol/hub.md#ip-table).
func (p *Policy) ipv6Limit() int {
	return capLimit(false, 15, p.MaxIPv6, 5)
}

// capLimit computes SoftEther's max(min(flag ? flagCap : inf, max ? max : inf), floor),
// with 0 meaning "no limit".
func capLimit(flag bool, flagCap, n, floor int) int {
	if !flag && n <= 0 {
		return 0
	}
	limit := int(^uint(0) >> 1)
	if flag {
		limit = flagCap
	}
	if n > 0 && n < limit {
		limit = n
	}
	return max(limit, floor)
}

// egressAllowed applies the destination policies of docs/protocol/hub.md#forwarding-steps step 13 and the
// privacy filter of docs/protocol/hub.md#privacy-filter to a frame from s to d.
func (h *Hub) egressAllowed(s, d *Port, pk *packet) bool {
	dp := &d.pol
	switch {
	case dp.RSandRAFilter && (pk.icmp6Is(133) || pk.icmp6Is(134)),
		dp.DHCPFilter && pk.dhcp4,
		dp.DHCPv6Filter && pk.dhcp6(),
		dp.ArpDHCPOnly && pk.broadcast() && !arpDHCPOnlyAllowed(pk),
		dp.FilterIPv4 && (pk.l3 == l3IPv4 || pk.l3 == l3ARP),
		dp.FilterIPv6 && pk.l3 == l3IPv6,
		dp.FilterNonIP && pk.l3 == l3Other:
		return false
	}
	if s.pol.PrivacyFilter && dp.PrivacyFilter &&
		(!pk.broadcast() || !h.o().PrivacyPassBroadcasts) &&
		(pk.l3 != l3ARP || !h.o().PrivacyPassARP) &&
		!(h.o().PrivacyAllowSameUser && s.user == d.user) {
		return false
	}
	return true
}

// arpDHCPOnlyAllowed lists the broadcasts ArpDHCPOnly lets through: ARP,
// DHCPv4, any ICMPv6 and DHCPv6.
func arpDHCPOnlyAllowed(pk *packet) bool {
	return pk.l3 == l3ARP || pk.dhcp4 ||
		(pk.l3 == l3IPv6 && pk.proto == protoICMPv6) || pk.dhcp6()
}

// ingressAllowed applies the docs/protocol/hub.md#ingress-policy-order filters, in SoftEther's order, to a frame
// sent by p. It logs the refusals SoftEther logs.
func (h *Hub) ingressAllowed(p *Port, pk *packet) bool {
	pol := &p.pol
	syn := pk.hasL4 && pk.proto == protoTCP && pk.tcpFlags&(tcpSYN|tcpACK) == tcpSYN|tcpACK
	switch {
	case pol.NoServer && pk.l3 == l3IPv4 && syn, pol.NoServerV6 && pk.l3 == l3IPv6 && syn:
		h.logNoServer(p, pk)
		return false
	case pol.ArpDHCPOnly && pk.broadcast() && !arpDHCPOnlyAllowed(pk),
		pol.FilterIPv4 && (pk.outerType == etherIPv4 || pk.outerType == etherARP),
		pol.FilterIPv6 && pk.outerType == etherIPv6,
		pol.FilterNonIP && pk.outerType != etherIPv4 && pk.outerType != etherARP && pk.outerType != etherIPv6,
		pol.DHCPFilter && pk.dhcp4,
		pol.DHCPv6Filter && pk.dhcp6():
		return false
	case pol.DHCPNoServer && pk.dhcp4 && pk.bootpOp == 2,
		pol.DHCPv6NoServer && pk.l3 == l3IPv6 && pk.proto == protoUDP && pk.hasL4 &&
			(pk.dstPort == 546 || pk.srcPort == 547):
		h.logNoDHCP(p, pk)
		return false
	case pol.RSandRAFilter && (pk.icmp6Is(133) || pk.icmp6Is(134)),
		pol.RAFilter && pk.icmp6Is(134):
		return false
	}
	return true
}

// qosPriority is SoftEther's IsPriorityHighestPacketForQoS (docs/protocol/hub.md#qos), on raw
// bytes: untagged IPv4 with TOS other than 0x00/0x08, or a small ICMPv4 frame.
func qosPriority(b []byte) bool {
	if len(b) < 16 || b[12] != 0x08 || b[13] != 0x00 {
		return false
	}
	if b[15] != 0x00 && b[15] != 0x08 {
		return true
	}
	return len(b) >= 34 && len(b) <= 128 && b[23] == protoICMP
}

// bucket is a token-bucket bandwidth limiter in bits, one second deep ([GO] of
// docs/protocol/hub.md#bandwidth-limiters, replacing SoftEther's fixed one-second windows).
type bucket struct {
	rate   float64 // bits per second; 0 = unlimited
	tokens float64
	last   int64 // hub clock of the last refill
	primed bool  // last is valid
}

// allow takes bits from the bucket if it holds enough.
func (b *bucket) allow(now int64, bits int) bool {
	if !b.primed || now < b.last {
		b.tokens, b.primed = b.rate, true
	} else {
		b.tokens = min(b.rate, b.tokens+float64(now-b.last)*b.rate/1e9)
	}
	b.last = now
	if b.tokens < float64(bits) {
		return false
	}
	b.tokens -= float64(bits)
	return true
}
