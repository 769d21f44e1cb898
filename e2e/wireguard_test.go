package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
	"github.com/ethervpn/ethervpn/internal/wireguard"
)

// WireGuard: the real wireguard-go and wg(8) from Debian, in a client
// namespace, with a key that WireGuardKeyList maps to a hub user and a
// static address inside SecureNAT's subnet, as SoftEther's WireGuard
// server expects its clients (Proto_WireGuard.c: the session's address is
// the source of the first packet). The client pings SecureNAT's virtual
// host and fetches a page from the wan host through SecureNAT's NAT; a
// key that is not in the list gets nothing. OpenVPN stays off: the UDP
// port is open for WireGuard alone.

const (
	wgPort    = 25810 // the SSL-VPN listener
	wgUDPPort = 25811 // PortsUDP
	wgHub     = "WGHUB"
	wgUser    = "wguser"
)

func TestWireGuardClient(t *testing.T) {
	testrig.Require(t)
	for _, p := range []string{"wireguard-go", "wg"} {
		if _, err := exec.LookPath(p); err != nil {
			msg := "the WireGuard e2e test needs wireguard-go and wg (apt-get install wireguard-go wireguard-tools)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	if testrig.SelectedServer(t) != testrig.Ethervpn {
		t.Skip("the WireGuard e2e test runs against ethervpn only (SoftEther 5.01 has no WireGuard)")
	}
	serverKey, clientKey, strangerKey := wgKey(t), wgKey(t), wgKey(t)

	r := testrig.New(t)
	wan := r.AddWAN() // before the server: it reads resolv.conf at start
	cfg := string((&testrig.ServerConfig{
		Port:          wgPort,
		AdminPassword: adminPW,
		Hubs: []testrig.HubConfig{{
			Name: wgHub, Password: "hubpw",
			Users:     []testrig.UserConfig{{Name: wgUser, Password: password}},
			SecureNAT: &testrig.SecureNATConfig{},
		}},
	}).Render())
	cfg = strings.Replace(cfg, "string PortsUDP $", fmt.Sprintf("string PortsUDP %d", wgUDPPort), 1)
	cfg = strings.Replace(cfg, "\t\tdeclare Proto\r\n\t\t{\r\n", "\t\tdeclare Proto\r\n\t\t{\r\n"+
		"\t\t\tdeclare WireGuard\r\n\t\t\t{\r\n\t\t\t\tbool Enabled true\r\n\t\t\t\tstring PresharedKey $\r\n"+
		"\t\t\t\tstring PrivateKey "+serverKey.String()+"\r\n\t\t\t}\r\n", 1)
	cfg = strings.Replace(cfg, "\tdeclare ServerConfiguration\r\n", "\tdeclare WireGuardKeyList\r\n\t{\r\n"+
		"\t\tdeclare "+clientKey.PublicKey().String()+"\r\n\t\t{\r\n\t\t\tstring Hub "+wgHub+"\r\n\t\t\tstring User "+wgUser+"\r\n\t\t}\r\n\t}\r\n"+
		"\tdeclare ServerConfiguration\r\n", 1)
	if !strings.Contains(cfg, "declare WireGuard\r\n") || !strings.Contains(cfg, "declare WireGuardKeyList") || !strings.Contains(cfg, fmt.Sprint(wgUDPPort)) {
		t.Fatal("the rig's configuration no longer has the places this test edits")
	}
	srv := r.StartServerText(testrig.Ethervpn, wgPort, adminPW, []byte(cfg))
	blob := r.StartHTTPServer(wan, 256<<10)

	t.Run("Known", func(t *testing.T) {
		ns := r.AddClient()
		wgUp(t, r, srv, ns, clientKey, serverKey.PublicKey(), "192.168.30.50")
		// One lost reply is tolerated: the first waits for the handshake.
		res, err := ns.Ping(testrig.SecureNATIP, 5)
		if err != nil || res.Received < 4 {
			t.Fatalf("ping %s through WireGuard: %d of %d replies, %v\nserver log:\n%s", testrig.SecureNATIP, res.Received, res.Sent, err, srv.LogTail(30))
		}
		out := filepath.Join(t.TempDir(), "blob")
		url := fmt.Sprintf("http://%s:%d/blob", testrig.WANHostIP, testrig.HTTPPort)
		if msg, err := ns.Run(30*time.Second, "curl", "-sSf", "--max-time", "20", "-o", out, url); err != nil {
			t.Fatalf("curl %s through WireGuard and SecureNAT: %v %s", url, err, msg)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, blob) {
			t.Fatalf("the page fetched through WireGuard differs (%d bytes, want %d)", len(got), len(blob))
		}
		if !strings.Contains(srv.LogTail(200), "SID-"+strings.ToUpper(wgUser)+"-[WIREGUARD]-") {
			t.Errorf("the server log names no session SID-%s-[WIREGUARD]-n", strings.ToUpper(wgUser))
		}
	})

	t.Run("UnknownKey", func(t *testing.T) {
		ns := r.AddClient()
		wgUp(t, r, srv, ns, strangerKey, serverKey.PublicKey(), "192.168.30.51")
		if res, _ := ns.Ping(testrig.SecureNATIP, 3); res.Received != 0 {
			t.Fatalf("a key not in WireGuardKeyList got %d ping replies", res.Received)
		}
		out, _ := ns.Run(10*time.Second, "wg", "show", "wg0", "latest-handshakes")
		if f := strings.Fields(out); len(f) != 2 || f[1] != "0" {
			t.Fatalf("a key not in WireGuardKeyList completed a handshake: %q", out)
		}
	})
}

// wgKey makes a Curve25519 private key, clamped as wg genkey does.
func wgKey(t *testing.T) wireguard.Key {
	var k wireguard.Key
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return k
}

// wgUp runs wireguard-go in ns as wg0 with key, the server as its one
// peer (AllowedIPs 0.0.0.0/0), the static address addr/24, and a route to
// the wan host through the tunnel.
func wgUp(t *testing.T, r *testrig.Rig, srv *testrig.Server, ns *testrig.Netns, key, server wireguard.Key, addr string) {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "private.key")
	if err := os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// wireguard-go refuses to run where the kernel has WireGuard unless
	// told that userspace is wanted.
	testrig.StartProc(t, "wireguard-go "+ns.Name, filepath.Join(dir, "wireguard-go.log"),
		ns.Cmd("env", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "LOG_LEVEL=verbose", "wireguard-go", "-f", "wg0")...)
	if !waitUntil(10*time.Second, func() bool {
		_, err := ns.Run(5*time.Second, "ip", "link", "show", "wg0")
		return err == nil
	}) {
		b, _ := os.ReadFile(filepath.Join(dir, "wireguard-go.log"))
		t.Fatalf("wireguard-go made no wg0 in 10 s:\n%s", b)
	}
	for _, cmd := range [][]string{
		{"wg", "set", "wg0", "private-key", keyFile, "peer", server.String(),
			"endpoint", fmt.Sprintf("%s:%d", ns.ServerIP, wgUDPPort), "allowed-ips", "0.0.0.0/0"},
		{"ip", "addr", "add", addr + "/24", "dev", "wg0"},
		{"ip", "link", "set", "wg0", "mtu", "1420", "up"},
		{"ip", "route", "add", testrig.WANHostIP + "/32", "dev", "wg0"},
	} {
		if out, err := ns.Run(10*time.Second, cmd...); err != nil {
			t.Fatalf("%s: %v %s", strings.Join(cmd, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := ns.Run(5*time.Second, "wg", "show", "wg0")
			b, _ := os.ReadFile(filepath.Join(dir, "wireguard-go.log"))
			t.Logf("wg show:\n%s\nwireguard-go log (tail):\n%s\nserver log:\n%s", out, lastN(string(b), 30), srv.LogTail(30))
		}
	})
}

func lastN(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
