package hub

import (
	"testing"
)

// bpdu builds an 802.3 frame carrying a configuration BPDU to the
// spanning-tree group address.
func bpdu(src [6]byte) []byte {
	stp := [6]byte{0x01, 0x80, 0xc2, 0, 0, 0}
	payload := append([]byte{0x42, 0x42, 0x03}, make([]byte, bpduSize)...)
	b := eth(stp, src, uint16(len(payload)), payload)
	return b
}

func TestFilters(t *testing.T) {
	frames := map[string][]byte{
		"pppoe-discovery": eth(bcast, mac(1), 0x8863, []byte("padi")),
		"pppoe-session":   eth(bcast, mac(1), 0x8864, []byte("ppp")),
		"ospf":            eth(bcast, mac(1), etherIPv4, ipv4("10.0.0.1", "224.0.0.5", 89, 0, []byte("hello"))),
		"ipv4":            ipFrame(bcast, mac(1), "10.0.0.1", "10.0.0.9"),
		"arp":             arpRequest(mac(1), "10.0.0.1", "10.0.0.9"),
		"ipv6":            eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "ff02::1", 17, udp(1, 2, []byte("x")))),
		"other":           raw(bcast, mac(1)),
		"bpdu":            bpdu(mac(1)),
	}
	cases := []struct {
		name    string
		f       Filters
		dropped []string
	}{
		{"none", Filters{}, nil},
		{"PPPoE", Filters{PPPoE: true}, []string{"pppoe-discovery", "pppoe-session"}},
		{"OSPF", Filters{OSPF: true}, []string{"ospf"}},
		{"IPv4", Filters{IPv4: true}, []string{"ospf", "ipv4", "arp"}},
		{"IPv6", Filters{IPv6: true}, []string{"ipv6"}},
		{"NonIP", Filters{NonIP: true}, []string{"pppoe-discovery", "pppoe-session", "other", "bpdu"}},
		{"BPDU", Filters{BPDU: true}, []string{"bpdu"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := testHub(t, func(o *Options) { o.Filters = c.f })
			a := attach(t, h, "A", Policy{})
			b := attach(t, h, "B", Policy{})
			for name, f := range frames {
				send(a, f)
				drop := false
				for _, d := range c.dropped {
					drop = drop || d == name
				}
				want := 1
				if drop {
					want = 0
				}
				if got := len(drain(b)); got != want {
					t.Errorf("%s: %d frames passed, want %d", name, got, want)
				}
			}
			if got := a.Stats().DroppedAccessList; got != uint64(len(c.dropped)) {
				t.Errorf("%d frames counted as access-list drops, want %d", got, len(c.dropped))
			}
		})
	}
	// SetOptions changes them for the next frames.
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	o := h.Options()
	o.Filters = Filters{IPv6: true}
	h.SetOptions(o)
	send(a, frames["ipv6"], frames["ipv4"])
	expectFrames(t, map[*Port]int{b: 1})
	o.Filters = Filters{}
	h.SetOptions(o)
	send(a, frames["ipv6"])
	expectFrames(t, map[*Port]int{b: 1})
}

func TestIsBPDU(t *testing.T) {
	good := bpdu(mac(1))
	if !isBPDU(good) {
		t.Fatal("a configuration BPDU is not recognised")
	}
	short := append([]byte(nil), good[:14+3+bpduSize-1]...)
	if isBPDU(short) {
		t.Error("a truncated BPDU is recognised")
	}
	llc := append([]byte(nil), good...)
	llc[14] = 0xaa // SNAP, not spanning tree
	if isBPDU(llc) {
		t.Error("a SNAP frame is taken for a BPDU")
	}
	typed := append([]byte(nil), good...)
	typed[12], typed[13] = 0x08, 0x00
	if isBPDU(typed) {
		t.Error("an Ethernet II frame is taken for a BPDU")
	}
}
