package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// vpnbridgePath is the real vpnbridge 5.01 (Debian softether-vpnbridge).
const vpnbridgePath = "/usr/libexec/softether/vpnbridge/vpnbridge"

// TestFarmCascade: cascades from the real vpnbridge and the real vpnserver
// 5.01 into a farm's dynamic hub. Both point at node 1, which carries no
// sessions: SoftEther's cascade logs in with the same client code as the
// vpnclient (Protocol.c ClientConnect: a "Redirect" pack sends it to
// REDIRECTED with the ticket, whatever the session's LinkModeClient; a
// cascade that does not check server certificates accepts the member's
// at once, ClientCheckServerCert), so it is redirected to the hub's host
// and logs in there with the ticket. Behind each cascade is a host: the
// SecureNAT virtual host of the cascading hub (192.168.78.201 behind the
// bridge, .202 behind the server); a real vpnclient on the farm's hub
// (192.168.78.1) pings both.
func TestFarmCascade(t *testing.T) {
	if _, err := os.Stat(vpnbridgePath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs softether-vpnbridge: %v", err)
		}
		t.Skipf("needs the softether-vpnbridge package: %v", err)
	}
	f := startFarm(t, true)
	ps := f.addPeers(t, 1)
	f.connect(t, ps[0], 1, farmDynHub)
	host := f.hostOf("u1")
	if host < 2 {
		t.Fatalf("u1's session on node%d, want node 2 or 3%s", host, f.logs())
	}

	cascades := []struct {
		name, prog, hub, user, mac, ip string
	}{
		{"vpnbridge", vpnbridgePath, "BRIDGE", "u2", "5E-00-00-78-00-C9", "192.168.78.201"},
		{"vpnserver", testrig.VpnServerPath, "DEFAULT", "u3", "5E-00-00-78-00-CA", "192.168.78.202"},
	}
	start := time.Now()
	for _, c := range cascades {
		f.startSoftEtherCascade(t, c.name, c.prog, c.hub, c.user, c.mac, c.ip)
	}
	for _, c := range cascades {
		if !waitUntil(40*time.Second, func() bool {
			res, err := ps[0].ns.Ping(c.ip, 1, "-I", ps[0].dev())
			return err == nil && res.Received == 1
		}) {
			t.Fatalf("no reply from the host behind the %s's cascade (%s) to u1 on node%d%s", c.name, c.ip, host, f.logs())
		}
		t.Logf("the host behind the %s's cascade answers %v after the first SoftEther program was started", c.name, time.Since(start).Round(time.Millisecond))
		res, err := ps[0].ns.Ping(c.ip, 10, "-I", ps[0].dev())
		if err != nil || res.Received < 9 {
			t.Errorf("ping %s behind the %s: %+v, %v", c.ip, c.name, res, err)
		}
		// The cascade came through node 1 and was redirected to the
		// hub's host with a ticket: node 1 carries no sessions, so
		// the ping alone proves it; the logs say which way it went.
		if h := f.hostOf(c.user); h != host {
			t.Errorf("the %s's cascade (%s) is on node%d, want the hub's host node%d", c.name, c.user, h, host)
		}
		if n := f.redirects(1, c.user, host); n < 1 {
			t.Errorf("node1 did not log the %s's cascade (%s) redirected to node%d%s", c.name, c.user, host, f.logs())
		}
	}
	// Every ticket was consumed by the login it was issued for.
	f.checkEtcd(t, host, 1, 2, 3)
}

// startSoftEtherCascade starts the real SoftEther program prog (vpnbridge
// or vpnserver, with its default configuration) in a client namespace of
// its own and, with vpncmd, gives its hub a SecureNAT virtual host
// (mac, ip; no DHCP) and an online cascade to node 1's farm hub as user.
func (f *farm) startSoftEtherCascade(t *testing.T, name, prog, hub, user, mac, ip string) {
	t.Helper()
	ns := f.r.AddClient()
	base := filepath.Join(ns.Dir, name)
	p := testrig.StartProc(t, name, filepath.Join(ns.Dir, name+".log"), ns.SoftEtherCmd(base, prog, "start", "--foreground")...)
	p.StopGrace = 10 * time.Second
	if err := ns.WaitTCP("127.0.0.1", 5555, 30*time.Second, p); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, p.Log())
	}
	lines := []string{
		"Hub " + hub,
		fmt.Sprintf("SecureNatHostSet /MAC:%s /IP:%s /MASK:255.255.255.0", mac, ip),
		"DhcpDisable",
		"SecureNatEnable",
		fmt.Sprintf("CascadeCreate tofarm /SERVER:%s:%d /HUB:%s /USERNAME:%s", ns.ServerIP, f.nodes[0].Port, farmDynHub, user),
		fmt.Sprintf("CascadePasswordSet tofarm /PASSWORD:%s /TYPE:standard", password),
		"CascadeOnline tofarm",
	}
	script := filepath.Join(ns.Dir, name+"-setup.txt")
	if err := os.WriteFile(script, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out []byte
	var err error
	// The admin port accepts a moment before the RPC answers.
	waitUntil(20*time.Second, func() bool {
		cmd := ns.SoftEtherCmd(filepath.Join(ns.Dir, "vpncmd"), testrig.VpncmdPath, "127.0.0.1:5555", "/SERVER", "/IN:"+script)
		out, err = exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		return err == nil && strings.Contains(string(out), "CascadeOnline")
	})
	if err != nil {
		t.Fatalf("configuring the %s: %v\n%s", name, err, out)
	}
}
