package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

const (
	l3Port = 25660
	l3HubA = "L3A"
	l3HubB = "L3B"
)

// TestL3Switch: two hubs, a vpnclient on each with a static address in its
// own subnet and a default route to the switch. The real vpncmd creates a
// virtual layer-3 switch with an interface on each hub and starts it; then
// ping and a TCP transfer cross it, RouterList shows it online (the same
// tables through ethervpn cmd), and RouterStop cuts the path again.
func TestL3Switch(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	srv := r.StartServer(kind, &testrig.ServerConfig{
		Port: l3Port, AdminPassword: adminPW,
		Hubs: []testrig.HubConfig{
			{Name: l3HubA, Password: "hubpw", Users: []testrig.UserConfig{{Name: "user1", Password: password}}},
			{Name: l3HubB, Password: "hubpw", Users: []testrig.UserConfig{{Name: "user2", Password: password}}},
		},
	})
	c1 := &peer{ns: r.AddClient(), ip: "10.71.1.10"}
	c2 := &peer{ns: r.AddClient(), ip: "10.71.2.10"}
	c1.cli = r.StartClient(c1.ns, "r1")
	c2.cli = r.StartClient(c2.ns, "r2")
	c1.connect(t, srv, account(l3HubA, "user1"))
	c2.connect(t, srv, account(l3HubB, "user2"))
	mustRun(t, c1.ns, "ip", "route", "add", "default", "via", "10.71.1.1", "dev", c1.cli.TAP())
	mustRun(t, c2.ns, "ip", "route", "add", "default", "via", "10.71.2.1", "dev", c2.cli.TAP())

	admin := func(lines ...string) []cmdOutput {
		t.Helper()
		return vpncmd(t, r, l3Port, []string{"/PASSWORD:" + adminPW}, lines...)
	}
	for _, c := range admin(
		"RouterAdd r1",
		"RouterIfAdd r1 /HUB:"+l3HubA+" /IP:10.71.1.1/255.255.255.0",
		"RouterIfAdd r1 /HUB:"+l3HubB+" /IP:10.71.2.1/255.255.255.0",
		"RouterTableAdd r1 /NETWORK:10.99.0.0/255.255.0.0 /GATEWAY:10.71.2.254 /METRIC:1",
		"RouterStart r1",
	) {
		if !c.OK() {
			t.Fatalf("vpncmd %s failed:\n%s\nserver log:\n%s", c.Line, c.Text, srv.LogTail(10))
		}
	}
	waitPing(t, c1, c2.ip, 20*time.Second, srv)
	ping(t, c1, c2.ip, 5, false)
	ping(t, c2, c1.ip, 5, false)
	ping(t, c1, "10.71.2.1", 3, false) // the far interface of the switch answers
	if _, err := r.Transfer(c1.ns, c2.ns, c2.ip, 4<<20); err != nil {
		t.Errorf("TCP c1 -> c2 across the switch: %v", err)
	}
	if _, err := r.Transfer(c2.ns, c1.ns, c1.ip, 4<<20); err != nil {
		t.Errorf("TCP c2 -> c1 across the switch: %v", err)
	}

	cmds := admin("RouterList", "RouterIfList r1", "RouterTableList r1", "RouterIfAdd r1 /HUB:X /IP:10.71.3.1/255.255.255.0")
	list := byCommand(t, cmds, "RouterList")
	if !strings.Contains(list.Text, "r1                 |Start (Running)|         2|             1\n") {
		t.Errorf("RouterList:\n%s", list.Text)
	}
	// ethervpn cmd prints the same tables as vpncmd, whichever server.
	bin := testrig.EthervpnBinary(t)
	for _, c := range cmds[:3] {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		argv := r.Server.Cmd(append([]string{bin, "cmd", "127.0.0.1:" + strconv.Itoa(l3Port), "/SERVER",
			"/PASSWORD:" + adminPW, "/CMD"}, strings.Fields(c.Line)...)...)
		out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		cancel()
		if !strings.Contains(string(out), strings.TrimSpace(c.Text)) {
			t.Errorf("ethervpn cmd %s:\n%s\nvpncmd:\n%s", c.Line, out, c.Text)
		}
	}
	if l := byCommand(t, cmds, "RouterIfList"); !strings.Contains(l.Text, "10.71.1.1") || !strings.Contains(l.Text, l3HubB) {
		t.Errorf("RouterIfList:\n%s", l.Text)
	}
	if l := byCommand(t, cmds, "RouterTableList"); !strings.Contains(l.Text, "10.99.0.0") || !strings.Contains(l.Text, "10.71.2.254") {
		t.Errorf("RouterTableList:\n%s", l.Text)
	}
	if l := byCommand(t, cmds, "RouterIfAdd"); !strings.Contains(l.Text, "Error code: 95") {
		t.Errorf("RouterIfAdd on a running switch:\n%s", l.Text)
	}

	for _, c := range admin("RouterStop r1") {
		if !c.OK() {
			t.Fatalf("vpncmd %s failed:\n%s", c.Line, c.Text)
		}
	}
	ping(t, c1, c2.ip, 3, true)
	for _, c := range admin("RouterDelete r1", "RouterList") {
		if !c.OK() {
			t.Errorf("vpncmd %s failed:\n%s", c.Line, c.Text)
		}
	}
}
