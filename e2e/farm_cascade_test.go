package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

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
	requireVpnbridge(t)
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
		// The cascading hub's SecureNAT virtual host, with no DHCP.
		startRealCascade(t, f.r, realCascade{
			name: c.name, prog: c.prog, hub: c.hub,
			setup: []string{
				fmt.Sprintf("SecureNatHostSet /MAC:%s /IP:%s /MASK:255.255.255.0", c.mac, c.ip),
				"DhcpDisable",
				"SecureNatEnable",
			},
			account: "tofarm", port: f.nodes[0].Port, remoteHub: farmDynHub, user: c.user,
		})
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
