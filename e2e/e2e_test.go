// Package e2e runs real SoftEther vpnclients against the VPN server under
// test in network namespaces. The server is ethervpn unless
// ETHERVPN_E2E_SERVER=softether selects the real Debian vpnserver, which is
// how the tests themselves are validated. See internal/testrig.
package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testrig.RemoveBuilds()
	os.Exit(code)
}

const (
	port     = 25555
	hubA     = "HUBA"
	hubB     = "HUBB"
	monUser  = "monitor"
	password = "secret"
)

// serverConfig is the configuration shared by the scenarios: two hubs, one
// password user per client, and a user allowed to monitor.
func serverConfig() *testrig.ServerConfig {
	users := func(names ...string) []testrig.UserConfig {
		var us []testrig.UserConfig
		for _, n := range names {
			us = append(us, testrig.UserConfig{Name: n, Password: password})
		}
		return us
	}
	a := users("user1", "user2", "user3")
	a = append(a, testrig.UserConfig{Name: monUser, Password: password,
		Policy: map[string]any{"MonitorPort": true}})
	return &testrig.ServerConfig{
		Port:          port,
		AdminPassword: "adminpw",
		Hubs: []testrig.HubConfig{
			{Name: hubA, Password: "hubpw", Users: a},
			{Name: hubB, Password: "hubpw", Users: users("userb")},
		},
	}
}

// peer is a client namespace with its vpnclient and its TAP address.
type peer struct {
	ns  *testrig.Netns
	cli *testrig.Client
	ip  string // on the TAP, without prefix length
}

func (p *peer) connect(t *testing.T, srv *testrig.Server, acc testrig.Account) {
	t.Helper()
	connect(t, p.cli, srv, acc)
	if err := p.cli.SetIP(p.ip + "/24"); err != nil {
		t.Fatal(err)
	}
}

// connect logs in and fails the test with the server's last log lines if
// that does not work.
func connect(t *testing.T, c *testrig.Client, srv *testrig.Server, acc testrig.Account) {
	t.Helper()
	if err := c.Connect(srv, acc); err != nil {
		t.Fatalf("%v\nserver log: %s", err, srv.LogTail(10))
	}
}

func account(hub, user string) testrig.Account {
	return testrig.Account{Hub: hub, User: user, Password: password}
}

func TestE2E(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	srv := r.StartServer(kind, serverConfig())

	var peers [3]*peer
	for i := range peers {
		ns := r.AddClient()
		peers[i] = &peer{ns: ns, cli: r.StartClient(ns, fmt.Sprintf("c%d", i+1)), ip: fmt.Sprintf("192.168.77.%d", i+1)}
	}
	c1, c2, c3 := peers[0], peers[1], peers[2]
	r.StartIperfServer(c2.ns)

	// ensure (re)connects c1 and c2 to hub A with the given account options.
	ensure := func(t *testing.T, mod func(*testrig.Account)) {
		t.Helper()
		for i, p := range []*peer{c1, c2} {
			acc := account(hubA, fmt.Sprintf("user%d", i+1))
			if mod != nil {
				mod(&acc)
			}
			p.connect(t, srv, acc)
		}
	}

	t.Run("Default", func(t *testing.T) {
		ensure(t, nil)
		checkPingAndTransfer(t, r, c1, c2)
		st, err := c1.cli.Status()
		if err != nil {
			t.Fatal(err)
		}
		// 1 connection + QoS = 2 TCP connections.
		if n := waitConns(c1.cli, 2); n != 2 {
			t.Errorf("TCP connections = %d, want 2 (MAXTCP 1 + QoS)", n)
		}
		if !st.Yes(testrig.StatusEncryption) || st.Yes(testrig.StatusCompression) || st.Yes(testrig.StatusHalfDuplex) {
			t.Errorf("status: encryption %q, compression %q, half duplex %q; want on, off, off",
				st[testrig.StatusEncryption], st[testrig.StatusCompression], st[testrig.StatusHalfDuplex])
		}
	})

	variants := []struct {
		name  string
		mod   func(*testrig.Account)
		conns int
		check func(testrig.AccountStatus) string
	}{
		{"MaxTCP8", func(a *testrig.Account) { a.MaxTCP = 8 }, 8, nil},
		{"HalfDuplex", func(a *testrig.Account) { a.MaxTCP, a.Half = 4, true }, 4, func(s testrig.AccountStatus) string {
			return want(s.Yes(testrig.StatusHalfDuplex), "half duplex", s[testrig.StatusHalfDuplex])
		}},
		{"Compression", func(a *testrig.Account) { a.Compress = true }, 2, func(s testrig.AccountStatus) string {
			return want(s.Yes(testrig.StatusCompression), "compression", s[testrig.StatusCompression])
		}},
		{"NoEncryption", func(a *testrig.Account) { a.NoEncrypt = true }, 2, func(s testrig.AccountStatus) string {
			return want(!s.Yes(testrig.StatusEncryption), "encryption off", s[testrig.StatusEncryption])
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ensure(t, v.mod)
			if n := waitConns(c1.cli, v.conns); n != v.conns {
				t.Errorf("TCP connections = %d, want %d", n, v.conns)
			}
			if v.check != nil {
				st, err := c1.cli.Status()
				if err != nil {
					t.Fatal(err)
				}
				if msg := v.check(st); msg != "" {
					t.Error(msg)
				}
			}
			checkPingAndTransfer(t, r, c1, c2)
		})
	}

	t.Run("Monitor", func(t *testing.T) {
		ensure(t, nil)
		acc := account(hubA, monUser)
		acc.Monitor = true
		c3.connect(t, srv, acc)
		defer c3.cli.Disconnect()
		if st, err := c3.cli.Status(); err != nil || !st.Yes(testrig.StatusMonitorMode) {
			t.Fatalf("monitor session status %v (err %v): want monitoring mode", st, err)
		}
		// Everything c1 and c2 exchange shows up on the monitor's TAP.
		capMon := r.StartCapture(c3.ns, c3.cli.TAP(), "-Q", "in", "icmp")
		ping(t, c1, c2.ip, 5, false)
		time.Sleep(300 * time.Millisecond) // let the last copies arrive
		lines := capMon.Stop()
		if req, rep := countICMP(lines, c1.ip, c2.ip); req < 4 || rep < 4 {
			t.Errorf("monitor saw %d echo requests and %d replies between c1 and c2, want >= 4 each:\n%s",
				req, rep, strings.Join(lines, "\n"))
		}
		// What the monitor sends goes nowhere.
		mac, err := c3.ns.MAC(c3.cli.TAP())
		if err != nil {
			t.Fatal(err)
		}
		capC1 := r.StartCapture(c1.ns, c1.cli.TAP(), "-Q", "in", "ether", "src", mac)
		ping(t, c3, c1.ip, 3, true)
		if lines := capC1.Stop(); len(lines) > 0 {
			t.Errorf("c1 received frames from the monitor session:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("MACLimit", func(t *testing.T) {
		ensure(t, nil)
		connect(t, c3.cli, srv, account(hubA, "user3"))
		defer c3.cli.Disconnect()
		ns := c3.ns
		// Only the interface that owns an address answers ARP for it, and
		// the TAP itself (no address, no IPv6) sends nothing.
		mustRun(t, ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
		if err := c3.cli.SetIP("0.0.0.0/32"); err != nil {
			t.Fatal(err)
		}
		mustRun(t, ns, "ip", "addr", "flush", "dev", c3.cli.TAP())
		for i := 1; i <= 5; i++ {
			m := fmt.Sprintf("m%d", i)
			mustRun(t, ns, "ip", "link", "add", m, "link", c3.cli.TAP(), "type", "macvlan", "mode", "bridge")
			mustRun(t, ns, "ip", "addr", "add", fmt.Sprintf("192.168.77.%d/24", 10+i), "dev", m)
			mustRun(t, ns, "ip", "link", "set", m, "up")
			defer ns.Run(10*time.Second, "ip", "link", "del", m)
		}
		// One MAC at a time, in order: a client-mode session may use 3.
		for i := 1; i <= 5; i++ {
			res, err := ns.Ping(c2.ip, 3, "-I", fmt.Sprintf("m%d", i))
			if err != nil {
				t.Fatal(err)
			}
			if through := res.Received > 0; through != (i <= 3) {
				t.Errorf("MAC #%d: %d of %d echo replies; want replies only for the first 3 MACs", i, res.Received, res.Sent)
			}
		}
	})

	t.Run("HubIsolation", func(t *testing.T) {
		ensure(t, nil)
		connect(t, c3.cli, srv, account(hubB, "userb"))
		defer c3.cli.Disconnect()
		onB := r.StartCapture(c3.ns, c3.cli.TAP(), "-Q", "in")
		onA := r.StartCapture(c2.ns, c2.cli.TAP(), "-Q", "in", "arp")
		ping(t, c1, c2.ip, 3, false)
		// Broadcasts: ARP requests for an address nobody has.
		if _, err := c1.ns.Run(20*time.Second, "busybox", "arping", "-c", "3", "-w", "3", "-I", c1.cli.TAP(), "192.168.77.99"); err == nil {
			t.Log("arping got an answer for an unused address")
		}
		time.Sleep(500 * time.Millisecond)
		if lines := onA.Stop(); !containsAll(lines, "192.168.77.99") {
			t.Errorf("hub A peer c2 did not see c1's broadcast ARP (capture control):\n%s", strings.Join(lines, "\n"))
		}
		if lines := onB.Stop(); len(lines) > 0 {
			t.Errorf("session on hub B received frames while hub A was busy:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		acc := account(hubA, "user3")
		acc.Password = "wrong"
		refused(t, c3, srv, acc, 9)
	})
	t.Run("UnknownHub", func(t *testing.T) {
		refused(t, c3, srv, account("NOSUCHHUB", "user3"), 8)
	})
}

// refused checks that a login with acc fails with vpnclient error code want.
func refused(t *testing.T, p *peer, srv *testrig.Server, acc testrig.Account, want int) {
	t.Helper()
	if err := p.cli.Configure(srv, acc); err != nil {
		t.Fatal(err)
	}
	if err := p.cli.StartConnect(); err != nil {
		t.Fatal(err)
	}
	var code int
	var msg string
	ok := waitUntil(20*time.Second, func() bool {
		code, msg = p.cli.LastError()
		return code != 0 && p.cli.State() == "Offline"
	})
	if !ok || code != want {
		t.Fatalf("login error: code %d %q (state %q), want code %d\nserver log: %s",
			code, msg, p.cli.State(), want, srv.LogTail(10))
	}
	t.Logf("refused as expected: %s (code %d)", msg, code)
}

// TestForeignConfig loads a vpn_server.config written by the real vpnserver
// (hub and user created with vpncmd) into the server under test.
func TestForeignConfig(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)

	// 1. A real vpnserver creates the hub and the user and saves its config.
	seed := &testrig.ServerConfig{Port: port, AdminPassword: "adminpw"}
	real := r.StartServer(testrig.SoftEther, seed)
	out, err := real.Vpncmd(
		"HubCreate FOREIGN /PASSWORD:hubpw",
		"Hub FOREIGN",
		"UserCreate alice /GROUP:none /REALNAME:none /NOTE:none",
		"UserPasswordSet alice /PASSWORD:alicepw",
		"UserCreate bob /GROUP:none /REALNAME:none /NOTE:none",
		"UserPasswordSet bob /PASSWORD:bobpw",
		"Flush",
	)
	if err != nil {
		t.Fatalf("vpncmd: %v\n%s", err, out)
	}
	if err := real.Stop(); err != nil {
		t.Logf("vpnserver stop: %v", err)
	}
	text, err := real.ConfigText()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "declare alice") {
		t.Fatalf("the real vpnserver's config lacks user alice:\n%s", text)
	}

	// 2. The server under test runs on that file; real clients log in.
	srv := r.StartServerText(kind, port, "adminpw", text)
	var ps [2]*peer
	for i, u := range []string{"alice", "bob"} {
		ns := r.AddClient()
		ps[i] = &peer{ns: ns, cli: r.StartClient(ns, fmt.Sprintf("f%d", i+1)), ip: fmt.Sprintf("192.168.78.%d", i+1)}
		ps[i].connect(t, srv, testrig.Account{Hub: "FOREIGN", User: u, Password: u + "pw"})
	}
	ping(t, ps[0], ps[1].ip, 5, false)
}

// checkPingAndTransfer pings c2 from c1 and moves 4 MiB each way, checked by
// SHA-256.
func checkPingAndTransfer(t *testing.T, r *testrig.Rig, c1, c2 *peer) {
	t.Helper()
	ping(t, c1, c2.ip, 5, false)
	for _, dir := range [][2]*peer{{c1, c2}, {c2, c1}} {
		d, err := r.Transfer(dir[0].ns, dir[1].ns, dir[1].ip, 4<<20)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("4 MiB %s -> %s in %v", dir[0].ip, dir[1].ip, d.Round(time.Millisecond))
	}
}

// ping expects every reply (fail=false) or none (fail=true).
func ping(t *testing.T, from *peer, ip string, n int, fail bool) {
	t.Helper()
	res, err := from.ns.Ping(ip, n)
	if err != nil {
		t.Fatal(err)
	}
	if fail && res.Received > 0 {
		t.Errorf("ping %s from %s: %d of %d replies, want none", ip, from.ip, res.Received, res.Sent)
	}
	// One lost reply is tolerated: the first may wait for ARP.
	if !fail && res.Received < n-1 {
		t.Errorf("ping %s from %s: %d of %d replies", ip, from.ip, res.Received, res.Sent)
	}
}

// waitConns waits up to 15 s for n TCP connections (additional connections
// open one per second) and returns the last count seen.
func waitConns(c *testrig.Client, n int) int {
	got := -1
	waitUntil(15*time.Second, func() bool {
		if st, err := c.Status(); err == nil {
			got = st.Int(testrig.StatusTCPConnections)
		}
		return got == n
	})
	return got
}

// countICMP counts echo requests a->b and replies b->a in tcpdump lines.
func countICMP(lines []string, a, b string) (req, rep int) {
	for _, l := range lines {
		switch {
		case strings.Contains(l, a+" > "+b+": ICMP echo request"):
			req++
		case strings.Contains(l, b+" > "+a+": ICMP echo reply"):
			rep++
		}
	}
	return req, rep
}

func containsAll(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func want(ok bool, what, got string) string {
	if ok {
		return ""
	}
	return fmt.Sprintf("status: want %s, got %q", what, got)
}

func mustRun(t *testing.T, ns *testrig.Netns, args ...string) {
	t.Helper()
	if _, err := ns.Run(20*time.Second, args...); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
	return true
}
