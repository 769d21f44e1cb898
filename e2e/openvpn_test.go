package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	bin, err := exec.LookPath("openvpn")
	if err != nil {
		msg := "the OpenVPN e2e test needs the openvpn client (apt-get install openvpn)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if testrig.SelectedServer(t) != testrig.Ethervpn {
		t.Skip("the OpenVPN e2e test runs against ethervpn only")
	}
	r := testrig.New(t)
	cfg := (&testrig.ServerConfig{
		Port:          ovpnPort,
		AdminPassword: adminPW,
		Hubs: []testrig.HubConfig{{
			Name: ovpnHub, Password: "hubpw",
			Users:     []testrig.UserConfig{{Name: ovpnUser, Password: password}},
			SecureNAT: &testrig.SecureNATConfig{},
		}},
	}).Render()
	// The rig writes OpenVPN off and no UDP port: turn both on.
	cfg = regexp.MustCompile(`PortsUDP \$`).ReplaceAll(cfg, []byte(fmt.Sprintf("PortsUDP %d", ovpnUDPPort)))
	cfg = regexp.MustCompile(`(declare OpenVPN\r\n\s*\{\r\n\s*bool Enabled )false`).ReplaceAll(cfg, []byte("${1}true"))
	srv := r.StartServerText(testrig.Ethervpn, ovpnPort, adminPW, cfg)
	fp := serverFingerprint(t, srv)

	t.Run("UDP", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tun", "udp", ovpnUDPPort, password) })
	t.Run("TCP", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tun", "tcp-client", ovpnPort, password) })
	t.Run("TAP", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tap", "udp", ovpnUDPPort, password) })
	t.Run("WrongPassword", func(t *testing.T) { openVPNCase(t, r, srv, bin, fp, "tun", "udp", ovpnUDPPort, "wrong") })
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
	confPath := filepath.Join(dir, "client.ovpn")
	os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	logPath := filepath.Join(dir, "client.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name, bin, "--config", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("client log:\n%s\nserver log:\n%s", b, srv.LogTail(30))
		}
	}()

	if pass != password {
		refused := waitUntil(20*time.Second, func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), "AUTH_FAILED")
		})
		if !refused {
			t.Fatal("a wrong password was not answered with AUTH_FAILED in 20 s")
		}
		return
	}
	up := waitUntil(30*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "Initialization Sequence Completed")
	})
	if !up {
		t.Fatal("the openvpn client did not complete its initialization in 30 s")
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
