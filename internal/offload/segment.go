package offload

import (
	"encoding/binary"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// Segmenter cuts one GSO super-frame into wire frames, one per Next call,
// so that its caller can stop when its queue is full and go on later. It
// fixes lengths, IPv4 IDs, TCP sequence numbers and flags, and checksums
// as the NIC would have. The zero value is ready for Reset.
type Segmenter struct {
	f              []byte // the super-frame, from its Ethernet header
	l3, l4, hdrLen int
	ipv6, tcp      bool
	mss            int    // payload bytes per segment
	off            int    // offset in f of the next segment's payload
	i              int    // index of the next segment
	tag            uint32 // VLAN tag to insert (TPID<<16 | TCI), or 0
	seq            uint32
	id             uint16
}

// Reset prepares to segment f as its offload header h says. tag, when not
// zero, is a VLAN tag (TPID<<16 | TCI) to insert into every segment, for a
// frame whose tag the kernel took out. Reset checks every offset the
// segments will use, so Next cannot fail.
//
// Segments are at most a wire frame (plus VLAN tags): TCP segments larger
// than that (a device with a jumbo MTU) are cut smaller, UDP ones are
// refused, since a datagram's size is not the segmenter's to change.
func (s *Segmenter) Reset(f []byte, h VnetHdr, tag uint32) error {
	*s = Segmenter{}
	l3, ipv6, ok := L3Offset(f)
	if !ok || h.GSOSize == 0 {
		return ErrOffload
	}
	l4 := int(h.CsumStart)
	if l4 < l3+20 || l4 > len(f) {
		return ErrOffload
	}
	var hdrLen int
	switch h.GSOType &^ GSOECN {
	case GSOTCPv4, GSOTCPv6:
		if ipv6 != (h.GSOType&^GSOECN == GSOTCPv6) || l4+20 > len(f) {
			return ErrOffload
		}
		hdrLen = l4 + int(f[l4+12]>>4)*4
		if hdrLen < l4+20 {
			return ErrOffload
		}
		s.tcp = true
	case GSOUDPL4:
		hdrLen = l4 + 8
	default:
		return ErrGSOType
	}
	if hdrLen > len(f) {
		return ErrOffload
	}
	if ipv6 {
		if l4 < l3+40 || f[l3]>>4 != 6 {
			return ErrOffload
		}
	} else if f[l3]>>4 != 4 || l4 != l3+int(f[l3]&0x0f)*4 {
		return ErrOffload
	}
	// Room per segment: a wire frame, plus 4 bytes per VLAN tag.
	room := MaxWireFrame + (l3 - 14) - hdrLen
	mss := int(h.GSOSize)
	if mss > room {
		if !s.tcp {
			return ErrOffload
		}
		// TCP does not mind smaller segments than the sender chose.
		mss = room
	}
	if mss <= 0 {
		return ErrOffload
	}
	s.f, s.l3, s.l4, s.hdrLen, s.ipv6, s.mss, s.off, s.tag = f, l3, l4, hdrLen, ipv6, mss, hdrLen, tag
	if s.tcp {
		s.seq = binary.BigEndian.Uint32(f[l4+4:])
	}
	if !ipv6 {
		s.id = binary.BigEndian.Uint16(f[l3+4:])
	}
	return nil
}

// More says whether Next has a segment left to build.
func (s *Segmenter) More() bool {
	return s.f != nil && (s.off < len(s.f) || s.i == 0)
}

// NextLen is the length of the segment Next builds next (at most
// MaxSegmentLen).
func (s *Segmenter) NextLen() int {
	n := s.hdrLen + min(s.mss, len(s.f)-s.off)
	if s.tag != 0 {
		n += 4
	}
	return n
}

// Next builds the next segment into dst, which must hold NextLen bytes
// (MaxSegmentLen always do), and returns its length.
func (s *Segmenter) Next(dst []byte) int {
	f, l3, l4 := s.f, s.l3, s.l4
	n := min(s.mss, len(f)-s.off)
	last := s.off+n == len(f)
	tagLen := 0
	if s.tag != 0 {
		tagLen = 4
	}
	// The segment is built at the frame's own offsets; an inserted tag
	// goes in front of its type field at the end.
	seg := dst[tagLen : tagLen+s.hdrLen+n]
	copy(seg, f[:s.hdrLen])
	copy(seg[s.hdrLen:], f[s.off:s.off+n])
	if s.ipv6 {
		binary.BigEndian.PutUint16(seg[l3+4:], uint16(len(seg)-l3-40))
	} else {
		binary.BigEndian.PutUint16(seg[l3+2:], uint16(len(seg)-l3))
		binary.BigEndian.PutUint16(seg[l3+4:], s.id+uint16(s.i))
		seg[l3+10], seg[l3+11] = 0, 0
		binary.BigEndian.PutUint16(seg[l3+10:], ^ether.Fold(ether.Sum(seg[l3:l4], 0)))
	}
	var csumAt int
	var proto uint8
	if s.tcp {
		binary.BigEndian.PutUint32(seg[l4+4:], s.seq+uint32(s.off-s.hdrLen))
		if !last {
			seg[l4+13] &^= tcpFIN | tcpPSH
		}
		if s.i > 0 {
			seg[l4+13] &^= tcpCWR // congestion window reduced: said once
		}
		csumAt, proto = l4+16, 6
	} else {
		binary.BigEndian.PutUint16(seg[l4+4:], uint16(len(seg)-l4))
		csumAt, proto = l4+6, 17
	}
	seg[csumAt], seg[csumAt+1] = 0, 0
	c := ^ether.Fold(ether.Sum(seg[l4:], ether.PseudoSum(seg[l3:], s.ipv6, proto, len(seg)-l4)))
	if c == 0 && !s.tcp {
		c = 0xffff // UDP sends a computed zero as all ones
	}
	binary.BigEndian.PutUint16(seg[csumAt:], c)
	if tagLen > 0 {
		copy(dst, seg[:12]) // the MAC addresses move 4 bytes forward
		binary.BigEndian.PutUint32(dst[12:], s.tag)
	}
	s.off += n
	s.i++
	if last {
		s.f = nil
	}
	return tagLen + len(seg)
}
