package offload

import (
	"bytes"
	"encoding/binary"
	"testing"

	ot "github.com/ethervpn/ethervpn/internal/offload/offloadtest"
)

// writes records what a coalescer writes.
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
		h, f := DecodeVnetHdr(w), w[VnetHdrLen:]
		if h.GSOType == GSONone {
			if h != (VnetHdr{}) {
				t.Fatalf("plain write with header %+v", h)
			}
			frames = append(frames, f)
			continue
		}
		merged++
		if h.Flags != NeedsCsum || h.CsumOffset != 16 || int(h.HdrLen) != int(h.CsumStart)+int(f[h.CsumStart+12]>>4)*4 {
			t.Fatalf("merged write with header %+v", h)
		}
		whole := append([]byte(nil), f...)
		if err := CompleteChecksum(whole, int(h.CsumStart), int(h.CsumOffset)); err != nil {
			t.Fatal(err)
		}
		checkSums(t, whole)
		segs, err := segmentAll(t, f, h, 0)
		if err != nil {
			t.Fatalf("merged write does not segment: %v", err)
		}
		frames = append(frames, segs...)
	}
	return frames, merged
}

func TestCoalesce(t *testing.T) {
	for _, tc := range []struct {
		fl  ot.Flow
		mss int
	}{{ot.Flow{Opts: 12}, 1448}, {ot.Flow{IPv6: true}, 1440}} {
		in := ot.Stream(tc.fl, 0xffff0000, 0xfff0, ot.RandomPayload(100000), tc.mss)
		var w writes
		written, merged, failed := NewCoalescer().WriteBatch(in, w.write)
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
	fl := ot.Flow{}
	pay := ot.RandomPayload(1448 * 4)
	// seg is segment i of a stream of 1448-byte segments.
	seg := func(i int, flags byte) []byte {
		return fl.Frame(1000+uint32(i)*1448, uint16(1+i), flags, pay[i*1448:(i+1)*1448])
	}
	a0, a1, a2, a3 := seg(0, tcpACK), seg(1, tcpACK), seg(2, tcpACK), seg(3, tcpACK|tcpPSH)
	corrupt := append([]byte(nil), a2...)
	corrupt[len(corrupt)-1] ^= 1 // its checksum no longer matches
	window := append([]byte(nil), a1...)
	window[34+15]++
	binary.BigEndian.PutUint16(window[34+16:], 0)
	binary.BigEndian.PutUint16(window[34+16:], ^ot.Checksum(window[34:], ot.PseudoSum(window[14:], false, 6, len(window)-34)))
	idJump := append([]byte(nil), a1...)
	idJump[14+5] += 2
	binary.BigEndian.PutUint16(idJump[14+10:], 0)
	binary.BigEndian.PutUint16(idJump[14+10:], ^ot.Checksum(idJump[14:34], 0))
	for _, tc := range []struct {
		name   string
		frames [][]byte
		writes int
	}{
		{"a flow", [][]byte{a0, a1, a2, a3}, 1},
		{"other flow between", [][]byte{a0, a1, ot.Flow{IPv6: true}.Frame(5, 0, tcpACK, pay[:1448]), a2, a3}, 3},
		{"corrupt segment", [][]byte{a0, a1, corrupt, a3}, 3},
		{"gap in sequence", [][]byte{a0, a1, a3}, 2},
		{"PSH ends a run", [][]byte{a0, seg(1, tcpACK|tcpPSH), a2, a3}, 2},
		{"short segment ends a run", [][]byte{fl.Frame(0, 0, tcpACK, pay[:100]), fl.Frame(100, 1, tcpACK, pay[:100]),
			fl.Frame(200, 2, tcpACK, pay[:1000])}, 2},
		{"not data", [][]byte{fl.Frame(1, 1, tcpACK, nil), ot.Flow{UDP: true}.Frame(0, 9, 0, pay[:100]),
			ot.Flow{VLAN: true}.Frame(1000, 1, tcpACK, pay[:1448]), {1, 2, 3}}, 4},
		{"IPv4 ID jump", [][]byte{a0, idJump}, 2},
		{"window change", [][]byte{a0, window}, 2},
		{"SYN", [][]byte{fl.Frame(999, 0, tcpSYN|tcpACK, pay[:8]), a0, a1}, 2},
	} {
		var w writes
		written, _, failed := NewCoalescer().WriteBatch(tc.frames, w.write)
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
	in := ot.Stream(ot.Flow{}, 0, 0, ot.RandomPayload(50000), 1448)
	c := NewCoalescer()
	allocs := testing.AllocsPerRun(20, func() {
		c.WriteBatch(in, func([]byte) error { return nil })
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
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
		in := ot.Stream(ot.Flow{Opts: 12}, 77, 3, ot.RandomPayload(int(mss)*int(n%70)), int(mss))
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
		written, _, failed := NewCoalescer().WriteBatch(in, w.write)
		if written+failed != len(in) || failed != 0 {
			t.Fatalf("%d written, %d failed of %d", written, failed, len(in))
		}
		var out [][]byte
		for _, wr := range w.got {
			h, fr := DecodeVnetHdr(wr), wr[VnetHdrLen:]
			if h.GSOType == GSONone {
				out = append(out, fr)
				continue
			}
			segs, err := segmentAll(t, fr, h, 0)
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
