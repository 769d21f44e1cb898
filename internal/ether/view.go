package ether

import "encoding/binary"

// Views of the headers that several packages read from the same frames
// (the hub's filters and logs, the layer-3 switch, the DHCP server). Each
// Parse function checks what every reader relied on, once; the views are
// values holding slices of the frame, so parsing allocates nothing, and
// their accessors are small enough to be inlined.

// EtherTypes read by more than one package.
const (
	TypeIPv4 = 0x0800
	TypeARP  = 0x0806
	TypeVLAN = 0x8100 // an 802.1Q tag follows
	TypeIPv6 = 0x86DD
)

// IP protocol numbers read by more than one package.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Ethernet is a frame's Ethernet header, past at most one 802.1Q tag (as
// SoftEther reads frames).
type Ethernet struct {
	Type    uint16 // the EtherType, after the tag if there is one
	Tagged  bool
	TCI     uint16 // the tag's control information, 0 when untagged
	Payload []byte // what follows the header and the tag
}

// ParseEthernet reads the header of frame b. ok is false when b is shorter
// than the header, or than the tag its EtherType announces.
func ParseEthernet(b []byte) (e Ethernet, ok bool) {
	if len(b) < 14 {
		return e, false
	}
	if t := binary.BigEndian.Uint16(b[12:14]); t != TypeVLAN {
		return Ethernet{Type: t, Payload: b[14:]}, true
	}
	if len(b) < 18 {
		return e, false
	}
	return Ethernet{Type: binary.BigEndian.Uint16(b[16:18]), Tagged: true, TCI: binary.BigEndian.Uint16(b[14:16]), Payload: b[18:]}, true
}

// VLAN is the tag's VLAN ID, 0 when untagged.
func (e Ethernet) VLAN() uint16 { return e.TCI & 0x0fff }

// IPv4 is an IPv4 packet whose header is consistent: version 4, a header
// length of 20 bytes or more, and a total length that covers the header and
// fits the bytes received. Packet is cut to the total length, so that
// Ethernet padding is not taken for payload. The header checksum is not
// checked: readers that need it call Checksum(Header(), 0).
//
// The view is 32 bytes, which the compiler keeps in registers; a larger one
// would be copied through the stack at every accessor.
type IPv4 struct {
	Packet []byte
	fixed  *[20]byte // the header's fixed part: its fields are read without bounds checks
}

// ParseIPv4 reads the IPv4 packet at the start of p.
func ParseIPv4(p []byte) (ip IPv4, ok bool) {
	if len(p) < 20 {
		return ip, false
	}
	h := (*[20]byte)(p)
	ihl, total := int(h[0]&0x0f)*4, int(binary.BigEndian.Uint16(h[2:4]))
	if h[0]>>4 != 4 || ihl < 20 || total < ihl || total > len(p) {
		return ip, false
	}
	return IPv4{Packet: p[:total], fixed: h}, true
}

// HeaderLen is the length of the header, options included.
func (ip IPv4) HeaderLen() int { return int(ip.fixed[0]&0x0f) * 4 }

// Header is the header, options included.
func (ip IPv4) Header() []byte { return ip.Packet[:ip.HeaderLen()] }

// Payload is what follows the header, up to the total length.
func (ip IPv4) Payload() []byte { return ip.Packet[ip.HeaderLen():] }

// TOS is the type-of-service byte.
func (ip IPv4) TOS() uint8 { return ip.fixed[1] }

// TTL is the time to live.
func (ip IPv4) TTL() uint8 { return ip.fixed[8] }

// Proto is the protocol number of the payload.
func (ip IPv4) Proto() uint8 { return ip.fixed[9] }

// Src is the source address.
func (ip IPv4) Src() [4]byte { return [4]byte(ip.fixed[12:16]) }

// Dst is the destination address.
func (ip IPv4) Dst() [4]byte { return [4]byte(ip.fixed[16:20]) }

// FragmentOffset is the fragment offset in 8-byte units: not 0 for every
// fragment but the first, which alone carries the transport header.
func (ip IPv4) FragmentOffset() uint16 { return binary.BigEndian.Uint16(ip.fixed[6:8]) & 0x1fff }

// Fragmented reports a fragment: more fragments follow, or the offset is
// not 0.
func (ip IPv4) Fragmented() bool { return binary.BigEndian.Uint16(ip.fixed[6:8])&0x3fff != 0 }

// ARP is an Ethernet/IPv4 ARP packet (hardware type 1, protocol IPv4,
// address lengths 6 and 4), the only kind SoftEther understands.
type ARP struct{ b *[28]byte }

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ParseARP reads the ARP packet at the start of p.
func ParseARP(p []byte) (a ARP, ok bool) {
	if len(p) < 28 || binary.BigEndian.Uint16(p[0:2]) != 1 || binary.BigEndian.Uint16(p[2:4]) != TypeIPv4 ||
		p[4] != 6 || p[5] != 4 {
		return ARP{}, false
	}
	return ARP{(*[28]byte)(p)}, true
}

// Op is the operation (ARPRequest, ARPReply).
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a.b[6:8]) }

// SenderMAC is the sender hardware address.
func (a ARP) SenderMAC() [6]byte { return [6]byte(a.b[8:14]) }

// SenderIP is the sender protocol address.
func (a ARP) SenderIP() [4]byte { return [4]byte(a.b[14:18]) }

// TargetMAC is the target hardware address.
func (a ARP) TargetMAC() [6]byte { return [6]byte(a.b[18:24]) }

// TargetIP is the target protocol address.
func (a ARP) TargetIP() [4]byte { return [4]byte(a.b[24:28]) }
