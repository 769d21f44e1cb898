package main

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The hub the ctl benchmark administers: its users and access rules, and
// the vpn_server.config that holds them.

// aclRule is one access-list rule of the benchmark hub.
type aclRule struct {
	priority         uint32
	discard          bool
	src, dst         netip.Prefix // IPv4 or IPv6 (both the same family); bits 0 = any
	protocol         uint32       // 0 any, 1 ICMPv4, 6 TCP, 17 UDP, 58 ICMPv6
	srcPort, dstPort [2]uint32    // start, end; 0 = any
	srcUser, dstUser string
	established      bool // CheckTcpState with Established (TCP rules only)
}

func (r aclRule) ipv6() bool { return r.src.Addr().Is6() }

// ctlUserName is the name of user i of the benchmark hub.
func ctlUserName(i int) string { return fmt.Sprintf("user%05d", i) }

// genRules returns n rules in a realistic mix, the same for every run and
// server: a third IPv6; half with a source network, most with a destination
// network or host; TCP, UDP, ICMP or any protocol, with single ports and
// ranges; one in five names a source user (of the users hub users), a few a
// destination user; two in five discard. Priorities are distinct (10, 20,
// ...) so that both servers sort the list the same way, and all lie below
// adminRulePriority.
func genRules(n, users int) []aclRule {
	rnd := rand.New(rand.NewPCG(10, 8))
	rules := make([]aclRule, n)
	for i := range rules {
		r := aclRule{priority: uint32(10 * (i + 1)), discard: rnd.IntN(5) < 2}
		v6 := rnd.IntN(3) == 0
		a, b := rnd.IntN(256), rnd.IntN(256)
		switch hasSrc := rnd.IntN(2) == 0; {
		case hasSrc && v6:
			r.src = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/%d", a<<8|b, 48+16*rnd.IntN(2)))
		case hasSrc:
			r.src = netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/%d", a, b, 16+8*rnd.IntN(2)))
		case v6:
			r.src = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		default:
			r.src = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
		c, d := rnd.IntN(256), 1+rnd.IntN(254)
		switch k := rnd.IntN(10); {
		case k < 3 && v6:
			r.dst = netip.MustParsePrefix(fmt.Sprintf("fd00:%x:%x::%x/128", c, d, d))
		case k < 3:
			r.dst = netip.MustParsePrefix(fmt.Sprintf("192.168.%d.%d/32", c, d))
		case k < 7 && v6:
			r.dst = netip.MustParsePrefix(fmt.Sprintf("fd00:%x:%x::/64", c, d))
		case k < 7:
			r.dst = netip.MustParsePrefix(fmt.Sprintf("172.16.%d.0/24", c))
		case v6:
			r.dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		default:
			r.dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
		switch k := rnd.IntN(20); {
		case k < 10:
			r.protocol = 6
		case k < 15:
			r.protocol = 17
		case k < 17 && v6:
			r.protocol = 58
		case k < 17:
			r.protocol = 1
		}
		if r.protocol == 6 || r.protocol == 17 {
			if rnd.IntN(10) < 7 {
				p := []uint32{22, 53, 80, 443, 3389, 5555, 8080}[rnd.IntN(7)]
				r.dstPort = [2]uint32{p, p}
			} else {
				p := uint32(1024 + rnd.IntN(60000))
				r.dstPort = [2]uint32{p, p + uint32(rnd.IntN(200))}
			}
			if rnd.IntN(10) == 0 {
				r.srcPort = [2]uint32{1024, 65535}
			}
		}
		if r.protocol == 6 && rnd.IntN(10) == 0 {
			r.established = true
		}
		r.src, r.dst = r.src.Masked(), r.dst.Masked()
		if users > 0 && rnd.IntN(5) == 0 {
			r.srcUser = ctlUserName(rnd.IntN(users))
		}
		if users > 0 && rnd.IntN(20) == 0 {
			r.dstUser = ctlUserName(rnd.IntN(users))
		}
		rules[i] = r
	}
	return rules
}

// adminRulePriority is the priority of the rule the admin loop adds and
// deletes: above every generated rule, it sorts last, so its position Id
// is the number of rules plus one.
func adminRulePriority(rules int) uint32 { return uint32(10 * (rules + 1)) }

// maskText is the network mask of p as an address ("255.255.0.0",
// "ffff:ffff:ffff::"), as vpn_server.config stores it.
func maskText(p netip.Prefix) string {
	b := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}

// configText renders r as the folder AccessList/<id> of vpn_server.config
// (SoftEther Server.c, SiWriteHubAccessLists), indented by ind tabs.
func (r aclRule) configText(id, ind int) string {
	var b strings.Builder
	in := strings.Repeat("\t", ind)
	item := func(typ, name, value string) {
		if typ == "string" && value == "" {
			value = "$" // the format's empty string
		}
		fmt.Fprintf(&b, "%s\t%s %s %s\r\n", in, typ, name, value)
	}
	b.WriteString(in + "declare " + strconv.Itoa(id) + "\r\n" + in + "{\r\n")
	item("bool", "Active", "true")
	item("bool", "CheckDstMac", "false")
	item("bool", "CheckSrcMac", "false")
	item("bool", "CheckTcpState", strconv.FormatBool(r.established))
	item("uint", "Delay", "0")
	suffix := ""
	if r.ipv6() {
		suffix = "6"
	}
	item("string", "DestIpAddress"+suffix, r.dst.Addr().String())
	item("uint", "DestPortEnd", strconv.Itoa(int(r.dstPort[1])))
	item("uint", "DestPortStart", strconv.Itoa(int(r.dstPort[0])))
	item("string", "DestSubnetMask"+suffix, maskText(r.dst))
	item("string", "DestUsername", r.dstUser)
	item("bool", "Discard", strconv.FormatBool(r.discard))
	item("bool", "Established", strconv.FormatBool(r.established))
	item("bool", "IsIPv6", strconv.FormatBool(r.ipv6()))
	item("uint", "Jitter", "0")
	item("uint", "Loss", "0")
	item("string", "Note", fmt.Sprintf("bench$20rule$20%d", id))
	item("uint", "Priority", strconv.Itoa(int(r.priority)))
	item("uint", "Protocol", strconv.Itoa(int(r.protocol)))
	item("string", "RedirectUrl", "")
	item("string", "SrcIpAddress"+suffix, r.src.Addr().String())
	item("uint", "SrcPortEnd", strconv.Itoa(int(r.srcPort[1])))
	item("uint", "SrcPortStart", strconv.Itoa(int(r.srcPort[0])))
	item("string", "SrcSubnetMask"+suffix, maskText(r.src))
	item("string", "SrcUsername", r.srcUser)
	b.WriteString(in + "}\r\n")
	return b.String()
}

// addAccessPack is the AddAccess request for r on hub, as vpncmd's
// AccessAdd sends it (one value per field; SoftEther Admin.c, InRpcAccess).
func (r aclRule) addAccessPack(hub string) *pack.Pack {
	p := pack.New()
	p.AddStr("HubName", hub)
	p.AddUniStr("Note", "bench admin loop")
	p.AddBool("Active", true)
	p.AddInt("Priority", r.priority)
	p.AddBool("Discard", r.discard)
	p.AddBool("IsIPv6", r.ipv6())
	any4 := netip.IPv4Unspecified()
	zero16 := make([]byte, 16)
	if r.ipv6() {
		for _, f := range []string{"SrcIpAddress", "SrcSubnetMask", "DestIpAddress", "DestSubnetMask"} {
			p.AddIP(f, any4)
		}
		p.AddData("SrcIpAddress6", r.src.Addr().AsSlice())
		p.AddData("SrcSubnetMask6", netip.MustParseAddr(maskText(r.src)).AsSlice())
		p.AddData("DestIpAddress6", r.dst.Addr().AsSlice())
		p.AddData("DestSubnetMask6", netip.MustParseAddr(maskText(r.dst)).AsSlice())
	} else {
		p.AddIP("SrcIpAddress", r.src.Addr())
		p.AddIP("SrcSubnetMask", netip.MustParseAddr(maskText(r.src)))
		p.AddIP("DestIpAddress", r.dst.Addr())
		p.AddIP("DestSubnetMask", netip.MustParseAddr(maskText(r.dst)))
		for _, f := range []string{"SrcIpAddress6", "SrcSubnetMask6", "DestIpAddress6", "DestSubnetMask6"} {
			p.AddData(f, zero16)
		}
	}
	p.AddInt("Protocol", r.protocol)
	p.AddInt("SrcPortStart", r.srcPort[0])
	p.AddInt("SrcPortEnd", r.srcPort[1])
	p.AddInt("DestPortStart", r.dstPort[0])
	p.AddInt("DestPortEnd", r.dstPort[1])
	p.AddStr("SrcUsername", r.srcUser)
	p.AddStr("DestUsername", r.dstUser)
	p.AddBool("CheckSrcMac", false)
	p.AddBool("CheckDstMac", false)
	p.AddBool("CheckTcpState", r.established)
	p.AddBool("Established", r.established)
	return p
}

// ctlConfig returns the vpn_server.config of the benchmark server: the
// test rig's configuration (one listener on port, admin password) with
// hub ctlHub holding users password users and rules, SecureNAT on when
// nat is set, and the DoS
// protection off (on both servers it would refuse one source opening
// connections as fast as the login loop does, which is what it is for).
//
// Writing the file before the start is much faster than the admin API:
// ethervpn saves the whole configuration after every change, so creating
// 10,000 users one call at a time rewrites a growing file 10,000 times.
func ctlConfig(port, users int, rules []aclRule, nat *testrig.SecureNATConfig) ([]byte, error) {
	cfg := testrig.ServerConfig{Port: port, AdminPassword: ctlAdminPassword,
		Hubs: []testrig.HubConfig{{Name: ctlHub, Password: "hubpw", SecureNAT: nat}}}
	for i := range users {
		cfg.Hubs[0].Users = append(cfg.Hubs[0].Users, testrig.UserConfig{Name: ctlUserName(i), Password: benchPassword})
	}
	text, err := renderWithoutDoS(&cfg)
	if err != nil {
		return nil, err
	}
	m := emptyACL.FindStringSubmatchIndex(text)
	if m == nil {
		return nil, fmt.Errorf("the test rig's configuration has no empty AccessList folder: adapt ctlConfig")
	}
	ind := m[3] - m[2]
	var acl strings.Builder
	for i, r := range rules {
		acl.WriteString(r.configText(i+1, ind+1))
	}
	text = text[:m[1]-len("}\r\n")-ind] + acl.String() + text[m[1]-len("}\r\n")-ind:]
	return []byte(text), nil
}

// renderWithoutDoS renders cfg with both DoS protections off: the
// listener's (DisableDos) and the server's (DisableDosProtection). The
// test rig writes neither on.
func renderWithoutDoS(cfg *testrig.ServerConfig) (string, error) {
	text := string(cfg.Render())
	for _, s := range []struct{ old, new string }{
		{"bool DisableDos false\r\n", "bool DisableDos true\r\n"},
		{"\tdeclare ServerConfiguration\r\n\t{\r\n", "\tdeclare ServerConfiguration\r\n\t{\r\n\t\tbool DisableDosProtection true\r\n"},
	} {
		if strings.Count(text, s.old) != 1 {
			return "", fmt.Errorf("the test rig's configuration has %d times %q, want one: adapt renderWithoutDoS", strings.Count(text, s.old), s.old)
		}
		text = strings.Replace(text, s.old, s.new, 1)
	}
	return text, nil
}

// emptyACL matches the hub's empty AccessList folder the test rig writes;
// group 1 is its indentation.
var emptyACL = regexp.MustCompile(`(?m)^(\t*)declare AccessList\r\n\t*\{\r\n\t*\}\r\n`)
