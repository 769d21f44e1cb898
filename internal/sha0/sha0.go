// Package sha0 implements SHA-0, the 1993 FIPS 180 hash that SoftEther uses
// for password hashes, and the SoftEther password helpers built on it.
//
// SHA-0 is SHA-1 without the one-bit rotation in the message schedule. It is
// cryptographically broken; it exists here only because the real SoftEther
// programs store and exchange SHA-0 password hashes and we must match them
// byte for byte.
package sha0

import (
	"encoding/binary"
	"golang.org/x/crypto/md4"
	"hash"
	"math/bits"
)

// Size is the length of a SHA-0 digest in bytes.
const Size = 20

// BlockSize is the SHA-0 block size in bytes.
const BlockSize = 64

// The initial state is the same as SHA-1's.
const (
	init0 = 0x67452301
	init1 = 0xEFCDAB89
	init2 = 0x98BADCFE
	init3 = 0x10325476
	init4 = 0xC3D2E1F0
)

// digest is a streaming SHA-0 state.
type digest struct {
	h   [5]uint32
	buf [BlockSize]byte // pending partial block
	nx  int             // bytes used in buf
	len uint64          // total bytes written
}

// New returns a new hash.Hash computing SHA-0.
func New() hash.Hash {
	d := new(digest)
	d.Reset()
	return d
}

func (d *digest) Reset() {
	d.h = [5]uint32{init0, init1, init2, init3, init4}
	d.nx = 0
	d.len = 0
}

func (d *digest) Size() int      { return Size }
func (d *digest) BlockSize() int { return BlockSize }

func (d *digest) Write(p []byte) (int, error) {
	n := len(p)
	d.len += uint64(n)
	if d.nx > 0 {
		c := copy(d.buf[d.nx:], p)
		d.nx += c
		p = p[c:]
		if d.nx < BlockSize {
			return n, nil
		}
		d.block(d.buf[:])
		d.nx = 0
	}
	if full := len(p) &^ (BlockSize - 1); full > 0 {
		d.block(p[:full])
		p = p[full:]
	}
	d.nx = copy(d.buf[:], p)
	return n, nil
}

// writeString is Write for strings without converting them to a new []byte.
func (d *digest) writeString(s string) {
	for len(s) > 0 {
		c := copy(d.buf[d.nx:], s)
		d.nx += c
		d.len += uint64(c)
		s = s[c:]
		if d.nx == BlockSize {
			d.block(d.buf[:])
			d.nx = 0
		}
	}
}

func (d *digest) Sum(in []byte) []byte {
	d0 := *d // Sum must not change the running state
	s := d0.checkSum()
	return append(in, s[:]...)
}

// checkSum pads the message and returns the digest; it consumes d.
func (d *digest) checkSum() [Size]byte {
	bitLen := d.len << 3
	var pad [BlockSize + 8]byte
	pad[0] = 0x80
	// Pad to 56 mod 64, then append the 64-bit big-endian bit length.
	n := 1 + (55-d.len)%64
	binary.BigEndian.PutUint64(pad[n:], bitLen)
	d.Write(pad[:n+8])

	var out [Size]byte
	for i, v := range d.h {
		binary.BigEndian.PutUint32(out[i*4:], v)
	}
	return out
}

// block processes whole 64-byte blocks of p.
func (d *digest) block(p []byte) {
	var w [80]uint32
	h0, h1, h2, h3, h4 := d.h[0], d.h[1], d.h[2], d.h[3], d.h[4]
	for ; len(p) >= BlockSize; p = p[BlockSize:] {
		for t := 0; t < 16; t++ {
			w[t] = binary.BigEndian.Uint32(p[t*4:])
		}
		// The only difference from SHA-1: no rotate-left-by-one here.
		for t := 16; t < 80; t++ {
			w[t] = w[t-3] ^ w[t-8] ^ w[t-14] ^ w[t-16]
		}
		a, b, c, dd, e := h0, h1, h2, h3, h4
		for t := 0; t < 80; t++ {
			var f, k uint32
			switch {
			case t < 20:
				f, k = (b&c)|(^b&dd), 0x5A827999
			case t < 40:
				f, k = b^c^dd, 0x6ED9EBA1
			case t < 60:
				f, k = (b&c)|(b&dd)|(c&dd), 0x8F1BBCDC
			default:
				f, k = b^c^dd, 0xCA62C1D6
			}
			tmp := bits.RotateLeft32(a, 5) + f + e + w[t] + k
			a, b, c, dd, e = tmp, a, bits.RotateLeft32(b, 30), c, dd
		}
		h0 += a
		h1 += b
		h2 += c
		h3 += dd
		h4 += e
	}
	d.h = [5]uint32{h0, h1, h2, h3, h4}
}

// Sum returns the SHA-0 digest of b.
func Sum(b []byte) [Size]byte {
	var d digest
	d.Reset()
	d.Write(b)
	return d.checkSum()
}

// HashPassword returns SoftEther's stored password hash
// SHA0(password || ASCII-upper(username)).
//
// Only a-z are upper-cased, exactly like the real server; other bytes
// (including non-ASCII UTF-8) are hashed unchanged.
func HashPassword(username, password string) [Size]byte {
	var d digest
	d.Reset()
	d.writeString(password)
	var up [BlockSize]byte
	for len(username) > 0 {
		n := copy(up[:], username)
		for i := range n {
			if c := up[i]; 'a' <= c && c <= 'z' {
				up[i] = c - ('a' - 'A')
			}
		}
		d.Write(up[:n])
		username = username[n:]
	}
	return d.checkSum()
}

// SecurePassword returns SHA0(hashed || random), the login challenge
// response a client sends for the server's 20-byte hello random.
func SecurePassword(hashed [Size]byte, random [Size]byte) [Size]byte {
	var b [2 * Size]byte
	copy(b[:], hashed[:])
	copy(b[Size:], random[:])
	return Sum(b[:])
}

// AdminHash returns SHA0(password), the server admin password hash (and the
// hub HashedPassword item).
func AdminHash(password string) [Size]byte {
	var d digest
	d.Reset()
	d.writeString(password)
	return d.checkSum()
}

// NTPasswordHash is the NT hash SoftEther stores next to the SHA-0 one
// (AuthNtLmSecureHash): MD4 over the password bytes, each followed by a zero
// byte, as the real code widens them. It is kept only so that configurations
// stay complete for MS-CHAPv2 front-ends, never as a security primitive here.
func NTPasswordHash(password string) [16]byte {
	w := make([]byte, 0, 2*len(password))
	for i := 0; i < len(password); i++ {
		w = append(w, password[i], 0)
	}
	h := md4.New()
	h.Write(w)
	var out [16]byte
	h.Sum(out[:0])
	return out
}
