package hub

import (
	"encoding/binary"
	"testing"
	"time"
)

func tag(f []byte, tpid, vid uint16) []byte { return insertVLAN(make([]byte, len(f)+4), f, tpid, vid) }

func TestVLANPolicy(t *testing.T) {
	h, _ := testHub(t, nil)
	v5 := attach(t, h, "V5", Policy{VLanID: 5})
	v5b := attach(t, h, "V5B", Policy{VLanID: 5})
	v6 := attach(t, h, "V6", Policy{VLanID: 6})
	trunk := attach(t, h, "TRUNK", Policy{})

	// Ingress: V5's untagged broadcast is tagged; V5B gets it untagged,
	// V6 not at all, the trunk with its tag.
	in := raw(bcast, mac(1))
	send(v5, in)
	if got := drain(v5b); len(got) != 1 || string(got[0]) != string(in) {
		t.Errorf("V5B: got %x, want the frame untagged", got)
	}
	expectFrames(t, map[*Port]int{v6: 0})
	got := drain(trunk)
	if len(got) != 1 || !hasVLAN(got[0], etherVLAN, 5) || string(got[0][16:]) != string(in[12:]) {
		t.Fatalf("trunk: got %x, want the frame tagged with VID 5", got)
	}

	// Unicast back from the trunk: learned under VID 5, delivered untagged.
	send(trunk, tag(raw(mac(1), mac(7)), etherVLAN, 5))
	if got := drain(v5); len(got) != 1 || binary.BigEndian.Uint16(got[0][12:]) != 0x88b5 {
		t.Errorf("V5: got %x, want one untagged frame", got)
	}
	// Untagged and other-VID frames never reach a VLAN port.
	send(trunk, raw(mac(1), mac(7)), tag(raw(bcast, mac(7)), etherVLAN, 6))
	expectFrames(t, map[*Port]int{v5: 0, v5b: 0, v6: 1})

	// A tagged frame from a VLAN port gets a second tag (always inserted).
	send(v6, tag(raw(bcast, mac(3)), etherVLAN, 9))
	got = drain(trunk)
	if len(got) != 1 || !hasVLAN(got[0], etherVLAN, 6) || !hasVLAN(got[0][4:], etherVLAN, 9) {
		t.Errorf("trunk: got %x, want a double-tagged frame", got)
	}
}

func TestVLANTypeID(t *testing.T) {
	h, _ := testHub(t, func(o *Options) { o.VLANTypeID = 0x88a8 })
	v := attach(t, h, "V", Policy{VLanID: 100})
	trunk := attach(t, h, "TRUNK", Policy{})
	send(v, raw(bcast, mac(1)))
	if got := drain(trunk); len(got) != 1 || !hasVLAN(got[0], 0x88a8, 100) {
		t.Fatalf("got %x, want a 0x88a8 tag", got)
	}
	send(trunk, tag(raw(bcast, mac(2)), etherVLAN, 100), tag(raw(bcast, mac(2)), 0x88a8, 100))
	if got := drain(v); len(got) != 1 || binary.BigEndian.Uint16(got[0][12:]) != 0x88b5 {
		t.Errorf("got %x, want only the 0x88a8-tagged frame, untagged", got)
	}
}

func TestInsertVLANInPlace(t *testing.T) {
	f := raw(bcast, mac(1))
	buf := make([]byte, len(f)+4)
	copy(buf, f)
	out := insertVLAN(buf, buf[:len(f)], etherVLAN, 42)
	if !hasVLAN(out, etherVLAN, 42) || string(out[:12]) != string(f[:12]) || string(out[16:]) != string(f[12:]) {
		t.Errorf("in-place insert: got %x from %x", out, f)
	}
}

// TestNoAllocs: steady-state switching does not allocate, with or without
// an access list, with VLAN and MSS rewriting, and through the delay queue.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	syn := syn4(synOpts(tcpSYN, mssOpt(1460)...))
	rules := []AccessRule{
		{Priority: 1, Active: true, Discard: true, Protocol: protoUDP, DstPortStart: 9},
		{Priority: 2, Active: true, SrcUsername: "nobody"},
		{Priority: 3, Active: true, DstUsername: "B"},
		{Priority: 4, Active: true, Discard: true, DstUsername: "C"},
	}
	cases := []struct {
		name  string
		opt   func(*Options)
		rules []AccessRule
		polA  Policy
		polB  Policy
		frame []byte
		delay bool
	}{
		{name: "no access list", frame: syn},
		{name: "access list", rules: rules, frame: syn},
		{name: "access list flood", rules: rules, frame: raw(bcast, mac(1))},
		{name: "VLAN both ways", polA: Policy{VLanID: 3}, polB: Policy{VLanID: 3}, frame: syn},
		{name: "MSS clamp", opt: func(o *Options) { o.AdjustTCPMSS = 1200 }, frame: syn},
		{name: "delay", rules: []AccessRule{{Priority: 1, Active: true, Delay: time.Millisecond}}, frame: syn, delay: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, clk := testHub(t, tc.opt)
			a, _ := h.Attach(PortConfig{Name: "A", User: "a", Policy: tc.polA})
			b, _ := h.Attach(PortConfig{Name: "B", User: "b", Policy: tc.polB})
			c, _ := h.Attach(PortConfig{Name: "C", User: "c", Policy: tc.polB})
			send(b, raw(bcast, mac(2)))
			send(c, raw(bcast, mac(3)))
			drain(a)
			h.SetAccessList(tc.rules)
			batch := makeBatch(16, tc.frame)
			var out []*Frame
			step := func() {
				a.Input(batch)
				if tc.delay {
					clk.Advance(2 * time.Millisecond)
					a.Input(nil)
				}
				for _, p := range []*Port{b, c} {
					out = p.Drain(out[:0], 0)
					for _, f := range out {
						f.Release()
					}
				}
			}
			step()
			if n := len(b.Drain(nil, 0)) + int(b.Stats().Recv.UnicastCount+b.Stats().Recv.BroadcastCount); n == 0 {
				t.Fatal("B received nothing: the case tests nothing")
			}
			if a := testing.AllocsPerRun(100, step); a > 0 {
				t.Fatalf("%.1f allocations per batch, want 0", a)
			}
		})
	}
}
