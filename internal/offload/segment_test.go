package offload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	ot "github.com/ethervpn/ethervpn/internal/offload/offloadtest"
)

// segmentAll cuts f into segments, each in a buffer of its own.
func segmentAll(t *testing.T, f []byte, h VnetHdr, tag uint32) ([][]byte, error) {
	t.Helper()
	var s Segmenter
	if err := s.Reset(f, h, tag); err != nil {
		return nil, err
	}
	var out [][]byte
	for s.More() {
		buf := make([]byte, s.NextLen())
		if n := s.Next(buf); n != len(buf) {
			t.Fatalf("segment of %d bytes, NextLen said %d", n, len(buf))
		}
		out = append(out, buf)
	}
	return out, nil
}

func TestSegment(t *testing.T) {
	for _, tc := range []struct {
		name string
		fl   ot.Flow
		size int
		ecn  bool
	}{
		{"tcp4", ot.Flow{Opts: 12}, 64000, false},
		{"tcp6", ot.Flow{IPv6: true}, 50001, false},
		{"tcp6 ecn", ot.Flow{IPv6: true, Opts: 12}, 5000, true},
		{"tcp4 vlan", ot.Flow{VLAN: true, Opts: 12}, 3000, false},
		{"tcp4 one segment", ot.Flow{}, 100, false},
		{"udp4", ot.Flow{UDP: true}, 6000, false},
		{"udp6", ot.Flow{UDP: true, IPv6: true}, 5000, false},
		{"udp6 vlan", ot.Flow{UDP: true, IPv6: true, VLAN: true}, 2801, false},
	} {
		// Each case also with a VLAN tag to insert, as the bridge does
		// for frames whose tag the kernel took out.
		for _, tag := range []uint32{0, 0x8100_2005} {
			name := tc.name
			if tag != 0 {
				name += " tag inserted"
			}
			t.Run(name, func(t *testing.T) {
				payload := ot.RandomPayload(tc.size)
				f, h := superFrame(tc.fl, payload)
				if tc.ecn {
					h.GSOType |= GSOECN
				}
				segs, err := segmentAll(t, f, h, tag)
				if err != nil {
					t.Fatal(err)
				}
				if want := (tc.size + int(h.GSOSize) - 1) / int(h.GSOSize); len(segs) != want {
					t.Fatalf("%d segments, want %d", len(segs), want)
				}
				var got []byte
				for i, s := range segs {
					if tag != 0 {
						if binary.BigEndian.Uint32(s[12:]) != tag || !bytes.Equal(s[:12], f[:12]) {
							t.Fatalf("segment %d: VLAN tag not inserted: % x", i, s[:18])
						}
						s = append(append([]byte{}, s[:12]...), s[16:]...)
					}
					l4, p := checkWire(t, s)
					if i < len(segs)-1 && len(p) != int(h.GSOSize) {
						t.Fatalf("segment %d carries %d bytes, want %d", i, len(p), h.GSOSize)
					}
					if !tc.fl.UDP {
						if seq := binary.BigEndian.Uint32(s[l4+4:]); seq != 0xfffffff0+uint32(len(got)) {
							t.Fatalf("segment %d: seq %#x", i, seq)
						}
						flags := s[l4+13]
						lastOnly := flags&(tcpFIN|tcpPSH) != 0
						if lastOnly != (i == len(segs)-1) || (flags&tcpCWR != 0) != (i == 0) || flags&tcpACK == 0 {
							t.Fatalf("segment %d of %d: flags %#x", i, len(segs), flags)
						}
					}
					if l3, v6, _ := L3Offset(s); !v6 {
						if id := binary.BigEndian.Uint16(s[l3+4:]); id != 0xfffe+uint16(i) {
							t.Fatalf("segment %d: IPv4 ID %#x", i, id)
						}
					}
					got = append(got, p...)
				}
				if !bytes.Equal(got, payload) {
					t.Fatal("the segments do not carry the payload")
				}
			})
		}
	}
}

func TestSegmentWireSize(t *testing.T) {
	// A device with a jumbo MTU makes larger segments than the VPN
	// carries: TCP is cut to wire size instead, UDP datagrams are refused.
	payload := ot.RandomPayload(20000)
	f, h := superFrame(ot.Flow{}, payload)
	h.GSOSize = 8960
	segs, err := segmentAll(t, f, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 14 || len(segs[0]) != MaxWireFrame {
		t.Fatalf("%d segments, first of %d bytes", len(segs), len(segs[0]))
	}
	f, h = superFrame(ot.Flow{UDP: true}, payload)
	h.GSOSize = 8960
	if _, err := segmentAll(t, f, h, 0); !errors.Is(err, ErrOffload) {
		t.Fatalf("jumbo UDP segments: %v", err)
	}
}

func TestSegmentRejects(t *testing.T) {
	f, h := superFrame(ot.Flow{}, ot.RandomPayload(3000))
	for name, mod := range map[string]func(f []byte, h *VnetHdr) []byte{
		"zero gso size":    func(f []byte, h *VnetHdr) []byte { h.GSOSize = 0; return f },
		"UFO":              func(f []byte, h *VnetHdr) []byte { h.GSOType = GSOUDP; return f },
		"v6 type on v4":    func(f []byte, h *VnetHdr) []byte { h.GSOType = GSOTCPv6; return f },
		"csum start early": func(f []byte, h *VnetHdr) []byte { h.CsumStart = 20; return f },
		"csum start late":  func(f []byte, h *VnetHdr) []byte { h.CsumStart = 4000; return f },
		"IP options":       func(f []byte, h *VnetHdr) []byte { f[14] = 0x46; return f },
		"TCP header short": func(f []byte, h *VnetHdr) []byte { f[34+12] = 0x40; return f },
		"not IP":           func(f []byte, h *VnetHdr) []byte { f[12] = 0x88; return f },
		"truncated":        func(f []byte, h *VnetHdr) []byte { return f[:40] },
	} {
		g, hh := append([]byte(nil), f...), h
		g = mod(g, &hh)
		if _, err := segmentAll(t, g, hh, 0); !errors.Is(err, ErrOffload) {
			t.Errorf("%s: %v", name, err)
		}
	}
	h.GSOType = GSOUDP
	if _, err := segmentAll(t, f, h, 0); !errors.Is(err, ErrGSOType) {
		t.Errorf("UFO: %v, want ErrGSOType", err)
	}
}

func TestSegmentAllocatesNothing(t *testing.T) {
	f, h := superFrame(ot.Flow{}, ot.RandomPayload(60000))
	buf := make([]byte, MaxSegmentLen)
	var s Segmenter
	allocs := testing.AllocsPerRun(20, func() {
		if s.Reset(f, h, 0x8100_0001) != nil {
			t.Fatal("not segmented")
		}
		for s.More() {
			s.Next(buf)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per super-frame", allocs)
	}
}

// FuzzSegment feeds a virtio_net_hdr and a frame, as the kernel would,
// through CompleteChecksum or the segmenter (with and without a tag to
// insert); nothing may panic, and every segment fits MaxSegmentLen.
func FuzzSegment(f *testing.F) {
	for _, fl := range []ot.Flow{{}, {IPv6: true, Opts: 12}, {UDP: true, VLAN: true}, {UDP: true, IPv6: true}} {
		// Small seeds keep the fuzzer's minimizing quick.
		sf, h := superFrame(fl, ot.RandomPayload(300))
		h.GSOSize = 100
		b := make([]byte, VnetHdrLen)
		h.Encode(b)
		f.Add(append(b, sf...), uint32(0))
		f.Add(append(b, sf...), uint32(0x8100_2005))
	}
	f.Add([]byte{1, 2, 3}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, tag uint32) {
		if len(b) < VnetHdrLen {
			return
		}
		h, frame := DecodeVnetHdr(b), b[VnetHdrLen:]
		if h.GSOType == GSONone {
			CompleteChecksum(frame, int(h.CsumStart), int(h.CsumOffset))
			return
		}
		var s Segmenter
		if s.Reset(frame, h, tag) != nil {
			return
		}
		buf := make([]byte, MaxSegmentLen)
		for n := 0; s.More(); n++ {
			want := s.NextLen()
			if m := s.Next(buf); m != want || m > MaxSegmentLen {
				t.Fatalf("segment of %d bytes, NextLen said %d", m, want)
			}
			if n > len(frame) {
				t.Fatal("segmenter does not end")
			}
		}
	})
}
