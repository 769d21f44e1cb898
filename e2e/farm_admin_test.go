package e2e

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"
	"github.com/ethervpn/ethervpn/internal/server"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestFarmAdminVpncmd points the real vpncmd 5.01 at one node of a
// two-node farm (in-process nodes on loopback, an embedded etcd): its
// Cluster* commands show the farm, hub types are made and changed with
// HubCreateStatic/Dynamic and HubSetDynamic, SecureNAT is refused on a
// static hub, and SessionList shows a session the other node carries.
func TestFarmAdminVpncmd(t *testing.T) {
	testrig.Require(t)
	if testrig.SelectedServer(t) == testrig.SoftEther {
		t.Skip("an ethervpn farm on etcd; the real vpnserver has no counterpart to run this against")
	}
	cli := etcdtest.Start(t)
	seed := config.Default()
	h := config.NewHub("H")
	h.Online, h.Type = true, config.HubDynamic
	hash := sha0.HashPassword("ann", "annpw")
	h.Users = append(h.Users, &config.User{Name: "ann", AuthType: control.AuthPassword, PasswordHash: hash[:]})
	seed.Hubs = append(seed.Hubs, h)
	dirA := t.TempDir()
	if err := config.Save(filepath.Join(dirA, server.ConfigFile), seed.ToTree()); err != nil {
		t.Fatal(err)
	}
	portA := farmAdminNode(t, cli.Endpoints(), "node-a", dirA)
	portB := farmAdminNode(t, cli.Endpoints(), "node-b", t.TempDir())

	// A session of H: the hub is placed on node-b (the later of two idle
	// nodes), so a login at node-a is redirected there.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, conn, err := client.Login(ctx, &client.Options{Server: "127.0.0.1:" + strconv.Itoa(portA), Hub: "H", User: "ann", Password: "annpw"})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer conn.Raw.Close()
	if got := conn.Raw.RemoteAddr().String(); got != "127.0.0.1:"+strconv.Itoa(portB) {
		t.Fatalf("the session reached %s, want node-b", got)
	}
	time.Sleep(2500 * time.Millisecond) // node-b publishes its load and sessions each second

	script := []string{
		"ClusterSettingGet",
		"ClusterMemberList",
		"ClusterConnectionStatusGet",
		"HubCreateStatic ST /PASSWORD:x",
		"HubCreateDynamic DY /PASSWORD:x",
		"Hub ST",
		"SecureNatEnable",
		"Hub",
		"HubSetDynamic ST",
		"HubList",
		"Hub H",
		"SessionList",
	}
	cmds := ranAll(t, farmVpncmd(t, portA, script...), script)
	for i, c := range cmds {
		if want := i != 6; c.OK() != want {
			t.Errorf("%s: completed %v, want %v:\n%s", script[i], c.OK(), want, c.Text)
		}
	}
	if c := cmds[0]; c.Value("Current Configuration") != "Cluster Controller" || c.Value("Performance Standard in Cluster") != "100" {
		t.Errorf("ClusterSettingGet:\n%s", c.Text)
	}
	list := cmds[1].Text
	for _, want := range []string{"node-a", "node-b", "Controller", "Member", "99999"} { // node-b's point with one session
		if !strings.Contains(list, want) {
			t.Errorf("ClusterMemberList lacks %q:\n%s", want, list)
		}
	}
	if c := cmds[2]; c.Value("Connection Status") != "Online" || c.Value("Number of Successful Connections") != "1" {
		t.Errorf("ClusterConnectionStatusGet:\n%s", c.Text)
	}
	if c := cmds[6]; !strings.Contains(c.Text, "Error code: 33") {
		t.Errorf("SecureNatEnable on a static hub:\n%s", c.Text)
	}
	if hubs := cmds[9].Text; !strings.Contains(hubs, "ST") || strings.Contains(hubs, "Static") {
		t.Errorf("HubList after HubSetDynamic ST (DY and ST dynamic):\n%s", hubs)
	}
	if s := cmds[11].Text; !strings.Contains(s, "node-b") || !strings.Contains(s, "ann") {
		t.Errorf("SessionList on node-a lacks node-b's session of ann:\n%s", s)
	}

	// ClusterMemberInfoGet with the Id vpncmd listed for node-b.
	id := ""
	for _, l := range strings.Split(list, "\n") { // vpncmd prints the list as a table: ID first, Host Name fourth
		if f := strings.Split(l, "|"); len(f) > 3 && strings.TrimSpace(f[3]) == "node-b" {
			id = strings.TrimSpace(f[0])
		}
	}
	if id == "" {
		t.Fatalf("no ID for node-b in:\n%s", list)
	}
	info := farmVpncmd(t, portA, "ClusterMemberInfoGet "+id)
	// vpncmd 5.01 labels a dynamic hub "(Static)" (Command.c,
	// PsClusterMemberInfoGet swaps SM_FMINFO_HUB_TAG_1 and _2).
	if len(info) == 0 || info[0].Value("Host Name") != "node-b" || info[0].Value("Number of Sessions") != "1" ||
		info[0].Value("Public Port #1 (TCP/IP)") != strconv.Itoa(portB) || info[0].Value("Virtual Hub #1") != "H (Static)" {
		t.Errorf("ClusterMemberInfoGet %s:\n%+v", id, info)
	}
}

// farmAdminNode serves a farm node with its admin RPC on a loopback port
// until the test ends, and returns the port.
func farmAdminNode(t *testing.T, endpoints []string, name, dir string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv, err := server.OpenNode(dir, slog.New(slog.NewTextHandler(io.Discard, nil)), server.FarmOptions{
		Endpoints: endpoints, Cluster: "e2e", Name: name, Address: netip.MustParseAddr("127.0.0.1"), Ports: []uint16{uint16(port)}})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetAdmin(srv.AdminRPC(srv.Dispatcher()), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(50 * time.Millisecond) // join in order
	return port
}

// farmVpncmd runs the real vpncmd against 127.0.0.1:port (no admin
// password: loopback), in a mount namespace of its own so that its files
// stay in the test's directory.
func farmVpncmd(t *testing.T, port int, lines ...string) []cmdOutput {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"db", "log", "run"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	script := filepath.Join(dir, "script.txt")
	if err := os.WriteFile(script, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const sh = `b=$1; shift
mkdir -p /var/lib/softether /var/log/softether /run/softether
mount --bind "$b/db" /var/lib/softether
mount --bind "$b/log" /var/log/softether
mount --bind "$b/run" /run/softether
exec "$@"`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-m", "--propagation", "private", "sh", "-c", sh, "se-exec", dir,
		testrig.VpncmdPath, "127.0.0.1:"+strconv.Itoa(port), "/SERVER", "/IN:"+script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); ctx.Err() != nil {
		t.Fatalf("vpncmd timed out:\n%s", out.String())
	} else if err != nil {
		t.Logf("vpncmd exit: %v", err)
	}
	return splitVpncmd(out.String())
}
