// Package openvpn implements the server side of the OpenVPN protocol core:
// the packet layer, the reliable control channel that carries TLS, key
// method 2 with OpenVPN's PRF and TLS-EKM key derivation, cipher negotiation,
// PUSH_REPLY, tls-crypt (v1) and the data channel (AEAD and CBC+HMAC,
// P_DATA_V1 and P_DATA_V2) with a replay window.
//
// It holds no sockets and knows nothing of hubs: a Session consumes the
// packets a transport received (Session.HandlePacket) and gives packets to
// send through a callback, so the same code serves UDP and TCP (framing
// helpers in frame.go). Facts from OpenVPN's source (ssl.c, ssl_pkt.c,
// reliable.c, crypto.c, packet_id.c) and SoftEther's Proto_OpenVPN.c.
package openvpn

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Opcodes of the packet layer: the high five bits of a packet's first byte
// (OpenVPN ssl_pkt.h; SoftEther Proto_OpenVPN.h OPENVPN_P_*).
const (
	OpControlSoftResetV1 = 3  // P_CONTROL_SOFT_RESET_V1: renegotiate on a new key id
	OpControlV1          = 4  // P_CONTROL_V1: TLS bytes
	OpAckV1              = 5  // P_ACK_V1: acks only
	OpDataV1             = 6  // P_DATA_V1: data channel
	OpHardResetClientV2  = 7  // P_CONTROL_HARD_RESET_CLIENT_V2: a client starts a session
	OpHardResetServerV2  = 8  // P_CONTROL_HARD_RESET_SERVER_V2: the server's answer
	OpDataV2             = 9  // P_DATA_V2: data channel with a 24-bit peer id
	OpHardResetClientV3  = 10 // P_CONTROL_HARD_RESET_CLIENT_V3: tls-crypt-v2 (not served)
)

// MaxAcks is the most packet ids one control packet acknowledges
// (OpenVPN reliable.h RELIABLE_ACK_SIZE).
const MaxAcks = 8

// Errors of the packet codec; callers drop and count.
var (
	ErrShort     = errors.New("openvpn: packet too short")
	ErrTooMany   = errors.New("openvpn: too many acks")
	ErrNotData   = errors.New("openvpn: not a data packet")
	ErrNotCtl    = errors.New("openvpn: not a control packet")
	ErrBadLength = errors.New("openvpn: bad frame length")
)

// Opcode returns the opcode and key id of a packet's first byte.
func Opcode(b byte) (op, keyID byte) { return b >> 3, b & 7 }

// IsControl reports whether op is a control-channel opcode (anything that
// carries a session id rather than encrypted data).
func IsControl(op byte) bool {
	switch op {
	case OpControlSoftResetV1, OpControlV1, OpAckV1, OpHardResetClientV2, OpHardResetServerV2, OpHardResetClientV3:
		return true
	}
	return false
}

// Control is one parsed control packet. Acks and Payload alias the parsed
// buffer or the Control's own storage, so parsing allocates nothing.
type Control struct {
	Opcode          byte
	KeyID           byte
	SessionID       uint64 // the sender's session id
	Acks            []uint32
	RemoteSessionID uint64 // the receiver's session id, present when len(Acks) > 0
	PacketID        uint32 // absent in P_ACK_V1
	Payload         []byte // absent in P_ACK_V1

	ackBuf [MaxAcks]uint32
}

// ParseControl parses a control packet without tls-auth or tls-crypt:
// op|session id(8)|ack count(1)|acks(4 each)|remote session id(8) if acks|
// packet id(4) unless P_ACK_V1|payload (OpenVPN ssl_pkt.c, reliable.c;
// SoftEther Proto_OpenVPN.c OvsParsePacket).
func ParseControl(b []byte, c *Control) error {
	if len(b) < 1+8+1 {
		return ErrShort
	}
	c.Opcode, c.KeyID = Opcode(b[0])
	if !IsControl(c.Opcode) {
		return ErrNotCtl
	}
	c.SessionID = binary.BigEndian.Uint64(b[1:9])
	n := int(b[9])
	if n > MaxAcks {
		return ErrTooMany
	}
	b = b[10:]
	if len(b) < 4*n {
		return ErrShort
	}
	c.Acks = c.ackBuf[:n]
	for i := range n {
		c.Acks[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	b = b[4*n:]
	c.RemoteSessionID = 0
	if n > 0 {
		if len(b) < 8 {
			return ErrShort
		}
		c.RemoteSessionID = binary.BigEndian.Uint64(b)
		b = b[8:]
	}
	c.PacketID, c.Payload = 0, nil
	if c.Opcode == OpAckV1 {
		if n == 0 {
			return fmt.Errorf("openvpn: P_ACK_V1 without acks")
		}
		return nil
	}
	if len(b) < 4 {
		return ErrShort
	}
	c.PacketID = binary.BigEndian.Uint32(b)
	c.Payload = b[4:]
	return nil
}

// AppendControl appends the wire form of c to dst.
func AppendControl(dst []byte, c *Control) []byte {
	dst = append(dst, c.Opcode<<3|c.KeyID&7)
	dst = binary.BigEndian.AppendUint64(dst, c.SessionID)
	dst = append(dst, byte(len(c.Acks)))
	for _, a := range c.Acks {
		dst = binary.BigEndian.AppendUint32(dst, a)
	}
	if len(c.Acks) > 0 {
		dst = binary.BigEndian.AppendUint64(dst, c.RemoteSessionID)
	}
	if c.Opcode != OpAckV1 {
		dst = binary.BigEndian.AppendUint32(dst, c.PacketID)
		dst = append(dst, c.Payload...)
	}
	return dst
}

// Data is the header of a data packet. For P_DATA_V1 Header is the opcode
// byte; for P_DATA_V2 it is the opcode byte and the 24-bit peer id, which the
// AEAD ciphers authenticate (OpenVPN ssl.c tls_pre_decrypt).
type Data struct {
	Opcode  byte
	KeyID   byte
	PeerID  uint32 // P_DATA_V2 only
	Header  []byte // 1 or 4 bytes
	Payload []byte // the encrypted rest
}

// ParseData splits a data packet into header and encrypted payload.
func ParseData(b []byte, d *Data) error {
	if len(b) < 1 {
		return ErrShort
	}
	d.Opcode, d.KeyID = Opcode(b[0])
	switch d.Opcode {
	case OpDataV1:
		d.PeerID, d.Header, d.Payload = 0, b[:1], b[1:]
	case OpDataV2:
		if len(b) < 4 {
			return ErrShort
		}
		d.PeerID = uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		d.Header, d.Payload = b[:4], b[4:]
	default:
		return ErrNotData
	}
	return nil
}

// PeerIDOf returns the peer id of a P_DATA_V2 packet, for a UDP server that
// finds sessions by peer id when a client's address changes.
func PeerIDOf(b []byte) (uint32, bool) {
	if len(b) < 4 || b[0]>>3 != OpDataV2 {
		return 0, false
	}
	return uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}
