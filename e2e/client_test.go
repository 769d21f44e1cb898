package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// goClient is an "ethervpn client" process in a client namespace.
type goClient struct {
	*peer
	proc *testrig.Proc
	tap  string
	srv  *testrig.Server
	n    int // starts, for log file names
}

// startGoClient runs ethervpn client in ns as user, waits for "Now
// connected" and gives the TAP the peer's address.
func startGoClient(t *testing.T, p *peer, srv *testrig.Server, user string, extra ...string) *goClient {
	t.Helper()
	g := &goClient{peer: p, tap: "evc" + p.ip[strings.LastIndex(p.ip, ".")+1:], srv: srv}
	g.start(t, user, extra...)
	return g
}

func (g *goClient) start(t *testing.T, user string, extra ...string) {
	t.Helper()
	g.n++
	args := []string{testrig.EthervpnBinary(t), "client",
		"--server", g.ns.ServerIP + ":" + strconv.Itoa(g.srv.Port), "--hub", hubA,
		"--user", user, "--password", password, "--tap", g.tap, "--retry-interval", "5", "--log-level", "debug"}
	args = append(args, extra...)
	g.proc = testrig.StartProc(t, "ethervpn client "+g.ns.Name,
		filepath.Join(g.ns.Dir, fmt.Sprintf("ethervpn-client-%d.log", g.n)), g.ns.Cmd(args...)...)
	if !waitUntil(30*time.Second, func() bool { return g.proc.Exited() || strings.Contains(g.proc.Log(), "Now connected") }) ||
		g.proc.Exited() {
		t.Fatalf("ethervpn client in %s did not connect; log:\n%s\nserver log: %s", g.ns.Name,
			lastLines(g.proc.Log(), 15), g.srv.LogTail(10))
	}
	if _, err := g.ns.Run(10*time.Second, "ip", "addr", "add", g.ip+"/24", "dev", g.tap); err != nil {
		t.Fatal(err)
	}
}

// stop sends SIGTERM and checks that the client closed its session and
// removed its TAP device.
func (g *goClient) stop(t *testing.T) {
	t.Helper()
	if err := g.proc.Stop(10 * time.Second); err != nil {
		t.Errorf("ethervpn client in %s: exit %v; log:\n%s", g.ns.Name, err, lastLines(g.proc.Log(), 10))
	}
	if !strings.Contains(g.proc.Log(), "TAP device removed") {
		t.Errorf("ethervpn client in %s did not log a clean stop", g.ns.Name)
	}
	if _, err := g.ns.Run(5*time.Second, "ip", "link", "show", g.tap); err == nil {
		t.Errorf("TAP %s still exists after the client stopped", g.tap)
	}
}

// conns counts the client's established TCP connections to the server.
func (g *goClient) conns() int {
	out, err := g.ns.Run(5*time.Second, "ss", "-Htn", "state", "established", "dst", g.ns.ServerIP, "dport", "=", ":"+strconv.Itoa(g.srv.Port))
	if err != nil {
		return -1
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

// waitConns waits up to timeout for n connections and returns the last count.
func (g *goClient) waitConns(n int, timeout time.Duration) int {
	got := -1
	waitUntil(timeout, func() bool { got = g.conns(); return got == n })
	return got
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestGoClient runs ethervpn client against ethervpn's server and the real
// vpnserver: connection counts and modes with ping and transfers between
// two ethervpn clients and with a real vpnclient, a killed and restarted
// server, and TCP connections cut on the server side.
func TestGoClient(t *testing.T) {
	testrig.Require(t)
	for _, kind := range []testrig.ServerKind{testrig.Ethervpn, testrig.SoftEther} {
		t.Run(string(kind), func(t *testing.T) { testGoClient(t, kind) })
	}
}

func testGoClient(t *testing.T, kind testrig.ServerKind) {
	r := testrig.New(t)
	srv := r.StartServer(kind, serverConfig())
	c1 := &peer{ns: r.AddClient(), ip: "192.168.78.1"}
	c2 := &peer{ns: r.AddClient(), ip: "192.168.78.2"}

	variants := []struct {
		name  string
		flags []string
		conns int
	}{
		{"1", nil, 1},
		{"8", []string{"--max-connections", "8"}, 8},
		{"32", []string{"--max-connections", "32"}, 32},
		{"HalfDuplex", []string{"--max-connections", "4", "--half-duplex"}, 4},
		{"Compression", []string{"--compress"}, 1},
		{"NoEncryption", []string{"--no-encrypt", "--max-connections", "2"}, 2},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			g1 := startGoClient(t, c1, srv, "user1", v.flags...)
			g2 := startGoClient(t, c2, srv, "user2", v.flags...)
			// Additional connections open one per second.
			wait := time.Duration(v.conns)*time.Second + 10*time.Second
			for _, g := range []*goClient{g1, g2} {
				if n := g.waitConns(v.conns, wait); n != v.conns {
					t.Errorf("%s: %d TCP connections, want %d", g.ns.Name, n, v.conns)
				}
			}
			checkPingAndTransfer(t, r, c1, c2)
			g1.stop(t)
			g2.stop(t)
		})
	}

	t.Run("RealVpnclient", func(t *testing.T) {
		g1 := startGoClient(t, c1, srv, "user1", "--max-connections", "4")
		c3 := &peer{ns: r.AddClient(), ip: "192.168.78.3"}
		c3.cli = r.StartClient(c3.ns, "c3")
		c3.connect(t, srv, account(hubA, "user3"))
		checkPingAndTransfer(t, r, c1, c3)
		g1.stop(t)
		if err := c3.cli.Stop(); err != nil {
			t.Logf("vpnclient stop: %v", err)
		}
	})

	t.Run("ServerRestart", func(t *testing.T) {
		g1 := startGoClient(t, c1, srv, "user1", "--max-connections", "2")
		g2 := startGoClient(t, c2, srv, "user2")
		ping(t, c1, c2.ip, 3, false)
		srv.Proc.Stop(0) // SIGKILL at once
		srv = r.StartServer(kind, serverConfig())
		restarted := time.Now()
		if !waitUntil(20*time.Second, func() bool {
			res, err := c1.ns.Ping(c2.ip, 1)
			return err == nil && res.Received == 1
		}) {
			t.Fatalf("no traffic within 20 s of the server restart; client log:\n%s", lastLines(g1.proc.Log(), 15))
		}
		t.Logf("traffic again %v after the restart", time.Since(restarted).Round(100*time.Millisecond))
		g1.srv, g2.srv = srv, srv
		if n := g1.waitConns(2, 10*time.Second); n != 2 {
			t.Errorf("%d connections after the restart, want 2", n)
		}
		g1.stop(t)
		g2.stop(t)
	})

	t.Run("CutConnections", func(t *testing.T) {
		g1 := startGoClient(t, c1, srv, "user1", "--max-connections", "8")
		g2 := startGoClient(t, c2, srv, "user2")
		if n := g1.waitConns(8, 20*time.Second); n != 8 {
			t.Fatalf("%d connections, want 8", n)
		}
		ping(t, c1, c2.ip, 3, false)
		// Close 3 of the server's sockets of this session.
		out, err := r.Server.Run(5*time.Second, "ss", "-Htn", "state", "established", "src", ":"+strconv.Itoa(srv.Port), "dst", c1.ns.IP)
		if err != nil {
			t.Fatal(err)
		}
		var peers []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 4 {
				peers = append(peers, f[3][strings.LastIndex(f[3], ":")+1:])
			}
		}
		if len(peers) != 8 {
			t.Fatalf("server has %d sockets of the session: %q", len(peers), out)
		}
		for _, p := range peers[:3] {
			if _, err := r.Server.Run(5*time.Second, "ss", "-K", "-Htn", "state", "established", "dst", c1.ns.IP, "dport", "=", ":"+p); err != nil {
				t.Fatal(err)
			}
		}
		cut := time.Now()
		if kind == testrig.SoftEther {
			// The real vpnserver 5.01 answers a reset connection by closing
			// every connection of the session, and closes the ones the
			// client re-attaches right away: the client has to log in
			// again. Traffic must come back within 20 s.
			if !waitUntil(20*time.Second, func() bool {
				res, err := c1.ns.Ping(c2.ip, 1)
				return err == nil && res.Received == 1
			}) {
				t.Fatalf("no traffic within 20 s of the cut; client log:\n%s", lastLines(g1.proc.Log(), 15))
			}
			t.Logf("the real vpnserver ended the session; traffic again %v after the cut (%d logins)",
				time.Since(cut).Round(100*time.Millisecond), strings.Count(g1.proc.Log(), "Now connected"))
		} else {
			// The session carries on while the connections come back.
			res, err := c1.ns.Ping(c2.ip, 10)
			if err != nil || res.Received < 9 {
				t.Errorf("ping during the recovery: %+v %v", res, err)
			}
			if c := strings.Count(g1.proc.Log(), "Now connected"); c != 1 {
				t.Errorf("the client logged in %d times: the cut should not end the session", c)
			}
		}
		if n := g1.waitConns(8, 15*time.Second); n != 8 {
			t.Errorf("%d connections after cutting 3, want 8 again", n)
		} else {
			t.Logf("8 connections again %v after the cut", time.Since(cut).Round(100*time.Millisecond))
		}
		checkPingAndTransfer(t, r, c1, c2)
		g1.stop(t)
		g2.stop(t)
	})
}
