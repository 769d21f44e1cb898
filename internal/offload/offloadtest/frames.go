// Package offloadtest builds Ethernet frames carrying TCP or UDP for the
// tests of internal/offload and of the packages that use it (tap, bridge).
// Checksums are computed with gVisor's checksum code, an implementation
// independent of the one under test. Only tests import it.
package offloadtest

import (
	"encoding/binary"
	"math/rand/v2"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// TCP flags for Frame.
const (
	FIN = 0x01
	SYN = 0x02
	PSH = 0x08
	ACK = 0x10
	CWR = 0x80
)

// Flow describes the TCP (or UDP) packets that Frame builds: from
// 10.0.0.1 or fd00::1 port 40000 to 10.0.0.2 or fd00::2 port 5201.
type Flow struct {
	IPv6, UDP bool
	VLAN      bool // one 802.1Q tag (VLAN 7)
	Opts      int  // TCP option bytes (NOPs), a multiple of 4
}

var (
	macs  = []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
	srcV4 = []byte{10, 0, 0, 1}
	dstV4 = []byte{10, 0, 0, 2}
	srcV6 = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	dstV6 = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
)

// Frame builds an Ethernet frame of fl with valid lengths and checksums.
// seq and flags are ignored for UDP, id for IPv6.
func (fl Flow) Frame(seq uint32, id uint16, flags byte, payload []byte) []byte {
	f := append([]byte(nil), macs...)
	if fl.VLAN {
		f = append(f, 0x81, 0x00, 0x00, 0x07)
	}
	l4len := 20 + fl.Opts
	proto := byte(6)
	if fl.UDP {
		l4len, proto = 8, 17
	}
	l3 := len(f) + 2
	if fl.IPv6 {
		f = append(f, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len+len(payload)))
		ip[6], ip[7] = proto, 64
		copy(ip[8:], srcV6)
		copy(ip[24:], dstV6)
		f = append(f, ip...)
	} else {
		f = append(f, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len+len(payload)))
		binary.BigEndian.PutUint16(ip[4:], id)
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, proto
		copy(ip[12:], srcV4)
		copy(ip[16:], dstV4)
		binary.BigEndian.PutUint16(ip[10:], ^checksum.Checksum(ip, 0))
		f = append(f, ip...)
	}
	l4 := len(f)
	h := make([]byte, l4len)
	binary.BigEndian.PutUint16(h, 40000)
	binary.BigEndian.PutUint16(h[2:], 5201)
	if fl.UDP {
		binary.BigEndian.PutUint16(h[4:], uint16(l4len+len(payload)))
	} else {
		binary.BigEndian.PutUint32(h[4:], seq)
		binary.BigEndian.PutUint32(h[8:], 0x01020304)
		h[12] = byte(l4len/4) << 4
		h[13] = flags
		binary.BigEndian.PutUint16(h[14:], 512)
		for i := 20; i < l4len; i++ {
			h[i] = 1
		}
	}
	f = append(f, h...)
	f = append(f, payload...)
	csumAt := l4 + 16
	if fl.UDP {
		csumAt = l4 + 6
	}
	binary.BigEndian.PutUint16(f[csumAt:], ^checksum.Checksum(f[l4:], PseudoSum(f[l3:], fl.IPv6, proto, len(f)-l4)))
	return f
}

// PseudoSum is the folded sum of the IPv4 or IPv6 pseudo-header of a
// transport segment of l4Len bytes; ip is the IP header.
func PseudoSum(ip []byte, ipv6 bool, proto byte, l4Len int) uint16 {
	var x uint16
	if ipv6 {
		x = checksum.Checksum(ip[8:40], 0)
	} else {
		x = checksum.Checksum(ip[12:20], 0)
	}
	return checksum.Combine(x, uint16(proto)+uint16(l4Len))
}

// Checksum is gVisor's Internet checksum of b added to initial, folded
// but not complemented: a valid packet sums to 0xffff.
func Checksum(b []byte, initial uint16) uint16 { return checksum.Checksum(b, initial) }

// Stream cuts payload into frames of fl of at most mss payload bytes, as
// a sender would: sequence numbers and IPv4 IDs count up, the last frame
// has PSH.
func Stream(fl Flow, seq uint32, id uint16, payload []byte, mss int) [][]byte {
	var out [][]byte
	for len(payload) > 0 {
		n := min(mss, len(payload))
		flags := byte(ACK)
		if n == len(payload) {
			flags |= PSH
		}
		out = append(out, fl.Frame(seq, id, flags, payload[:n]))
		seq += uint32(n)
		id++
		payload = payload[n:]
	}
	return out
}

// RandomPayload returns n pseudo-random bytes, the same for the same n.
func RandomPayload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
