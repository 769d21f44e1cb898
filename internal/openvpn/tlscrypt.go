package openvpn

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
	"time"
)

// ErrTLSCrypt is returned for a control packet that fails tls-crypt's
// authentication or replay check.
var ErrTLSCrypt = errors.New("openvpn: tls-crypt: bad or replayed control packet")

// StaticKey is an OpenVPN static key file's 256 bytes: two keys, each a
// 64-byte cipher slot and a 64-byte HMAC slot.
type StaticKey [256]byte

// ParseStaticKey reads the text of an "OpenVPN Static key V1" file, as
// `openvpn --genkey tls-crypt` writes it.
func ParseStaticKey(text string) (*StaticKey, error) {
	const begin, end = "-----BEGIN OpenVPN Static key V1-----", "-----END OpenVPN Static key V1-----"
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		return nil, errors.New("openvpn: not an OpenVPN static key")
	}
	var h strings.Builder
	for line := range strings.SplitSeq(text[i+len(begin):j], "\n") {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			h.WriteString(line)
		}
	}
	b, err := hex.DecodeString(h.String())
	if err != nil || len(b) != 256 {
		return nil, errors.New("openvpn: static key is not 256 bytes of hex")
	}
	return (*StaticKey)(b), nil
}

// tlsCrypt wraps and unwraps control packets with tls-crypt (v1): HMAC-
// SHA256 over the clear header and the plaintext, AES-256-CTR with the
// tag's first 16 bytes as IV (OpenVPN tls_crypt.c tls_crypt_wrap and
// tls_crypt_unwrap). The server encrypts with key 0 and decrypts with key 1
// (KEY_DIRECTION_NORMAL, tls_crypt_init_key).
type tlsCrypt struct {
	mu      sync.Mutex
	encKey  cipher.Block
	encMAC  hash.Hash
	decKey  cipher.Block
	decMAC  hash.Hash
	sendID  uint32
	replay  replayWindow
	tag     [32]byte
	scratch []byte
}

// tlsCryptOverhead is what wrapping adds: packet id, time and tag.
const tlsCryptOverhead = 4 + 4 + 32

func newTLSCrypt(k *StaticKey) *tlsCrypt {
	enc, _ := aes.NewCipher(k[0:32])
	dec, _ := aes.NewCipher(k[128 : 128+32])
	return &tlsCrypt{encKey: enc, encMAC: hmac.New(sha256.New, k[64:64+32]), decKey: dec, decMAC: hmac.New(sha256.New, k[192:192+32])}
}

// wrap returns the tls-crypt form of a plain control packet, valid until
// the next call.
func (t *tlsCrypt) wrap(pkt []byte) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sendID++
	out := append(t.scratch[:0], pkt[:9]...)
	out = binary.BigEndian.AppendUint32(out, t.sendID)
	out = binary.BigEndian.AppendUint32(out, uint32(time.Now().Unix()))
	t.encMAC.Reset()
	t.encMAC.Write(out)
	t.encMAC.Write(pkt[9:])
	tag := t.encMAC.Sum(t.tag[:0])
	out = append(out, tag...)
	off := len(out)
	out = append(out, pkt[9:]...)
	cipher.NewCTR(t.encKey, tag[:16]).XORKeyStream(out[off:], out[off:])
	t.scratch = out
	return out
}

// unwrap checks and decrypts a tls-crypt control packet into dst and
// returns the plain packet.
func (t *tlsCrypt) unwrap(dst, pkt []byte) ([]byte, error) {
	if len(pkt) < 9+tlsCryptOverhead {
		return nil, ErrShort
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	hdr, tag, ct := pkt[:17], pkt[17:49], pkt[49:]
	dst = append(dst[:0], pkt[:9]...)
	off := len(dst)
	dst = append(dst, ct...)
	cipher.NewCTR(t.decKey, tag[:16]).XORKeyStream(dst[off:], dst[off:])
	t.decMAC.Reset()
	t.decMAC.Write(hdr)
	t.decMAC.Write(dst[off:])
	if subtle.ConstantTimeCompare(t.decMAC.Sum(t.tag[:0]), tag) != 1 {
		return nil, ErrTLSCrypt
	}
	id := binary.BigEndian.Uint32(pkt[9:13])
	if !t.replay.check(id) {
		return nil, ErrTLSCrypt
	}
	t.replay.update(id)
	return dst, nil
}
