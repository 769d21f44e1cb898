package openvpn

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// Data-channel errors; callers drop and count.
var (
	ErrAuth    = errors.New("openvpn: data packet fails authentication")
	ErrReplay  = errors.New("openvpn: replayed or too old data packet")
	ErrNoKey   = errors.New("openvpn: no data key for this key id")
	ErrPadding = errors.New("openvpn: bad CBC padding")
	ErrSpace   = errors.New("openvpn: packet id space exhausted")
)

// Cipher names this package negotiates, in the server's default order of
// preference (OpenVPN 2.6's default data-ciphers first).
var DefaultCiphers = []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305", "AES-256-CBC", "AES-128-CBC"}

type cipherSpec struct {
	name   string
	keyLen int
	aead   bool
}

func lookupCipher(name string) (cipherSpec, bool) {
	switch strings.ToUpper(name) {
	case "AES-128-GCM":
		return cipherSpec{"AES-128-GCM", 16, true}, true
	case "AES-256-GCM":
		return cipherSpec{"AES-256-GCM", 32, true}, true
	case "CHACHA20-POLY1305":
		return cipherSpec{"CHACHA20-POLY1305", 32, true}, true
	case "AES-128-CBC":
		return cipherSpec{"AES-128-CBC", 16, false}, true
	case "AES-256-CBC":
		return cipherSpec{"AES-256-CBC", 32, false}, true
	}
	return cipherSpec{}, false
}

// lookupAuth returns the HMAC hash of an OpenVPN "auth" name (CBC only).
func lookupAuth(name string) (string, func() hash.Hash, bool) {
	switch strings.ToUpper(name) {
	case "SHA1", "":
		return "SHA1", sha1.New, true
	case "SHA256":
		return "SHA256", sha256.New, true
	case "SHA512":
		return "SHA512", sha512.New, true
	}
	return "", nil, false
}

// pingMagic is the payload of OpenVPN's keepalive ping on the data channel
// (OpenVPN ping.c ping_string; SoftEther Proto_OpenVPN.c ping_signature).
var pingMagic = [16]byte{0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48}

// occMagic starts OpenVPN's OCC messages, which travel on the data channel
// (OpenVPN occ.c occ_magic); OCC_EXIT (6) is the UDP client's explicit exit
// notification (occ_send_exit_msg).
var occMagic = [16]byte{0x28, 0x7f, 0x34, 0x6b, 0xd4, 0xef, 0x7a, 0x81, 0x2d, 0x56, 0xb8, 0xd3, 0xaf, 0xc5, 0x45, 0x9c}

const occExit = 6

// isOCC reports whether a decrypted payload is an OCC message, and whether
// it is OCC_EXIT. No IPv4, IPv6 or Ethernet frame a client sends starts
// with the magic's first bytes in practice; OpenVPN tells them apart the
// same way (forward.c process_incoming_tun... is_occ_msg).
func isOCC(p []byte) (occ, exit bool) {
	if len(p) < 17 || [16]byte(p[:16]) != occMagic {
		return false, false
	}
	return true, p[16] == occExit
}

// IsPing reports whether a decrypted payload is OpenVPN's keepalive ping.
func IsPing(p []byte) bool { return len(p) == 16 && [16]byte(p) == pingMagic }

// DataKeys is one key id's data channel: an encrypting and a decrypting
// direction, each with its own lock so that sending and receiving never
// wait for each other. It works in the caller's buffers.
type DataKeys struct {
	KeyID  byte
	Cipher string
	Auth   string // CBC only
	peerID uint32
	v2     bool // send P_DATA_V2

	tx direction
	rx direction
}

type direction struct {
	mu     sync.Mutex
	aead   cipher.AEAD
	nonce  [12]byte // packet id || implicit IV
	cbc    cipher.BlockMode
	ivGen  cipher.Block // CBC IVs: AES of a counter under a random key
	ivCtr  uint64
	mac    hash.Hash
	macLen int
	macBuf [64]byte
	id     uint32 // tx: last packet id sent
	replay replayWindow
}

// NewDataKeys builds key id keyID's data channel from OpenVPN's 256 bytes
// of key material, on the server's side: it decrypts with key 0 (bytes 0
// and 64) and encrypts with key 1 (bytes 128 and 192), OpenVPN ssl.c
// generate_key_expansion with KEY_DIRECTION_INVERSE. For AEAD ciphers the
// implicit IV is the start of the HMAC slot (OpenVPN crypto.c
// init_key_ctx_bi). peerID >= 0 sends P_DATA_V2 with that peer id.
func NewDataKeys(keyID byte, cipherName, authName string, km *[KeyMaterialLen]byte, peerID int, tcp bool) (*DataKeys, error) {
	cs, ok := lookupCipher(cipherName)
	if !ok {
		return nil, errors.New("openvpn: unknown cipher " + cipherName)
	}
	d := &DataKeys{KeyID: keyID & 7, Cipher: cs.name}
	if peerID >= 0 {
		d.v2, d.peerID = true, uint32(peerID)&0xffffff
	}
	d.rx.replay.tcp = tcp
	for i, dir := range []*direction{&d.rx, &d.tx} {
		key := km[128*i : 128*i+cs.keyLen]
		mac := km[128*i+64 : 128*i+128]
		if cs.aead {
			var err error
			if cs.name == "CHACHA20-POLY1305" {
				dir.aead, err = chacha20poly1305.New(key)
			} else {
				var b cipher.Block
				if b, err = aes.NewCipher(key); err == nil {
					dir.aead, err = cipher.NewGCM(b)
				}
			}
			if err != nil {
				return nil, err
			}
			copy(dir.nonce[4:], mac[:8])
			continue
		}
		name, h, ok := lookupAuth(authName)
		if !ok {
			return nil, errors.New("openvpn: unknown auth " + authName)
		}
		d.Auth = name
		dir.mac = hmac.New(h, mac[:h().Size()])
		dir.macLen = h().Size()
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		var zero [16]byte
		if i == 0 {
			dir.cbc = cipher.NewCBCDecrypter(b, zero[:])
		} else {
			dir.cbc = cipher.NewCBCEncrypter(b, zero[:])
			var k [16]byte
			rand.Read(k[:])
			dir.ivGen, _ = aes.NewCipher(k[:])
		}
	}
	return d, nil
}

type ivSetter interface{ SetIV([]byte) }

// Overhead is the most bytes Seal adds to a payload.
func (d *DataKeys) Overhead() int { return 4 + 4 + 64 + 16 + 16 }

// Seal appends the data packet carrying payload to dst and returns it. It
// allocates nothing when dst has Overhead()+len(payload) spare capacity.
func (d *DataKeys) Seal(dst, payload []byte) ([]byte, error) {
	t := &d.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.id == 0xffffffff {
		return dst, ErrSpace
	}
	t.id++
	start := len(dst)
	if d.v2 {
		dst = append(dst, OpDataV2<<3|d.KeyID, byte(d.peerID>>16), byte(d.peerID>>8), byte(d.peerID))
	} else {
		dst = append(dst, OpDataV1<<3|d.KeyID)
	}
	if t.aead != nil {
		// header | packet id | tag | ciphertext; AD = header (V2 only) and
		// packet id (OpenVPN crypto.c openvpn_encrypt_aead).
		dst = binary.BigEndian.AppendUint32(dst, t.id)
		binary.BigEndian.PutUint32(t.nonce[:4], t.id)
		ad := dst[start:]
		if !d.v2 {
			ad = dst[start+1:]
		}
		off := len(dst)
		// Seal after a 16-byte gap, then move the tag into the gap; grow
		// first so that Seal writes into dst, not a new slice.
		dst = grow(dst, 32+len(payload))[:off]
		out := t.aead.Seal(dst[off+16:off+16], t.nonce[:], payload, ad)
		n := len(out) - 16
		copy(dst[off:off+16], out[n:])
		return dst[:off+16+n], nil
	}
	// header | HMAC(IV | ciphertext) | IV | CBC(packet id | payload | pad)
	// (OpenVPN crypto.c openvpn_encrypt_v1).
	macOff := len(dst)
	dst = grow(dst, t.macLen)
	ivOff := len(dst)
	dst = grow(dst, 16)
	t.ivCtr++
	binary.BigEndian.PutUint64(dst[ivOff:], t.ivCtr)
	clear(dst[ivOff+8 : ivOff+16])
	t.ivGen.Encrypt(dst[ivOff:ivOff+16], dst[ivOff:ivOff+16])
	ptOff := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, t.id)
	dst = append(dst, payload...)
	pad := 16 - (len(dst)-ptOff)%16
	for range pad {
		dst = append(dst, byte(pad))
	}
	t.cbc.(ivSetter).SetIV(dst[ivOff : ivOff+16])
	t.cbc.CryptBlocks(dst[ptOff:], dst[ptOff:])
	t.mac.Reset()
	t.mac.Write(dst[ivOff:])
	copy(dst[macOff:], t.mac.Sum(t.macBuf[:0]))
	return dst, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// Open decrypts and authenticates a data packet in place and returns the
// payload, a sub-slice of pkt. It checks the packet id against the replay
// window only after authentication.
func (d *DataKeys) Open(pkt []byte) ([]byte, error) {
	var h Data
	if err := ParseData(pkt, &h); err != nil {
		return nil, err
	}
	r := &d.rx
	r.mu.Lock()
	defer r.mu.Unlock()
	b := h.Payload
	if r.aead != nil {
		if len(b) < 4+16 {
			return nil, ErrShort
		}
		id := binary.BigEndian.Uint32(b)
		if !r.replay.check(id) {
			return nil, ErrReplay
		}
		binary.BigEndian.PutUint32(r.nonce[:4], id)
		hl := len(h.Header)
		ad := pkt[:hl+4]
		if h.Opcode == OpDataV1 {
			ad = pkt[1:5]
		}
		// OpenVPN puts the tag before the ciphertext; Go wants it after:
		// slide the ciphertext over the tag and put the tag behind it.
		var tag [16]byte
		copy(tag[:], b[4:20])
		ct := b[20:]
		body := b[4:]
		copy(body, ct)
		copy(body[len(ct):], tag[:])
		out, err := r.aead.Open(body[:0], r.nonce[:], body, ad)
		if err != nil {
			return nil, ErrAuth
		}
		r.replay.update(id)
		return out, nil
	}
	if len(b) < r.macLen+16+16 || (len(b)-r.macLen)%16 != 0 {
		return nil, ErrShort
	}
	r.mac.Reset()
	r.mac.Write(b[r.macLen:])
	if subtle.ConstantTimeCompare(r.mac.Sum(r.macBuf[:0]), b[:r.macLen]) != 1 {
		return nil, ErrAuth
	}
	iv, ct := b[r.macLen:r.macLen+16], b[r.macLen+16:]
	r.cbc.(ivSetter).SetIV(iv)
	r.cbc.CryptBlocks(ct, ct)
	pad := int(ct[len(ct)-1])
	if pad == 0 || pad > 16 || len(ct) < 4+pad {
		return nil, ErrPadding
	}
	id := binary.BigEndian.Uint32(ct)
	if !r.replay.check(id) {
		return nil, ErrReplay
	}
	r.replay.update(id)
	return ct[4 : len(ct)-pad], nil
}

// replayWindow is OpenVPN's packet-id check (packet_id.c packet_id_test):
// over UDP a sliding window of the last 64 ids, over TCP strictly rising
// ids. Id 0 is never valid; ids start at 1.
type replayWindow struct {
	tcp  bool
	max  uint32 // highest id accepted
	bits uint64 // bit i: id max-i was accepted
}

const replayWindowSize = 64

func (w *replayWindow) check(id uint32) bool {
	if id == 0 {
		return false
	}
	if id > w.max {
		return true
	}
	if w.tcp {
		return false
	}
	diff := w.max - id
	return diff < replayWindowSize && w.bits&(1<<diff) == 0
}

func (w *replayWindow) update(id uint32) {
	if id > w.max {
		shift := id - w.max
		if shift >= replayWindowSize {
			w.bits = 0
		} else {
			w.bits <<= shift
		}
		w.bits |= 1
		w.max = id
		return
	}
	w.bits |= 1 << (w.max - id)
}
