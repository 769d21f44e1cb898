package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// Cascade scenarios: ethervpn and the real vpnserver run side by side in
// the rig's server namespace (ports 25555 and 25556); a real vpnclient on
// each side, in a hub of its own, pings the other through the cascade.
const (
	evPort, sePort = 25555, 25556
	evHub, seHub   = "EV", "SE"
	cascadeUser    = "casc"
)

func cascadeHub(name, clientUser string) testrig.HubConfig {
	return testrig.HubConfig{Name: name, Password: "hubpw", Users: []testrig.UserConfig{
		{Name: clientUser, Password: password},
		{Name: cascadeUser, Password: password},
	}}
}

// parseConfig returns the typed view of a vpn_server.config's text.
func parseConfig(t *testing.T, text []byte) *config.Server {
	t.Helper()
	root, err := config.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	s, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// configOf returns the typed view of srv's vpn_server.config as it is now.
func configOf(t *testing.T, srv *testrig.Server) *config.Server {
	t.Helper()
	text, err := srv.ConfigText()
	if err != nil {
		t.Fatal(err)
	}
	return parseConfig(t, text)
}

// editConfig applies edit to the typed view of a rendered configuration.
func editConfig(t *testing.T, text []byte, edit func(*config.Server)) []byte {
	t.Helper()
	s := parseConfig(t, text)
	edit(s)
	return s.ToTree().Encode()
}

// withCascade returns ethervpn's configuration with an online cascade from
// hub EV to host:port hub remoteHub as user casc.
func withCascade(t *testing.T, text []byte, host string, port int, remoteHub string) []byte {
	return editConfig(t, text, func(s *config.Server) {
		c := config.NewCascade("to-"+strings.ToLower(remoteHub), host, uint32(port), remoteHub, cascadeUser)
		c.Online = true
		c.AuthType = config.CascadeAuthPassword
		hash := sha0.HashPassword(cascadeUser, password)
		c.HashedPassword = hash[:]
		s.Hub(evHub).AddCascade(c)
	})
}

// waitPing pings ip from p once a second until a reply comes (a cascade
// takes a moment to connect) or timeout passes.
func waitPing(t *testing.T, p *peer, ip string, timeout time.Duration, logs ...*testrig.Server) {
	t.Helper()
	if waitUntil(timeout, func() bool {
		res, err := p.ns.Ping(ip, 1)
		return err == nil && res.Received == 1
	}) {
		return
	}
	var tails []string
	for _, s := range logs {
		tails = append(tails, fmt.Sprintf("%s log:\n%s", s.Kind, s.LogTail(15)))
	}
	t.Fatalf("no reply from %s to %s within %v\n%s", ip, p.ip, timeout, strings.Join(tails, "\n"))
}

func TestCascadeWithRealServer(t *testing.T) {
	testrig.Require(t)
	r := testrig.New(t)
	se := r.StartServer(testrig.SoftEther, &testrig.ServerConfig{
		Port: sePort, AdminPassword: "adminpw", Hubs: []testrig.HubConfig{cascadeHub(seHub, "user2")},
	})
	evCfg := &testrig.ServerConfig{Port: evPort, Hubs: []testrig.HubConfig{cascadeHub(evHub, "user1")}}
	ev := r.StartServer(testrig.Ethervpn, evCfg)

	c1 := &peer{ns: r.AddClient(), ip: "192.168.88.1"}
	c1.cli = r.StartClient(c1.ns, "c1")
	c2 := &peer{ns: r.AddClient(), ip: "192.168.88.2"}
	c2.cli = r.StartClient(c2.ns, "c2")
	c1.connect(t, ev, account(evHub, "user1"))
	c2.connect(t, se, account(seHub, "user2"))

	// First the real server cascades into ethervpn. (In this order no
	// stale session is left behind: a real server keeps the session of a
	// vanished cascade, and its MAC table entries, until the time-out.)
	t.Run("SoftEtherToEthervpn", func(t *testing.T) {
		out, err := se.Vpncmd("Hub "+seHub,
			fmt.Sprintf("CascadeCreate toev /SERVER:127.0.0.1:%d /HUB:%s /USERNAME:%s", evPort, evHub, cascadeUser),
			fmt.Sprintf("CascadePasswordSet toev /PASSWORD:%s /TYPE:standard", password),
			"CascadeOnline toev")
		if err != nil {
			t.Fatalf("vpncmd: %v\n%s", err, out)
		}
		waitPing(t, c2, c1.ip, 30*time.Second, ev, se)
		ping(t, c2, c1.ip, 5, false)
		ping(t, c1, c2.ip, 5, false)
		if log := ev.Proc.Log(); !strings.Contains(log, "Cascade Mode") || !strings.Contains(log, "mode=Bridge") {
			t.Errorf("ethervpn did not see a bridge-mode cascade session:\n%s", ev.LogTail(15))
		}

		// The real server's configuration, with its cascade, is one
		// ethervpn reads.
		if out, err := se.Vpncmd("Flush"); err != nil {
			t.Fatalf("vpncmd Flush: %v\n%s", err, out)
		}
		cs := configOf(t, se).Hub(seHub).Cascades
		hash := sha0.HashPassword(cascadeUser, password)
		if len(cs) != 1 || cs[0].AccountName != "toev" || !cs[0].Online || cs[0].AuthType != config.CascadeAuthPassword ||
			string(cs[0].HashedPassword) != string(hash[:]) || cs[0].Port != evPort || cs[0].MaxConnection != 8 {
			t.Errorf("cascade in the real configuration: %+v", cs)
		}
		if out, err := se.Vpncmd("Hub "+seHub, "CascadeDelete toev"); err != nil {
			t.Fatalf("vpncmd CascadeDelete: %v\n%s", err, out)
		}
	})

	t.Run("EthervpnToSoftEther", func(t *testing.T) {
		// ethervpn restarted with a cascade in its configuration.
		if err := ev.Stop(); err != nil {
			t.Fatal(err)
		}
		ev = r.StartServerText(testrig.Ethervpn, evPort, "", withCascade(t, evCfg.Render(), "127.0.0.1", sePort, seHub))
		// A fresh vpnclient: one whose server went away keeps
		// reconnecting the old account's additional connections.
		c3 := &peer{ns: r.AddClient(), ip: "192.168.88.3"}
		c3.cli = r.StartClient(c3.ns, "c3")
		c3.connect(t, ev, account(evHub, "user1"))
		waitPing(t, c3, c2.ip, 30*time.Second, ev, se)
		ping(t, c3, c2.ip, 5, false)
		ping(t, c2, c3.ip, 5, false)
		// The real server lists the cascade as a session of casc.
		out, err := se.Vpncmd("Hub "+seHub, "SessionList")
		if err != nil || !strings.Contains(strings.ToLower(out), cascadeUser) {
			t.Errorf("real vpnserver SessionList lacks the cascade: %v\n%s", err, out)
		}
		if !strings.Contains(ev.Proc.Log(), "Now connected") {
			t.Errorf("ethervpn did not log the cascade connection:\n%s", ev.LogTail(15))
		}
	})
}

// TestRealBridgeCascade runs the real vpnbridge in a namespace of its own,
// cascading its BRIDGE hub into ethervpn; a vpnclient on ethervpn pings the
// bridge's SecureNAT host (192.168.30.1) through the cascade.
func TestRealBridgeCascade(t *testing.T) {
	testrig.Require(t)
	requireVpnbridge(t)
	r := testrig.New(t)
	ev := r.StartServer(testrig.Ethervpn, &testrig.ServerConfig{Port: evPort, Hubs: []testrig.HubConfig{cascadeHub(evHub, "user1")}})
	c1 := &peer{ns: r.AddClient(), ip: "192.168.30.77"}
	c1.cli = r.StartClient(c1.ns, "c1")
	c1.connect(t, ev, account(evHub, "user1"))

	startRealCascade(t, r, realCascade{
		name: "vpnbridge", prog: vpnbridgePath, hub: "BRIDGE", setup: []string{"SecureNatEnable"},
		account: "toev", port: evPort, remoteHub: evHub, user: cascadeUser,
	})
	waitPing(t, c1, "192.168.30.1", 40*time.Second, ev)
	ping(t, c1, "192.168.30.1", 5, false)
	if log := ev.Proc.Log(); !strings.Contains(log, "Cascade Mode") || !strings.Contains(log, "mode=Bridge") {
		t.Errorf("ethervpn did not see the bridge's cascade session:\n%s", ev.LogTail(15))
	}
}

// vpnbridgePath is the real vpnbridge 5.01 (Debian softether-vpnbridge).
const vpnbridgePath = "/usr/libexec/softether/vpnbridge/vpnbridge"

// requireVpnbridge skips the test without the real vpnbridge, or fails it
// under CI.
func requireVpnbridge(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(vpnbridgePath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs softether-vpnbridge: %v", err)
		}
		t.Skipf("needs the softether-vpnbridge package: %v", err)
	}
}

// realCascade is a cascade from a real SoftEther program (vpnbridge or
// vpnserver 5.01, with its default configuration) into a server of the
// rig's server namespace.
type realCascade struct {
	name, prog string   // the program's name (its process, directory, log) and path
	hub        string   // its hub that cascades
	setup      []string // vpncmd commands run on that hub first
	account    string   // the cascade's name
	port       int      // the server's port, in the server namespace
	remoteHub  string   // the server's hub that the cascade joins
	user       string   // the cascade's user there (with password)
}

// startRealCascade starts c's program in a client namespace of its own
// (its default listeners 443, 992 and 5555 are free there, and its
// underlay leads to the server namespace) and, with vpncmd, runs c.setup
// on its hub and puts the cascade online.
func startRealCascade(t *testing.T, r *testrig.Rig, c realCascade) {
	t.Helper()
	ns := r.AddClient()
	p := testrig.StartProc(t, c.name, filepath.Join(ns.Dir, c.name+".log"),
		ns.SoftEtherCmd(filepath.Join(ns.Dir, c.name), c.prog, "start", "--foreground")...)
	p.StopGrace = 10 * time.Second
	if err := ns.WaitTCP("127.0.0.1", 5555, 30*time.Second, p); err != nil {
		t.Fatalf("%s: %v\n%s", c.name, err, p.Log())
	}
	lines := append([]string{"Hub " + c.hub}, c.setup...)
	lines = append(lines,
		fmt.Sprintf("CascadeCreate %s /SERVER:%s:%d /HUB:%s /USERNAME:%s", c.account, ns.ServerIP, c.port, c.remoteHub, c.user),
		fmt.Sprintf("CascadePasswordSet %s /PASSWORD:%s /TYPE:standard", c.account, password),
		"CascadeOnline "+c.account,
	)
	script := filepath.Join(ns.Dir, c.name+"-setup.txt")
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
		t.Fatalf("configuring the %s: %v\n%s", c.name, err, out)
	}
}
