package l3

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/hub"
)

var twoHubs = []Interface{
	{HubName: "HUBA", Addr: netip.MustParsePrefix("10.1.0.1/24")},
	{HubName: "HUBB", Addr: netip.MustParsePrefix("10.2.0.1/24")},
}

var noMAC [6]byte

// resolve has host h answer the switch's ARP request for h's address.
func (r *rig) resolve(h *host, hubName string) {
	r.t.Helper()
	h.expect("ARP request for "+h.ip.String(), isARP(ether.ARPRequest, h.ip.String()))
	h.send(arpFrame(ether.ARPReply, r.mac(hubName), h.mac, h.ip.String(), r.mac(hubName), r.ifIP(hubName)))
}

func (r *rig) ifIP(hubName string) string {
	for i := range r.sw.ifs {
		// Only the fields fixed at New: poll writes nextBeacon.
		if f := &r.sw.ifs[i]; f.hubName == hubName {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], f.ip)
			return netip.AddrFrom4(b).String()
		}
	}
	return ""
}

func TestARPReplyAndBeacon(t *testing.T) {
	r := newRig(t, twoHubs, nil)
	a := r.host("HUBA", "10.1.0.10", 0x0a)
	a.send(arpFrame(ether.ARPRequest, broadcastMAC, a.mac, "10.1.0.10", noMAC, "10.1.0.1"))
	b := a.expect("ARP reply for 10.1.0.1", func(b []byte) bool {
		return isARP(ether.ARPReply, "10.1.0.10")(b) && binary.BigEndian.Uint32(b[28:]) == ip4("10.1.0.1")
	})
	if got := [6]byte(b[22:28]); got != r.mac("HUBA") || got[0] != 0x5e || got[1] != 0xa3 {
		t.Errorf("reply sender MAC %x, want the interface MAC %x (5E:A3:...)", got, r.mac("HUBA"))
	}
	// Nobody answers for other addresses (no proxy ARP).
	a.send(arpFrame(ether.ARPRequest, broadcastMAC, a.mac, "10.1.0.10", noMAC, "10.2.0.1"))
	a.none("proxy ARP", isARP(ether.ARPReply, "10.1.0.10"))

	// Beacons every 5 s: UDP 7 to the directed broadcast, NUL-terminated text.
	r.clk.Advance(beaconInterval)
	bc := a.expect("beacon", isIP("10.1.0.1", "10.1.0.255", ether.ProtoUDP, -1))
	checkIP(t, bc)
	if got := string(bc[ethHeader+28:]); got != string(beaconText) {
		t.Errorf("beacon payload %q", got)
	}
	a.expect("beacon ARP", isARP(ether.ARPReply, "10.1.0.255"))
}

func TestForwardBetweenSubnets(t *testing.T) {
	r := newRig(t, twoHubs, nil)
	a := r.host("HUBA", "10.1.0.10", 0x0a)
	b := r.host("HUBB", "10.2.0.10", 0x0b)
	a.send(ipFrame(r.mac("HUBA"), a.mac, "10.1.0.10", "10.2.0.10", 64, ether.ProtoICMP, echo(1, "hello")))
	// The packet waits while the switch resolves 10.2.0.10 on HUBB.
	r.resolve(b, "HUBB")
	got := b.expect("forwarded echo", isIP("10.1.0.10", "10.2.0.10", ether.ProtoICMP, 8))
	checkIP(t, got)
	if ttl := got[ethHeader+8]; ttl != 63 {
		t.Errorf("TTL %d, want 63", ttl)
	}
	if [6]byte(got[0:6]) != b.mac || [6]byte(got[6:12]) != r.mac("HUBB") {
		t.Errorf("MACs %x -> %x", got[6:12], got[0:6])
	}
	// The reply goes back without ARP: the switch learnt A from its packet.
	b.send(ipFrame(r.mac("HUBB"), b.mac, "10.2.0.10", "10.1.0.10", 64, ether.ProtoICMP, echo(1, "hello")))
	back := a.expect("packet back to A", isIP("10.2.0.10", "10.1.0.10", ether.ProtoICMP, 8))
	checkIP(t, back)
	// Frames to the switch's MAC with a bad header checksum are dropped.
	bad := ipFrame(r.mac("HUBA"), a.mac, "10.1.0.10", "10.2.0.10", 64, ether.ProtoICMP, echo(2, "bad"))
	bad[ethHeader+10] ^= 0xff
	a.send(bad)
	b.none("bad checksum", isIP("10.1.0.10", "10.2.0.10", ether.ProtoICMP, 8))
	// L2 broadcasts are never routed.
	a.send(ipFrame(broadcastMAC, a.mac, "10.1.0.10", "10.2.0.10", 64, ether.ProtoICMP, echo(3, "bc")))
	b.none("broadcast", isIP("10.1.0.10", "10.2.0.10", ether.ProtoICMP, 8))
}

func TestICMPErrorsAndPing(t *testing.T) {
	r := newRig(t, twoHubs, nil)
	a := r.host("HUBA", "10.1.0.10", 0x0a)
	sw := r.mac("HUBA")

	a.send(ipFrame(sw, a.mac, "10.1.0.10", "10.3.0.1", 64, ether.ProtoICMP, echo(1, "x")))
	un := a.expect("destination unreachable", isIP("10.1.0.1", "10.1.0.10", ether.ProtoICMP, 3))
	checkIP(t, un)
	if code := un[ethHeader+21]; code != 0 {
		t.Errorf("unreachable code %d, want 0", code)
	}
	if quoted := binary.BigEndian.Uint32(un[ethHeader+28+16:]); quoted != ip4("10.3.0.1") {
		t.Errorf("quoted header names %x", quoted)
	}

	a.send(ipFrame(sw, a.mac, "10.1.0.10", "10.2.0.5", 1, ether.ProtoICMP, echo(2, "x")))
	te := a.expect("time exceeded", isIP("10.1.0.1", "10.1.0.10", ether.ProtoICMP, 11))
	checkIP(t, te)

	for _, me := range []string{"10.1.0.1", "10.2.0.1"} {
		a.send(ipFrame(sw, a.mac, "10.1.0.10", me, 1, ether.ProtoICMP, echo(3, "ping")))
		rep := a.expect("echo reply from "+me, isIP(me, "10.1.0.10", ether.ProtoICMP, 0))
		checkIP(t, rep)
		if ttl := rep[ethHeader+8]; ttl != echoTTL {
			t.Errorf("echo reply TTL %d, want 255", ttl)
		}
		if string(rep[ethHeader+28:]) != "ping" {
			t.Errorf("echo reply data %q", rep[ethHeader+28:])
		}
	}
	// No ICMP error about an ICMP error.
	a.send(ipFrame(sw, a.mac, "10.1.0.10", "10.3.0.1", 64, ether.ProtoICMP, []byte{3, 0, 0, 0, 0, 0, 0, 0}))
	a.none("error about an error", isIP("10.1.0.1", "10.1.0.10", ether.ProtoICMP, 3))
}

func TestStaticRouteLongestPrefix(t *testing.T) {
	ifs := []Interface{
		{HubName: "HUBA", Addr: netip.MustParsePrefix("192.168.1.1/24")},
		{HubName: "HUBB", Addr: netip.MustParsePrefix("192.168.2.1/24")},
		{HubName: "HUBC", Addr: netip.MustParsePrefix("192.168.3.1/24")},
	}
	routes := []Route{
		{Network: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("192.168.2.254"), Metric: 1},
		{Network: netip.MustParsePrefix("10.2.0.0/16"), Gateway: netip.MustParseAddr("192.168.3.254"), Metric: 5},
	}
	r := newRig(t, ifs, routes)
	a := r.host("HUBA", "192.168.1.10", 0x0a)
	gb := r.host("HUBB", "192.168.2.254", 0x0b)
	gc := r.host("HUBC", "192.168.3.254", 0x0c)

	// 10.2.3.4: the /16 wins although its metric is higher ([GO] fix of docs/protocol/hub.md#layer-3-switch).
	a.send(ipFrame(r.mac("HUBA"), a.mac, "192.168.1.10", "10.2.3.4", 64, ether.ProtoUDP, make([]byte, 8)))
	r.resolve(gc, "HUBC")
	got := gc.expect("packet via the /16 gateway", isIP("192.168.1.10", "10.2.3.4", ether.ProtoUDP, -1))
	if [6]byte(got[0:6]) != gc.mac {
		t.Errorf("sent to %x, want the gateway's MAC", got[0:6])
	}
	// 10.9.9.9 only matches the /8.
	a.send(ipFrame(r.mac("HUBA"), a.mac, "192.168.1.10", "10.9.9.9", 64, ether.ProtoUDP, make([]byte, 8)))
	r.resolve(gb, "HUBB")
	gb.expect("packet via the /8 gateway", isIP("192.168.1.10", "10.9.9.9", ether.ProtoUDP, -1))
}

func TestRouteSelection(t *testing.T) {
	sw, err := New(Config{Name: "R", Lookup: func(string) *hub.Hub { return nil },
		Interfaces: []Interface{
			{HubName: "B", Addr: netip.MustParsePrefix("10.0.0.1/8")},
			{HubName: "A", Addr: netip.MustParsePrefix("10.1.0.1/16")},
			{HubName: "C", Addr: netip.MustParsePrefix("192.168.0.1/24")},
		},
		Routes: []Route{
			{Network: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.0.9"), Metric: 1},
			{Network: netip.MustParsePrefix("172.16.0.0/12"), Gateway: netip.MustParseAddr("192.168.0.2"), Metric: 9},
			{Network: netip.MustParsePrefix("172.16.0.0/12"), Gateway: netip.MustParseAddr("192.168.0.3"), Metric: 2},
			{Network: netip.MustParsePrefix("172.20.0.0/16"), Gateway: netip.MustParseAddr("8.8.8.8"), Metric: 1}, // gateway unreachable
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dst, hub, nh string
	}{
		{"10.1.2.3", "A", "10.1.2.3"}, // first interface in hub-name order, not the longest
		{"10.9.0.1", "B", "10.9.0.1"},
		{"172.16.5.5", "C", "192.168.0.3"}, // same prefix: lowest metric
		{"172.20.1.1", "C", "192.168.0.3"}, // the /16's gateway is unusable
		{"8.8.4.4", "C", "192.168.0.9"},
	} {
		i, nh, ok := sw.lookupRoute(ip4(c.dst))
		if !ok || sw.ifs[i].hubName != c.hub || nh != ip4(c.nh) {
			t.Errorf("route to %s: hub %s next hop %x ok %v; want %s via %s", c.dst, sw.ifs[i].hubName, nh, ok, c.hub, c.nh)
		}
	}
}

func TestPendingPackets(t *testing.T) {
	r := newRig(t, twoHubs, nil)
	a := r.host("HUBA", "10.1.0.10", 0x0a)
	b := r.host("HUBB", "10.2.0.10", 0x0b)
	a.send(ipFrame(r.mac("HUBA"), a.mac, "10.1.0.10", "10.2.0.10", 64, ether.ProtoUDP, make([]byte, 8)))
	b.expect("first ARP request", isARP(ether.ARPRequest, "10.2.0.10"))
	r.clk.Advance(arpRetry)
	b.expect("ARP retried after 1 s", isARP(ether.ARPRequest, "10.2.0.10"))
	r.clk.Advance(pendingLife)
	r.settle()
	if d := r.sw.Dropped(); d != 1 {
		t.Errorf("Dropped() = %d, want 1", d)
	}
	r.clk.Advance(arpRetry)
	b.none("ARP after giving up", isARP(ether.ARPRequest, "10.2.0.10"))
	// A late answer does not revive the dropped packet.
	b.send(arpFrame(ether.ARPReply, r.mac("HUBB"), b.mac, "10.2.0.10", r.mac("HUBB"), "10.2.0.1"))
	b.none("dropped packet", isIP("10.1.0.10", "10.2.0.10", ether.ProtoUDP, -1))
	// Now resolved: packets go straight through; after 30 s the entry expires.
	a.send(ipFrame(r.mac("HUBA"), a.mac, "10.1.0.10", "10.2.0.10", 64, ether.ProtoUDP, make([]byte, 8)))
	b.expect("packet to a resolved host", isIP("10.1.0.10", "10.2.0.10", ether.ProtoUDP, -1))
	r.clk.Advance(arpLifetime)
	r.settle()
	a.send(ipFrame(r.mac("HUBA"), a.mac, "10.1.0.10", "10.2.0.10", 64, ether.ProtoUDP, make([]byte, 8)))
	b.expect("ARP again after expiry", isARP(ether.ARPRequest, "10.2.0.10"))
}

func TestOfflineWhenHubOffline(t *testing.T) {
	r := newRig(t, twoHubs, nil)
	ha, hb := r.lookup("HUBA"), r.lookup("HUBB")
	l3Ports := func(h *hub.Hub) (n int) {
		for _, p := range h.Ports() {
			if p.Kind == hub.KindL3 {
				if p.User != "L3SW_SW1" {
					t.Errorf("interface session user %q", p.User)
				}
				n++
			}
		}
		return n
	}
	if l3Ports(ha) != 1 || l3Ports(hb) != 1 {
		t.Fatalf("online switch has %d/%d ports", l3Ports(ha), l3Ports(hb))
	}
	hb.SetOnline(false)
	r.waitOnline(false)
	if n := l3Ports(ha); n != 0 {
		t.Errorf("offline switch still has %d ports on HUBA", n)
	}
	hb.SetOnline(true)
	r.waitOnline(true)
	// A hub that disappears takes the switch offline too.
	r.mu.Lock()
	delete(r.hubs, "HUBA")
	r.mu.Unlock()
	r.waitOnline(false)
	r.mu.Lock()
	r.hubs["HUBA"] = ha
	r.mu.Unlock()
	r.waitOnline(true)
	// An administrator disconnecting an interface session restarts all of
	// them (new session names).
	l3Name := func(h *hub.Hub) string {
		for _, p := range h.Ports() {
			if p.Kind == hub.KindL3 {
				return p.Name
			}
		}
		return ""
	}
	oldA, oldB := l3Name(ha), l3Name(hb)
	hb.Disconnect(oldB)
	for deadline := time.Now().Add(2 * time.Second); l3Name(ha) == oldA || l3Name(ha) == "" || l3Name(hb) == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("interface sessions %q %q not restarted after a disconnect", l3Name(ha), l3Name(hb))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	look := func(string) *hub.Hub { return nil }
	for name, cfg := range map[string]Config{
		"no interfaces": {Name: "X", Lookup: look},
		"network addr":  {Name: "X", Lookup: look, Interfaces: []Interface{{HubName: "A", Addr: netip.MustParsePrefix("10.0.0.0/24")}}},
		"two on a hub": {Name: "X", Lookup: look, Interfaces: []Interface{
			{HubName: "A", Addr: netip.MustParsePrefix("10.0.0.1/24")}, {HubName: "a", Addr: netip.MustParsePrefix("10.1.0.1/24")}}},
		"zero gateway": {Name: "X", Lookup: look, Interfaces: []Interface{{HubName: "A", Addr: netip.MustParsePrefix("10.0.0.1/24")}},
			Routes: []Route{{Network: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.IPv4Unspecified()}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// TestForwardAllocs checks that routing a batch allocates nothing once warm.
func TestForwardAllocs(t *testing.T) {
	sw, err := New(Config{Name: "A", Interfaces: twoHubs, Lookup: func(string) *hub.Hub { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	out := newOutbox(2)
	src := [6]byte{2, 0, 0, 0, 0, 1}
	sw.arp[ip4("10.2.0.10")] = arpEntry{mac: [6]byte{2, 0, 0, 0, 0, 2}, expires: int64(time.Hour)}
	f := ipFrame(sw.ifs[0].mac, src, "10.1.0.10", "10.2.0.10", 64, ether.ProtoUDP, make([]byte, 1000))
	run := func() {
		for range 64 {
			sw.handle(0, f, 1, out)
		}
		if len(out.per[1]) != 64 {
			t.Fatalf("%d frames routed, want 64", len(out.per[1]))
		}
		out.flush(nil)
	}
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
}

// FuzzHandle feeds arbitrary frames to an interface of a switch whose
// routing state includes resolved and waiting neighbours.
func FuzzHandle(f *testing.F) {
	mac := interfaceMAC("F", "HUBA", netip.MustParseAddr("10.1.0.1"))
	src := [6]byte{2, 0, 0, 0, 0, 1}
	f.Add(ipFrame(mac, src, "10.1.0.10", "10.2.0.10", 64, ether.ProtoICMP, echo(1, "x")), false)
	f.Add(ipFrame(mac, src, "10.1.0.10", "10.1.0.1", 64, ether.ProtoICMP, echo(1, "x")), true)
	f.Add(ipFrame(mac, src, "10.1.0.10", "10.3.0.1", 1, ether.ProtoUDP, nil), false)
	f.Add(arpFrame(ether.ARPRequest, broadcastMAC, src, "10.1.0.10", noMAC, "10.1.0.1"), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, poll bool) {
		sw, err := New(Config{Name: "F", Interfaces: twoHubs, Lookup: func(string) *hub.Hub { return nil },
			Routes: []Route{{Network: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.2.0.254"), Metric: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		out := newOutbox(2)
		if len(b) >= 12 {
			copy(b[0:6], mac[:]) // reach the router more often than not
		}
		sw.handle(0, b, 1, out)
		sw.handle(1, b, 2, out)
		if poll {
			sw.poll(int64(10*time.Second), out)
		}
		for _, fs := range out.per {
			for _, fr := range fs {
				if len(fr) < ethHeader || len(fr) > ether.MaxFrameSize {
					t.Fatalf("produced a %d-byte frame", len(fr))
				}
			}
		}
	})
}
