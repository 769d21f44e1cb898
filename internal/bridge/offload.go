package bridge

import (
	"encoding/binary"
	"errors"
)

// The kernel hands a packet socket with PACKET_VNET_HDR each frame behind a
// virtio_net_hdr that says what the NIC offloads left undone: a checksum to
// complete (frames the host sends with checksum offload) and a segmentation
// to do (GRO-merged or TSO/GSO frames larger than the MTU). Doing that work
// here, in software, keeps every frame that enters the hub a real wire frame
// without changing the host NIC's offload settings (hub-and-securenat.md
// §10.1 [GO]).

// vnetHdrLen is the size of struct virtio_net_hdr.
const vnetHdrLen = 10

// virtio_net_hdr flags and GSO types (linux/virtio_net.h).
const (
	vnetNeedsCsum = 1
	gsoNone       = 0
	gsoTCPv4      = 1
	gsoUDP        = 3 // UFO (IP fragmentation): not produced by current kernels
	gsoTCPv6      = 4
	gsoUDPL4      = 5
	gsoECN        = 0x80
)

// vnetHdr is a parsed virtio_net_hdr (native byte order, as the packet
// socket writes it on little-endian hosts).
type vnetHdr struct {
	flags, gsoType       uint8
	gsoSize              uint16
	csumStart, csumOffst uint16
}

func parseVnetHdr(b []byte) vnetHdr {
	return vnetHdr{
		flags:     b[0],
		gsoType:   b[1],
		gsoSize:   binary.NativeEndian.Uint16(b[4:]),
		csumStart: binary.NativeEndian.Uint16(b[6:]),
		csumOffst: binary.NativeEndian.Uint16(b[8:]),
	}
}

// Errors of the offload fix-ups; the reader counts and drops such frames.
var (
	errBadOffload = errors.New("bridge: frame offload metadata does not match its headers")
	errGSOType    = errors.New("bridge: unsupported GSO type")
)

// completeChecksum finishes a checksum left partial by checksum offload:
// the 16-bit ones' complement of everything from start, stored at
// start+offset (the field holds the pseudo-header sum already).
func completeChecksum(f []byte, start, offset int) error {
	if start < 0 || start+offset+2 > len(f) {
		return errBadOffload
	}
	binary.BigEndian.PutUint16(f[start+offset:], ^fold(sum(f[start:], 0)))
	return nil
}

// sum adds b to acc as big-endian 16-bit words (RFC 1071).
func sum(b []byte, acc uint64) uint64 {
	for len(b) >= 8 {
		acc += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces a running sum to 16 bits with end-around carry.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// l3Offset returns where the IP header starts and its version: after the
// Ethernet header and any VLAN tags left in the frame.
func l3Offset(f []byte) (off int, ipv6 bool, ok bool) {
	off = 12
	for {
		if off+2 > len(f) {
			return 0, false, false
		}
		switch binary.BigEndian.Uint16(f[off:]) {
		case 0x8100, 0x88a8:
			off += 4
		case 0x0800:
			return off + 2, false, true
		case 0x86dd:
			return off + 2, true, true
		default:
			return 0, false, false
		}
	}
}

// segmenter cuts an oversized TCP or UDP frame into wire-size frames. Out
// is where the segments are built; the caller provides it from reused
// memory.
type segmenter struct {
	// alloc returns n bytes of scratch for one segment (valid until the
	// caller flushes its batch); emit takes a finished segment.
	alloc func(n int) []byte
	emit  func(frame []byte)
}

// segment splits f (whose offload header is h) into frames carrying at most
// h.gsoSize bytes of payload each, fixing lengths, IDs, sequence numbers,
// flags and checksums as the NIC would have. tag, when non-zero, is a VLAN
// tag (TPID<<16 | TCI) inserted into every segment.
func (s *segmenter) segment(f []byte, h vnetHdr, tag uint32) error {
	l3, ipv6, ok := l3Offset(f)
	if !ok || h.gsoSize == 0 {
		return errBadOffload
	}
	l4 := int(h.csumStart)
	if l4 < l3+20 || l4 >= len(f) {
		return errBadOffload
	}
	var hdrLen int
	switch h.gsoType &^ gsoECN {
	case gsoTCPv4, gsoTCPv6:
		if l4+20 > len(f) {
			return errBadOffload
		}
		hdrLen = l4 + int(f[l4+12]>>4)*4
		if hdrLen < l4+20 {
			return errBadOffload
		}
	case gsoUDPL4:
		hdrLen = l4 + 8
	default:
		return errGSOType
	}
	if hdrLen > len(f) || (ipv6 && l4 < l3+40) {
		return errBadOffload
	}
	tcp := h.gsoType&^gsoECN != gsoUDPL4
	payload := f[hdrLen:]
	mss := int(h.gsoSize)
	var seq0, id0 uint32
	if tcp {
		seq0 = binary.BigEndian.Uint32(f[l4+4:])
	}
	if !ipv6 {
		id0 = uint32(binary.BigEndian.Uint16(f[l3+4:]))
	}
	tagLen := 0
	if tag != 0 {
		tagLen = 4
	}
	for i := 0; len(payload) > 0 || i == 0; i++ {
		n := min(mss, len(payload))
		last := n == len(payload)
		out := s.alloc(tagLen + hdrLen + n)
		// Headers first (untagged offsets), then the tag goes in front.
		seg := out[tagLen:]
		copy(seg, f[:hdrLen])
		copy(seg[hdrLen:], payload[:n])
		payload = payload[n:]
		if ipv6 {
			binary.BigEndian.PutUint16(seg[l3+4:], uint16(len(seg)-l3-40))
		} else {
			binary.BigEndian.PutUint16(seg[l3+2:], uint16(len(seg)-l3))
			binary.BigEndian.PutUint16(seg[l3+4:], uint16(id0+uint32(i)))
			ihl := int(seg[l3]&0x0f) * 4
			if ihl < 20 || l3+ihl > l4 {
				return errBadOffload
			}
			seg[l3+10], seg[l3+11] = 0, 0
			binary.BigEndian.PutUint16(seg[l3+10:], ^fold(sum(seg[l3:l3+ihl], 0)))
		}
		var csumAt int
		if tcp {
			binary.BigEndian.PutUint32(seg[l4+4:], seq0+uint32(i*mss))
			const fin, psh, cwr = 0x01, 0x08, 0x80
			if !last {
				seg[l4+13] &^= fin | psh
			}
			if i > 0 {
				seg[l4+13] &^= cwr
			}
			csumAt = l4 + 16
		} else {
			binary.BigEndian.PutUint16(seg[l4+4:], uint16(len(seg)-l4))
			csumAt = l4 + 6
		}
		seg[csumAt], seg[csumAt+1] = 0, 0
		c := ^fold(sum(seg[l4:], pseudoHeader(seg, l3, l4, ipv6, tcp)))
		if !tcp && c == 0 {
			c = 0xffff // UDP sends a computed zero as all ones
		}
		binary.BigEndian.PutUint16(seg[csumAt:], c)
		if tagLen > 0 {
			copy(out, seg[:12])
			binary.BigEndian.PutUint32(out[12:], tag)
		}
		s.emit(out)
		if last {
			break
		}
	}
	return nil
}

// pseudoHeader sums the IPv4 or IPv6 pseudo-header of the transport
// segment at seg[l4:].
func pseudoHeader(seg []byte, l3, l4 int, ipv6, tcp bool) uint64 {
	proto := uint64(17)
	if tcp {
		proto = 6
	}
	length := uint64(len(seg) - l4)
	if ipv6 {
		return sum(seg[l3+8:l3+40], proto+length)
	}
	return sum(seg[l3+12:l3+20], proto+length)
}
