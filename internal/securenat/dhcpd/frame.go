package dhcpd

import (
	"encoding/binary"
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// Header sizes and constants of the frames this package reads and writes.
const (
	etherLen    = 14
	vlanTagLen  = 4
	ipv4Len     = 20
	udpLen      = 8
	serverPort  = 67
	clientPort  = 68
	replyTTL    = 128 // SoftEther's virtual host TTL
	minDHCPSize = 300 // BOOTP minimum, kept by SoftEther's replies
)

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// udpFrame is the part of a received frame the server needs. payload
// aliases the frame.
type udpFrame struct {
	dst, src         [6]byte
	tagged           bool
	tci              uint16 // 802.1Q tag control information, if tagged
	srcIP, dstIP     netip.Addr
	srcPort, dstPort uint16
	payload          []byte
}

// parseUDP decodes an Ethernet II frame (at most one 802.1Q tag) carrying an
// unfragmented IPv4/UDP datagram with a valid IP header checksum. It does not
// allocate, so every frame of the hub can pass through it cheaply.
func parseUDP(frame []byte, f *udpFrame) bool {
	e, ok := ether.ParseEthernet(frame)
	if !ok || e.Type != ether.TypeIPv4 {
		return false
	}
	ip, ok := ether.ParseIPv4(e.Payload)
	if !ok || ip.Proto() != ether.ProtoUDP || ip.Fragmented() || len(ip.Payload()) < udpLen {
		return false
	}
	if ether.Checksum(ip.Header(), 0) != 0xffff { // a correct header sums to all ones
		return false
	}
	copy(f.dst[:], frame[0:6])
	copy(f.src[:], frame[6:12])
	f.tagged, f.tci = e.Tagged, e.TCI
	f.srcIP = netip.AddrFrom4(ip.Src())
	f.dstIP = netip.AddrFrom4(ip.Dst())
	udp := ip.Payload()
	f.srcPort = binary.BigEndian.Uint16(udp[0:2])
	f.dstPort = binary.BigEndian.Uint16(udp[2:4])
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < udpLen || ulen > len(udp) {
		return false
	}
	f.payload = udp[udpLen:ulen]
	return true
}

// buildFrame wraps a DHCP payload in UDP, IPv4 (TTL 128, DF clear, both
// checksums set) and Ethernet, with the request's 802.1Q tag if it had one.
func buildFrame(srcMAC, dstMAC [6]byte, tagged bool, tci uint16, srcIP, dstIP netip.Addr,
	srcPort, dstPort, ipID uint16, payload []byte) []byte {
	l2 := etherLen
	if tagged {
		l2 += vlanTagLen
	}
	n := l2 + ipv4Len + udpLen + len(payload)
	b := make([]byte, n)
	copy(b[0:6], dstMAC[:])
	copy(b[6:12], srcMAC[:])
	if tagged {
		binary.BigEndian.PutUint16(b[12:14], ether.TypeVLAN)
		binary.BigEndian.PutUint16(b[14:16], tci)
	}
	binary.BigEndian.PutUint16(b[l2-2:l2], ether.TypeIPv4)

	ip := b[l2 : l2+ipv4Len]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(ipv4Len+udpLen+len(payload)))
	binary.BigEndian.PutUint16(ip[4:6], ipID)
	ip[8] = replyTTL
	ip[9] = ether.ProtoUDP
	src, dst := srcIP.As4(), dstIP.As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:12], ^ether.Checksum(ip, 0))

	udp := b[l2+ipv4Len:]
	ulen := uint16(udpLen + len(payload))
	binary.BigEndian.PutUint16(udp[0:2], srcPort)
	binary.BigEndian.PutUint16(udp[2:4], dstPort)
	binary.BigEndian.PutUint16(udp[4:6], ulen)
	copy(udp[udpLen:], payload)
	// Pseudo-header: addresses, protocol, UDP length.
	cs := ^ether.Checksum(udp, ether.PseudoSum(ip, false, ether.ProtoUDP, int(ulen)))
	if cs == 0 {
		cs = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(udp[6:8], cs)
	return b
}
