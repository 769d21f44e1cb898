// Package offload does a NIC's offload work in software for frames that
// come with a virtio_net_hdr: from a TAP opened with IFF_VNET_HDR
// (internal/tap) or a packet socket with PACKET_VNET_HDR (internal/bridge).
//
// The kernel hands such frames over with their checksums left partial and,
// with GSO/GRO, as TCP or UDP super-frames of up to 64 KiB. The VPN only
// carries real wire frames (SoftEther peers expect Ethernet frames of at
// most 1514 bytes plus VLAN tags), so CompleteChecksum finishes a partial
// checksum and Segmenter cuts a super-frame into wire frames with their own
// headers and checksums. Coalescer does the reverse for frames going into
// a TAP (GRO): runs of in-order segments of one TCP flow become one write,
// so the kernel's stack handles one large packet instead of dozens.
//
// Nothing here allocates per frame: callers provide the buffers.
package offload

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// VnetHdrLen is the size of struct virtio_net_hdr, the kernel's default
// TUNSETVNETHDRSZ and what PACKET_VNET_HDR puts in front of a frame.
const VnetHdrLen = 10

// virtio_net_hdr flags and GSO types (linux/virtio_net.h).
const (
	NeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM: a checksum is left partial

	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3 // UFO (IP fragmentation): not produced by current kernels, refused
	GSOTCPv6 = 4
	GSOUDPL4 = 5
	GSOECN   = 0x80 // flag on a TCP GSO type: the sender set ECN's CWR
)

// Frame limits.
const (
	// MaxWireFrame is the largest untagged Ethernet frame the VPN carries;
	// each VLAN tag in a frame adds 4 bytes.
	MaxWireFrame = 1514
	// MaxSegmentLen is the longest frame Segmenter.Next builds: a wire
	// frame with two VLAN tags of its own and one inserted tag.
	MaxSegmentLen = MaxWireFrame + 3*4
	// maxIPLen is the largest IP packet a coalesced write may carry (the
	// 16-bit length fields).
	maxIPLen = 65535
	// SuperBufSize holds the largest offload read or write: the header,
	// an Ethernet header with two VLAN tags and a 64 KiB IP packet, plus
	// one byte so that a read filling the buffer shows it was cut short.
	SuperBufSize = VnetHdrLen + 14 + 8 + maxIPLen + 1
)

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

// VnetHdr is a virtio_net_hdr. It is in native byte order (the kernel's
// choice for a TAP unless TUNSETVNETLE/BE say otherwise, and always for a
// packet socket).
type VnetHdr struct {
	Flags, GSOType        uint8
	HdrLen, GSOSize       uint16 // header bytes before the payload; payload bytes per segment
	CsumStart, CsumOffset uint16 // where the checksummed bytes start; the field's offset from there
}

// DecodeVnetHdr reads the header at the start of b, which must hold at
// least VnetHdrLen bytes.
func DecodeVnetHdr(b []byte) VnetHdr {
	return VnetHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.NativeEndian.Uint16(b[2:]),
		GSOSize:    binary.NativeEndian.Uint16(b[4:]),
		CsumStart:  binary.NativeEndian.Uint16(b[6:]),
		CsumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
}

// Encode writes h into the first VnetHdrLen bytes of b.
func (h VnetHdr) Encode(b []byte) {
	b[0], b[1] = h.Flags, h.GSOType
	binary.NativeEndian.PutUint16(b[2:], h.HdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.GSOSize)
	binary.NativeEndian.PutUint16(b[6:], h.CsumStart)
	binary.NativeEndian.PutUint16(b[8:], h.CsumOffset)
}

// ErrOffload is why a frame read with offload metadata cannot be used: the
// metadata does not fit the frame's headers. The kernel never sends such
// frames; callers count and drop them, so that a bug does not become a
// corrupt frame on the VPN.
var ErrOffload = errors.New("offload: frame does not match its offload header")

// ErrGSOType is returned for a segmentation this package does not do
// (UFO, unknown types). It wraps ErrOffload.
var ErrGSOType = fmt.Errorf("%w: unsupported GSO type", ErrOffload)

// L3Offset finds the IP header after the Ethernet header and up to two
// VLAN tags, and says whether it is IPv6; ok is false for anything else.
func L3Offset(f []byte) (off int, ipv6, ok bool) {
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

// CompleteChecksum finishes a checksum that offload left partial
// (CHECKSUM_PARTIAL): the field at start+off holds the pseudo-header sum,
// and the checksum covers everything from start to the end of the frame.
func CompleteChecksum(f []byte, start, off int) error {
	if start < 14 || off < 0 || start+off+2 > len(f) {
		return ErrOffload
	}
	c := ^ether.Fold(ether.Sum(f[start:], 0))
	if c == 0 && off == 6 {
		c = 0xffff // UDP's 0 means "no checksum"; all ones is the same sum
	}
	binary.BigEndian.PutUint16(f[start+off:], c)
	return nil
}
