package openvpn

import (
	"encoding/binary"
	"io"
)

// MaxPacket bounds one packet on the wire: a tun-mtu 1500 data packet plus
// OpenVPN's overhead fits with room; anything larger is refused.
const MaxPacket = 2048

// AppendFrame appends pkt with OpenVPN's TCP framing, a 16-bit big-endian
// length before each packet (OpenVPN socket.h stream_buf; SoftEther
// Proto_OpenVPN.c OvsProcessData).
func AppendFrame(dst, pkt []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(pkt)))
	return append(dst, pkt...)
}

// LooksLikeTCP reports whether the first bytes of a TCP stream are an
// OpenVPN client's first packet (a framed P_CONTROL_HARD_RESET_CLIENT_V2 or
// V3 on key id 0), so one listener can tell OpenVPN from SSL-VPN by peeking
// three bytes as SoftEther does with its "00 0E" check.
func LooksLikeTCP(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	n := int(binary.BigEndian.Uint16(b))
	return n >= 14 && n <= MaxPacket && (b[2] == OpHardResetClientV2<<3 || b[2] == OpHardResetClientV3<<3)
}

// FrameReader splits a TCP stream into packets. It owns one buffer of
// MaxPacket bytes and reuses it: the packet Next returns is valid until the
// next call.
type FrameReader struct {
	r   io.Reader
	buf [MaxPacket]byte
}

// NewFrameReader returns a FrameReader over r (buffer r for fewer reads).
func NewFrameReader(r io.Reader) *FrameReader { return &FrameReader{r: r} }

// Next reads one framed packet.
func (f *FrameReader) Next() ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.buf[:2]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(f.buf[:2]))
	if n == 0 || n > MaxPacket {
		return nil, ErrBadLength
	}
	if _, err := io.ReadFull(f.r, f.buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return f.buf[:n], nil
}
