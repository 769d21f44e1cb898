package openvpn

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Limits on the strings of a key method 2 message (SoftEther Proto_OpenVPN.h
// OPENVPN_MAX_*; OpenVPN ssl.c TLS_OPTIONS_LEN and USER_PASS_LEN are larger
// but no real client sends more than this).
const (
	maxOptions  = 1024
	maxUserPass = 512
	maxPeerInfo = 1536
)

// KeyMethod2 is the material of a key method 2 message (OpenVPN ssl.c
// key_method_2_write / key_method_2_read; SoftEther Proto_OpenVPN.c
// OvsParseKeyMethod2).
type KeyMethod2 struct {
	PreMaster [48]byte // client only
	Random1   [32]byte
	Random2   [32]byte
	Options   string
	Username  string
	Password  string
	PeerInfo  string
}

var errKM2 = errors.New("openvpn: bad key method 2 message")

// ParseKeyMethod2 parses the client's message: uint32 0, byte 2,
// pre-master(48), random1(32), random2(32), then options, username,
// password and peer info as uint16-length strings (length counts the NUL;
// 0 is empty). Trailing strings may be absent (older clients).
func ParseKeyMethod2(b []byte, client bool) (*KeyMethod2, error) {
	if len(b) < 5 || binary.BigEndian.Uint32(b) != 0 || b[4]&0x0f != 2 {
		return nil, errKM2
	}
	b = b[5:]
	k := new(KeyMethod2)
	if client {
		if len(b) < 48 {
			return nil, errKM2
		}
		copy(k.PreMaster[:], b)
		b = b[48:]
	}
	if len(b) < 64 {
		return nil, errKM2
	}
	copy(k.Random1[:], b)
	copy(k.Random2[:], b[32:])
	b = b[64:]
	var err error
	for i, f := range []struct {
		s   *string
		max int
	}{{&k.Options, maxOptions}, {&k.Username, maxUserPass}, {&k.Password, maxUserPass}, {&k.PeerInfo, maxPeerInfo}} {
		if len(b) == 0 && i > 0 {
			break
		}
		if *f.s, b, err = readString(b, f.max); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func readString(b []byte, max int) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, errKM2
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n == 0 {
		return "", b, nil
	}
	if n > len(b) || n > max {
		return "", nil, fmt.Errorf("openvpn: key method 2 string of %d bytes", n)
	}
	s := b[:n]
	if i := strings.IndexByte(string(s), 0); i >= 0 {
		s = s[:i]
	}
	return string(s), b[n:], nil
}

func appendString(dst []byte, s string) []byte {
	if s == "" {
		return binary.BigEndian.AppendUint16(dst, 0)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)+1))
	dst = append(dst, s...)
	return append(dst, 0)
}

// AppendServer appends the server's key method 2 message: like the
// client's without the pre-master, with empty username and password.
func (k *KeyMethod2) AppendServer(dst []byte) []byte {
	dst = append(dst, 0, 0, 0, 0, 2)
	dst = append(dst, k.Random1[:]...)
	dst = append(dst, k.Random2[:]...)
	dst = appendString(dst, k.Options)
	dst = appendString(dst, "")
	dst = appendString(dst, "")
	return appendString(dst, k.PeerInfo)
}

// AppendClient appends a client's key method 2 message (for tests).
func (k *KeyMethod2) AppendClient(dst []byte) []byte {
	dst = append(dst, 0, 0, 0, 0, 2)
	dst = append(dst, k.PreMaster[:]...)
	dst = append(dst, k.Random1[:]...)
	dst = append(dst, k.Random2[:]...)
	dst = appendString(dst, k.Options)
	dst = appendString(dst, k.Username)
	dst = appendString(dst, k.Password)
	return appendString(dst, k.PeerInfo)
}

// PeerInfo is the client's peer-info block: KEY=VALUE lines (OpenVPN ssl.c
// push_peer_info).
type PeerInfo string

// Get returns the value of key, or "".
func (p PeerInfo) Get(key string) string {
	for line := range strings.SplitSeq(string(p), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Proto returns IV_PROTO, the client's protocol feature bits.
func (p PeerInfo) Proto() uint64 {
	v, _ := strconv.ParseUint(p.Get("IV_PROTO"), 10, 64)
	return v
}

// IV_PROTO bits this package uses (OpenVPN ssl.h IV_PROTO_*).
const (
	ivProtoDataV2    = 1 << 1
	ivProtoTLSKeyExp = 1 << 3
)

// optionValue returns the value of name in an options string
// ("V4,dev-type tun,cipher AES-256-CBC,auth SHA1,...").
func optionValue(opts, name string) string {
	for f := range strings.SplitSeq(opts, ",") {
		if k, v, ok := strings.Cut(f, " "); ok && k == name {
			return v
		}
	}
	return ""
}

// prf is the TLS 1.0 PRF, HMAC-MD5 over the first half of the secret XOR
// HMAC-SHA1 over the second (RFC 2246 section 5; OpenVPN crypto_openssl.c
// ssl_tls1_PRF, used by OpenVPN's generate_key_expansion_openvpn_prf).
func prf(out, secret []byte, label string, seeds ...[]byte) {
	seed := []byte(label)
	for _, s := range seeds {
		seed = append(seed, s...)
	}
	half := (len(secret) + 1) / 2
	clear(out)
	pHash(out, md5.New, secret[:half], seed)
	pHash(out, sha1.New, secret[len(secret)-half:], seed)
}

// pHash XORs P_hash(secret, seed) into out.
func pHash(out []byte, h func() hash.Hash, secret, seed []byte) {
	m := hmac.New(h, secret)
	m.Write(seed)
	a := m.Sum(nil)
	for j := 0; j < len(out); {
		m.Reset()
		m.Write(a)
		m.Write(seed)
		b := m.Sum(nil)
		for i := 0; i < len(b) && j < len(out); i++ {
			out[j] ^= b[i]
			j++
		}
		m.Reset()
		m.Write(a)
		a = m.Sum(nil)
	}
}

// KeyMaterialLen is the size of OpenVPN's key2: two keys of a 64-byte
// cipher slot and a 64-byte HMAC slot.
const KeyMaterialLen = 256

// EKMLabel is the TLS exporter label of OpenVPN 2.6's key-derivation
// tls-ekm (OpenVPN ssl.c EXPORT_KEY_DATA_LABEL).
const EKMLabel = "EXPORTER-OpenVPN-datakeys"

// DeriveKeysPRF derives the 256 bytes of data-channel key material from the
// two key method 2 messages and the session ids, as OpenVPN's
// generate_key_expansion_openvpn_prf (ssl.c) and SoftEther's
// OvsDeriveKeys do.
func DeriveKeysPRF(client, server *KeyMethod2, clientSID, serverSID uint64) [KeyMaterialLen]byte {
	var master [48]byte
	prf(master[:], client.PreMaster[:], "OpenVPN master secret", client.Random1[:], server.Random1[:])
	var cs, ss [8]byte
	binary.BigEndian.PutUint64(cs[:], clientSID)
	binary.BigEndian.PutUint64(ss[:], serverSID)
	var out [KeyMaterialLen]byte
	prf(out[:], master[:], "OpenVPN key expansion", client.Random2[:], server.Random2[:], cs[:], ss[:])
	return out
}
