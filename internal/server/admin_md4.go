package server

import (
	"encoding/binary"
	"math/bits"
)

// ntHash is the NT password hash SoftEther stores next to the SHA-0 one
// (AuthNtLmSecureHash, admin-interfaces.md §1.7): MD4 over the password
// bytes each followed by a zero byte. It is needed when a JSON client sets
// a password in plain text; vpncmd sends the hash itself.
func ntHash(password string) [16]byte {
	msg := make([]byte, 0, 2*len(password))
	for i := 0; i < len(password); i++ {
		msg = append(msg, password[i], 0)
	}
	return md4(msg)
}

// md4Rounds are the message word order, shifts and additive constant of
// MD4's three rounds (RFC 1320 §3.4).
var md4Rounds = [3]struct {
	order [16]int
	shift [4]int
	k     uint32
}{
	{[16]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, [4]int{3, 7, 11, 19}, 0},
	{[16]int{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15}, [4]int{3, 5, 9, 13}, 0x5A827999},
	{[16]int{0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15}, [4]int{3, 9, 11, 15}, 0x6ED9EBA1},
}

// md4 is RFC 1320 MD4. It serves only the NT hash above, never as a
// security primitive of this server.
func md4(msg []byte) [16]byte {
	n := uint64(len(msg))
	msg = append(msg, 0x80)
	for len(msg)%64 != 56 {
		msg = append(msg, 0)
	}
	msg = binary.LittleEndian.AppendUint64(msg, n*8)
	h := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	var x [16]uint32
	for ; len(msg) > 0; msg = msg[64:] {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(msg[4*i:])
		}
		a, b, c, d := h[0], h[1], h[2], h[3]
		for r, round := range md4Rounds {
			for i, k := range round.order {
				var f uint32
				switch r {
				case 0:
					f = b&c | ^b&d
				case 1:
					f = b&c | b&d | c&d
				default:
					f = b ^ c ^ d
				}
				a = bits.RotateLeft32(a+f+x[k]+round.k, round.shift[i%4])
				a, b, c, d = d, a, b, c
			}
		}
		h[0], h[1], h[2], h[3] = h[0]+a, h[1]+b, h[2]+c, h[3]+d
	}
	var out [16]byte
	for i, v := range h {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}
