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
	etherIPv4   = 0x0800
	etherVLAN   = 0x8100
	protoUDP    = 17
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
	if len(frame) < etherLen+ipv4Len+udpLen {
		return false
	}
	copy(f.dst[:], frame[0:6])
	copy(f.src[:], frame[6:12])
	typ := binary.BigEndian.Uint16(frame[12:14])
	l3 := frame[etherLen:]
	f.tagged = false
	if typ == etherVLAN {
		if len(frame) < etherLen+vlanTagLen+ipv4Len+udpLen {
			return false
		}
		f.tagged = true
		f.tci = binary.BigEndian.Uint16(frame[14:16])
		typ = binary.BigEndian.Uint16(frame[16:18])
		l3 = frame[etherLen+vlanTagLen:]
	}
	if typ != etherIPv4 || l3[0]>>4 != 4 {
		return false
	}
	ihl := int(l3[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(l3[2:4]))
	if ihl < ipv4Len || total < ihl+udpLen || total > len(l3) {
		return false
	}
	if l3[9] != protoUDP || binary.BigEndian.Uint16(l3[6:8])&0x3fff != 0 { // MF or offset: a fragment
		return false
	}
	if ether.Checksum(l3[:ihl], 0) != 0xffff { // a correct header sums to all ones
		return false
	}
	f.srcIP = netip.AddrFrom4([4]byte(l3[12:16]))
	f.dstIP = netip.AddrFrom4([4]byte(l3[16:20]))
	udp := l3[ihl:total]
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
		binary.BigEndian.PutUint16(b[12:14], etherVLAN)
		binary.BigEndian.PutUint16(b[14:16], tci)
	}
	binary.BigEndian.PutUint16(b[l2-2:l2], etherIPv4)

	ip := b[l2 : l2+ipv4Len]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(ipv4Len+udpLen+len(payload)))
	binary.BigEndian.PutUint16(ip[4:6], ipID)
	ip[8] = replyTTL
	ip[9] = protoUDP
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
	cs := ^ether.Checksum(udp, ether.PseudoSum(ip, false, protoUDP, int(ulen)))
	if cs == 0 {
		cs = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(udp[6:8], cs)
	return b
}
