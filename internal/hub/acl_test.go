package hub

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// aclPorts attaches alice (group SALES, a client), bob (a client) and the
// SecureNAT port, and teaches the hub their MACs 1, 2 and 9.
func aclPorts(t *testing.T, h *Hub) (alice, bob, nat *Port) {
	t.Helper()
	var err error
	if alice, err = h.Attach(PortConfig{Name: "A", User: "alice", Group: "sales", Kind: KindClient}); err != nil {
		t.Fatal(err)
	}
	if bob, err = h.Attach(PortConfig{Name: "B", User: "bob", Kind: KindClient}); err != nil {
		t.Fatal(err)
	}
	nat = attachKind(t, h, "NAT", KindSecureNAT, Policy{})
	send(alice, raw(bcast, mac(1)))
	send(bob, raw(bcast, mac(2)))
	send(nat, raw(bcast, mac(9)))
	for _, p := range []*Port{alice, bob, nat} {
		drain(p)
	}
	return alice, bob, nat
}

func tcpFrame(dst, src [6]byte, sport, dport uint16, flags byte) []byte {
	return eth(dst, src, etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(sport, dport, flags)))
}

func TestAccessRuleMatch(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, nat := aclPorts(t, h)
	addr := netip.MustParseAddr
	udp4 := ipFrame(mac(2), mac(1), "10.1.2.3", "192.168.0.9")
	tcp4 := func(sport, dport uint16, flags byte) []byte {
		return eth(mac(2), mac(1), etherIPv4, ipv4("10.1.2.3", "192.168.0.9", protoTCP, 0, tcp(sport, dport, flags)))
	}
	udp6 := eth(mac(2), mac(1), etherIPv6, ipv6("2001:db8::1", "2001:db8:1::2", protoUDP, udp(1000, 53, nil)))
	icmp4 := eth(mac(2), mac(1), etherIPv4, ipv4("10.1.2.3", "192.168.0.9", protoICMP, 0, []byte{8, 0, 0, 0, 0, 0, 0, 0}))
	nonIP := raw(mac(2), mac(1))
	arp := arpRequest(mac(1), "10.1.2.3", "10.1.2.4")
	v4 := func(r AccessRule) AccessRule { r.Active = true; return r }
	v6 := func(r AccessRule) AccessRule { r.Active, r.IPv6 = true, true; return r }

	tests := []struct {
		name  string
		rule  AccessRule
		src   *Port
		frame []byte
		want  bool
	}{
		{"empty rule matches IPv4", v4(AccessRule{}), alice, udp4, true},
		{"empty rule matches non-IP", v4(AccessRule{}), alice, nonIP, true},
		{"inactive never matches", AccessRule{}, alice, udp4, false},
		{"src MAC under mask", v4(AccessRule{CheckSrcMAC: true, SrcMAC: [6]byte{2, 0, 0, 9, 9, 9}, SrcMACMask: [6]byte{0xff, 0xff, 0xff}}), alice, udp4, true},
		{"src MAC differs", v4(AccessRule{CheckSrcMAC: true, SrcMAC: [6]byte{2, 0, 1}, SrcMACMask: [6]byte{0xff, 0xff, 0xff}}), alice, udp4, false},
		{"dst MAC exact", v4(AccessRule{CheckDstMAC: true, DstMAC: mac(2), DstMACMask: bcast}), alice, udp4, true},
		{"dst MAC differs", v4(AccessRule{CheckDstMAC: true, DstMAC: mac(3), DstMACMask: bcast}), alice, udp4, false},
		{"src user", v4(AccessRule{SrcUsername: "ALICE"}), alice, udp4, true},
		{"src user with domain", v4(AccessRule{SrcUsername: `CORP\alice@corp.example`}), alice, udp4, true},
		{"src group", v4(AccessRule{SrcUsername: "Sales"}), alice, udp4, true},
		{"src user other session", v4(AccessRule{SrcUsername: "alice"}), bob, udp4, false},
		{"internal session by its user name", v4(AccessRule{SrcUsername: "Nat"}), nat, udp4, true},
		{"include list", v4(AccessRule{SrcUsername: "include:u.txt", SrcUserList: []string{"alice"}}), alice, udp4, true},
		{"include list, not listed", v4(AccessRule{SrcUsername: "Include:u.txt", SrcUserList: []string{"alice"}}), bob, udp4, false},
		{"include list never matches SecureNAT", v4(AccessRule{SrcUsername: "include:u.txt", SrcUserList: []string{"nat"}}), nat, udp4, false},
		{"exclude list, listed", v4(AccessRule{SrcUsername: "exclude:u.txt", SrcUserList: []string{"alice"}}), alice, udp4, false},
		{"exclude list, not listed", v4(AccessRule{SrcUsername: "exclude:u.txt", SrcUserList: []string{"alice"}}), bob, udp4, true},
		{"src IPv4 in subnet", v4(AccessRule{SrcIP: addr("10.0.0.0"), SrcMask: addr("255.0.0.0")}), alice, udp4, true},
		{"src IPv4 outside", v4(AccessRule{SrcIP: addr("11.0.0.0"), SrcMask: addr("255.0.0.0")}), alice, udp4, false},
		{"dst IPv4 host", v4(AccessRule{DstIP: addr("192.168.0.9"), DstMask: addr("255.255.255.255")}), alice, udp4, true},
		{"dst IPv4 other host", v4(AccessRule{DstIP: addr("192.168.0.8"), DstMask: addr("255.255.255.255")}), alice, udp4, false},
		{"IPv4 address rule, non-IP frame", v4(AccessRule{SrcIP: addr("10.0.0.0"), SrcMask: addr("255.0.0.0")}), alice, nonIP, false},
		{"IPv4 address rule, IPv6 frame", v4(AccessRule{SrcIP: addr("10.0.0.0"), SrcMask: addr("255.0.0.0")}), alice, udp6, false},
		{"IPv4 address rule, ARP sender", v4(AccessRule{SrcIP: addr("10.0.0.0"), SrcMask: addr("255.0.0.0")}), alice, arp, true},
		{"src IPv6 prefix", v6(AccessRule{SrcIP: addr("2001:db8::"), SrcMask: addr("ffff:ffff:ffff::")}), alice, udp6, true},
		{"dst IPv6 prefix", v6(AccessRule{DstIP: addr("2001:db8:1::"), DstMask: addr("ffff:ffff:ffff::")}), alice, udp6, true},
		{"dst IPv6 other prefix", v6(AccessRule{DstIP: addr("2001:db8:2::"), DstMask: addr("ffff:ffff:ffff::")}), alice, udp6, false},
		{"IPv6 address rule, IPv4 frame", v6(AccessRule{SrcIP: addr("::"), SrcMask: addr("ffff::")}), alice, udp4, false},
		{"protocol UDP", v4(AccessRule{Protocol: protoUDP}), alice, udp4, true},
		{"protocol TCP vs UDP", v4(AccessRule{Protocol: protoTCP}), alice, udp4, false},
		{"protocol ICMP", v4(AccessRule{Protocol: protoICMP}), alice, icmp4, true},
		{"protocol of the rule's version", v4(AccessRule{Protocol: protoUDP}), alice, udp6, false},
		{"IPv6 protocol", v6(AccessRule{Protocol: protoUDP}), alice, udp6, true},
		{"dst port in range", v4(AccessRule{DstPortStart: 1999, DstPortEnd: 2001}), alice, udp4, true},
		{"dst port single (end raised)", v4(AccessRule{DstPortStart: 2000}), alice, udp4, true},
		{"dst port outside", v4(AccessRule{DstPortStart: 2001, DstPortEnd: 3000}), alice, udp4, false},
		{"src port", v4(AccessRule{SrcPortStart: 1000}), alice, udp4, true},
		{"src port other", v4(AccessRule{SrcPortStart: 1001}), alice, udp4, false},
		{"port rule, ICMP frame", v4(AccessRule{DstPortStart: 1}), alice, icmp4, false},
		{"TCP port", v4(AccessRule{DstPortStart: 80}), alice, tcp4(5555, 80, tcpACK), true},
		{"unestablished matches SYN", v4(AccessRule{CheckTCPState: true}), alice, tcp4(5555, 80, tcpSYN), true},
		{"unestablished vs SYN+ACK", v4(AccessRule{CheckTCPState: true}), alice, tcp4(80, 5555, tcpSYN|tcpACK), false},
		{"established matches ACK", v4(AccessRule{CheckTCPState: true, Established: true}), alice, tcp4(5555, 80, tcpACK), true},
		{"established matches SYN+ACK", v4(AccessRule{CheckTCPState: true, Established: true}), alice, tcp4(80, 5555, tcpSYN|tcpACK), true},
		{"established matches FIN", v4(AccessRule{CheckTCPState: true, Established: true}), alice, tcp4(80, 5555, tcpFIN), true},
		{"established matches RST", v4(AccessRule{CheckTCPState: true, Established: true}), alice, tcp4(80, 5555, tcpRST), true},
		{"established vs SYN", v4(AccessRule{CheckTCPState: true, Established: true}), alice, tcp4(5555, 80, tcpSYN), false},
		{"TCP state rule, UDP frame", v4(AccessRule{CheckTCPState: true, Established: true}), alice, udp4, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := compileRule(tc.rule, nameSets{})
			var pk packet
			parseFrame(tc.frame, &pk)
			if got := r.match(tc.src, nil, &pk); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAccessListDestUser(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, nat := aclPorts(t, h)
	r := compileRule(AccessRule{Active: true, DstUsername: "bob"}, nameSets{})
	var pk packet
	parseFrame(raw(bcast, mac(1)), &pk)
	if !r.match(alice, bob, &pk) || r.match(alice, nat, &pk) {
		t.Error("DstUsername must match the destination session only")
	}
}

// Many rules that name one big user list share one compiled name set: 400
// rules on a 100,000-name list cost about what one rule costs (red team F2:
// a map per rule took 2.86 GB).
func TestAccessListSharesUserList(t *testing.T) {
	h, _ := testHub(t, nil)
	names := make([]string, 100_000)
	for i := range names {
		names[i] = fmt.Sprintf("user%06d", i)
	}
	rules := func(n int) []AccessRule {
		rs := make([]AccessRule, n)
		for i := range rs {
			rs[i] = AccessRule{Active: true, Discard: i%2 == 1, Priority: uint32(i), SrcUsername: "include:big.txt", SrcUserList: names}
		}
		return rs
	}
	one, many := rules(1), rules(400)
	base := heapInUse()
	h.SetAccessList(one)
	oneCost := heapInUse() - base
	h.SetAccessList(nil)
	base = heapInUse()
	h.SetAccessList(many)
	manyCost := heapInUse() - base
	runtime.KeepAlive(one)
	runtime.KeepAlive(many)
	if oneCost < 1<<20 {
		t.Fatalf("one rule on 100,000 names costs %d bytes: the measure is wrong", oneCost)
	}
	if manyCost > 2*oneCost {
		t.Errorf("400 rules on one list cost %d bytes, one rule %d: each rule compiles its own set", manyCost, oneCost)
	}
}

// Rules sharing a list keep their own include/exclude sense; a rule on
// another list matches by that list only.
func TestAccessListSharedListSemantics(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, _ := aclPorts(t, h)
	list, other := []string{"ALICE"}, []string{`corp\bob`}
	sets := nameSets{}
	inc := compileRule(AccessRule{Active: true, SrcUsername: "include:a.txt", SrcUserList: list}, sets)
	exc := compileRule(AccessRule{Active: true, SrcUsername: "exclude:a.txt", SrcUserList: list}, sets)
	inc2 := compileRule(AccessRule{Active: true, SrcUsername: "include:b.txt", SrcUserList: other}, sets)
	if len(sets) != 2 {
		t.Errorf("%d sets compiled for 2 lists", len(sets))
	}
	var pk packet
	parseFrame(raw(bcast, mac(1)), &pk)
	for _, c := range []struct {
		name string
		r    *rule
		p    *Port
		want bool
	}{
		{"include, listed", &inc, alice, true}, {"include, not listed", &inc, bob, false},
		{"exclude, listed", &exc, alice, false}, {"exclude, not listed", &exc, bob, true},
		{"other list, listed", &inc2, bob, true}, {"other list, not listed", &inc2, alice, false},
	} {
		if got := c.r.match(c.p, nil, &pk); got != c.want {
			t.Errorf("%s: match = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAccessListA1 is the spec's case A1: a discard rule for TCP port 80
// before a pass-everything rule.
func TestAccessListA1(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, _ := aclPorts(t, h)
	h.SetAccessList([]AccessRule{
		{Priority: 20, Active: true},
		{Priority: 10, Active: true, Discard: true, Protocol: protoTCP, DstPortStart: 80},
	})
	send(alice, tcpFrame(mac(2), mac(1), 5555, 80, tcpSYN))
	expectFrames(t, map[*Port]int{bob: 0})
	send(alice, eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoUDP, 0, udp(5555, 80, nil))))
	expectFrames(t, map[*Port]int{bob: 1})
	if got := alice.Stats().DroppedAccessList; got != 1 {
		t.Errorf("alice DroppedAccessList = %d, want 1", got)
	}
	if got := h.Stats().DroppedAccessList; got != 1 {
		t.Errorf("hub DroppedAccessList = %d, want 1", got)
	}
	if rs := h.AccessList(); len(rs) != 2 || rs[0].Priority != 10 {
		t.Errorf("rules not sorted by priority: %+v", rs)
	}
}

// TestAccessListARP is case A2: a rule without conditions discards IPv4,
// IPv6 and other frames, but ARP only with ApplyAccessListOnARP.
func TestAccessListARP(t *testing.T) {
	for _, onARP := range []bool{false, true} {
		h, _ := testHub(t, func(o *Options) { o.ApplyAccessListOnARP = onARP })
		alice, bob, _ := aclPorts(t, h)
		h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Discard: true}})
		send(alice,
			ipFrame(mac(2), mac(1), "10.0.0.1", "10.0.0.2"),
			eth(mac(2), mac(1), etherIPv6, ipv6("fe80::1", "fe80::2", protoUDP, udp(1, 2, nil))),
			raw(mac(2), mac(1)))
		expectFrames(t, map[*Port]int{bob: 0})
		send(alice, arpRequest(mac(1), "10.0.0.1", "10.0.0.2"))
		want := 1
		if onARP {
			want = 0
		}
		expectFrames(t, map[*Port]int{bob: want})
	}
}

// TestAccessListPassFirst is case A3: of a pass and a discard rule with the
// same priority that both match, pass wins.
func TestAccessListPassFirst(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, _ := aclPorts(t, h)
	h.SetAccessList([]AccessRule{
		{Priority: 5, Active: true, Discard: true},
		{Priority: 5, Active: true},
	})
	send(alice, raw(mac(2), mac(1)))
	expectFrames(t, map[*Port]int{bob: 1})
	// A lower priority number wins over pass-first.
	h.SetAccessList([]AccessRule{{Priority: 5, Active: true}, {Priority: 4, Active: true, Discard: true}})
	send(alice, raw(mac(2), mac(1)))
	expectFrames(t, map[*Port]int{bob: 0})
	h.SetAccessList(nil)
	send(alice, raw(mac(2), mac(1)))
	expectFrames(t, map[*Port]int{bob: 1})
}

// TestAccessListEgress is case A4: ingress scanning stops at the first rule
// with a destination user; egress evaluates that rule and all after it.
func TestAccessListEgress(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, nat := aclPorts(t, h)
	carol, err := h.Attach(PortConfig{Name: "C", User: "carol", Kind: KindClient})
	if err != nil {
		t.Fatal(err)
	}
	send(carol, raw(bcast, mac(3)))
	for _, p := range []*Port{alice, bob, nat} {
		drain(p)
	}
	h.SetAccessList([]AccessRule{
		{Priority: 1, Active: true, DstUsername: "bob"},
		{Priority: 2, Active: true, Discard: true, SrcIP: netip.MustParseAddr("10.0.0.0"), SrcMask: netip.MustParseAddr("255.0.0.0")},
	})
	from10 := func(dst [6]byte) []byte { return ipFrame(dst, mac(1), "10.0.0.1", "10.0.0.2") }
	send(alice, from10(mac(2)))
	send(alice, from10(mac(3)))
	expectFrames(t, map[*Port]int{bob: 1, carol: 0})
	// A flood: bob gets it, carol and SecureNAT are refused at egress.
	send(alice, from10(bcast))
	expectFrames(t, map[*Port]int{bob: 1, carol: 0, nat: 0})
	if got := alice.Stats().DroppedAccessList; got != 3 {
		t.Errorf("DroppedAccessList = %d, want 3", got)
	}
	// An ingress rule before the destination-user rule decides for good:
	// egress rules are not consulted.
	h.SetAccessList([]AccessRule{
		{Priority: 1, Active: true, Protocol: protoUDP},
		{Priority: 2, Active: true, DstUsername: "nobody"},
		{Priority: 3, Active: true, Discard: true},
	})
	send(alice, from10(mac(3)))
	send(alice, raw(mac(3), mac(1)))
	expectFrames(t, map[*Port]int{carol: 1})
}

func TestAccessListMonitorEgress(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, _ := aclPorts(t, h)
	mon := attach(t, h, "MON", Policy{Monitor: true})
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Discard: true, DstUsername: "mon"}})
	send(alice, raw(mac(2), mac(1)))
	expectFrames(t, map[*Port]int{bob: 1, mon: 0})
}

func TestAccessListLoss(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, bob, _ := aclPorts(t, h)
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Loss: 100}})
	for range 50 {
		send(alice, raw(mac(2), mac(1)))
	}
	expectFrames(t, map[*Port]int{bob: 0})
	if got := alice.Stats().DroppedAccessList; got != 50 {
		t.Errorf("DroppedAccessList = %d, want 50", got)
	}
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Loss: 50}})
	for range 400 {
		send(alice, raw(mac(2), mac(1)))
	}
	if n := len(drain(bob)); n < 100 || n > 300 {
		t.Errorf("Loss=50 passed %d of 400 frames", n)
	}
}

func TestAccessListDelay(t *testing.T) {
	h, clk := testHub(t, nil)
	alice, bob, _ := aclPorts(t, h)
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Delay: 100 * time.Millisecond}})
	send(alice, raw(mac(2), mac(1)))
	expectFrames(t, map[*Port]int{bob: 0})
	clk.Advance(99 * time.Millisecond)
	send(alice) // an empty batch releases what is due
	expectFrames(t, map[*Port]int{bob: 0})
	clk.Advance(time.Millisecond)
	send(alice)
	expectFrames(t, map[*Port]int{bob: 1})
}

func TestAccessListJitter(t *testing.T) {
	h, clk := testHub(t, nil)
	alice, bob, _ := aclPorts(t, h)
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Delay: 100 * time.Millisecond, Jitter: 50}})
	for range 20 {
		send(alice, raw(mac(2), mac(1)))
	}
	clk.Advance(49 * time.Millisecond)
	send(alice)
	expectFrames(t, map[*Port]int{bob: 0})
	clk.Advance(101 * time.Millisecond)
	send(alice)
	expectFrames(t, map[*Port]int{bob: 20})
}

// TestAccessListDelayTimer: a delayed frame arrives on its own, without the
// sender sending anything more, and not before its time.
func TestAccessListDelayTimer(t *testing.T) {
	h := New("T", DefaultOptions())
	defer h.Close()
	alice, _ := h.Attach(PortConfig{Name: "A", User: "alice"})
	bob, _ := h.Attach(PortConfig{Name: "B", User: "bob"})
	send(bob, raw(bcast, mac(2)))
	drain(alice)
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Delay: 100 * time.Millisecond}})
	start := time.Now()
	send(alice, raw(mac(2), mac(1)))
	select {
	case <-bob.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("delayed frame never arrived")
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("frame arrived after %v, want >= 100ms", el)
	}
	expectFrames(t, map[*Port]int{bob: 1})
}

func TestAccessListDelayClose(t *testing.T) {
	h, _ := testHub(t, nil)
	alice, _, _ := aclPorts(t, h)
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Delay: time.Second}})
	send(alice, raw(mac(2), mac(1)))
	alice.Close() // releases the parked frame; the pool's refcount check would panic on a double release
	if n := len(alice.delay.items); n != 0 {
		t.Errorf("%d frames still parked after Close", n)
	}
}

func TestAccessListDelayQueueBound(t *testing.T) {
	h, _ := testHub(t, func(o *Options) { o.QueueFrames = 4 })
	alice, bob, _ := aclPorts(t, h)
	h.SetAccessList([]AccessRule{{Priority: 1, Active: true, Delay: time.Second}})
	for range 6 {
		send(alice, raw(mac(2), mac(1)))
	}
	if got := alice.Stats().DroppedAccessList; got != 2 {
		t.Errorf("DroppedAccessList = %d, want 2 (queue of 4)", got)
	}
	expectFrames(t, map[*Port]int{bob: 0})
}

func TestNormUser(t *testing.T) {
	for in, want := range map[string]string{
		"alice": "ALICE", ` Bob `: "BOB", `CORP\carol`: "CAROL", "dave@corp.example": "DAVE", "": "",
	} {
		if got := normUser(in); got != want {
			t.Errorf("normUser(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzAccessList evaluates a rule built from fuzz input against an arbitrary
// frame, at ingress and egress, and through a hub. It must never panic.
func FuzzAccessList(f *testing.F) {
	f.Add(tcpFrame(mac(2), mac(1), 5555, 80, tcpSYN), []byte{1, 6, 0, 80, 3})
	f.Add(arpRequest(mac(1), "10.0.0.1", "10.0.0.2"), []byte{0xff, 0, 0, 0, 0})
	f.Add(eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "ff02::1", protoUDP, udp(1, 2, nil))), []byte{2, 17, 0, 0, 7})
	f.Fuzz(func(t *testing.T, frame, spec []byte) {
		if len(frame) < ether.MinFrameSize || len(frame) > ether.MaxFrameSize {
			return
		}
		spec = append(spec, make([]byte, 8)...)
		r := AccessRule{
			Priority: uint32(spec[0]), Active: true, Discard: spec[0]&1 == 1, IPv6: spec[0]&2 != 0,
			Protocol: spec[1], DstPortStart: uint16(spec[2])<<8 | uint16(spec[3]),
			CheckTCPState: spec[4]&1 != 0, Established: spec[4]&2 != 0,
			CheckSrcMAC: spec[4]&4 != 0, SrcMAC: [6]byte(frame[6:12]), SrcMACMask: [6]byte{0xff},
			Loss: int(spec[5]) % 101,
		}
		if spec[4]&8 != 0 {
			r.SrcIP, r.SrcMask = netip.AddrFrom4([4]byte{10}), netip.AddrFrom4([4]byte{255})
		}
		if spec[4]&16 != 0 {
			r.DstUsername = "bob"
		}
		h, _ := testHub(t, func(o *Options) { o.ApplyAccessListOnARP = spec[4]&32 != 0 })
		alice, bob, nat := aclPorts(t, h)
		h.SetAccessList([]AccessRule{r, {Priority: 100, Active: true, Discard: true, DstUsername: "nat"}})
		var pk packet
		parseFrame(frame, &pk)
		c := compileRule(r, nameSets{})
		c.match(alice, nil, &pk)
		c.match(alice, bob, &pk)
		send(alice, frame)
		for _, p := range []*Port{bob, nat} {
			drain(p)
		}
	})
}

// BenchmarkUnicastAccessList: unicast between two ports through a list of
// 16 rules that do not match (each on a different field) and a final pass.
func BenchmarkUnicastAccessList(b *testing.B) {
	h, ports := benchHub(b, 2)
	var rules []AccessRule
	for i := range 16 {
		r := AccessRule{Priority: uint32(i), Active: true, Discard: true}
		switch i % 4 {
		case 0:
			r.Protocol = protoTCP
		case 1:
			r.SrcIP, r.SrcMask = netip.AddrFrom4([4]byte{172, 16, byte(i)}), netip.AddrFrom4([4]byte{255, 255, 255})
		case 2:
			r.DstPortStart = uint16(i + 1)
		case 3:
			r.CheckSrcMAC, r.SrcMAC, r.SrcMACMask = true, mac(0xee), bcast
		}
		rules = append(rules, r)
	}
	h.SetAccessList(append(rules, AccessRule{Priority: 100, Active: true}))
	frame := make([]byte, 1500)
	copy(frame, ipFrame(mac(1), mac(0), "10.0.0.1", "10.0.0.2"))
	batch := makeBatch(64, frame)
	run(b, ports, func(int) [][]byte { return batch }, []int{0})
}
