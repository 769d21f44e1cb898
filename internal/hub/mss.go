package hub

import "encoding/binary"

// minMSS is the smallest MSS clamping ever writes (docs/protocol/hub.md#mss-clamping).
const minMSS = 64

// mssOption finds the MSS option of a TCP SYN in frame b that clamping to
// target would lower (docs/protocol/hub.md#mss-clamping): an unfragmented IPv4 or IPv6 (no extension
// headers) segment, untagged or inside one 802.1Q tag, with SYN set and RST,
// PSH and URG clear. target is for an untagged IPv4 frame; the tag costs 4
// bytes and IPv6 20 more. [GO]: every option is scanned, not only the first.
//
// It returns the offset in b of the option's value, the offset of the TCP
// header, and the new MSS; off < 0 when nothing is to be done.
func mssOption(b []byte, target int) (off, tcpOff int, mss uint16) {
	if target <= 0 || len(b) < 14 {
		return -1, 0, 0
	}
	et, p := binary.BigEndian.Uint16(b[12:14]), 14
	if et == etherVLAN {
		if len(b) < 18 {
			return -1, 0, 0
		}
		et, p = binary.BigEndian.Uint16(b[16:18]), 18
		target -= 4
	}
	var end int
	switch et {
	case etherIPv4:
		if len(b) < p+20 || b[p]>>4 != 4 || b[p+9] != protoTCP {
			return -1, 0, 0
		}
		ihl := int(b[p]&0x0f) * 4
		end = p + int(binary.BigEndian.Uint16(b[p+2:p+4]))
		// MF set or a fragment offset: not one whole segment.
		if ihl < 20 || end > len(b) || end < p+ihl || binary.BigEndian.Uint16(b[p+6:p+8])&0x3fff != 0 {
			return -1, 0, 0
		}
		p += ihl
	case etherIPv6:
		if len(b) < p+40 || b[p]>>4 != 6 || b[p+6] != protoTCP {
			return -1, 0, 0
		}
		end = p + 40 + int(binary.BigEndian.Uint16(b[p+4:p+6]))
		if end > len(b) {
			return -1, 0, 0
		}
		p += 40
		target -= 20
	default:
		return -1, 0, 0
	}
	if end-p < 20 {
		return -1, 0, 0
	}
	const psh, urg = 0x08, 0x20
	if flags := b[p+13]; flags&tcpSYN == 0 || flags&(tcpRST|psh|urg) != 0 {
		return -1, 0, 0
	}
	hlen := int(b[p+12]>>4) * 4
	if hlen < 20 || p+hlen > end {
		return -1, 0, 0
	}
	want := uint16(max(target, minMSS))
	for o := p + 20; o < p+hlen; {
		switch kind := b[o]; kind {
		case 0: // end of options
			return -1, 0, 0
		case 1: // no-op
			o++
			continue
		}
		if o+1 >= p+hlen {
			return -1, 0, 0
		}
		n := int(b[o+1])
		if n < 2 || o+n > p+hlen {
			return -1, 0, 0
		}
		if b[o] == 2 && n == 4 {
			if binary.BigEndian.Uint16(b[o+2:o+4]) <= want {
				return -1, 0, 0
			}
			return o + 2, p, want
		}
		o += n
	}
	return -1, 0, 0
}

// clampMSS lowers the MSS option of a TCP SYN in b (docs/protocol/hub.md#mss-clamping) and updates the TCP
// checksum incrementally (RFC 1624). It reports whether b changed.
func clampMSS(b []byte, target int) bool {
	off, tcpOff, mss := mssOption(b, target)
	if off < 0 {
		return false
	}
	old := binary.BigEndian.Uint16(b[off : off+2])
	binary.BigEndian.PutUint16(b[off:off+2], mss)
	// The checksum sums 16-bit words from the TCP header's start; a value
	// at an odd position straddles two words, which amounts to summing it
	// with its bytes swapped.
	if (off-tcpOff)%2 == 1 {
		old, mss = old<<8|old>>8, mss<<8|mss>>8
	}
	ck := b[tcpOff+16 : tcpOff+18]
	sum := uint32(^binary.BigEndian.Uint16(ck)) + uint32(^old) + uint32(mss)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(ck, ^uint16(sum))
	return true
}
