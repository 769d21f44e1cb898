package main

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	orig := slices.Clone(lat)
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}, {99.5, 100 * time.Millisecond}} {
		if got := percentile(lat, c.q); got != c.want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", c.q, got, c.want)
		}
	}
	if !slices.Equal(lat, orig) {
		t.Error("percentile reordered its input")
	}
	// Nearest rank: p50 of 1, 2, 3, 4 is 2 (half the calls took at most 2).
	if got := percentile([]time.Duration{4, 1, 3, 2}, 50); got != 2 {
		t.Errorf("p50 of 1..4 = %v, want 2", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one call = %v, want it", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of no calls = %v, want 0", got)
	}
}

func TestOpStats(t *testing.T) {
	var a, b opStats
	a.add(time.Millisecond, nil)
	a.add(0, errors.New("first"))
	a.add(0, errors.New("second"))
	a.elapsed = time.Second
	b.add(3*time.Millisecond, nil)
	b.add(5*time.Millisecond, nil)
	b.elapsed = time.Second
	var m opStats
	m.merge(b)
	m.merge(a)
	if len(m.lat) != 3 || m.errs != 2 || m.firstErr == nil || m.firstErr.Error() != "first" {
		t.Fatalf("merged = %d calls, %d errors, first %v; want 3, 2, first", len(m.lat), m.errs, m.firstErr)
	}
	if r := m.rate(); r != 1.5 {
		t.Errorf("rate = %v calls/s, want 1.5 (3 calls in 2 s)", r)
	}
	if r := (opStats{}).rate(); r != 0 {
		t.Errorf("rate of nothing = %v", r)
	}
}

func TestGenRules(t *testing.T) {
	const n, users = 1000, 10000
	rules := genRules(n, users)
	if !slices.Equal(rules, genRules(n, users)) {
		t.Fatal("genRules is not deterministic: the two servers would get different lists")
	}
	var v6, srcNet, dstHost, withUser, tcp, udp, ranges, discard int
	for i, r := range rules {
		if r.src.Addr().Is6() != r.dst.Addr().Is6() {
			t.Fatalf("rule %d mixes families: %v -> %v", i, r.src, r.dst)
		}
		if r.src != r.src.Masked() || r.dst != r.dst.Masked() {
			t.Fatalf("rule %d has host bits set: %v -> %v", i, r.src, r.dst)
		}
		if i > 0 && r.priority <= rules[i-1].priority || r.priority >= adminRulePriority(n) {
			t.Fatalf("rule %d priority %d: priorities must rise and stay below the admin loop's %d", i, r.priority, adminRulePriority(n))
		}
		if r.srcPort[0] > r.srcPort[1] || r.dstPort[0] > r.dstPort[1] || r.dstPort[1] > 65535 {
			t.Fatalf("rule %d has bad ports %v %v", i, r.srcPort, r.dstPort)
		}
		if (r.protocol != 6 && r.protocol != 17) && (r.dstPort != [2]uint32{} || r.srcPort != [2]uint32{}) {
			t.Fatalf("rule %d has ports for protocol %d", i, r.protocol)
		}
		if (r.protocol == 1 && r.ipv6()) || (r.protocol == 58 && !r.ipv6()) {
			t.Fatalf("rule %d has ICMP of the other family", i)
		}
		for _, u := range []string{r.srcUser, r.dstUser} {
			if u != "" {
				if k, err := strconv.Atoi(strings.TrimPrefix(u, "user")); err != nil || k >= users || u != ctlUserName(k) {
					t.Fatalf("rule %d names %q, not one of the hub's users", i, u)
				}
			}
		}
		if r.ipv6() {
			v6++
		}
		if r.src.Bits() > 0 {
			srcNet++
		}
		if r.dst.IsSingleIP() {
			dstHost++
		}
		if r.srcUser != "" || r.dstUser != "" {
			withUser++
		}
		switch r.protocol {
		case 6:
			tcp++
		case 17:
			udp++
		}
		if r.dstPort[0] != r.dstPort[1] {
			ranges++
		}
		if r.discard {
			discard++
		}
	}
	// The mix genRules documents, with room for the draw.
	for _, c := range []struct {
		what    string
		got, lo int
		hi      int
	}{
		{"IPv6", v6, 280, 390}, {"with a source network", srcNet, 430, 570}, {"to a single host", dstHost, 240, 360},
		{"naming a user", withUser, 180, 300}, {"TCP", tcp, 440, 560}, {"UDP", udp, 190, 310},
		{"with a port range", ranges, 80, 220}, {"discarding", discard, 340, 460},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%d of %d rules %s, want %d-%d", c.got, n, c.what, c.lo, c.hi)
		}
	}
}

func TestMaskText(t *testing.T) {
	for p, want := range map[string]string{
		"0.0.0.0/0": "0.0.0.0", "10.1.0.0/16": "255.255.0.0", "192.168.1.7/32": "255.255.255.255", "10.0.0.0/20": "255.255.240.0",
		"::/0": "::", "2001:db8::/48": "ffff:ffff:ffff::", "fd00::1/128": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	} {
		if got := maskText(netip.MustParsePrefix(p)); got != want {
			t.Errorf("maskText(%s) = %s, want %s", p, got, want)
		}
	}
}

// TestCtlConfig parses the benchmark's vpn_server.config with ethervpn's
// reader and finds every user and rule where SoftEther keeps them, with
// the DoS protection off.
func TestCtlConfig(t *testing.T) {
	rules := genRules(40, 30)
	text, err := ctlConfig(ctlPort, 30, rules, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, err := config.Parse(text)
	if err != nil {
		t.Fatalf("the benchmark's configuration does not parse: %v", err)
	}
	if !root.Folder("ServerConfiguration").GetBool("DisableDosProtection") {
		t.Error("DisableDosProtection is not on")
	}
	if root.Folder("ListenerList").Folder("Listener0").GetBool("DisableDos") != true {
		t.Error("the listener's DisableDos is not on")
	}
	hub := root.Folder("VirtualHUB").Folder(ctlHub)
	if n := len(hub.Folder("SecurityAccountDatabase").Folder("UserList").Folders); n != 30 {
		t.Errorf("%d users, want 30", n)
	}
	acl := hub.Folder("AccessList")
	if len(acl.Folders) != len(rules) {
		t.Fatalf("%d access rules, want %d", len(acl.Folders), len(rules))
	}
	for i, r := range rules {
		f := acl.Folder(strconv.Itoa(i + 1))
		suffix := ""
		if r.ipv6() {
			suffix = "6"
		}
		src, errS := netip.ParseAddr(f.GetString("SrcIpAddress" + suffix))
		mask, errM := netip.ParseAddr(f.GetString("DestSubnetMask" + suffix))
		if f == nil || errS != nil || errM != nil || src != r.src.Addr() || mask.String() != maskText(r.dst) ||
			f.GetUint("Priority") != r.priority || f.GetBool("IsIPv6") != r.ipv6() || f.GetBool("Discard") != r.discard ||
			f.GetUint("Protocol") != r.protocol || f.GetUint("DestPortEnd") != r.dstPort[1] ||
			f.GetString("SrcUsername") != r.srcUser || !f.GetBool("Active") {
			t.Fatalf("rule %d reads back differently from %+v", i+1, r)
		}
	}
	// Nothing else moved: the rig's configuration is all there.
	if got := len(root.Folder("VirtualHUB").Folders); got != 1 || root.Folder("DDnsClient") == nil {
		t.Errorf("the configuration lost parts of the rig's: %d hubs", got)
	}
}

func TestAddAccessPack(t *testing.T) {
	r := aclRule{priority: 7, src: netip.MustParsePrefix("2001:db8:1::/48"), dst: netip.MustParsePrefix("fd00::5/128"),
		protocol: 17, dstPort: [2]uint32{53, 53}, srcUser: "user00001"}
	p := r.addAccessPack(ctlHub)
	if !p.Bool("IsIPv6") || p.Int("Priority") != 7 || p.Int("Protocol") != 17 || p.Int("DestPortEnd") != 53 || p.Str("SrcUsername") != "user00001" {
		t.Errorf("AddAccess pack fields wrong: %v", p.Elements())
	}
	if a, _ := netip.AddrFromSlice(p.Data("SrcSubnetMask6")); a.String() != "ffff:ffff:ffff::" {
		t.Errorf("SrcSubnetMask6 = %v", a)
	}
	if a, _ := netip.AddrFromSlice(p.Data("DestIpAddress6")); a != netip.MustParseAddr("fd00::5") {
		t.Errorf("DestIpAddress6 = %v", a)
	}
	r4 := aclRule{src: netip.MustParsePrefix("10.1.0.0/16"), dst: netip.MustParsePrefix("0.0.0.0/0")}
	p = r4.addAccessPack(ctlHub)
	if p.Bool("IsIPv6") || p.IP("SrcSubnetMask") != netip.MustParseAddr("255.255.0.0") || p.IP("SrcIpAddress") != netip.MustParseAddr("10.1.0.0") {
		t.Errorf("IPv4 AddAccess pack wrong: %v", p.Elements())
	}
}

// TestCtlTables checks the ctl tables' figures and ratios from known
// measurements, and that a failed server gets its row.
func TestCtlTables(t *testing.T) {
	ms := func(vs ...int) opStats {
		s := opStats{elapsed: time.Second}
		for _, v := range vs {
			s.lat = append(s.lat, time.Duration(v)*time.Millisecond)
		}
		return s
	}
	e := ctlResult{server: testrig.Ethervpn, tls: "X", runs: []ctlRun{{
		ops:   [3]opStats{ms(10, 20), ms(1, 1, 1, 1), ms(4)},
		alone: ms(make([]int, 300)...), busy: ms(make([]int, 150)...), admin: ms(make([]int, 30)...),
	}}}
	s := ctlResult{server: testrig.SoftEther, tls: "Y", runs: []ctlRun{{
		ops:   [3]opStats{ms(40, 40), ms(2, 2), ms(1)},
		alone: ms(make([]int, 200)...), busy: ms(make([]int, 200)...), admin: ms(make([]int, 60)...),
	}}}
	var b bytes.Buffer
	printCtlTables(&b, ctlOptions{users: 10, rules: 5, duration: time.Second, runs: 1, callers: 16}, []ctlResult{e, s,
		{server: testrig.SoftEther, err: errors.New("boom")}})
	out := b.String()
	for _, want := range []string{
		"EnumUser   ethervpn      10      20", // p50 of 10 and 20 ms is 10 ms, p99 20
		"ethervpn             300",
		"150", "-50%", "+0%",
		"ethervpn/vpnserver: EnumUser p50 0.25x, GetUser p50 0.50x, SetUser p50 4.00x (lower is better); logins/s alone 1.50x, with admin loop 0.75x, admin-loop calls/s 0.50x",
		"boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
