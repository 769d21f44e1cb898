package testrig

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Packages are the Debian packages the rig needs (installed by
// scripts/test-all.sh, never by tests).
var Packages = []string{"softether-vpnclient", "softether-vpncmd", "softether-vpnserver", "iperf3", "busybox", "tcpdump", "curl"}

// Missing lists what the rig needs but this machine lacks: root, the ip
// command, and the Debian packages (checked by their programs).
func Missing() []string {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root")
	}
	for _, p := range []string{"ip", "unshare", "iperf3", "busybox", "tcpdump", "curl"} {
		if _, err := exec.LookPath(p); err != nil {
			miss = append(miss, p)
		}
	}
	for pkg, path := range map[string]string{
		"softether-vpnserver": VpnServerPath,
		"softether-vpnclient": VpnClientPath,
		"softether-vpncmd":    VpncmdPath,
	} {
		if _, err := os.Stat(path); err != nil {
			miss = append(miss, pkg)
		}
	}
	return miss
}

// Require skips the test when the rig cannot run here, naming what is
// missing — or fails it when CI=true, so that CI never passes silently.
func Require(t testing.TB) {
	t.Helper()
	miss := Missing()
	if len(miss) == 0 {
		return
	}
	msg := "e2e rig needs " + strings.Join(miss, ", ") +
		" (run scripts/test-all.sh as root; it installs: " + strings.Join(Packages, " ") + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
