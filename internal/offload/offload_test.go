package offload

import (
	"encoding/binary"
	"testing"

	ot "github.com/ethervpn/ethervpn/internal/offload/offloadtest"
)

// Frames in these tests are built by offloadtest and checked with gVisor's
// checksum code, an implementation independent of the one under test.

// superFrame turns a frame into what the kernel reads out with GSO: the
// same headers with the whole length and a partial checksum.
func superFrame(fl ot.Flow, payload []byte) ([]byte, VnetHdr) {
	f := fl.Frame(0xfffffff0, 0xfffe, tcpACK|tcpPSH|tcpFIN|tcpCWR, payload) // sequence and ID wrap
	l3, _, _ := L3Offset(f)
	l4 := l3 + 20
	gso, proto, csumOff := uint8(GSOTCPv4), byte(6), 16
	if fl.IPv6 {
		l4, gso = l3+40, GSOTCPv6
	}
	if fl.UDP {
		gso, proto, csumOff = GSOUDPL4, 17, 6
	}
	binary.BigEndian.PutUint16(f[l4+csumOff:], ot.Checksum(nil, ot.PseudoSum(f[l3:], fl.IPv6, proto, len(f)-l4)))
	h := VnetHdr{Flags: NeedsCsum, GSOType: gso, GSOSize: 1448, CsumStart: uint16(l4), CsumOffset: uint16(csumOff)}
	if fl.IPv6 {
		h.GSOSize = 1428
	}
	if fl.UDP {
		h.GSOSize = 1400
	}
	return f, h
}

// checkWire checks that f is a wire frame with valid IP and transport
// checksums and returns its transport payload.
func checkWire(t *testing.T, f []byte) (l4 int, payload []byte) {
	t.Helper()
	if l3, _, _ := L3Offset(f); len(f) > MaxWireFrame+(l3-14) {
		t.Fatalf("frame of %d bytes", len(f))
	}
	return checkSums(t, f)
}

// checkSums checks the lengths and checksums of an IP packet in f and
// returns its transport payload.
func checkSums(t *testing.T, f []byte) (l4 int, payload []byte) {
	t.Helper()
	l3, ipv6, ok := L3Offset(f)
	if !ok {
		t.Fatalf("no IP header in %x", f)
	}
	var proto byte
	if ipv6 {
		l4, proto = l3+40, f[l3+6]
		if got := int(binary.BigEndian.Uint16(f[l3+4:])); got != len(f)-l4 {
			t.Fatalf("IPv6 payload length %d, want %d", got, len(f)-l4)
		}
	} else {
		l4, proto = l3+20, f[l3+9]
		if got := int(binary.BigEndian.Uint16(f[l3+2:])); got != len(f)-l3 {
			t.Fatalf("IPv4 length %d, want %d", got, len(f)-l3)
		}
		if ot.Checksum(f[l3:l4], 0) != 0xffff {
			t.Fatalf("bad IPv4 header checksum")
		}
	}
	if ot.Checksum(f[l4:], ot.PseudoSum(f[l3:], ipv6, proto, len(f)-l4)) != 0xffff {
		t.Fatalf("bad %d checksum in %x", proto, f)
	}
	if proto == 17 {
		if got := int(binary.BigEndian.Uint16(f[l4+4:])); got != len(f)-l4 {
			t.Fatalf("UDP length %d, want %d", got, len(f)-l4)
		}
		return l4, f[l4+8:]
	}
	return l4, f[l4+int(f[l4+12]>>4)*4:]
}

func TestVnetHdrRoundTrip(t *testing.T) {
	h := VnetHdr{Flags: NeedsCsum, GSOType: GSOTCPv6 | GSOECN, HdrLen: 86, GSOSize: 1428, CsumStart: 54, CsumOffset: 16}
	b := make([]byte, VnetHdrLen)
	h.Encode(b)
	if got := DecodeVnetHdr(b); got != h {
		t.Fatalf("decoded %+v, want %+v", got, h)
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, fl := range []ot.Flow{{}, {IPv6: true, UDP: true}, {VLAN: true}, {UDP: true}} {
		want := fl.Frame(1, 2, tcpACK, ot.RandomPayload(999))
		l3, _, _ := L3Offset(want)
		start, off, proto := l3+20, 16, byte(6)
		if fl.IPv6 {
			start = l3 + 40
		}
		if fl.UDP {
			off, proto = 6, 17
		}
		// What the kernel hands over: the pseudo-header sum in the field.
		f := append([]byte(nil), want...)
		binary.BigEndian.PutUint16(f[start+off:], ot.Checksum(nil, ot.PseudoSum(f[l3:], fl.IPv6, proto, len(f)-start)))
		if err := CompleteChecksum(f, start, off); err != nil {
			t.Fatal(err)
		}
		checkWire(t, f)
		for _, bad := range [][2]int{{start, len(f)}, {-1, 0}, {start, -1}, {10, 0}} {
			if err := CompleteChecksum(f, bad[0], bad[1]); err == nil {
				t.Fatalf("checksum start %d offset %d accepted", bad[0], bad[1])
			}
		}
	}
}
