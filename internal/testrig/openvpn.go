package testrig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// RequireOpenVPN returns the path of the real openvpn program (Debian
// openvpn 2.6) and checks that this process may make namespaces and tun
// devices. Without either the test skips, naming what is missing, or
// fails when CI=true.
func RequireOpenVPN(t testing.TB) string {
	t.Helper()
	var miss []string
	path, err := exec.LookPath("openvpn")
	if err != nil {
		miss = append(miss, "the openvpn program (apt-get install openvpn)")
	}
	if os.Geteuid() != 0 {
		miss = append(miss, "root (network namespaces, tun devices)")
	}
	if len(miss) == 0 {
		return path
	}
	msg := "the OpenVPN test needs " + strings.Join(miss, " and ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// OpenVPN is the real openvpn program running in a network namespace
// with a configuration file of the test's. It is stopped on cleanup.
type OpenVPN struct {
	Proc *Proc
	// Config is the configuration file it runs with.
	Config string
}

// StartOpenVPN writes config to dir/name.ovpn and runs openvpn (bin) with
// it inside the namespace called ns; its output goes to dir/name.log.
func StartOpenVPN(t TB, bin, ns, dir, name string, config []byte) *OpenVPN {
	t.Helper()
	conf := filepath.Join(dir, name+".ovpn")
	if err := os.WriteFile(conf, config, 0o600); err != nil {
		t.Fatalf("testrig: %v", err)
	}
	p := StartProc(t, "openvpn "+name, filepath.Join(dir, name+".log"),
		"ip", "netns", "exec", ns, bin, "--config", conf)
	p.StopGrace = 5 * time.Second
	return &OpenVPN{Proc: p, Config: conf}
}

// WaitLog waits until the client's output holds s; it gives up early
// when the client exits.
func (o *OpenVPN) WaitLog(s string, timeout time.Duration) bool {
	found := false
	waitFor(timeout, 100*time.Millisecond, func() bool {
		found = strings.Contains(o.Proc.Log(), s)
		return found || o.Proc.Exited()
	})
	return found || strings.Contains(o.Proc.Log(), s)
}

// WaitUp waits for "Initialization Sequence Completed": the tunnel is up
// and the pushed options are applied. It gives up at once when the
// client exits or cannot apply what the server pushed (it would only
// retry the same way).
func (o *OpenVPN) WaitUp(timeout time.Duration) error {
	const up, refused = "Initialization Sequence Completed", "ERROR: Failed to apply push options"
	waitFor(timeout, 100*time.Millisecond, func() bool {
		log := o.Proc.Log()
		return strings.Contains(log, up) || strings.Contains(log, refused) || o.Proc.Exited()
	})
	log := o.Proc.Log()
	switch {
	case strings.Contains(log, up):
		return nil
	case strings.Contains(log, refused):
		return fmt.Errorf("openvpn refused the pushed options:\n%s", lastLines(log, 30))
	case o.Proc.Exited():
		return fmt.Errorf("openvpn exited before the tunnel was up:\n%s", lastLines(log, 30))
	}
	return fmt.Errorf("openvpn did not complete its initialization in %v:\n%s", timeout, lastLines(log, 30))
}

// Stop stops the client (SIGTERM: it tells the server it leaves).
func (o *OpenVPN) Stop() { _ = o.Proc.Stop(o.Proc.StopGrace) }

// DataCipher is the data-channel cipher the client says it uses ("" if
// it has said none yet).
func (o *OpenVPN) DataCipher() string {
	m := dataCipherLine.FindAllStringSubmatch(o.Proc.Log(), -1)
	if m == nil {
		return ""
	}
	return m[len(m)-1][1]
}

// dataCipherLine is openvpn 2.6's report of the negotiated cipher, e.g.
// "Data Channel: cipher 'AES-256-GCM', peer-id: 0".
var dataCipherLine = regexp.MustCompile(`Data Channel: cipher '([^']+)'`)

// RewriteOpenVPNRemote replaces the host of every "remote HOST PORT" line
// of an OpenVPN configuration with host (the address the test's client
// reaches the server by) and keeps the rest; with no remote line it is an
// error. auth, when not empty, makes "auth-user-pass" read that file.
func RewriteOpenVPNRemote(config []byte, host, auth string) ([]byte, error) {
	lines := strings.Split(string(config), "\n")
	n := 0
	for i, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[0] == "remote":
			f[1] = host
			lines[i] = strings.Join(f, " ")
			n++
		case len(f) == 1 && f[0] == "auth-user-pass" && auth != "":
			lines[i] = "auth-user-pass " + auth
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("testrig: no remote line in the OpenVPN configuration")
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// Exited is closed when the client has exited.
func (o *OpenVPN) Exited() <-chan struct{} { return o.Proc.done }

// Interrupt sends SIGINT, on which openvpn tells the server it leaves
// (explicit-exit-notify) and exits.
func (o *OpenVPN) Interrupt() { _ = o.Proc.cmd.Process.Signal(os.Interrupt) }
