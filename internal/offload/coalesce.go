package offload

import (
	"encoding/binary"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// tcpFrame is what the coalescer needs to know of an Ethernet frame that
// carries a TCP segment.
type tcpFrame struct {
	f       []byte // the frame without Ethernet padding
	l4, hdr int    // offsets of the TCP header and of the payload
	ipv6    bool
	seq     uint32
	id      uint16
}

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
		if ether.Fold(ether.Sum(ip[:20], 0)) != 0xffff {
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
	if ether.Fold(ether.Sum(tcp, ether.PseudoSum(f[14:], t.ipv6, 6, len(tcp)))) != 0xffff {
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

// Coalescer writes batches of frames into a device opened with a
// virtio_net_hdr, merging runs of TCP segments into one write each. It is
// not safe for concurrent use; a user with concurrent writers keeps a few.
type Coalescer struct {
	buf    []byte // SuperBufSize: the virtio_net_hdr and the packet to write
	frames [maxCoalesce]tcpFrame
	run    []tcpFrame // what Run found, in frames
}

// maxCoalesce bounds how many segments one write merges (64 KiB of
// 1448-byte segments is 45).
const maxCoalesce = 64

// NewCoalescer returns a Coalescer with its write buffer (SuperBufSize
// bytes, reused for every write).
func NewCoalescer() *Coalescer {
	return &Coalescer{buf: make([]byte, SuperBufSize)}
}

// WriteBatch writes frames through write, each behind a virtio_net_hdr,
// one call per frame or per run of merged segments; it returns how many
// frames were written and how many writes merged several frames. Frames
// longer than the device could take are counted as failed. write must be
// done with its argument when it returns.
func (c *Coalescer) WriteBatch(frames [][]byte, write func([]byte) error) (written, merged, failed int) {
	for i := 0; i < len(frames); {
		if n := c.Run(frames[i:]); n > 1 {
			if err := write(c.Merge(c.buf)); err != nil {
				failed += n
			} else {
				written += n
				merged++
			}
			i += n
			continue
		}
		f := frames[i]
		i++
		if len(f) > len(c.buf)-VnetHdrLen {
			failed++
			continue
		}
		clear(c.buf[:VnetHdrLen])
		n := copy(c.buf[VnetHdrLen:], f)
		if err := write(c.buf[:VnetHdrLen+n]); err != nil {
			failed++
		} else {
			written++
		}
	}
	return written, merged, failed
}

// Run returns how many frames at the front of frames form a run of TCP
// segments that merge into one GSO packet (1 when the first frame starts
// none), and keeps the run for Merge. A user that writes with sendmmsg
// uses Run and Merge; one that writes a packet at a time, WriteBatch.
func (c *Coalescer) Run(frames [][]byte) int {
	c.run = c.frames[:0]
	if len(frames) == 0 {
		return 0
	}
	t, ok := parseTCPFrame(frames[0])
	if !ok {
		return 1
	}
	run := append(c.run, t)
	// A segment shorter than the first, or one with PSH, ends the
	// run (GRO's rule: only the last may be short or pushed).
	mss := len(t.f) - t.hdr
	ipLen := len(t.f) - 14
	for j := 1; j < len(frames) && len(run) < maxCoalesce; j++ {
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
	c.run = run
	return len(run)
}

// MergedLen is the length of what Merge builds for the last run: the
// virtio_net_hdr and the packet.
func (c *Coalescer) MergedLen() int {
	n := VnetHdrLen
	for i, t := range c.run {
		if i == 0 {
			n += len(t.f)
		} else {
			n += len(t.f) - t.hdr
		}
	}
	return n
}

// Merge builds one GSO packet behind its virtio_net_hdr in buf (which
// must hold MergedLen bytes) from the last run Run found, and returns it:
// the first segment's headers with the lengths of the whole, every payload
// in order, and a partial checksum for the kernel to complete or, for local
// delivery, to trust (each segment's checksum was verified in
// parseTCPFrame). The run's frames must not have changed since Run.
func (c *Coalescer) Merge(buf []byte) []byte {
	run := c.run
	first := &run[0]
	out := buf[VnetHdrLen:]
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
		binary.BigEndian.PutUint16(pkt[24:], ^ether.Fold(ether.Sum(pkt[14:34], 0)))
	}
	last := &run[len(run)-1]
	pkt[l4+13] |= last.f[last.l4+13] & tcpPSH
	binary.BigEndian.PutUint16(pkt[l4+16:], ether.Fold(ether.PseudoSum(pkt[14:], first.ipv6, 6, n-l4)))
	gso := uint8(GSOTCPv4)
	if first.ipv6 {
		gso = GSOTCPv6
	}
	VnetHdr{
		Flags: NeedsCsum, GSOType: gso,
		HdrLen: uint16(first.hdr), GSOSize: uint16(len(first.f) - first.hdr),
		CsumStart: uint16(l4), CsumOffset: 16,
	}.Encode(buf)
	return buf[:VnetHdrLen+n]
}
