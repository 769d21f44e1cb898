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
