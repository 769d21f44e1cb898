// Package wireguard holds what the WireGuard server needs in front of the
// WireGuard library (golang.zx2c4.com/wireguard): telling a WireGuard
// datagram by its type and size, reading its receiver index, and the
// first steps of the responder's Noise_IKpsk2 handshake, enough to learn
// which client key sent an initiation. The server runs one library device
// per client (docs/protocol/native.md#wireguard); this package lets its
// demultiplexer pick that device before any device has seen the datagram.
//
// The message formats and the handshake are those of the WireGuard paper
// (https://www.wireguard.com/papers/wireguard.pdf, section 5.4) as
// SoftEther implements them (Proto_WireGuard.c, WgsDetectProtocol and
// WgsProcessHandshakeInit) and wireguard-go does (device/noise-protocol.go).
package wireguard

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

// Message types (the first byte; the next three are zero).
const (
	TypeInitiation  = 1
	TypeResponse    = 2
	TypeCookieReply = 3
	TypeTransport   = 4
)

// Message sizes: the handshake messages have fixed sizes, a transport
// message is a 16-byte header, the padded payload and a 16-byte tag.
const (
	InitiationSize   = 148
	ResponseSize     = 92
	CookieReplySize  = 64
	MinTransportSize = 32
	// MaxMessageSize bounds what the server accepts: a transport message
	// carrying the largest inner packet the library sends (65535) would
	// never cross the hub (1500), so anything beyond a jumbo datagram is
	// noise.
	MaxMessageSize = 65535
)

// Noise constants (the WireGuard paper, section 5.4; wireguard-go
// device/noise-protocol.go).
const (
	construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
	identifier   = "WireGuard v1 zx2c4 Jason@zx2c4.com"
	labelMAC1    = "mac1----"
)

// Errors of Responder.Initiator.
var (
	ErrNotInitiation = errors.New("wireguard: not a handshake initiation")
	ErrBadMAC1       = errors.New("wireguard: initiation with a wrong MAC1")
	ErrBadStatic     = errors.New("wireguard: initiation whose static key does not decrypt")
)

// Type returns the message type of a WireGuard datagram, or 0 when the
// datagram is not one: its type is unknown, the three reserved bytes are
// not zero, or its size does not fit its type (SoftEther
// Proto_WireGuard.c, WgsDetectProtocol checks the same).
func Type(pkt []byte) int {
	if len(pkt) < 4 || pkt[1] != 0 || pkt[2] != 0 || pkt[3] != 0 || len(pkt) > MaxMessageSize {
		return 0
	}
	switch t := int(pkt[0]); {
	case t == TypeInitiation && len(pkt) == InitiationSize,
		t == TypeResponse && len(pkt) == ResponseSize,
		t == TypeCookieReply && len(pkt) == CookieReplySize,
		t == TypeTransport && len(pkt) >= MinTransportSize:
		return t
	}
	return 0
}

// IsMessage reports whether a datagram is a WireGuard message. No
// OpenVPN packet is one: OpenVPN's first byte is its opcode (1-10) shifted
// left by three bits, never 1-4.
func IsMessage(pkt []byte) bool { return Type(pkt) != 0 }

// ReceiverIndex returns the receiver index of a response, cookie reply or
// transport message: the index the receiving side chose for itself, by
// which the server finds the client's device. ok is false for an
// initiation (it has none) and for what Type refuses.
func ReceiverIndex(pkt []byte) (idx uint32, ok bool) {
	switch Type(pkt) {
	case TypeResponse:
		return binary.LittleEndian.Uint32(pkt[8:12]), true
	case TypeCookieReply, TypeTransport:
		return binary.LittleEndian.Uint32(pkt[4:8]), true
	}
	return 0, false
}

// SenderIndex returns the sender index of an initiation or a response:
// the index its sender will be addressed by. The server learns its
// devices' indices from the messages they send.
func SenderIndex(pkt []byte) (idx uint32, ok bool) {
	switch Type(pkt) {
	case TypeInitiation, TypeResponse:
		return binary.LittleEndian.Uint32(pkt[4:8]), true
	}
	return 0, false
}

// Key is a Curve25519 key.
type Key [32]byte

// ParseKey decodes a base64 key, as wg(8) and SoftEther write them.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, errors.New("wireguard: a key is 32 bytes in base64")
	}
	copy(k[:], b)
	return k, nil
}

// String is the key in base64.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// PublicKey returns the public key of a private key.
func (k Key) PublicKey() Key {
	var pub Key
	curve25519.ScalarBaseMult((*[32]byte)(&pub), (*[32]byte)(&k))
	return pub
}

// Responder runs the server's side of the first handshake steps with one
// static key. It is safe for concurrent use (it holds no state).
type Responder struct {
	private, public Key
	mac1Key         [blake2s.Size]byte
	hash, chainKey  [blake2s.Size]byte // after the responder's static key is mixed in
}

// NewResponder makes the responder of the server's private key.
func NewResponder(private Key) *Responder {
	r := &Responder{private: private, public: private.PublicKey()}
	r.chainKey = blake2s.Sum256([]byte(construction))
	r.hash = mixHash(mixHash(r.chainKey, []byte(identifier)), r.public[:])
	r.mac1Key = blake2s.Sum256(append([]byte(labelMAC1), r.public[:]...))
	return r
}

// PublicKey is the server's public key.
func (r *Responder) PublicKey() Key { return r.public }

// CheckMAC1 reports whether a handshake message (initiation or response)
// carries the MAC1 of the server's public key.
func (r *Responder) CheckMAC1(msg []byte) bool {
	if len(msg) < 32 {
		return false
	}
	off := len(msg) - 32
	mac, _ := blake2s.New128(r.mac1Key[:])
	mac.Write(msg[:off])
	var sum [blake2s.Size]byte
	return subtle.ConstantTimeCompare(mac.Sum(sum[:0]), msg[off:off+16]) == 1
}

// Initiator checks an initiation's MAC1 and decrypts the initiator's
// static public key: the first steps of the responder (the WireGuard
// paper, section 5.4.2; SoftEther Proto_WireGuard.c,
// WgsProcessHandshakeInit; wireguard-go ConsumeMessageInitiation). The
// rest (timestamp, replay, response) is the library's, in the device of
// that key.
func (r *Responder) Initiator(msg []byte) (Key, error) {
	var static Key
	if Type(msg) != TypeInitiation {
		return static, ErrNotInitiation
	}
	if !r.CheckMAC1(msg) {
		return static, ErrBadMAC1
	}
	ephemeral := msg[8:40]
	hash := mixHash(r.hash, ephemeral)
	chainKey := kdf1(r.chainKey, ephemeral)
	ss, err := curve25519.X25519(r.private[:], ephemeral)
	if err != nil { // a low-order point: all-zero shared secret
		return static, ErrBadStatic
	}
	var key [chacha20poly1305.KeySize]byte
	chainKey, key = kdf2(chainKey, ss)
	aead, _ := chacha20poly1305.New(key[:])
	var nonce [chacha20poly1305.NonceSize]byte
	var out [32]byte
	if _, err := aead.Open(out[:0], nonce[:], msg[40:88], hash[:]); err != nil {
		return static, ErrBadStatic
	}
	copy(static[:], out[:])
	return static, nil
}

func mixHash(h [blake2s.Size]byte, data []byte) [blake2s.Size]byte {
	d, _ := blake2s.New256(nil)
	d.Write(h[:])
	d.Write(data)
	var out [blake2s.Size]byte
	d.Sum(out[:0])
	return out
}

func newHMAC(key []byte) hash.Hash {
	return hmac.New(func() hash.Hash { h, _ := blake2s.New256(nil); return h }, key)
}

func hmacSum(key []byte, parts ...[]byte) [blake2s.Size]byte {
	m := newHMAC(key)
	for _, p := range parts {
		m.Write(p)
	}
	var out [blake2s.Size]byte
	m.Sum(out[:0])
	return out
}

// kdf1 and kdf2 are the paper's KDF_n (HKDF over HMAC-BLAKE2s).
func kdf1(key [blake2s.Size]byte, input []byte) [blake2s.Size]byte {
	t0 := hmacSum(key[:], input)
	return hmacSum(t0[:], []byte{1})
}

func kdf2(key [blake2s.Size]byte, input []byte) (a, b [blake2s.Size]byte) {
	t0 := hmacSum(key[:], input)
	a = hmacSum(t0[:], []byte{1})
	b = hmacSum(t0[:], a[:], []byte{2})
	return a, b
}
