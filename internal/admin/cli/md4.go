package cli

import (
	"encoding/binary"
	"math/bits"
)

// md4 returns the MD4 digest of b (RFC 1320). SoftEther stores a user's NT
// hash (MD4 of the password widened to 16 bits) next to the SHA-0 hash, and
// vpncmd sends both when it sets a password; the standard library has no
// MD4.
func md4(b []byte) [16]byte {
	s := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	msg := append(append([]byte(nil), b...), 0x80)
	for len(msg)%64 != 56 {
		msg = append(msg, 0)
	}
	msg = binary.LittleEndian.AppendUint64(msg, uint64(len(b))*8)
	// Per round: the order in which the 16 words are used, the shifts of
	// the four steps that repeat, the round constant and function.
	rounds := [3]struct {
		order  [16]int
		shifts [4]int
		k      uint32
		f      func(x, y, z uint32) uint32
	}{
		{[16]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, [4]int{3, 7, 11, 19}, 0,
			func(x, y, z uint32) uint32 { return x&y | ^x&z }},
		{[16]int{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15}, [4]int{3, 5, 9, 13}, 0x5a827999,
			func(x, y, z uint32) uint32 { return x&y | x&z | y&z }},
		{[16]int{0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15}, [4]int{3, 9, 11, 15}, 0x6ed9eba1,
			func(x, y, z uint32) uint32 { return x ^ y ^ z }},
	}
	var x [16]uint32
	for ; len(msg) > 0; msg = msg[64:] {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(msg[4*i:])
		}
		a, b, c, d := s[0], s[1], s[2], s[3]
		for _, r := range rounds {
			for j, w := range r.order {
				a = bits.RotateLeft32(a+r.f(b, c, d)+x[w]+r.k, r.shifts[j%4])
				a, b, c, d = d, a, b, c
			}
		}
		s[0], s[1], s[2], s[3] = s[0]+a, s[1]+b, s[2]+c, s[3]+d
	}
	var out [16]byte
	for i, v := range s {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// ntHash is SoftEther's NT password hash: MD4 of the password bytes, each
// followed by a zero byte (UTF-16LE for ASCII; the real code widens bytes).
func ntHash(password string) [16]byte {
	w := make([]byte, 0, 2*len(password))
	for i := 0; i < len(password); i++ {
		w = append(w, password[i], 0)
	}
	return md4(w)
}
