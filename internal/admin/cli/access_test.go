package cli

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// TestAccessCommands lists, switches and deletes access-list rules; the
// Contents texts are the real vpncmd 5.01's for the same rules.
func TestAccessCommands(t *testing.T) {
	srv, dial := localServer(t)
	add := func(p *pack.Pack) {
		p.AddStr("HubName", "DEFAULT")
		if _, err := (dispatcherRPC{srv.Dispatcher()}).Call(context.Background(), "AddAccess", p); err != nil {
			t.Fatal(err)
		}
	}
	r1 := pack.New()
	r1.AddUniStr("Note", "no-ping")
	r1.AddBool("Active", true)
	r1.AddInt("Priority", 10)
	r1.AddBool("Discard", true)
	r1.AddIP("SrcIpAddress", netip.MustParseAddr("10.0.0.0"))
	r1.AddIP("SrcSubnetMask", netip.MustParseAddr("255.0.0.0"))
	r1.AddInt("Protocol", 1)
	r1.AddStr("SrcUsername", "alice")
	add(r1)
	r2 := pack.New()
	r2.AddUniStr("Note", "web")
	r2.AddBool("Active", true)
	r2.AddInt("Priority", 20)
	r2.AddIP("DestIpAddress", netip.MustParseAddr("192.168.0.1"))
	r2.AddIP("DestSubnetMask", netip.MustParseAddr("255.255.255.255"))
	r2.AddInt("Protocol", 6)
	r2.AddInt("DestPortStart", 80)
	r2.AddInt("DestPortEnd", 81)
	r2.AddBool("CheckSrcMac", true)
	r2.AddData("SrcMacAddress", []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55})
	r2.AddData("SrcMacMask", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	r2.AddBool("CheckTcpState", true)
	r2.AddBool("Established", true)
	add(r2)

	out := runScript(t, dial, strings.Join([]string{
		"Hub DEFAULT", "AccessList", "AccessDisable 2", "AccessList", "AccessDelete 9", "AccessDelete 1", "AccessList",
	}, "\n"))
	for _, want := range []string{
		"Contents |(ipv4) SrcIPv4=10.0.0.0/8, Protocol=ICMPv4, SrcUser=alice\nMemo     |no-ping\n",
		"Contents |(ipv4) DstIPv4=192.168.0.1/32, Protocol=TCP, DstPort=80-81, SrcMac=00-11-22-33-44-55/FF-FF-FF-FF-FF-FF, Established\n",
		"AccessDisable command - Disable Access List Rule\nThe command completed successfully.",
		"Status   |Disable\n",
		"AccessDelete command - Delete Rule from Access List\nError occurred. (Error code: 29)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	last := out[strings.LastIndex(out, "AccessList command"):]
	if strings.Contains(last, "no-ping") || !strings.Contains(last, "Memo     |web") {
		t.Errorf("after AccessDelete 1:\n%s", last)
	}
}

// TestAccessAddParameters: AccessAdd reads its parameters as vpncmd
// does (except /TCPSTATE, which vpncmd 5.01 inverts) and refuses bad ones
// with vpncmd's messages.
func TestAccessAddParameters(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
		ok   bool
	}{{"", 0, true}, {"ip", 0, true}, {"TCP", 6, true}, {"u", 17, true}, {"icmp", 1, true}, {"icmpv6", 58, true}, {"47", 47, true}, {"256", 0, false}, {"gre", 0, false}} {
		if got, ok := parseProtocol(c.in); got != c.want || ok != c.ok {
			t.Errorf("parseProtocol(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in         string
		start, end uint32
		ok         bool
	}{{"", 0, 0, true}, {"80", 80, 80, true}, {"80-443", 80, 443, true}, {"443-80", 0, 0, false}, {"0-80", 0, 0, false}, {"70000", 0, 0, false}, {"x", 0, 0, false}} {
		if s, e, ok := parsePortRange(c.in); s != c.start || e != c.end || ok != c.ok {
			t.Errorf("parsePortRange(%q) = %d-%d, %v; want %d-%d, %v", c.in, s, e, ok, c.start, c.end, c.ok)
		}
	}
	for _, c := range []struct {
		in                     string
		check, established, ok bool
	}{{"", false, false, true}, {"Established", true, true, true}, {"est", true, true, true}, {"unestablished", true, false, true}, {"closed", false, false, false}} {
		if ch, es, ok := parseTCPState(c.in); ch != c.check || es != c.established || ok != c.ok {
			t.Errorf("parseTCPState(%q) = %v %v %v", c.in, ch, es, ok)
		}
	}
	if mac, mask, ok := parseMACMask("00:ac:84:ea:33:bc/ffffffffffff"); !ok || mac[1] != 0xac || mask[5] != 0xff {
		t.Errorf("parseMACMask: %x %x %v", mac, mask, ok)
	}
	if _, _, ok := parseMACMask("00-ac-84-ea-33-bc"); ok {
		t.Error("a MAC address without a mask was accepted")
	}
	for in, pass := range map[string]bool{"pass": true, "Yes": true, "1": true, "discard": false, "deny": false} {
		if passOrDiscard(in) != pass {
			t.Errorf("passOrDiscard(%q) != %v", in, pass)
		}
	}

	_, dial := localServer(t)
	out := runScript(t, dial, strings.Join([]string{
		"Hub DEFAULT",
		"AccessAdd discard /PRIORITY:5 /SRCIP:10.0.0.0/8 /DESTIP:0.0.0.0/0 /PROTOCOL:gre",
		"AccessAdd discard /PRIORITY:5 /SRCIP:10.0.0.0/8 /DESTIP:0.0.0.0/0 /PROTOCOL:udp /DESTPORT:53 /MEMO:no-dns",
		"AccessList",
	}, "\n"))
	for _, want := range []string{
		"The protocol is incorrectly specified. Specify either ip, tcp, udp, icmpv4, icmpv6 or a protocol number (0 to 255) for the protocol.",
		"Action   |Discard\n",
		"Contents |(ipv4) SrcIPv4=10.0.0.0/8, Protocol=UDP, DstPort=53\nMemo     |no-dns\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
