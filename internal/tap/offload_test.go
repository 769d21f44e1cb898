package tap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// Frames in these tests are built by hand and checked with gVisor's
// checksum code, an implementation independent of the one under test.

// flow describes the TCP (or UDP) packets that frame builds.
type flow struct {
	ipv6, udp bool
	vlan      bool // one 802.1Q tag
	opts      int  // TCP option bytes (NOPs), a multiple of 4
}

var (
	macs  = []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
	srcV4 = []byte{10, 0, 0, 1}
	dstV4 = []byte{10, 0, 0, 2}
	srcV6 = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	dstV6 = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
)

// frame builds an Ethernet frame of fl with valid checksums.
func (fl flow) frame(seq uint32, id uint16, flags byte, payload []byte) []byte {
	f := append([]byte(nil), macs...)
	if fl.vlan {
		f = append(f, 0x81, 0x00, 0x00, 0x07)
	}
	l4len := 20 + fl.opts
	proto := byte(6)
	if fl.udp {
		l4len, proto = 8, 17
	}
	l3 := len(f) + 2
	if fl.ipv6 {
		f = append(f, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len+len(payload)))
		ip[6], ip[7] = proto, 64
		copy(ip[8:], srcV6)
		copy(ip[24:], dstV6)
		f = append(f, ip...)
	} else {
		f = append(f, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len+len(payload)))
		binary.BigEndian.PutUint16(ip[4:], id)
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, proto
		copy(ip[12:], srcV4)
		copy(ip[16:], dstV4)
		binary.BigEndian.PutUint16(ip[10:], ^checksum.Checksum(ip, 0))
		f = append(f, ip...)
	}
	l4 := len(f)
	h := make([]byte, l4len)
	binary.BigEndian.PutUint16(h, 40000)
	binary.BigEndian.PutUint16(h[2:], 5201)
	if fl.udp {
		binary.BigEndian.PutUint16(h[4:], uint16(l4len+len(payload)))
	} else {
		binary.BigEndian.PutUint32(h[4:], seq)
		binary.BigEndian.PutUint32(h[8:], 0x01020304)
		h[12] = byte(l4len/4) << 4
		h[13] = flags
		binary.BigEndian.PutUint16(h[14:], 512)
		for i := 20; i < l4len; i++ {
			h[i] = 1
		}
	}
	f = append(f, h...)
	f = append(f, payload...)
	csumAt := l4 + 16
	if fl.udp {
		csumAt = l4 + 6
	}
	binary.BigEndian.PutUint16(f[csumAt:], ^checksum.Checksum(f[l4:], refPseudo(f[l3:], fl.ipv6, proto, len(f)-l4)))
	return f
}

// refPseudo is the pseudo-header sum computed with gVisor's code.
func refPseudo(ip []byte, ipv6 bool, proto byte, l4Len int) uint16 {
	var x uint16
	if ipv6 {
		x = checksum.Checksum(ip[8:40], 0)
	} else {
		x = checksum.Checksum(ip[12:20], 0)
	}
	return checksum.Combine(x, uint16(proto)+uint16(l4Len))
}

// superFrame turns a frame into what the kernel reads out with GSO: the
// same headers with the whole length and a partial checksum.
func superFrame(fl flow, payload []byte) ([]byte, vnetHdr) {
	f := fl.frame(0xfffffff0, 0xfffe, tcpACK|tcpPSH|tcpFIN|tcpCWR, payload) // sequence and ID wrap
	l3, _, _ := l3Offset(f)
	l4 := l3 + 20
	gso, proto, csumOff := uint8(gsoTCPv4), byte(6), 16
	if fl.ipv6 {
		l4, gso = l3+40, gsoTCPv6
	}
	if fl.udp {
		gso, proto, csumOff = gsoUDPL4, 17, 6
	}
	binary.BigEndian.PutUint16(f[l4+csumOff:], checksum.Checksum(nil, refPseudo(f[l3:], fl.ipv6, proto, len(f)-l4)))
	h := vnetHdr{flags: vnetNeedsCsum, gsoType: gso, gsoSize: 1448, csumStart: uint16(l4), csumOff: uint16(csumOff)}
	if fl.ipv6 {
		h.gsoSize = 1428
	}
	if fl.udp {
		h.gsoSize = 1400
	}
	return f, h
}

// checkWire checks that f is a wire frame with valid IP and transport
// checksums and returns its transport payload.
func checkWire(t *testing.T, f []byte) (l4 int, payload []byte) {
	t.Helper()
	if l3, _, _ := l3Offset(f); len(f) > maxWireFrame+(l3-14) {
		t.Fatalf("frame of %d bytes", len(f))
	}
	return checkSums(t, f)
}

// checkSums checks the lengths and checksums of an IP packet in f and
// returns its transport payload.
func checkSums(t *testing.T, f []byte) (l4 int, payload []byte) {
	t.Helper()
	l3, ipv6, ok := l3Offset(f)
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
		if checksum.Checksum(f[l3:l4], 0) != 0xffff {
			t.Fatalf("bad IPv4 header checksum")
		}
	}
	if checksum.Checksum(f[l4:], refPseudo(f[l3:], ipv6, proto, len(f)-l4)) != 0xffff {
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

func segmentAll(t *testing.T, f []byte, h vnetHdr) ([][]byte, error) {
	t.Helper()
	var s segmenter
	if err := s.reset(f, h); err != nil {
		return nil, err
	}
	var out [][]byte
	for s.more() {
		buf := make([]byte, slotSize)
		out = append(out, buf[:s.next(buf)])
	}
	return out, nil
}

func randomPayload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestSumMatchesReference(t *testing.T) {
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
		init := uint16(r.Uint32())
		if got, want := fold(sum(b, uint64(init))), checksum.Checksum(b, init); got != want {
			t.Fatalf("%d bytes: sum %#04x, gVisor %#04x", n, got, want)
		}
	}
}

func TestSegment(t *testing.T) {
	for _, tc := range []struct {
		name string
		fl   flow
		size int
	}{
		{"tcp4", flow{opts: 12}, 64000},
		{"tcp6", flow{ipv6: true}, 50001},
		{"tcp4 vlan", flow{vlan: true, opts: 12}, 3000},
		{"tcp4 one segment", flow{}, 100},
		{"udp4", flow{udp: true}, 6000},
		{"udp6 vlan", flow{udp: true, ipv6: true, vlan: true}, 2801},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := randomPayload(tc.size)
			f, h := superFrame(tc.fl, payload)
			segs, err := segmentAll(t, f, h)
			if err != nil {
				t.Fatal(err)
			}
			if want := (tc.size + int(h.gsoSize) - 1) / int(h.gsoSize); len(segs) != want {
				t.Fatalf("%d segments, want %d", len(segs), want)
			}
			var got []byte
			for i, s := range segs {
				l4, p := checkWire(t, s)
				if i < len(segs)-1 && len(p) != int(h.gsoSize) {
					t.Fatalf("segment %d carries %d bytes, want %d", i, len(p), h.gsoSize)
				}
				if !tc.fl.udp {
					if seq := binary.BigEndian.Uint32(s[l4+4:]); seq != 0xfffffff0+uint32(len(got)) {
						t.Fatalf("segment %d: seq %#x", i, seq)
					}
					flags := s[l4+13]
					lastOnly := flags&(tcpFIN|tcpPSH) != 0
					if lastOnly != (i == len(segs)-1) || (flags&tcpCWR != 0) != (i == 0) || flags&tcpACK == 0 {
						t.Fatalf("segment %d of %d: flags %#x", i, len(segs), flags)
					}
				}
				if l3, v6, _ := l3Offset(s); !v6 {
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

func TestSegmentWireSize(t *testing.T) {
	// A TAP with a jumbo MTU makes larger segments than the VPN carries:
	// TCP is cut to wire size instead, UDP datagrams are refused.
	payload := randomPayload(20000)
	f, h := superFrame(flow{}, payload)
	h.gsoSize = 8960
	segs, err := segmentAll(t, f, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 14 || len(segs[0]) != maxWireFrame {
		t.Fatalf("%d segments, first of %d bytes", len(segs), len(segs[0]))
	}
	f, h = superFrame(flow{udp: true}, payload)
	h.gsoSize = 8960
	if _, err := segmentAll(t, f, h); !errors.Is(err, errOffload) {
		t.Fatalf("jumbo UDP segments: %v", err)
	}
}

func TestSegmentRejects(t *testing.T) {
	f, h := superFrame(flow{}, randomPayload(3000))
	for name, mod := range map[string]func(f []byte, h *vnetHdr) []byte{
		"zero gso size":    func(f []byte, h *vnetHdr) []byte { h.gsoSize = 0; return f },
		"UFO":              func(f []byte, h *vnetHdr) []byte { h.gsoType = 3; return f },
		"v6 type on v4":    func(f []byte, h *vnetHdr) []byte { h.gsoType = gsoTCPv6; return f },
		"csum start early": func(f []byte, h *vnetHdr) []byte { h.csumStart = 20; return f },
		"csum start late":  func(f []byte, h *vnetHdr) []byte { h.csumStart = 4000; return f },
		"IP options":       func(f []byte, h *vnetHdr) []byte { f[14] = 0x46; return f },
		"TCP header short": func(f []byte, h *vnetHdr) []byte { f[34+12] = 0x40; return f },
		"not IP":           func(f []byte, h *vnetHdr) []byte { f[12] = 0x88; return f },
		"truncated":        func(f []byte, h *vnetHdr) []byte { return f[:40] },
	} {
		g, hh := append([]byte(nil), f...), h
		g = mod(g, &hh)
		if _, err := segmentAll(t, g, hh); !errors.Is(err, errOffload) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	for _, fl := range []flow{{}, {ipv6: true, udp: true}, {vlan: true}} {
		want := fl.frame(1, 2, tcpACK, randomPayload(999))
		l3, _, _ := l3Offset(want)
		start, off, proto := l3+20, 16, byte(6)
		if fl.ipv6 {
			start = l3 + 40
		}
		if fl.udp {
			off, proto = 6, 17
		}
		// What the kernel hands over: the pseudo-header sum in the field.
		f := append([]byte(nil), want...)
		binary.BigEndian.PutUint16(f[start+off:], checksum.Checksum(nil, refPseudo(f[l3:], fl.ipv6, proto, len(f)-start)))
		if err := completeChecksum(f, start, off); err != nil {
			t.Fatal(err)
		}
		checkWire(t, f)
		if err := completeChecksum(f, start, len(f)); err == nil {
			t.Fatal("checksum offset past the end accepted")
		}
	}
}

// write records what a coalescer writes.
type writes struct{ got [][]byte }

func (w *writes) write(b []byte) error {
	w.got = append(w.got, append([]byte(nil), b...))
	return nil
}

// expand turns recorded writes back into wire frames: plain frames as
// they are, merged ones cut again by the segmenter (after checking their
// header and completing their checksum as the kernel would).
func expand(t *testing.T, ws [][]byte) (frames [][]byte, merged int) {
	t.Helper()
	for _, w := range ws {
		h, f := decodeVnetHdr(w), w[vnetHdrLen:]
		if h.gsoType == gsoNone {
			if h != (vnetHdr{}) {
				t.Fatalf("plain write with header %+v", h)
			}
			frames = append(frames, f)
			continue
		}
		merged++
		if h.flags != vnetNeedsCsum || h.csumOff != 16 || int(h.hdrLen) != int(h.csumStart)+int(f[h.csumStart+12]>>4)*4 {
			t.Fatalf("merged write with header %+v", h)
		}
		whole := append([]byte(nil), f...)
		if err := completeChecksum(whole, int(h.csumStart), int(h.csumOff)); err != nil {
			t.Fatal(err)
		}
		checkSums(t, whole)
		segs, err := segmentAll(t, f, h)
		if err != nil {
			t.Fatalf("merged write does not segment: %v", err)
		}
		frames = append(frames, segs...)
	}
	return frames, merged
}

// stream cuts payload into frames of fl as a sender would.
func stream(fl flow, seq uint32, id uint16, payload []byte, mss int) [][]byte {
	var out [][]byte
	for len(payload) > 0 {
		n := min(mss, len(payload))
		flags := byte(tcpACK)
		if n == len(payload) {
			flags |= tcpPSH
		}
		out = append(out, fl.frame(seq, id, flags, payload[:n]))
		seq += uint32(n)
		id++
		payload = payload[n:]
	}
	return out
}

func TestCoalesce(t *testing.T) {
	for _, tc := range []struct {
		fl  flow
		mss int
	}{{flow{opts: 12}, 1448}, {flow{ipv6: true}, 1440}} {
		in := stream(tc.fl, 0xffff0000, 0xfff0, randomPayload(100000), tc.mss)
		var w writes
		written, merged, failed := newCoalescer().writeBatch(in, w.write)
		if written != len(in) || failed != 0 {
			t.Fatalf("%d of %d written, %d failed", written, len(in), failed)
		}
		// 70 frames: 45 fill a 64 KiB packet, then 25.
		if merged != 2 || len(w.got) != 2 {
			t.Fatalf("%d writes, %d merged", len(w.got), merged)
		}
		out, _ := expand(t, w.got)
		if len(out) != len(in) {
			t.Fatalf("%d frames came back, want %d", len(out), len(in))
		}
		for i := range in {
			if !bytes.Equal(out[i], in[i]) {
				t.Fatalf("frame %d changed:\n got %x\nwant %x", i, out[i], in[i])
			}
		}
	}
}

func TestCoalesceOnlyWhatGROWould(t *testing.T) {
	fl := flow{}
	pay := randomPayload(1448 * 4)
	// seg is segment i of a stream of 1448-byte segments.
	seg := func(i int, flags byte) []byte {
		return fl.frame(1000+uint32(i)*1448, uint16(1+i), flags, pay[i*1448:(i+1)*1448])
	}
	a0, a1, a2, a3 := seg(0, tcpACK), seg(1, tcpACK), seg(2, tcpACK), seg(3, tcpACK|tcpPSH)
	corrupt := append([]byte(nil), a2...)
	corrupt[len(corrupt)-1] ^= 1 // its checksum no longer matches
	window := append([]byte(nil), a1...)
	window[34+15]++
	binary.BigEndian.PutUint16(window[34+16:], 0)
	binary.BigEndian.PutUint16(window[34+16:], ^checksum.Checksum(window[34:], refPseudo(window[14:], false, 6, len(window)-34)))
	idJump := append([]byte(nil), a1...)
	idJump[14+5] += 2
	binary.BigEndian.PutUint16(idJump[14+10:], 0)
	binary.BigEndian.PutUint16(idJump[14+10:], ^checksum.Checksum(idJump[14:34], 0))
	for _, tc := range []struct {
		name   string
		frames [][]byte
		writes int
	}{
		{"a flow", [][]byte{a0, a1, a2, a3}, 1},
		{"other flow between", [][]byte{a0, a1, flow{ipv6: true}.frame(5, 0, tcpACK, pay[:1448]), a2, a3}, 3},
		{"corrupt segment", [][]byte{a0, a1, corrupt, a3}, 3},
		{"gap in sequence", [][]byte{a0, a1, a3}, 2},
		{"PSH ends a run", [][]byte{a0, seg(1, tcpACK|tcpPSH), a2, a3}, 2},
		{"short segment ends a run", [][]byte{fl.frame(0, 0, tcpACK, pay[:100]), fl.frame(100, 1, tcpACK, pay[:100]),
			fl.frame(200, 2, tcpACK, pay[:1000])}, 2},
		{"not data", [][]byte{fl.frame(1, 1, tcpACK, nil), flow{udp: true}.frame(0, 9, 0, pay[:100]),
			flow{vlan: true}.frame(1000, 1, tcpACK, pay[:1448]), {1, 2, 3}}, 4},
		{"IPv4 ID jump", [][]byte{a0, idJump}, 2},
		{"window change", [][]byte{a0, window}, 2},
		{"SYN", [][]byte{fl.frame(999, 0, tcpSYN|tcpACK, pay[:8]), a0, a1}, 2},
	} {
		var w writes
		written, _, failed := newCoalescer().writeBatch(tc.frames, w.write)
		if written != len(tc.frames) || failed != 0 || len(w.got) != tc.writes {
			t.Errorf("%s: %d written, %d failed, %d writes (want %d)", tc.name, written, failed, len(w.got), tc.writes)
			continue
		}
		out, _ := expand(t, w.got)
		for i := range tc.frames {
			if !bytes.Equal(out[i], tc.frames[i]) {
				t.Errorf("%s: frame %d changed", tc.name, i)
			}
		}
	}
}

func TestCoalesceAllocatesNothing(t *testing.T) {
	in := stream(flow{}, 0, 0, randomPayload(50000), 1448)
	c := newCoalescer()
	allocs := testing.AllocsPerRun(20, func() {
		c.writeBatch(in, func([]byte) error { return nil })
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
}

func FuzzSegment(f *testing.F) {
	for _, fl := range []flow{{}, {ipv6: true, opts: 12}, {udp: true, vlan: true}} {
		// Small seeds keep the fuzzer's minimizing quick.
		sf, h := superFrame(fl, randomPayload(300))
		h.gsoSize = 100
		b := make([]byte, vnetHdrLen)
		h.encode(b)
		f.Add(append(b, sf...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < vnetHdrLen {
			return
		}
		h, frame := decodeVnetHdr(b), b[vnetHdrLen:]
		if h.gsoType == gsoNone {
			completeChecksum(frame, int(h.csumStart), int(h.csumOff))
			return
		}
		var s segmenter
		if s.reset(frame, h) != nil {
			return
		}
		buf := make([]byte, slotSize)
		for n := 0; s.more(); n++ {
			if m := s.next(buf); m > maxWireFrame+8 {
				t.Fatalf("segment of %d bytes", m)
			}
			if n > len(frame) {
				t.Fatal("segmenter does not end")
			}
		}
	})
}

// FuzzCoalesce checks that whatever frames come in, what is written is the
// same frames: as they were, or merged so that the kernel's segmentation
// gives them back byte for byte.
func FuzzCoalesce(f *testing.F) {
	f.Add([]byte{}, uint16(1448), uint8(3), uint8(0))
	f.Add([]byte{1, 2, 3}, uint16(100), uint8(20), uint8(7))
	f.Add(make([]byte, 60), uint16(1), uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, junk []byte, mss uint16, n, where uint8) {
		// A valid stream with junk frames (the fuzzer's bytes, and a
		// stream frame with a byte changed) put in.
		mss = max(mss%1449, 1) // wire-size frames
		in := stream(flow{opts: 12}, 77, 3, randomPayload(int(mss)*int(n%70)), int(mss))
		if len(junk) > 0 {
			at := int(where) % (len(in) + 1)
			in = append(in[:at], append([][]byte{junk}, in[at:]...)...)
			if len(in) > 2 {
				g := append([]byte(nil), in[len(in)/2]...)
				g[int(where)%len(g)] ^= junk[0] | 1
				in = append(in, g)
			}
		}
		var w writes
		written, _, failed := newCoalescer().writeBatch(in, w.write)
		if written+failed != len(in) || failed != 0 {
			t.Fatalf("%d written, %d failed of %d", written, failed, len(in))
		}
		var out [][]byte
		for _, wr := range w.got {
			h, fr := decodeVnetHdr(wr), wr[vnetHdrLen:]
			if h.gsoType == gsoNone {
				out = append(out, fr)
				continue
			}
			segs, err := segmentAll(t, fr, h)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, segs...)
		}
		if len(out) != len(in) {
			t.Fatalf("%d frames back of %d", len(out), len(in))
		}
		for i := range in {
			if !bytes.Equal(out[i], in[i]) {
				if t2, ok := parseTCPFrame(in[i]); !ok || !bytes.Equal(out[i], t2.f) {
					t.Fatalf("frame %d changed:\n got %x\nwant %x", i, out[i], in[i])
				}
			}
		}
	})
}
