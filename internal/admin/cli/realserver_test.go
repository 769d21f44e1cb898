package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestAgainstRealVPNServer runs "ethervpn cmd" against the real Debian
// vpnserver 5.01 (isolated in a network namespace by testrig): the client
// side of the admin RPC, the password hashes and the output formats must
// all be right for these commands to work and show what they show.
func TestAgainstRealVPNServer(t *testing.T) { testServerKind(t, testrig.SoftEther) }

// TestAgainstEthervpn runs the same script against ethervpn's own server.
func TestAgainstEthervpn(t *testing.T) { testServerKind(t, testrig.Ethervpn) }

func testServerKind(t *testing.T, kind testrig.ServerKind) {
	if testing.Short() {
		t.Skip("starts a VPN server; skipped with -short")
	}
	testrig.Require(t)
	r := testrig.New(t)
	srv := r.StartServer(kind, &testrig.ServerConfig{
		Port: 5555, AdminPassword: "adminpw",
		Hubs: []testrig.HubConfig{{Name: "HUB1", Password: "hubpass"}},
	})
	defer srv.Stop()
	bin := testrig.EthervpnBinary(t)

	cmd := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		argv := r.Server.Cmd(append([]string{bin, "cmd", "127.0.0.1:5555", "/SERVER"}, args...)...)
		c := exec.CommandContext(ctx, argv[0], argv[1:]...)
		c.Dir = r.Server.Dir
		out, err := c.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("ethervpn cmd %q: %v\n%s", args, err, out)
		}
		return string(out), c.ProcessState.ExitCode()
	}
	expect := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}

	script := strings.Join([]string{
		"ServerInfoGet",
		"HubCreate HUB2 /PASSWORD:hub2pass",
		"HubCreate HUB2 /PASSWORD:x",
		"HubList",
		"Hub hub2",
		"UserCreate u1 /REALNAME:User_One /NOTE:note1",
		"UserPasswordSet u1 /PASSWORD:secret1",
		"UserList",
		"SecureNatEnable",
		"NatSet /MTU:1400 /TCPTIMEOUT:3600 /UDPTIMEOUT:120 /LOG:yes",
		"DhcpSet /START:192.168.40.10 /END:192.168.40.100 /MASK:255.255.255.0 /EXPIRE:3600 /GW:192.168.40.1 /DNS:192.168.40.1 /DNS2:none /DOMAIN:example.local /LOG:yes",
		"NatGet", "DhcpGet", "SessionList", "NatTable", "DhcpTable", "StatusGet",
		"AccessAdd pass /MEMO:web /PRIORITY:20 /SRCIP:0.0.0.0/0 /DESTIP:192.168.0.1/32 /PROTOCOL:tcp /DESTPORT:80-81 /DESTMAC:00-11-22-33-44-55/FF-FF-FF-FF-FF-FF /TCPSTATE:established",
		"AccessList",
		"Flush",
	}, "\n")
	if err := os.WriteFile(filepath.Join(r.Server.Dir, "script.txt"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := cmd("/PASSWORD:adminpw", "/IN:script.txt")
	if code != 0 {
		t.Errorf("exit status %d", code)
	}
	expect(out,
		"Product Name                    |SoftEther VPN Server Developer Edition",
		"Server Type                     |Standalone Server",
		"Error occurred. (Error code: 57)\nThe Virtual Hub with the specified name already exists on the server.",
		"Virtual Hub Name  |HUB1", "Virtual Hub Name  |HUB2",
		`The Virtual Hub "HUB2" has been selected.`,
		"User Name       |u1\nFull Name       |User_One\nGroup Name      |-\nDescription     |note1\nAuth Method     |Password Authentication",
		"MTU Value                      |1400", "TCP Session Timeout (Seconds)  |3600",
		"Start Distribution Address Band|192.168.40.10", "DNS Server Address 2           |None", "Domain Name                    |example.local",
		"SecureNAT                    |Enabled",
		"Action   |Pass\nStatus   |Enable\nPriority |20\n",
		"Contents |(ipv4) DstIPv4=192.168.0.1/32, Protocol=TCP, DstPort=80-81, DstMac=00-11-22-33-44-55/FF-FF-FF-FF-FF-FF, Established\nMemo     |web\n",
		"Saving completed. The file size is ",
	)
	expect(out, "Session Name    |SID-SECURENAT-", "Location        |SecureNAT Session")
	if n := strings.Count(out, "The command completed successfully."); n != 19 {
		t.Errorf("%d commands succeeded, want 19", n)
	}

	// The password hash vpncmd's protocol sends reached the server's file.
	cfg, err := srv.ConfigText()
	if err != nil {
		t.Fatal(err)
	}
	h := sha0.HashPassword("u1", "secret1")
	if !bytes.Contains(cfg, []byte("byte AuthPassword "+base64.StdEncoding.EncodeToString(h[:]))) {
		t.Errorf("vpn_server.config lacks u1's password hash")
	}

	// Hub-admin mode: confined to its hub.
	out, code = cmd("/HUB:HUB2", "/PASSWORD:hub2pass", "/CSV", "/CMD", "HubList")
	if code != 0 || !strings.Contains(out, "\nHUB2,Online,Standalone,1,") || strings.Contains(out, "HUB1") {
		t.Errorf("hub admin HubList: exit %d\n%s", code, out)
	}
	out, code = cmd("/HUB:HUB2", "/PASSWORD:hub2pass", "/CMD", "HubCreate", "X", "/PASSWORD:x")
	if code != 52 {
		t.Errorf("hub admin HubCreate: exit %d, want 52\n%s", code, out)
	}
	// A wrong password, and no keyboard to type another one.
	if out, code = cmd("/PASSWORD:wrong", "/CMD", "HubList"); code != 12 {
		t.Errorf("wrong password: exit %d, want 12\n%s", code, out)
	}
	// Deleting through the CLI.
	if out, code = cmd("/PASSWORD:adminpw", "/CMD", "HubDelete", "HUB2"); code != 0 {
		t.Errorf("HubDelete: exit %d\n%s", code, out)
	}
	out, _ = cmd("/PASSWORD:adminpw", "/CSV", "/CMD", "HubList")
	if strings.Contains(out, "HUB2") || !strings.Contains(out, "HUB1,Online") {
		t.Errorf("HubList after HubDelete:\n%s", out)
	}
}
