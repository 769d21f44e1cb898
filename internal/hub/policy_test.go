package hub

import (
	"testing"
	"time"
)

func TestPrivacyFilter(t *testing.T) {
	tests := []struct {
		name      string
		opt       func(*Options)
		userB     string
		arpToB    int
		ucastToB  int
		toNAT     int
		broadToNA int
	}{
		{name: "defaults", userB: "bob", arpToB: 0, ucastToB: 0, toNAT: 1},
		{name: "same user allowed", opt: func(o *Options) { o.PrivacyAllowSameUser = true }, userB: "alice", arpToB: 1, ucastToB: 1, toNAT: 1},
		{name: "same user, other name", opt: func(o *Options) { o.PrivacyAllowSameUser = true }, userB: "bob", arpToB: 0, ucastToB: 0, toNAT: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := testHub(t, tc.opt)
			priv := Policy{PrivacyFilter: true}
			a, _ := h.Attach(PortConfig{Name: "A", User: "alice", Policy: priv})
			b, _ := h.Attach(PortConfig{Name: "B", User: tc.userB, Policy: priv})
			nat := attachKind(t, h, "NAT", KindSecureNAT, Policy{})
			send(b, raw(bcast, mac(2)))
			drain(a)
			drain(nat)
			send(a, arpRequest(mac(1), "10.0.0.1", "10.0.0.2"))
			expectFrames(t, map[*Port]int{b: tc.arpToB, nat: tc.toNAT})
			send(a, raw(mac(2), mac(1)))
			expectFrames(t, map[*Port]int{b: tc.ucastToB})
			send(nat, raw(mac(1), mac(9)))
			expectFrames(t, map[*Port]int{a: 1})
		})
	}
}

func TestIngressFilters(t *testing.T) {
	ip4 := ipFrame(bcast, mac(1), "10.0.0.1", "10.0.0.2")
	ip6 := eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "ff02::1", protoUDP, udp(1, 2, nil)))
	nonIP := raw(bcast, mac(1))
	arp := arpRequest(mac(1), "10.0.0.1", "10.0.0.2")
	discover := dhcp(bcast, mac(1), 1, 1, mac(1), "0.0.0.0")
	offer := dhcp(bcast, mac(1), 2, 2, mac(7), "10.0.0.7")
	synAck := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(80, 5555, tcpSYN|tcpACK)))
	syn := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(5555, 80, tcpSYN)))
	icmp6 := func(typ byte) []byte {
		return eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "ff02::2", protoICMPv6, []byte{typ, 0, 0, 0, 0, 0, 0, 0}))
	}
	dhcp6 := eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "ff02::1:2", protoUDP, udp(546, 547, nil)))
	dhcp6Reply := eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "fe80::2", protoUDP, udp(547, 546, nil)))
	netbios := eth(bcast, mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.255", protoUDP, 0, udp(137, 137, nil)))

	tests := []struct {
		name  string
		pol   Policy
		frame []byte
		pass  bool
		event string
	}{
		{"FilterIPv4 drops IPv4", Policy{FilterIPv4: true}, ip4, false, ""},
		{"FilterIPv4 drops ARP", Policy{FilterIPv4: true}, arp, false, ""},
		{"FilterIPv4 passes IPv6", Policy{FilterIPv4: true}, ip6, true, ""},
		{"FilterIPv6 drops IPv6", Policy{FilterIPv6: true}, ip6, false, ""},
		{"FilterNonIP drops other", Policy{FilterNonIP: true}, nonIP, false, ""},
		{"FilterNonIP passes IPv4", Policy{FilterNonIP: true}, ip4, true, ""},
		{"DHCPFilter drops discover", Policy{DHCPFilter: true}, discover, false, ""},
		{"DHCPNoServer drops reply", Policy{DHCPNoServer: true}, offer, false, "LH_NO_DHCP"},
		{"DHCPNoServer passes request", Policy{DHCPNoServer: true}, discover, true, ""},
		{"NoServer drops SYN+ACK", Policy{NoServer: true}, synAck, false, "LH_NO_SERVER"},
		{"NoServer passes SYN", Policy{NoServer: true}, syn, true, ""},
		{"ArpDHCPOnly drops NetBIOS", Policy{ArpDHCPOnly: true}, netbios, false, ""},
		{"ArpDHCPOnly passes ARP", Policy{ArpDHCPOnly: true}, arp, true, ""},
		{"ArpDHCPOnly passes DHCP", Policy{ArpDHCPOnly: true}, discover, true, ""},
		{"ArpDHCPOnly passes ICMPv6", Policy{ArpDHCPOnly: true}, icmp6(135), true, ""},
		{"RSandRAFilter drops RS", Policy{RSandRAFilter: true}, icmp6(133), false, ""},
		{"RAFilter drops RA", Policy{RAFilter: true}, icmp6(134), false, ""},
		{"RAFilter passes RS", Policy{RAFilter: true}, icmp6(133), true, ""},
		{"DHCPv6Filter drops", Policy{DHCPv6Filter: true}, dhcp6, false, ""},
		{"DHCPv6NoServer drops replies", Policy{DHCPv6NoServer: true}, dhcp6Reply, false, "LH_NO_DHCP"},
		{"DHCPv6NoServer passes requests", Policy{DHCPv6NoServer: true}, dhcp6, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			h, _ := testHub(t, func(o *Options) { o.Log = logs.logger() })
			a := attach(t, h, "A", tc.pol)
			b := attach(t, h, "B", Policy{})
			send(b, raw(bcast, mac(2)))
			drain(a)
			send(a, tc.frame)
			want := 0
			if tc.pass {
				want = 1
			}
			expectFrames(t, map[*Port]int{b: want})
			if tc.event != "" && !logs.has(tc.event) {
				t.Errorf("missing %s log", tc.event)
			}
		})
	}
}

func TestEgressFilters(t *testing.T) {
	offer := dhcp(bcast, mac(1), 2, 2, mac(7), "10.0.0.7")
	netbios := eth(bcast, mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.255", protoUDP, 0, udp(137, 137, nil)))
	unknownUcast := eth(mac(77), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoUDP, 0, udp(137, 137, nil)))
	tests := []struct {
		name  string
		pol   Policy
		frame []byte
		want  int
	}{
		{"DHCPFilter hides offers", Policy{DHCPFilter: true}, offer, 0},
		{"ArpDHCPOnly hides broadcast UDP", Policy{ArpDHCPOnly: true}, netbios, 0},
		{"ArpDHCPOnly passes unknown unicast flood", Policy{ArpDHCPOnly: true}, unknownUcast, 1},
		{"FilterIPv6 passes IPv4", Policy{FilterIPv6: true}, netbios, 1},
		{"FilterIPv4 hides IPv4", Policy{FilterIPv4: true}, netbios, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := testHub(t, nil)
			a := attach(t, h, "A", tc.pol)
			other := attach(t, h, "O", Policy{})
			nat := attachKind(t, h, "NAT", KindSecureNAT, Policy{})
			send(nat, tc.frame)
			expectFrames(t, map[*Port]int{a: tc.want, other: 1})
		})
	}
}

func TestDHCPSnooping(t *testing.T) {
	var logs logBuffer
	h, _ := testHub(t, func(o *Options) { o.Log = logs.logger() })
	a := attach(t, h, "A", clientPolicy)
	nat := attachKind(t, h, "NAT", KindSecureNAT, Policy{})
	send(a, dhcp(bcast, mac(1), 1, 3, mac(1), "0.0.0.0")) // REQUEST teaches the MAC
	send(nat, dhcp(mac(1), mac(9), 2, 5, mac(1), "192.168.30.10"))
	tbl := h.IPTable()
	if len(tbl) != 1 || tbl[0].Port != "A" || !tbl[0].DHCP || tbl[0].IP.String() != "192.168.30.10" ||
		tbl[0].MAC.String() != "02:00:00:00:00:01" {
		t.Fatalf("IP table = %+v", tbl)
	}
	if !logs.has("LH_REGIST_DHCP", `Session "NAT"`, "the new IP address 192.168.30.10.") {
		t.Fatalf("missing LH_REGIST_DHCP:\n%s", logs.String())
	}
	// A MAC known only on another VLAN does not get an entry (I4).
	tagged := raw(bcast, mac(3))
	tagged = append(tagged[:12], append([]byte{0x81, 0x00, 0x00, 0x05}, tagged[12:]...)...)
	send(a, tagged)
	send(nat, dhcp(mac(3), mac(9), 2, 5, mac(3), "192.168.30.11"))
	if len(h.IPTable()) != 1 {
		t.Fatalf("snooped a MAC on VLAN 5: %+v", h.IPTable())
	}
}

func TestStormLimiter(t *testing.T) {
	var logs logBuffer
	h, clk := testHub(t, func(o *Options) { o.Log = logs.logger() })
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	nat := attachKind(t, h, "NAT", KindSecureNAT, Policy{})
	burst := func(p *Port, src [6]byte) {
		for range 40 {
			send(p, raw(bcast, src))
			clk.Advance(2 * time.Millisecond)
		}
	}
	burst(a, mac(1))
	expectFrames(t, map[*Port]int{b: 40})
	clk.Advance(600 * time.Millisecond)
	send(a, raw(bcast, mac(1))) // P9: reported at the first frame after the window
	expectFrames(t, map[*Port]int{b: 0})
	if !logs.has("LH_BCAST_STORM", "equal to or larger than 80 items", "source MAC address is 02-00-00-00-00-01") {
		t.Fatalf("missing LH_BCAST_STORM:\n%s", logs.String())
	}
	send(a, raw(bcast, mac(1))) // discard is 2: frames still pass
	expectFrames(t, map[*Port]int{b: 1})

	// Repeated storm windows escalate until everything is dropped (>= 128).
	for range 7 {
		burst(a, mac(1))
		clk.Advance(600 * time.Millisecond)
		send(a, raw(bcast, mac(1)))
	}
	drain(b)
	for range 20 {
		send(a, raw(bcast, mac(1)))
	}
	expectFrames(t, map[*Port]int{b: 0})
	drain(a)
	drain(b)

	// SecureNAT is never limited, nor held back.
	for range 100 {
		send(nat, raw(bcast, mac(9)))
	}
	clk.Advance(600 * time.Millisecond)
	send(nat, raw(bcast, mac(9)))
	expectFrames(t, map[*Port]int{b: 101})
	if d := nat.TakeStormPause(); d != 0 {
		t.Fatalf("SecureNAT would be held back %v", d)
	}
}

// TestStormHoldBack: a port's flooded bytes are owed at stormPace after a
// burst, passed by the limiter or not; all of its readers wait for the
// same moment; the debt is capped; unicast and unlimited ports owe nothing.
func TestStormHoldBack(t *testing.T) {
	h, clk := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{})
	free := attach(t, h, "FREE", Policy{NoBroadcastLimiter: true})
	big := func(src [6]byte, n int) [][]byte { // n broadcast frames of 1414 bytes
		fs := make([][]byte, n)
		for i := range fs {
			fs[i] = eth(bcast, src, 0x88b5, make([]byte, 1400))
		}
		return fs
	}
	const frame = 1414
	perFrame := time.Duration(frame) * time.Second / stormPace
	// Within the burst (100 ms at 10 MB/s is 1 MB): no pause.
	send(a, big(mac(1), 500)...)
	if d := a.TakeStormPause(); d != 0 {
		t.Fatalf("pause after %d flooded bytes = %v, want none within the burst", 500*frame, d)
	}
	// Beyond it, the bytes are owed at the pace.
	send(a, big(mac(1), 500)...)
	want := 1000*perFrame - stormBurst
	owed := a.TakeStormPause()
	if owed < want-time.Microsecond || owed > want+time.Microsecond {
		t.Fatalf("pause after %d flooded bytes = %v, want %v", 1000*frame, owed, want)
	}
	// A second reader of the same session waits for the same moment; once
	// it has passed nobody waits.
	if d := a.TakeStormPause(); d < want-time.Microsecond || d > want+time.Microsecond {
		t.Fatalf("a second reader's pause = %v, want the same %v", d, want)
	}
	paused := a.Stats().StormPauses
	if paused != 2 {
		t.Fatalf("StormPauses = %d, want 2", paused)
	}
	clk.Advance(owed)
	if d := a.TakeStormPause(); d != 0 {
		t.Fatalf("pause after waiting it out = %v, want none", d)
	}
	// Never more than stormPauseMax owed at once.
	send(a, big(mac(1), 8000)...) // 11 MB: 1.08 s at the pace
	if d := a.TakeStormPause(); d != stormPauseMax {
		t.Fatalf("pause after a huge flood = %v, want the cap %v", d, stormPauseMax)
	}
	clk.Advance(stormPauseMax)
	// Unicast to a known MAC is not flooded: nothing owed.
	send(b, raw(bcast, mac(2)))
	send(a, big(mac(1), 0)...)
	uni := make([][]byte, 2000)
	for i := range uni {
		uni[i] = eth(mac(2), mac(1), 0x88b5, make([]byte, 1400))
	}
	send(a, uni...)
	if d := a.TakeStormPause(); d != 0 {
		t.Fatalf("pause after 2.8 MB of unicast = %v, want none", d)
	}
	// A port without the limiter (NoBroadcastLimiter) is not held back.
	send(free, big(mac(3), 2000)...)
	if d := free.TakeStormPause(); d != 0 {
		t.Fatalf("a NoBroadcastLimiter port would be held back %v", d)
	}
	// A higher threshold raises the pace: 10,000 frames/s of full frames
	// is 16 MB/s.
	o := h.Options()
	o.StormThreshold = 10000
	h.SetOptions(o)
	c := attach(t, h, "C", Policy{})
	send(c, big(mac(4), 2000)...)
	pace := int64(10000 * 1600)
	want = time.Duration(int64(2000*frame)*int64(time.Second)/pace) - stormBurst
	if d := c.TakeStormPause(); d < want-time.Microsecond || d > want+time.Microsecond {
		t.Fatalf("pause at threshold 10000 = %v, want %v", d, want)
	}
}

func TestStormRecordsAge(t *testing.T) {
	h, clk := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	attach(t, h, "B", Policy{})
	send(a, raw(bcast, mac(1)))
	clk.Advance(time.Minute)
	send(a, raw(bcast, mac(2)))
	if n := len(a.storm.recs); n != 1 {
		t.Fatalf("storm records = %d, want the idle one aged out", n)
	}
}

func TestUploadLimiter(t *testing.T) {
	h, clk := testHub(t, nil)
	a := attach(t, h, "A", Policy{MaxUpload: 1_000_000, NoBroadcastLimiter: true})
	b := attach(t, h, "B", Policy{})
	send(b, raw(bcast, mac(2)))
	drain(a)
	frame := make([]byte, 1000)
	copy(frame, raw(mac(2), mac(1)))
	batch := make([][]byte, 2000)
	for i := range batch {
		batch[i] = frame
	}
	send(a, batch...)
	if got := len(drain(b)); got != 125 { // 1 Mbit bucket / 8000 bits
		t.Fatalf("passed %d frames, want 125", got)
	}
	// ARP and TCP SYN bypass the limiter.
	send(a, arpRequest(mac(1), "10.0.0.1", "10.0.0.2"),
		eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(1, 2, tcpSYN))))
	expectFrames(t, map[*Port]int{b: 2})
	clk.Advance(500 * time.Millisecond) // half a second refills half the bucket
	send(a, batch...)
	if got := len(drain(b)); got != 62 {
		t.Fatalf("after 0.5 s passed %d frames, want 62", got)
	}
}

func TestDownloadLimiter(t *testing.T) {
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{NoBroadcastLimiter: true})
	b := attach(t, h, "B", Policy{MaxDownload: 80_000})
	frame := make([]byte, 1000)
	copy(frame, raw(bcast, mac(1)))
	batch := [][]byte{frame, frame, frame, frame, frame, frame, frame, frame, frame, frame, frame}
	send(a, batch...)
	if got := len(drain(b)); got != 10 {
		t.Fatalf("B got %d frames, want 10", got)
	}
	if b.Stats().DroppedPolicy != 1 {
		t.Fatalf("limited frame not counted: %+v", b.Stats())
	}
}

func TestQoSClassification(t *testing.T) {
	icmp := func(size int) []byte {
		f := eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoICMP, 0, make([]byte, size-34)))
		return f[:size]
	}
	tos := func(v byte) []byte {
		return eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoUDP, v, udp(1, 2, nil)))
	}
	ipv6EF := eth(mac(2), mac(1), etherIPv6, ipv6("fe80::1", "fe80::2", protoUDP, udp(1, 2, nil)))
	ipv6EF[14], ipv6EF[15] = 0x6b, 0x80 // traffic class 0xB8
	tests := []struct {
		name  string
		frame []byte
		prio  bool
	}{
		{"TOS 0xB8", tos(0xb8), true},
		{"TOS 0x08", tos(0x08), false},
		{"TOS 0", tos(0), false},
		{"ICMP 98 bytes", icmp(98), true},
		{"ICMP 200 bytes", icmp(200), false},
		{"IPv6 EF", ipv6EF, false},
	}
	for _, tc := range tests {
		if got := qosPriority(tc.frame); got != tc.prio {
			t.Errorf("%s: priority = %v, want %v", tc.name, got, tc.prio)
		}
	}
	// Priority frames are drained before earlier normal ones.
	h, _ := testHub(t, nil)
	a := attach(t, h, "A", Policy{})
	b := attach(t, h, "B", Policy{QoS: true})
	send(b, raw(bcast, mac(2)))
	drain(a)
	send(a, tos(0), tos(0xb8))
	out := drain(b)
	if len(out) != 2 || out[0][15] != 0xb8 {
		t.Fatalf("priority frame not first: %d frames", len(out))
	}
}
