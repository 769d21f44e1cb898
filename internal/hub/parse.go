package hub

import (
	"encoding/binary"
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// Ethernet types the hub looks at.
const (
	etherIPv4 = ether.TypeIPv4
	etherARP  = ether.TypeARP
	etherVLAN = ether.TypeVLAN
	etherIPv6 = ether.TypeIPv6
)

// l3Kind is the network protocol found inside a frame.
type l3Kind uint8

const (
	l3Other l3Kind = iota
	l3IPv4
	l3ARP
	l3IPv6
)

// IP protocol numbers and TCP flags used by the policy filters.
const (
	protoICMP   = ether.ProtoICMP
	protoTCP    = ether.ProtoTCP
	protoUDP    = ether.ProtoUDP
	protoICMPv6 = ether.ProtoICMPv6

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// packet is what the hub learns from parsing one frame's headers. It is filled
// in place (no allocation) and only describes; it never owns the bytes.
type packet struct {
	dst, src  uint64 // MAC addresses as 48-bit integers
	outerType uint16 // ethertype at offset 12, before any VLAN tag
	vlan      uint16 // 802.1Q VID, 0 when untagged
	l3        l3Kind

	srcIP, dstIP netip.Addr // IPv4/IPv6 addresses, ARP sender/target
	tos          uint8
	proto        uint8 // IPv4 protocol or IPv6 final next header
	hasL4        bool  // proto's header was fully present (first fragment)
	srcPort      uint16
	dstPort      uint16
	tcpFlags     uint8
	icmpType     uint8
	httpReq      bool // a TCP payload that starts like an HTTP request (packet log)

	// DHCPv4 (UDP 67<->68) fields, valid when dhcp4 is set.
	dhcp4    bool
	bootpOp  uint8
	dhcpType uint8 // option 53, 0 if absent
	htype    uint8
	hlen     uint8
	chaddr   uint64
	yiaddr   netip.Addr
}

// broadcast reports SoftEther's meaning of "broadcast": the destination MAC has
// the group bit set (multicast included).
func (pk *packet) broadcast() bool { return pk.dst&(1<<40) != 0 }

// dhcp6 reports an IPv6 UDP datagram to a DHCPv6 port.
func (pk *packet) dhcp6() bool {
	return pk.l3 == l3IPv6 && pk.proto == protoUDP && pk.hasL4 && (pk.dstPort == 546 || pk.dstPort == 547)
}

// icmp6Is reports an ICMPv6 message of type t.
func (pk *packet) icmp6Is(t uint8) bool {
	return pk.l3 == l3IPv6 && pk.proto == protoICMPv6 && pk.hasL4 && pk.icmpType == t
}

// highestPriority reports the frames SoftEther exempts from bandwidth limits:
// ARP, ICMPv4, TCP SYN/FIN/RST and DHCPv4 (docs/protocol/hub.md#bandwidth-limiters).
func (pk *packet) highestPriority() bool {
	switch pk.l3 {
	case l3ARP:
		return true
	case l3IPv4:
		switch pk.proto {
		case protoICMP:
			return true
		case protoTCP:
			return pk.hasL4 && pk.tcpFlags&(tcpSYN|tcpFIN|tcpRST) != 0
		case protoUDP:
			return pk.dhcp4
		}
	}
	return false
}

func mac48(b []byte) uint64 {
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 |
		uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

// parseFrame fills pk from frame b, which must be at least ether.MinFrameSize bytes.
// Anything it cannot understand is left as l3Other; it never fails.
func parseFrame(b []byte, pk *packet) {
	*pk = packet{}
	pk.dst = mac48(b[0:6])
	pk.src = mac48(b[6:12])
	// The Ethernet header is read here rather than with ether.ParseEthernet:
	// the hub keeps the outer type too, and this switch costs every frame
	// a few instructions less (BenchmarkParseFrame).
	et := binary.BigEndian.Uint16(b[12:14])
	pk.outerType = et
	p := b[14:]
	if et == etherVLAN {
		if len(p) < 4 {
			return
		}
		pk.vlan = binary.BigEndian.Uint16(p[0:2]) & 0x0fff
		et = binary.BigEndian.Uint16(p[2:4])
		p = p[4:]
	}
	switch et {
	case etherIPv4:
		parseIPv4(p, pk)
	case etherIPv6:
		parseIPv6(p, pk)
	case etherARP:
		parseARP(p, pk)
	}
}

func parseARP(p []byte, pk *packet) {
	a, ok := ether.ParseARP(p)
	if !ok {
		return
	}
	pk.l3 = l3ARP
	pk.srcIP = netip.AddrFrom4(a.SenderIP())
	pk.dstIP = netip.AddrFrom4(a.TargetIP())
}

func parseIPv4(p []byte, pk *packet) {
	ip, ok := ether.ParseIPv4(p)
	if !ok {
		return
	}
	pk.l3 = l3IPv4
	pk.tos = ip.TOS()
	pk.proto = ip.Proto()
	pk.srcIP = netip.AddrFrom4(ip.Src())
	pk.dstIP = netip.AddrFrom4(ip.Dst())
	if ip.FragmentOffset() != 0 {
		return // not the first fragment: no transport header
	}
	l4 := ip.Payload()
	parseL4(l4, pk)
	if pk.proto == protoUDP && pk.hasL4 &&
		((pk.srcPort == 67 && pk.dstPort == 68) || (pk.srcPort == 68 && pk.dstPort == 67)) {
		pk.dhcp4 = true
		parseBOOTP(l4[8:], pk)
	}
}

func parseIPv6(p []byte, pk *packet) {
	if len(p) < 40 || p[0]>>4 != 6 {
		return
	}
	plen := int(binary.BigEndian.Uint16(p[4:6]))
	if 40+plen > len(p) {
		return
	}
	pk.l3 = l3IPv6
	pk.tos = p[0]<<4 | p[1]>>4
	pk.srcIP = netip.AddrFrom16([16]byte(p[8:24]))
	pk.dstIP = netip.AddrFrom16([16]byte(p[24:40]))
	next := p[6]
	p = p[40 : 40+plen]
	// Walk the extension headers that may precede the transport header.
	for range 8 {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(p) < 8 {
				return
			}
			n := (int(p[1]) + 1) * 8
			if n > len(p) {
				return
			}
			next, p = p[0], p[n:]
			continue
		case 44: // fragment
			if len(p) < 8 {
				return
			}
			if binary.BigEndian.Uint16(p[2:4])&0xfff8 != 0 {
				pk.proto = p[0]
				return
			}
			next, p = p[0], p[8:]
			continue
		}
		break
	}
	pk.proto = next
	parseL4(p, pk)
}

// parseL4 reads the transport header of pk.proto from p.
func parseL4(p []byte, pk *packet) {
	switch pk.proto {
	case protoTCP:
		if len(p) < 20 {
			return
		}
		pk.srcPort = binary.BigEndian.Uint16(p[0:2])
		pk.dstPort = binary.BigEndian.Uint16(p[2:4])
		pk.tcpFlags = p[13]
		if hl := int(p[12]>>4) * 4; hl >= 20 && len(p) > hl+5 {
			pk.httpReq = isHTTPRequest(p[hl:])
		}
	case protoUDP:
		if len(p) < 8 {
			return
		}
		pk.srcPort = binary.BigEndian.Uint16(p[0:2])
		pk.dstPort = binary.BigEndian.Uint16(p[2:4])
	case protoICMP, protoICMPv6:
		if len(p) < 4 {
			return
		}
		pk.icmpType = p[0]
	default:
		return
	}
	pk.hasL4 = true
}

// BOOTP layout: op(1) htype(1) hlen(1) hops(1) xid(4) secs(2) flags(2)
// ciaddr(4) yiaddr(4) siaddr(4) giaddr(4) chaddr(16) sname(64) file(128),
// then the magic cookie and options.
const (
	bootpFixedLen = 236
	dhcpCookie    = 0x63825363
)

func parseBOOTP(p []byte, pk *packet) {
	if len(p) < bootpFixedLen {
		return
	}
	pk.bootpOp = p[0]
	pk.htype = p[1]
	pk.hlen = p[2]
	pk.yiaddr = netip.AddrFrom4([4]byte(p[16:20]))
	pk.chaddr = mac48(p[28:34])
	opts := p[bootpFixedLen:]
	if len(opts) < 4 || binary.BigEndian.Uint32(opts[0:4]) != dhcpCookie {
		return
	}
	opts = opts[4:]
	for len(opts) > 0 {
		code := opts[0]
		switch code {
		case 0: // pad
			opts = opts[1:]
			continue
		case 255: // end
			return
		}
		if len(opts) < 2 || int(opts[1])+2 > len(opts) {
			return
		}
		if code == 53 && opts[1] >= 1 {
			pk.dhcpType = opts[2]
			return
		}
		opts = opts[2+int(opts[1]):]
	}
}

// isHTTPRequest reports whether a TCP payload starts with the methods
// SoftEther's packet log recognises (GET, HEAD, POST; any case).
func isHTTPRequest(b []byte) bool {
	lower := func(c byte) byte { return c | 0x20 }
	switch {
	case len(b) >= 4 && lower(b[0]) == 'g' && lower(b[1]) == 'e' && lower(b[2]) == 't' && b[3] == ' ':
		return true
	case len(b) >= 5 && b[4] == ' ' && (lower(b[0]) == 'h' && lower(b[1]) == 'e' && lower(b[2]) == 'a' && lower(b[3]) == 'd' ||
		lower(b[0]) == 'p' && lower(b[1]) == 'o' && lower(b[2]) == 's' && lower(b[3]) == 't'):
		return true
	}
	return false
}
