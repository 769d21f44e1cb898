package ether

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// reference is RFC 1071 as written there: 16-bit words, carries folded at
// the end. It and gVisor's code are the two references.
func reference(b []byte, initial uint16) uint16 {
	sum := uint64(initial)
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// checkSum fails unless Checksum agrees with both references on b, and
// summing b in two pieces cut at an even offset gives the same result.
func checkSum(t *testing.T, b []byte, initial uint16, cut int) {
	t.Helper()
	got := Checksum(b, uint64(initial))
	if want := reference(b, initial); got != want {
		t.Fatalf("%d bytes from %#04x: %#04x, RFC 1071 %#04x", len(b), initial, got, want)
	}
	if want := checksum.Checksum(b, initial); got != want {
		t.Fatalf("%d bytes from %#04x: %#04x, gVisor %#04x", len(b), initial, got, want)
	}
	if cut = min(cut&^1, len(b)); Checksum(b[cut:], Sum(b[:cut], uint64(initial))) != got {
		t.Fatalf("%d bytes cut at %d: the pieces sum differently", len(b), cut)
	}
	if len(b) >= 2 { // a checksum field written with ^Checksum makes the data sum to all ones
		c := append([]byte(nil), b...)
		c[0], c[1] = 0, 0
		binary.BigEndian.PutUint16(c, ^Checksum(c, uint64(initial)))
		if Checksum(c, uint64(initial)) != 0xffff {
			t.Fatalf("%d bytes: data with its checksum does not sum to 0xffff", len(b))
		}
	}
}

func TestChecksumMatchesReferences(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if n%7 == 0 {
			for i := range b {
				b[i] = 0xff // carries everywhere
			}
		}
		checkSum(t, b, uint16(r.Uint32()), r.IntN(n+1))
	}
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 0x54, 0, 0, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, uint16(0), 6)
	f.Add([]byte{0xff, 0xff, 0xff}, uint16(0xffff), 1)
	f.Fuzz(func(t *testing.T, b []byte, initial uint16, cut int) {
		checkSum(t, b, initial, cut&0xffff)
	})
}

func TestPseudoSum(t *testing.T) {
	ip4 := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7}
	if got, want := Fold(PseudoSum(ip4, false, 17, 300)), reference([]byte{192, 0, 2, 1, 198, 51, 100, 7, 0, 17, 1, 44}, 0); got != want {
		t.Errorf("IPv4 pseudo-header: %#04x, want %#04x", got, want)
	}
	ip6 := make([]byte, 40)
	for i := 8; i < 40; i++ {
		ip6[i] = byte(i * 7)
	}
	want := reference(append(append([]byte(nil), ip6[8:40]...), 0, 0, 0x05, 0xdc, 0, 0, 0, 6), 0)
	if got := Fold(PseudoSum(ip6, true, 6, 1500)); got != want {
		t.Errorf("IPv6 pseudo-header: %#04x, want %#04x", got, want)
	}
}
