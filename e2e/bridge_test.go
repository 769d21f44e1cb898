package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestLocalBridge bridges ethervpn's hub to a veth in the server
// namespace whose far end is a "LAN host" in a namespace of its own; that
// host pings a real vpnclient through the hub and moves data both ways (the
// veth hands the bridge GSO super-frames with partial checksums).
func TestLocalBridge(t *testing.T) {
	testrig.Require(t)
	r := testrig.New(t)
	lan := r.AddClient() // its underlay is unused; eth1 below is its LAN
	// Both ends are created inside the rig's namespaces: nothing is added
	// to this one.
	if out, err := exec.Command("ip", "link", "add", "lb0", "netns", r.Server.Name, "type", "veth",
		"peer", "name", "eth1", "netns", lan.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v\n%s", err, out)
	}
	mustRun(t, r.Server, "ip", "link", "set", "lb0", "up")
	mustRun(t, lan, "ip", "addr", "add", "192.168.99.50/24", "dev", "eth1")
	mustRun(t, lan, "ip", "link", "set", "eth1", "up")

	cfg := &testrig.ServerConfig{Port: evPort, Hubs: []testrig.HubConfig{cascadeHub(evHub, "user1")}}
	text := editConfig(t, cfg.Render(), func(s *config.Server) {
		b := s.Tree.Ensure("LocalBridgeList").Ensure("LocalBridge0")
		b.SetString("DeviceName", "lb0")
		b.SetString("HubName", evHub)
		b.SetBool("LimitBroadcast", false)
		b.SetBool("MonitorMode", false)
		b.SetBool("NoPromiscuousMode", false)
		b.SetBool("TapMode", false)
	})
	ev := r.StartServerText(testrig.Ethervpn, evPort, "", text)
	c1 := &peer{ns: r.AddClient(), ip: "192.168.99.1"}
	c1.cli = r.StartClient(c1.ns, "c1")
	c1.connect(t, ev, account(evHub, "user1"))

	host := &peer{ns: lan, ip: "192.168.99.50"}
	waitPing(t, host, c1.ip, 20*time.Second, ev)
	ping(t, host, c1.ip, 5, false)
	ping(t, c1, host.ip, 5, false)
	for _, dir := range [][2]*peer{{host, c1}, {c1, host}} {
		d, err := r.Transfer(dir[0].ns, dir[1].ns, dir[1].ip, 4<<20)
		if err != nil {
			t.Fatalf("%v\nserver log: %s", err, ev.LogTail(10))
		}
		t.Logf("4 MiB %s -> %s in %v", dir[0].ip, dir[1].ip, d.Round(time.Millisecond))
	}
}

// TestEthervpnBridgeRole runs "ethervpn bridge" in a namespace of its own
// with SecureNAT on its BRIDGE hub and a cascade into ethervpn's server; a
// vpnclient on the server pings the bridge's SecureNAT host through the
// cascade, and a VPN login to the bridge itself is refused with error 33.
func TestEthervpnBridgeRole(t *testing.T) {
	testrig.Require(t)
	r := testrig.New(t)
	ev := r.StartServer(testrig.Ethervpn, &testrig.ServerConfig{Port: evPort, Hubs: []testrig.HubConfig{cascadeHub(evHub, "user1")}})
	c1 := &peer{ns: r.AddClient(), ip: "192.168.30.77"}
	c1.cli = r.StartClient(c1.ns, "c1")
	c1.connect(t, ev, account(evHub, "user1"))

	bns := r.AddClient()
	const bridgePort = 5555
	bcfg := &testrig.ServerConfig{Port: bridgePort, Hubs: []testrig.HubConfig{
		{Name: "BRIDGE", Users: []testrig.UserConfig{{Name: "user9", Password: password}}, SecureNAT: &testrig.SecureNATConfig{}},
	}}
	dataDir := filepath.Join(bns.Dir, "bridge-data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	text := editConfig(t, bcfg.Render(), func(s *config.Server) {
		c := config.NewCascade("toev", bns.ServerIP, evPort, evHub, cascadeUser)
		c.Online = true
		c.AuthType = config.CascadeAuthPassword
		hash := sha0.HashPassword(cascadeUser, password)
		c.HashedPassword = hash[:]
		s.Hub("BRIDGE").AddCascade(c)
	})
	if err := os.WriteFile(filepath.Join(dataDir, "vpn_server.config"), text, 0o600); err != nil {
		t.Fatal(err)
	}
	br := testrig.StartProc(t, "ethervpn bridge", filepath.Join(bns.Dir, "bridge.log"),
		bns.Cmd(testrig.EthervpnBinary(t), "bridge", "--data-dir", dataDir)...)
	if err := bns.WaitTCP("127.0.0.1", bridgePort, 30*time.Second, br); err != nil {
		t.Fatalf("ethervpn bridge: %v\n%s", err, br.Log())
	}
	waitPing(t, c1, "192.168.30.1", 30*time.Second, ev)
	ping(t, c1, "192.168.30.1", 5, false)

	// A VPN client cannot log in to a bridge.
	c2 := r.StartClient(bns, "c2")
	bridgeSrv := &testrig.Server{Kind: testrig.Ethervpn, Port: bridgePort}
	if err := c2.Configure(bridgeSrv, account("BRIDGE", "user9")); err != nil {
		t.Fatal(err)
	}
	// The client reaches the bridge over loopback in its own namespace.
	if out, err := c2.Vpncmd("AccountSet", testrig.AccountName, "/SERVER:127.0.0.1:5555", "/HUB:BRIDGE"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := c2.StartConnect(); err != nil {
		t.Fatal(err)
	}
	if err := c2.WaitConnected(10 * time.Second); err == nil {
		t.Fatal("a VPN client logged in to the bridge")
	}
	if code, msg := c2.LastError(); code != 33 {
		t.Errorf("bridge login refusal: error %d (%s), want 33", code, msg)
	}
}
