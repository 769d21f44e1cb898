package tap

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// With Config.Offload the device is opened with IFF_VNET_HDR and the kernel
// may hand over TCP segments of up to 64 KiB (TSO/GSO) whose checksums are
// left for the "hardware" to complete, each behind a virtio_net_hdr that
// says what is left to do. The VPN only carries real wire frames (SoftEther
// peers expect Ethernet frames of at most 1514 bytes), so this file does
// the NIC's work in software: segmenter cuts a super-frame into wire frames
// with their own headers and checksums, and coalescer does the reverse for
// frames going into the device (GRO): runs of in-order segments of one TCP
// flow become one write, so the kernel's stack handles one large packet
// instead of dozens. Either way, one system call moves up to 64 KiB instead
// of one frame.

// vnetHdrLen is the size of struct virtio_net_hdr, the kernel's default
// TUNSETVNETHDRSZ.
const vnetHdrLen = 10

// virtio_net_hdr flags and GSO types (linux/virtio_net.h).
const (
	vnetNeedsCsum = 1

	gsoNone   = 0
	gsoTCPv4  = 1
	gsoTCPv6  = 4
	gsoUDPL4  = 5
	gsoECNBit = 0x80
)

// Offload limits.
const (
	// maxWireFrame is the largest untagged Ethernet frame the VPN carries;
	// each VLAN tag in a frame adds 4 bytes.
	maxWireFrame = 1514
	// maxIPLen is the largest IP packet a coalesced write may carry (the
	// 16-bit length fields).
	maxIPLen = 65535
	// superBufSize holds the largest read or write: the header, an
	// Ethernet header with two VLAN tags and a 64 KiB IP packet.
	superBufSize = vnetHdrLen + 14 + 8 + maxIPLen + 1
)

// vnetHdr is a virtio_net_hdr in native byte order (the kernel's choice
// for a TAP unless TUNSETVNETLE/BE say otherwise).
type vnetHdr struct {
	flags, gsoType     uint8
	hdrLen, gsoSize    uint16
	csumStart, csumOff uint16
}

func decodeVnetHdr(b []byte) vnetHdr {
	return vnetHdr{
		flags:     b[0],
		gsoType:   b[1],
		hdrLen:    binary.NativeEndian.Uint16(b[2:]),
		gsoSize:   binary.NativeEndian.Uint16(b[4:]),
		csumStart: binary.NativeEndian.Uint16(b[6:]),
		csumOff:   binary.NativeEndian.Uint16(b[8:]),
	}
}

func (h vnetHdr) encode(b []byte) {
	b[0], b[1] = h.flags, h.gsoType
	binary.NativeEndian.PutUint16(b[2:], h.hdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.gsoSize)
	binary.NativeEndian.PutUint16(b[6:], h.csumStart)
	binary.NativeEndian.PutUint16(b[8:], h.csumOff)
}

// errOffload is why a frame read with offload metadata was dropped: the
// metadata does not fit the frame's headers (or asks for something this
// package does not do). The kernel never sends such frames; the check
// keeps a bug from becoming a corrupt frame on the VPN.
var errOffload = errors.New("tap: frame does not match its offload header")

// sum adds b to acc as big-endian 16-bit words, the Internet checksum of
// RFC 1071 before folding. It adds 64 bits at a time: a ones' complement
// sum does not care how the words are grouped as long as carries wrap
// around. acc must be below 2^62; the result is below 2^34.
func sum(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	acc, c = bits.Add64(acc, c, 0)
	acc += c // acc wrapped to 0 if c is 1: no second carry
	acc = acc>>32 + acc&0xffffffff
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// fold reduces a running sum to 16 bits with end-around carries.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// pseudoSum is the sum of the IPv4 or IPv6 pseudo-header of a transport
// segment of l4Len bytes; ip is the IP header.
func pseudoSum(ip []byte, ipv6 bool, proto uint8, l4Len int) uint64 {
	if ipv6 {
		return sum(ip[8:40], uint64(proto)+uint64(l4Len))
	}
	return sum(ip[12:20], uint64(proto)+uint64(l4Len))
}

// l3Offset finds the IP header after the Ethernet header and up to two
// VLAN tags.
func l3Offset(f []byte) (off int, ipv6, ok bool) {
	off = 12
	for off+2 <= len(f) && off <= 12+8 {
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
	return 0, false, false
}

// completeChecksum finishes a checksum that offload left partial: the
// field at start+off holds the pseudo-header sum, and the checksum covers
// everything from start to the end of the frame.
func completeChecksum(f []byte, start, off int) error {
	if start < 14 || off < 0 || start+off+2 > len(f) {
		return errOffload
	}
	c := ^fold(sum(f[start:], 0))
	if c == 0 && off == 6 {
		c = 0xffff // UDP's 0 means "no checksum"; all ones is the same sum
	}
	binary.BigEndian.PutUint16(f[start+off:], c)
	return nil
}

// segmenter cuts one GSO super-frame into wire frames, one per next call,
// so that its caller can stop when its queue is full and go on later.
type segmenter struct {
	f              []byte // the super-frame, from its Ethernet header
	l3, l4, hdrLen int
	ipv6, tcp      bool
	mss            int // payload bytes per segment
	off            int // offset in f of the next segment's payload
	i              int // index of the next segment
	seq            uint32
	id             uint16
}

// reset prepares to segment f as its offload header h says. It checks
// every offset the segments will use, so next cannot fail.
func (s *segmenter) reset(f []byte, h vnetHdr) error {
	*s = segmenter{}
	l3, ipv6, ok := l3Offset(f)
	if !ok || h.gsoSize == 0 {
		return errOffload
	}
	l4 := int(h.csumStart)
	if l4 < l3+20 || l4 > len(f) {
		return errOffload
	}
	var hdrLen int
	switch h.gsoType &^ gsoECNBit {
	case gsoTCPv4, gsoTCPv6:
		if ipv6 != (h.gsoType&^gsoECNBit == gsoTCPv6) || l4+20 > len(f) {
			return errOffload
		}
		hdrLen = l4 + int(f[l4+12]>>4)*4
		if hdrLen < l4+20 {
			return errOffload
		}
		s.tcp = true
	case gsoUDPL4:
		hdrLen = l4 + 8
	default:
		return errOffload
	}
	if hdrLen > len(f) {
		return errOffload
	}
	if ipv6 {
		if l4 < l3+40 || f[l3]>>4 != 6 {
			return errOffload
		}
	} else if f[l3]>>4 != 4 || l4 != l3+int(f[l3]&0x0f)*4 || l4 < l3+20 {
		return errOffload
	}
	// Room per segment: a wire frame, plus 4 bytes per VLAN tag.
	room := maxWireFrame + (l3 - 14) - hdrLen
	mss := int(h.gsoSize)
	if mss > room {
		if !s.tcp {
			// A UDP segment is a datagram: its size is not ours to change.
			return errOffload
		}
		// TCP does not mind smaller segments than the sender chose (a
		// TAP with an MTU above 1500 still sends wire-size frames).
		mss = room
	}
	if mss <= 0 {
		return errOffload
	}
	s.f, s.l3, s.l4, s.hdrLen, s.ipv6, s.mss, s.off = f, l3, l4, hdrLen, ipv6, mss, hdrLen
	if s.tcp {
		s.seq = binary.BigEndian.Uint32(f[l4+4:])
	}
	if !ipv6 {
		s.id = binary.BigEndian.Uint16(f[l3+4:])
	}
	return nil
}

// more says whether next has a segment left to build.
func (s *segmenter) more() bool {
	return s.f != nil && (s.off < len(s.f) || s.i == 0)
}

// next builds the next segment into dst (at least hdrLen+mss bytes, which
// maxWireFrame+8 always is) and returns its length.
func (s *segmenter) next(dst []byte) int {
	f, l3, l4 := s.f, s.l3, s.l4
	n := min(s.mss, len(f)-s.off)
	last := s.off+n == len(f)
	seg := dst[:s.hdrLen+n]
	copy(seg, f[:s.hdrLen])
	copy(seg[s.hdrLen:], f[s.off:s.off+n])
	if s.ipv6 {
		binary.BigEndian.PutUint16(seg[l3+4:], uint16(len(seg)-l3-40))
	} else {
		binary.BigEndian.PutUint16(seg[l3+2:], uint16(len(seg)-l3))
		binary.BigEndian.PutUint16(seg[l3+4:], s.id+uint16(s.i))
		seg[l3+10], seg[l3+11] = 0, 0
		binary.BigEndian.PutUint16(seg[l3+10:], ^fold(sum(seg[l3:l4], 0)))
	}
	var csumAt int
	var proto uint8
	if s.tcp {
		binary.BigEndian.PutUint32(seg[l4+4:], s.seq+uint32(s.off-s.hdrLen))
		const fin, psh, cwr = 0x01, 0x08, 0x80
		if !last {
			seg[l4+13] &^= fin | psh
		}
		if s.i > 0 {
			seg[l4+13] &^= cwr // congestion window reduced: said once
		}
		csumAt, proto = l4+16, 6
	} else {
		binary.BigEndian.PutUint16(seg[l4+4:], uint16(len(seg)-l4))
		csumAt, proto = l4+6, 17
	}
	seg[csumAt], seg[csumAt+1] = 0, 0
	c := ^fold(sum(seg[l4:], pseudoSum(seg[l3:], s.ipv6, proto, len(seg)-l4)))
	if c == 0 && !s.tcp {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[csumAt:], c)
	s.off += n
	s.i++
	if last {
		s.f = nil
	}
	return len(seg)
}

// tcpFrame is what the coalescer needs to know of an Ethernet frame that
// carries a TCP segment.
type tcpFrame struct {
	f       []byte // the frame without Ethernet padding
	l4, hdr int    // offsets of the TCP header and of the payload
	ipv6    bool
	seq     uint32
	id      uint16
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpECE = 0x40
	tcpCWR = 0x80
)

// parseTCPFrame accepts f if it is an untagged Ethernet frame with a plain
// IPv4 (no options, not a fragment) or IPv6 (no extension headers) header
// and a TCP segment with payload and correct checksums, and only ACK (and
// PSH) set. Only such frames are coalesced; the rest are written as they
// are, so that the kernel judges them.
func parseTCPFrame(f []byte) (t tcpFrame, ok bool) {
	if len(f) < 14+40 {
		return t, false
	}
	var end int
	switch binary.BigEndian.Uint16(f[12:]) {
	case 0x0800:
		ip := f[14:]
		if ip[0] != 0x45 || ip[9] != 6 || binary.BigEndian.Uint16(ip[6:])&^0x4000 != 0 {
			return t, false
		}
		end = 14 + int(binary.BigEndian.Uint16(ip[2:]))
		t.l4, t.id = 14+20, binary.BigEndian.Uint16(ip[4:])
		if fold(sum(ip[:20], 0)) != 0xffff {
			return t, false
		}
	case 0x86dd:
		ip := f[14:]
		if len(f) < 14+40+20 || ip[0]>>4 != 6 || ip[6] != 6 {
			return t, false
		}
		end = 14 + 40 + int(binary.BigEndian.Uint16(ip[4:]))
		t.l4, t.ipv6 = 14+40, true
	default:
		return t, false
	}
	if end > len(f) || t.l4+20 > end {
		return t, false
	}
	f = f[:end]
	tcp := f[t.l4:]
	t.hdr = t.l4 + int(tcp[12]>>4)*4
	if t.hdr < t.l4+20 || t.hdr >= end || tcp[13]&^tcpPSH != tcpACK {
		return t, false
	}
	if fold(sum(tcp, pseudoSum(f[14:], t.ipv6, 6, len(tcp)))) != 0xffff {
		return t, false
	}
	t.f, t.seq = f, binary.BigEndian.Uint32(tcp[4:])
	return t, true
}

// follows says whether b continues a's flow right after a: the same
// Ethernet, IP and TCP headers apart from lengths, IPv4 ID (one more),
// checksums, PSH and the sequence number (a's plus a's payload). Those are
// the conditions under which the kernel's own GRO merges segments.
func follows(a, b *tcpFrame) bool {
	if a.ipv6 != b.ipv6 || a.hdr != b.hdr || b.seq != a.seq+uint32(len(a.f)-a.hdr) {
		return false
	}
	fa, fb := a.f, b.f
	// Ethernet addresses and type.
	if string(fa[:14]) != string(fb[:14]) {
		return false
	}
	if a.ipv6 {
		// Version, traffic class, flow label; next header, hop limit,
		// addresses.
		if string(fa[14:18]) != string(fb[14:18]) || string(fa[20:54]) != string(fb[20:54]) {
			return false
		}
	} else {
		// TOS, flags, TTL, protocol, addresses; the ID counts up.
		if fa[15] != fb[15] || string(fa[20:24]) != string(fb[20:24]) || string(fa[26:34]) != string(fb[26:34]) ||
			b.id != a.id+1 {
			return false
		}
	}
	ta, tb := fa[a.l4:a.hdr], fb[b.l4:b.hdr]
	// Ports; acknowledgment, header length, flags but PSH, window, urgent
	// pointer; options (timestamps included, as GRO wants).
	return string(ta[0:4]) == string(tb[0:4]) && string(ta[8:13]) == string(tb[8:13]) &&
		ta[13]&^tcpPSH == tb[13]&^tcpPSH && string(ta[14:16]) == string(tb[14:16]) &&
		string(ta[18:]) == string(tb[18:])
}

// coalescer writes batches of frames into an offload device, merging runs
// of TCP segments. It is not safe for concurrent use; Port keeps a few.
type coalescer struct {
	buf    []byte // superBufSize: the virtio_net_hdr and the packet to write
	frames [maxCoalesce]tcpFrame
}

// maxCoalesce bounds how many segments one write merges (64 KiB of
// 1448-byte segments is 45).
const maxCoalesce = 64

func newCoalescer() *coalescer {
	return &coalescer{buf: make([]byte, superBufSize)}
}

// writeBatch writes frames through write, one call per frame or per run of
// merged segments; it returns how many frames were written and how many
// writes merged several frames. Frames longer than the device could take
// are counted as failed.
func (c *coalescer) writeBatch(frames [][]byte, write func([]byte) error) (written, merged, failed int) {
	for i := 0; i < len(frames); {
		run := c.frames[:0]
		if t, ok := parseTCPFrame(frames[i]); ok {
			run = append(run, t)
			// A segment shorter than the first, or one with PSH, ends the
			// run (GRO's rule: only the last may be short or pushed).
			mss := len(t.f) - t.hdr
			ipLen := len(t.f) - 14
			for j := i + 1; j < len(frames) && len(run) < maxCoalesce; j++ {
				prev := &run[len(run)-1]
				if prev.f[prev.l4+13]&tcpPSH != 0 || len(prev.f)-prev.hdr < mss {
					break
				}
				n, ok := parseTCPFrame(frames[j])
				pay := len(n.f) - n.hdr
				if !ok || pay > mss || ipLen+pay > maxIPLen || !follows(prev, &n) {
					break
				}
				ipLen += pay
				run = append(run, n)
			}
		}
		if len(run) > 1 {
			if err := write(c.merge(run)); err != nil {
				failed += len(run)
			} else {
				written += len(run)
				merged++
			}
			i += len(run)
			continue
		}
		f := frames[i]
		i++
		if len(f) > len(c.buf)-vnetHdrLen {
			failed++
			continue
		}
		clear(c.buf[:vnetHdrLen])
		n := copy(c.buf[vnetHdrLen:], f)
		if err := write(c.buf[:vnetHdrLen+n]); err != nil {
			failed++
		} else {
			written++
		}
	}
	return written, merged, failed
}

// merge builds one GSO packet from a run of segments: the first one's
// headers with the lengths of the whole, every payload in order, and a
// partial checksum for the kernel to complete or, for local delivery, to
// trust (each segment's checksum was verified in parseTCPFrame).
func (c *coalescer) merge(run []tcpFrame) []byte {
	first := &run[0]
	out := c.buf[vnetHdrLen:]
	n := copy(out, first.f)
	for i := 1; i < len(run); i++ {
		n += copy(out[n:], run[i].f[run[i].hdr:])
	}
	pkt := out[:n]
	l4 := first.l4
	if first.ipv6 {
		binary.BigEndian.PutUint16(pkt[18:], uint16(n-54))
	} else {
		binary.BigEndian.PutUint16(pkt[16:], uint16(n-14))
		pkt[24], pkt[25] = 0, 0
		binary.BigEndian.PutUint16(pkt[24:], ^fold(sum(pkt[14:34], 0)))
	}
	last := &run[len(run)-1]
	pkt[l4+13] |= last.f[last.l4+13] & tcpPSH
	binary.BigEndian.PutUint16(pkt[l4+16:], fold(pseudoSum(pkt[14:], first.ipv6, 6, n-l4)))
	gso := uint8(gsoTCPv4)
	if first.ipv6 {
		gso = gsoTCPv6
	}
	vnetHdr{
		flags: vnetNeedsCsum, gsoType: gso,
		hdrLen: uint16(first.hdr), gsoSize: uint16(len(first.f) - first.hdr),
		csumStart: uint16(l4), csumOff: 16,
	}.encode(c.buf)
	return c.buf[:vnetHdrLen+n]
}
