package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// OpenVPN: the real openvpn 2.6 client (AES-256-GCM, a hub user's name
// and password) joins a hub of ethervpn over UDP (a PortsUDP port) and
// over TCP (the SSL-VPN listener); with tun it gets its address from
// SecureNAT's DHCP server through the server's layer-3 adapter, with tap
// from the same server over the bridged tap; it pings SecureNAT's virtual
// host. A wrong password gets AUTH_FAILED.

const (
	ovpnPort    = 25800 // the SSL-VPN listener
	ovpnUDPPort = 25801 // PortsUDP
	ovpnHub     = "OVPNHUB"
	ovpnUser    = "ovpnuser"
)

func TestOpenVPNClient(t *testing.T) {
	testrig.Require(t)
	bin := testrig.RequireOpenVPN(t)
	if testrig.SelectedServer(t) != testrig.Ethervpn {
		t.Skip("the OpenVPN e2e test runs against ethervpn only")
	}
	r := testrig.New(t)
	srv := r.StartServerText(testrig.Ethervpn, ovpnPort, adminPW, openVPNServerConfig(nil))
	fp := serverFingerprint(t, srv)

	t.Run("UDP", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tun", "udp", ovpnUDPPort, password) })
	t.Run("TCP", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tun", "tcp-client", ovpnPort, password) })
	t.Run("TAP", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tap", "udp", ovpnUDPPort, password) })
	t.Run("WrongPassword", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tun", "udp", ovpnUDPPort, "wrong") })
}

// openVPNServerConfig is the test server's configuration: the hub
// ovpnHub with the user ovpnUser and SecureNAT, the SSL-VPN listener
// ovpnPort, OpenVPN on and UDP on ovpnUDPPort, plus more users.
func openVPNServerConfig(more []testrig.UserConfig) []byte {
	cfg := (&testrig.ServerConfig{
		Port:          ovpnPort,
		AdminPassword: adminPW,
		Hubs: []testrig.HubConfig{{
			Name: ovpnHub, Password: "hubpw",
			Users:     append([]testrig.UserConfig{{Name: ovpnUser, Password: password}}, more...),
			SecureNAT: &testrig.SecureNATConfig{},
		}},
	}).Render()
	// The rig writes OpenVPN off and no UDP port: turn both on.
	cfg = regexp.MustCompile(`PortsUDP \$`).ReplaceAll(cfg, []byte(fmt.Sprintf("PortsUDP %d", ovpnUDPPort)))
	return regexp.MustCompile(`(declare OpenVPN\r\n\s*\{\r\n\s*bool Enabled )false`).ReplaceAll(cfg, []byte("${1}true"))
}

// openVPNCase runs the client in a new namespace over proto and pings
// SecureNAT's host through its tun, or through its tap after a DHCP
// lease taken over the tap itself (the hub bridges its frames).
func openVPNCase(t *testing.T, r *testrig.Rig, srv *testrig.Server, bin, fp, dev, proto string, port int, pass string) {
	ns := r.AddClient()
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.txt")
	os.WriteFile(auth, []byte(ovpnUser+"@"+ovpnHub+"\n"+pass+"\n"), 0o600)
	conf := []string{"client", "dev " + dev, "proto " + proto, fmt.Sprintf("remote %s %d", ns.ServerIP, port), "nobind",
		"peer-fingerprint " + fp, "auth-user-pass " + auth, "data-ciphers AES-256-GCM",
		"verb 3", "connect-retry 1", "auth-retry none", "pull"}
	o := testrig.StartOpenVPN(t, bin, ns.Name, dir, "client", []byte(strings.Join(conf, "\n")+"\n"))
	defer func() {
		o.Stop()
		if t.Failed() {
			t.Logf("client log:\n%s\nserver log:\n%s", o.Proc.Log(), srv.LogTail(30))
		}
	}()

	if pass != password {
		if !o.WaitLog("AUTH_FAILED", 20*time.Second) {
			t.Fatal("a wrong password was not answered with AUTH_FAILED in 20 s")
		}
		return
	}
	if err := o.WaitUp(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if dev == "tap" {
		lease, err := r.StartDHCP(ns, "tap0", "e2e-ovpn").WaitLease(20 * time.Second)
		if err != nil {
			t.Fatalf("DHCP over the tap: %v", err)
		}
		t.Logf("tap lease %+v", lease)
	}
	out, err := ns.Run(10*time.Second, "ip", "-4", "-o", "addr", "show", "dev", dev+"0")
	if err != nil || !strings.Contains(out, "inet 192.168.30.") {
		t.Fatalf("%s0 has no address from SecureNAT's DHCP (192.168.30.x): %q %v", dev, out, err)
	}
	// One lost reply is tolerated: the first may wait for ARP.
	res, err := ns.Ping(testrig.SecureNATIP, 4)
	if err != nil || res.Received < 3 {
		t.Fatalf("ping %s through the tunnel: %d of %d replies, %v", testrig.SecureNATIP, res.Received, res.Sent, err)
	}
}

// serverFingerprint is the SHA-256 fingerprint of the server's own
// certificate (written to its configuration at the first start), which
// the client pins with peer-fingerprint.
func serverFingerprint(t *testing.T, srv *testrig.Server) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(srv.DataDir, "vpn_server.config"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`byte ServerCert (\S+)`).FindSubmatch(text)
	if m == nil {
		t.Fatal("no ServerCert in the server's configuration")
	}
	der, err := base64.StdEncoding.DecodeString(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hex, ":")
}

// TestOpenVPNConfigFile: the files OpenVpnMakeConfig makes work as they
// are. The real vpncmd 5.01 fetches the zip twice, with a UDP port (a
// udp file) and with none (a tcp file on the SSL-VPN listener); the real
// openvpn 2.6 client runs each tun and tap file, only its remote line
// pointed at the client namespace's way to the server and auth-user-pass
// at a file; it gets an address from SecureNAT's DHCP, pings the virtual
// host and fetches a page from the wan host through SecureNAT. Then an
// OpenVPN client and the real vpnclient on the same hub ping each other.
// With ETHERVPN_E2E_SERVER=softether all of it runs against the real
// vpnserver 5.01, which checks the test.
func TestOpenVPNConfigFile(t *testing.T) {
	testrig.Require(t)
	bin := testrig.RequireOpenVPN(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	wan := r.AddWAN() // before the server: it reads resolv.conf at start
	const vpnclientUser = "sevpnuser"
	srv := r.StartServerText(kind, ovpnPort, adminPW,
		openVPNServerConfig([]testrig.UserConfig{{Name: vpnclientUser, Password: password}}))
	blob := r.StartHTTPServer(wan, 256<<10)

	files := map[string]map[string][]byte{ // proto, dev: the file
		"udp": fetchOpenVPNConfig(t, r, "udp", nil),
		"tcp": fetchOpenVPNConfig(t, r, "tcp", []string{"PortsUDPSet 0"}),
	}
	// the UDP port back for the udp files
	if c := vpncmd(t, r, ovpnPort, []string{"/PASSWORD:" + adminPW}, fmt.Sprintf("PortsUDPSet %d", ovpnUDPPort)); len(c) == 0 || !c[0].OK() {
		t.Fatalf("PortsUDPSet %d: %+v", ovpnUDPPort, c)
	}
	for proto, byDev := range files {
		for dev, f := range byDev {
			if want := fmt.Sprintf("proto %s", proto); !strings.Contains(string(f), want) {
				t.Errorf("the %s %s file lacks %q:\n%s", proto, dev, want, f)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, proto := range []string{"udp", "tcp"} {
		for _, dev := range []string{"tun", "tap"} {
			t.Run(strings.ToUpper(proto+"-"+dev), func(t *testing.T) {
				ns := r.AddClient()
				o := startOpenVPNFile(t, r, srv, bin, ns, files[proto][dev])
				defer o.Stop()
				ip := openVPNAddress(t, r, ns, dev)
				t.Logf("%s %s: address %s, data cipher %s", proto, dev, ip, o.DataCipher())
				res, err := ns.Ping(testrig.SecureNATIP, 4)
				if err != nil || res.Received < 3 { // the first may wait for ARP
					t.Fatalf("ping %s through the tunnel: %d of %d replies, %v", testrig.SecureNATIP, res.Received, res.Sent, err)
				}
				out := filepath.Join(ns.Dir, "blob")
				url := fmt.Sprintf("http://%s:%d/blob", testrig.WANHostIP, testrig.HTTPPort)
				if _, err := ns.Run(30*time.Second, "curl", "-sSf", "--max-time", "20", "-o", out, url); err != nil {
					t.Fatalf("GET %s through SecureNAT: %v", url, err)
				}
				if got, _ := os.ReadFile(out); !bytes.Equal(got, blob) {
					t.Fatalf("GET %s: %d bytes that differ from the %d served", url, len(got), len(blob))
				}
			})
		}
	}

	// An OpenVPN client (tun, UDP) and the real vpnclient on the same hub
	// reach each other.
	t.Run("WithVpnclient", func(t *testing.T) {
		ons := r.AddClient()
		o := startOpenVPNFile(t, r, srv, bin, ons, files["udp"]["tun"])
		defer o.Stop()
		oip := openVPNAddress(t, r, ons, "tun")

		vns := r.AddClient()
		cli := r.StartClient(vns, "n1")
		connect(t, cli, srv, account(ovpnHub, vpnclientUser))
		lease, err := r.StartDHCP(vns, cli.TAP(), "e2e-sevpn").WaitLease(20 * time.Second)
		if err != nil {
			t.Fatalf("vpnclient's DHCP: %v\nserver log: %s", err, srv.LogTail(10))
		}
		t.Logf("openvpn %s, vpnclient %s", oip, lease.IP)
		for _, c := range []struct {
			from *testrig.Netns
			to   string
		}{{ons, lease.IP}, {vns, oip}} {
			res, err := c.from.Ping(c.to, 4)
			if err != nil || res.Received < 3 {
				t.Errorf("ping %s from %s: %d of %d replies, %v", c.to, c.from.Name, res.Received, res.Sent, err)
			}
		}
	})
}

// fetchOpenVPNConfig runs the vpncmd commands before, then the real
// vpncmd's OpenVpnMakeConfig, and returns the zip's tun and tap files.
func fetchOpenVPNConfig(t *testing.T, r *testrig.Rig, name string, before []string) map[string][]byte {
	t.Helper()
	// "$" puts the file in vpncmd's db directory (SoftEther FileIO.c,
	// InnerFilePathW), which the rig mounts from dir/db; a name that
	// starts with "/" would read as a /NAME: option.
	lines := append(before, "OpenVpnMakeConfig $"+name)
	cmds := vpncmd(t, r, ovpnPort, []string{"/PASSWORD:" + adminPW}, lines...)
	if len(cmds) < len(lines) || !strings.Contains(cmds[len(lines)-1].Text, "The sample setting file was saved") {
		t.Fatalf("vpncmd %q: %+v", lines, cmds)
	}
	zr, err := zip.OpenReader(filepath.Join(r.Server.Dir, "vpncmd-admin", "db", name+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		dev := ""
		switch {
		case strings.HasSuffix(f.Name, "_openvpn_remote_access_l3.ovpn"):
			dev = "tun"
		case strings.HasSuffix(f.Name, "_openvpn_site_to_site_bridge_l2.ovpn"):
			dev = "tap"
		default:
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[dev], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("OpenVpnMakeConfig (%s): %v", name, names)
	if out["tun"] == nil || out["tap"] == nil || !slices.Contains(names, "readme.txt") {
		t.Fatalf("the zip holds %v: want readme.txt, *_openvpn_remote_access_l3.ovpn and *_openvpn_site_to_site_bridge_l2.ovpn", names)
	}
	return out
}

// startOpenVPNFile runs the openvpn client in ns with a file of
// OpenVpnMakeConfig: only its remote line points at ns's way to the
// server and auth-user-pass at a file with ovpnUser's name and password.
func startOpenVPNFile(t *testing.T, r *testrig.Rig, srv *testrig.Server, bin string, ns *testrig.Netns, file []byte) *testrig.OpenVPN {
	t.Helper()
	auth := filepath.Join(ns.Dir, "auth.txt")
	// "HUB\user": the real vpnserver 5.01 splits "user@HUB" only when its
	// configuration names UsernameHubSeparator (its Cedar starts with no
	// separator; later versions default to "@"), and the rig's does not
	if err := os.WriteFile(auth, []byte(ovpnHub+"\\"+ovpnUser+"\n"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := testrig.RewriteOpenVPNRemote(file, ns.ServerIP, auth)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Kind == testrig.SoftEther {
		// 5.01's file names "cipher AES-128-CBC" but no data-ciphers, and
		// 5.01 negotiates no cipher (NCP): openvpn 2.6 ignores --cipher
		// and gives up ("failed to negotiate cipher with server"). Later
		// SoftEther samples add this line (SoftEtherVPN issue 1490).
		conf = append(conf, []byte("\ndata-ciphers AES-128-CBC\n")...)
	}
	o := testrig.StartOpenVPN(t, bin, ns.Name, ns.Dir, "client", conf)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("client log:\n%s\nserver log:\n%s", o.Proc.Log(), srv.LogTail(30))
		}
	})
	if err := o.WaitUp(40 * time.Second); err != nil {
		t.Fatal(err)
	}
	return o
}

// openVPNAddress returns the client's address from SecureNAT's DHCP
// server: pushed to a tun by the server, taken over a tap by a DHCP
// client. Either way the client's default route then goes through the
// tunnel (the test namespaces have none of their own).
func openVPNAddress(t *testing.T, r *testrig.Rig, ns *testrig.Netns, dev string) string {
	t.Helper()
	ifc := dev + "0"
	if dev == "tap" {
		lease, err := r.StartDHCP(ns, ifc, "e2e-ovpn").WaitLease(20 * time.Second)
		if err != nil {
			t.Fatalf("DHCP over the tap: %v", err)
		}
		return lease.IP
	}
	out, err := ns.Run(10*time.Second, "ip", "-4", "-o", "addr", "show", "dev", ifc)
	m := regexp.MustCompile(`inet (192\.168\.30\.\d+)/`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("%s has no address from SecureNAT's DHCP (192.168.30.x): %q %v", ifc, out, err)
	}
	if _, err := ns.Run(10*time.Second, "ip", "route", "replace", "default", "dev", ifc); err != nil {
		t.Fatal(err)
	}
	return m[1]
}
