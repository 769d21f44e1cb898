package config

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// Debian's SoftEther 5.01 binaries.
const (
	realServerBin = "/usr/libexec/softether/vpnserver/vpnserver"
	realCmdBin    = "/usr/libexec/softether/vpncmd/vpncmd"
	realHamcore   = "/usr/share/softether-common/hamcore.se2"
)

// needRealServer skips (or, in CI, fails) when the real vpnserver cannot
// be run here: it needs root (network and mount namespaces) and the
// Debian packages softether-vpnserver and softether-vpncmd.
func needRealServer(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, p := range []string{realServerBin, realCmdBin, realHamcore} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for _, p := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "real SoftEther interop test needs " + strings.Join(missing, ", ") +
		" (apt-get install softether-vpnserver softether-vpncmd, run as root)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// realServer is a real vpnserver running in its own network namespace
// (only a loopback) and a private mount namespace whose
// /var/lib/softether is base/db, so it reads and writes our config file.
type realServer struct {
	t    *testing.T
	ns   string
	base string
	cmd  *exec.Cmd
}

// seExec runs argv inside the namespace with SoftEther's compiled-in state
// directories bind-mounted from base (the same trick as the rig's se-exec).
func (r *realServer) seExec(argv ...string) *exec.Cmd {
	script := `b=$1; shift
mkdir -p /var/lib/softether /var/log/softether /run/softether
mount --bind "$b/db" /var/lib/softether
mount --bind "$b/log" /var/log/softether
mount --bind "$b/run" /run/softether
exec "$@"`
	args := append([]string{"netns", "exec", r.ns, "unshare", "-m", "--propagation", "private",
		"sh", "-c", script, "se-exec", r.base}, argv...)
	return exec.Command("ip", args...)
}

var realServers atomic.Int32

func startRealServer(t *testing.T, base string) *realServer {
	// one namespace per server: a test may run two (one after the other)
	r := &realServer{t: t, ns: fmt.Sprintf("cfgtest-%d-%d", os.Getpid(), realServers.Add(1)), base: base}
	for _, d := range []string{"db", "log", "run", "bin"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for src, dst := range map[string]string{realServerBin: "vpnserver", realCmdBin: "vpncmd", realHamcore: "hamcore.se2"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, "bin", dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("ip", "netns", "add", r.ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	// the namespace's resolver leads nowhere: nothing may leave the machine
	etc := filepath.Join("/etc/netns", r.ns)
	os.MkdirAll(etc, 0o755)
	os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644)
	t.Cleanup(func() {
		r.stop()
		exec.Command("ip", "netns", "del", r.ns).Run()
		os.RemoveAll(etc)
	})
	if out, err := exec.Command("ip", "netns", "exec", r.ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	r.cmd = r.seExec(filepath.Join(base, "bin", "vpnserver"), "start", "--foreground")
	r.cmd.Stdout, r.cmd.Stderr = nil, nil
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// wait until the admin RPC answers on 127.0.0.1:5555 inside the netns
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := r.vpncmd("/CMD", "ServerInfoGet"); err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatal("the real vpnserver did not answer within 30 s")
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (r *realServer) vpncmd(args ...string) (string, error) {
	argv := append([]string{filepath.Join(r.base, "bin", "vpncmd"), "127.0.0.1:5555", "/SERVER"}, args...)
	out, err := r.seExec(argv...).CombinedOutput()
	return string(out), err
}

// stop ends the server with SIGTERM (it saves its config on the way out).
func (r *realServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// A configuration written by this package loads in the real vpnserver.
func TestRealServerLoadsOurConfig(t *testing.T) {
	needRealServer(t)
	s := Default()
	// only 5555, on loopback inside the test's namespace anyway
	s.Listeners = []Listener{{Port: 5555, Enabled: true}}
	h := NewHub("ETHER")
	u := NewUser("dave")
	u.RealName = "Dave Test"
	u.AuthType = 1
	pw := sha0.HashPassword("dave", "davepw")
	u.PasswordHash = pw[:]
	h.Users = append(h.Users, u)
	h.SecureNAT.MAC = net.HardwareAddr{0x00, 0xAC, 0x11, 0x22, 0x33, 0x44}
	s.Hubs = append(s.Hubs, h)
	// native protocol settings 5.01 knows (it has no WireGuard, no
	// PingSendInterval and no Timeout)
	s.PortsUDP = []uint16{1194, 5555}
	s.Proto.OpenVPN.Enabled, s.Proto.OpenVPN.Obfuscation = false, true
	s.Proto.OpenVPN.ObfuscationMask, s.Proto.OpenVPN.DefaultClientOption = "mask1", "dev-type tap"
	s.Proto.OpenVPN.PushDummyIPv4AddressOnL2Mode = false
	s.Proto.SSTP.Enabled = false
	// and the HEAD-only WireGuard items, which 5.01 ignores
	if _, err := s.EnsureWireGuardKey(); err != nil {
		t.Fatal(err)
	}
	s.WireGuardKeys = []WireGuardKey{{Key: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", Hub: "ETHER", User: "dave"}}

	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(base, "db", "vpn_server.config")
	if err := Save(cfg, s.ToTree()); err != nil {
		t.Fatal(err)
	}

	r := startRealServer(t, base)
	out, err := r.vpncmd("/CMD", "HubList")
	if err != nil || !strings.Contains(out, "ETHER") || !strings.Contains(out, "DEFAULT") {
		t.Fatalf("HubList: %v\n%s", err, out)
	}
	out, err = r.vpncmd("/HUB:ETHER", "/CMD", "UserGet", "dave")
	if err != nil || !strings.Contains(out, "Dave Test") || !strings.Contains(out, "Password Authentication") {
		t.Fatalf("UserGet dave: %v\n%s", err, out)
	}
	out, err = r.vpncmd("/HUB:ETHER", "/CMD", "SecureNatHostGet")
	if err != nil || !strings.Contains(out, "00-AC-11-22-33-44") {
		t.Fatalf("SecureNatHostGet: %v\n%s", err, out)
	}
	r.stop()

	// the real server wrote the file back; our user and hash are intact
	root, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.CertDER) == 0 {
		t.Fatal("the file was not rewritten by the real server (it would have added a certificate)")
	}
	bh := back.Hub("ETHER")
	if bh == nil || bh.User("dave") == nil || !bytes.Equal(bh.User("dave").PasswordHash, pw[:]) {
		t.Fatalf("the real server's rewrite lost our hub or user")
	}
	if ov := back.Proto.OpenVPN; ov.Enabled || !ov.Obfuscation || ov.ObfuscationMask != "mask1" ||
		ov.DefaultClientOption != "dev-type tap" || ov.PushDummyIPv4AddressOnL2Mode || back.Proto.SSTP.Enabled {
		t.Fatalf("the real server's rewrite changed the protocol options: %+v", back.Proto)
	}
	if !slices.Equal(back.PortsUDP, []uint16{1194, 5555}) {
		t.Fatalf("the real server's rewrite has PortsUDP %v", back.PortsUDP)
	}
}
