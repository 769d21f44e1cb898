package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestCascadeAdmin manages cascades and a local bridge of ethervpn with the
// real vpncmd and with "ethervpn cmd": a cascade to a hub on the real
// vpnserver is created, given a password and switched online; vpnclients
// on each side ping each other through it; offline stops it and delete
// removes it from vpn_server.config. A local bridge to a veth in the
// server's namespace shows as operating and carries traffic.
func TestCascadeAdmin(t *testing.T) {
	testrig.Require(t)
	r := testrig.New(t)
	se := r.StartServer(testrig.SoftEther, &testrig.ServerConfig{
		Port: sePort, AdminPassword: adminPW, Hubs: []testrig.HubConfig{cascadeHub(seHub, "user2")},
	})
	ev := r.StartServer(testrig.Ethervpn, &testrig.ServerConfig{
		Port: evPort, AdminPassword: adminPW, Hubs: []testrig.HubConfig{cascadeHub(evHub, "user1")},
	})
	c1 := &peer{ns: r.AddClient(), ip: "192.168.89.1"}
	c1.cli = r.StartClient(c1.ns, "c1")
	c2 := &peer{ns: r.AddClient(), ip: "192.168.89.2"}
	c2.cli = r.StartClient(c2.ns, "c2")
	c1.connect(t, ev, account(evHub, "user1"))
	c2.connect(t, se, account(seHub, "user2"))

	admin := []string{"/PASSWORD:" + adminPW, "/ADMINHUB:" + evHub}
	run := func(t *testing.T, lines ...string) []cmdOutput {
		t.Helper()
		return vpncmd(t, r, evPort, admin, lines...)
	}
	mustOK := func(t *testing.T, cmds []cmdOutput) {
		t.Helper()
		for _, c := range cmds {
			if !c.OK() {
				t.Fatalf("vpncmd %s failed:\n%s\nethervpn log:\n%s", c.Line, c.Text, ev.LogTail(10))
			}
		}
	}
	// waitStatus polls CascadeStatusGet until its session status is want.
	waitStatus := func(t *testing.T, get func() cmdOutput, want string) cmdOutput {
		t.Helper()
		var st cmdOutput
		if !waitUntil(30*time.Second, func() bool {
			st = get()
			return st.Value("Session Status") == want
		}) {
			t.Fatalf("cascade status never %q:\n%s\nethervpn log:\n%s", want, st.Text, ev.LogTail(15))
		}
		return st
	}

	t.Run("Vpncmd", func(t *testing.T) {
		mustOK(t, run(t,
			fmt.Sprintf("CascadeCreate tose /SERVER:127.0.0.1:%d /HUB:%s /USERNAME:%s", sePort, seHub, cascadeUser),
			fmt.Sprintf("CascadePasswordSet tose /PASSWORD:%s /TYPE:standard", password),
			"CascadeDetailSet tose /MAXTCP:4 /INTERVAL:1 /TTL:0 /HALF:no /NOQOS:no",
			"CascadeOnline tose"))
		st := waitStatus(t, func() cmdOutput { return byCommand(t, run(t, "CascadeStatusGet tose"), "CascadeStatusGet") },
			"Connection Completed (Session Established)")
		if st.Value("VPN Connection Setting Name") != "tose" || st.Value("Bridge / Router Mode") != "Yes" ||
			st.Value("Server Name") != "127.0.0.1" || st.Value("Port Number") != "TCP Port "+strconv.Itoa(sePort) {
			t.Errorf("CascadeStatusGet:\n%s", st.Text)
		}
		waitPing(t, c1, c2.ip, 30*time.Second, ev, se)
		ping(t, c1, c2.ip, 5, false)
		ping(t, c2, c1.ip, 5, false)

		out := run(t, "CascadeList", "CascadeGet tose")
		// (vpncmd 5.01 leaves the Virtual Hub column empty, against the
		// real server too.)
		if l := byCommand(t, out, "CascadeList"); l.Value("Status") != "Online (Established)" ||
			l.Value("Destination VPN Server") != "127.0.0.1" {
			t.Errorf("CascadeList:\n%s", l.Text)
		}
		if g := byCommand(t, out, "CascadeGet"); g.Value("Authentication Type") != "Standard Password Authentication" ||
			g.Value("Number of TCP Connections to Use in VPN Communication") != "4" ||
			g.Value("Destination VPN Server Virtual Hub Name") != seHub {
			t.Errorf("CascadeGet:\n%s", g.Text)
		}
		// The real server sees the cascade as a session of casc.
		if out, err := se.Vpncmd("Hub "+seHub, "SessionList"); err != nil || !strings.Contains(out, cascadeUser) {
			t.Errorf("real vpnserver SessionList lacks the cascade: %v\n%s", err, out)
		}

		mustOK(t, run(t, "CascadeOffline tose"))
		if st := byCommand(t, run(t, "CascadeStatusGet tose"), "CascadeStatusGet"); !strings.Contains(st.Text, "Error code: 61") {
			t.Errorf("CascadeStatusGet of an offline cascade:\n%s", st.Text)
		}
		ping(t, c1, c2.ip, 3, true)

		mustOK(t, run(t, "CascadeDelete tose"))
		if cs := evCascades(t, ev); len(cs) != 0 {
			t.Errorf("cascades left in vpn_server.config after CascadeDelete: %+v", cs)
		}
	})

	t.Run("EthervpnCmd", func(t *testing.T) {
		bin := testrig.EthervpnBinary(t)
		cmd := func(args ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			argv := r.Server.Cmd(append([]string{bin, "cmd", "127.0.0.1:" + strconv.Itoa(evPort),
				"/SERVER", "/PASSWORD:" + adminPW, "/ADMINHUB:" + evHub, "/CMD"}, args...)...)
			out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput() // failures show in the output
			return string(out)
		}
		for _, c := range [][]string{
			{"CascadeCreate", "tose2", fmt.Sprintf("/SERVER:127.0.0.1:%d", sePort), "/HUB:" + seHub, "/USERNAME:" + cascadeUser},
			{"CascadePasswordSet", "tose2", "/PASSWORD:" + password, "/TYPE:standard"},
			{"CascadeOnline", "tose2"},
		} {
			if out := cmd(c...); !strings.Contains(out, "The command completed successfully.") {
				t.Fatalf("ethervpn cmd %s:\n%s", c[0], out)
			}
		}
		waitStatus(t, func() cmdOutput {
			return cmdOutput{Line: "CascadeStatusGet", Text: cmd("CascadeStatusGet", "tose2")}
		}, "Connection Completed (Session Established)")
		waitPing(t, c2, c1.ip, 30*time.Second, ev, se)
		if out := cmd("CascadeList"); !strings.Contains(out, "Status                |Online (Established)") ||
			!strings.Contains(out, "Virtual Hub           |"+seHub) {
			t.Errorf("ethervpn cmd CascadeList:\n%s", out)
		}
		if out := cmd("CascadeDelete", "tose2"); !strings.Contains(out, "The command completed successfully.") {
			t.Errorf("ethervpn cmd CascadeDelete:\n%s", out)
		}
		if cs := evCascades(t, ev); len(cs) != 0 {
			t.Errorf("cascades left after CascadeDelete: %+v", cs)
		}
	})

	t.Run("LocalBridge", func(t *testing.T) {
		lan := r.AddClient()
		if out, err := exec.Command("ip", "link", "add", "lb0", "netns", r.Server.Name, "type", "veth",
			"peer", "name", "eth1", "netns", lan.Name).CombinedOutput(); err != nil {
			t.Fatalf("ip link add: %v\n%s", err, out)
		}
		mustRun(t, r.Server, "ip", "link", "set", "lb0", "up")
		mustRun(t, lan, "ip", "addr", "add", "192.168.89.50/24", "dev", "eth1")
		mustRun(t, lan, "ip", "link", "set", "eth1", "up")

		cmds := vpncmd(t, r, evPort, []string{"/PASSWORD:" + adminPW}, "BridgeDeviceList", "BridgeCreate "+evHub+" /DEVICE:lb0")
		if dev := byCommand(t, cmds, "BridgeDeviceList"); !strings.Contains(dev.Text, "lb0\n") || strings.Contains(dev.Text, "\nlo\n") {
			t.Errorf("BridgeDeviceList:\n%s", dev.Text)
		}
		mustOK(t, cmds[1:])
		var list cmdOutput
		if !waitUntil(10*time.Second, func() bool {
			list = byCommand(t, vpncmd(t, r, evPort, []string{"/PASSWORD:" + adminPW}, "BridgeList"), "BridgeList")
			return strings.Contains(list.Text, "|lb0 ") && strings.Contains(list.Text, "|Operating")
		}) {
			t.Fatalf("BridgeList never shows lb0 operating:\n%s\nethervpn log:\n%s", list.Text, ev.LogTail(10))
		}
		host := &peer{ns: lan, ip: "192.168.89.50"}
		waitPing(t, host, c1.ip, 20*time.Second, ev)
		ping(t, c1, host.ip, 3, false)

		mustOK(t, vpncmd(t, r, evPort, []string{"/PASSWORD:" + adminPW}, "BridgeDelete "+evHub+" /DEVICE:lb0"))
		text, err := ev.ConfigText()
		if err != nil {
			t.Fatal(err)
		}
		root, err := config.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := config.LocalBridges(root); len(b) != 0 {
			t.Errorf("local bridges left after BridgeDelete: %+v", b)
		}
	})
}

// evCascades reads the cascades of hub EV from ethervpn's configuration.
func evCascades(t *testing.T, ev *testrig.Server) []*config.Cascade {
	t.Helper()
	return configOf(t, ev).Hub(evHub).Cascades
}
