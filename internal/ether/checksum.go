package ether

import (
	"encoding/binary"
	"math/bits"
)

// The Internet checksum (RFC 1071) of IPv4 headers, ICMP, UDP and TCP, for
// every package that checks or writes one: the offload code, the hub's
// redirect, the layer-3 switch and the DHCP server.

// Sum adds b to acc as big-endian 16-bit words, the Internet checksum of
// RFC 1071 before folding. It adds 64 bits at a time: a ones' complement
// sum does not care how the words are grouped as long as carries wrap
// around. acc must be below 2^62; the result is below 2^34.
func Sum(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	acc, c = bits.Add64(acc, c, 0)
	acc += c // acc wrapped to 0 if c is 1: no second carry
	acc = acc>>32 + acc&0xffffffff
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// Fold reduces a running sum to 16 bits with end-around carries.
func Fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// PseudoSum is the sum of the IPv4 or IPv6 pseudo-header of a transport
// segment of l4Len bytes; ip is the IP header (at least 20 bytes for IPv4,
// 40 for IPv6).
func PseudoSum(ip []byte, ipv6 bool, proto uint8, l4Len int) uint64 {
	if ipv6 {
		return Sum(ip[8:40], uint64(proto)+uint64(l4Len))
	}
	return Sum(ip[12:20], uint64(proto)+uint64(l4Len))
}

// Checksum is the folded ones' complement sum of b plus acc: data that
// carries a correct checksum gives 0xffff, and the checksum field to write
// is its complement (^Checksum of the data with the field zero).
func Checksum(b []byte, acc uint64) uint16 { return Fold(Sum(b, acc)) }
