package farm_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/farm"
	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"
	"github.com/ethervpn/ethervpn/internal/server"
)

// runNode opens and serves a farm node on a loopback port until the test
// ends.
func runNode(t *testing.T, endpoints []string, name, dir string) *server.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.OpenNode(dir, log, server.FarmOptions{Endpoints: endpoints, Cluster: "t", Name: name,
		Address: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node %s stop: %v", name, err)
		}
	})
	return srv
}

// eventually waits up to d for ok.
func eventually(d time.Duration, ok func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return ok()
}

func TestNodesShareHubsUsersAndCertificate(t *testing.T) {
	cli := etcdtest.Start(t)
	// Node a starts from its own file, with a hub of its own: it seeds
	// the empty farm.
	dirA := t.TempDir()
	seed := config.Default()
	seed.Hubs = append(seed.Hubs, config.NewHub("SALES"))
	seed.Listeners = []config.Listener{{Port: 5555, Enabled: true}}
	if err := config.Save(dirA+"/"+server.ConfigFile, seed.ToTree()); err != nil {
		t.Fatal(err)
	}
	a := runNode(t, cli.Endpoints(), "a", dirA)
	b := runNode(t, cli.Endpoints(), "b", t.TempDir()) // a new node, no file
	cb, ca := b.Control().Current(), a.Control().Current()
	if cb.Hub("SALES") == nil {
		t.Fatal("node b does not have the farm's hub SALES")
	}
	if string(cb.CertDER) != string(ca.CertDER) || len(ca.CertDER) == 0 {
		t.Fatal("the nodes do not share one server certificate")
	}
	if len(cb.Listeners) == 1 && cb.Listeners[0].Port == 5555 {
		t.Fatal("node b took node a's listeners")
	}
	// A change on either node runs on the other within a second.
	start := time.Now()
	if _, err := a.Control().CreateUser(control.Actor{ServerAdmin: true}, "SALES", "ann",
		control.UserSettings{AuthType: control.AuthPassword, PasswordHash: make([]byte, 20)}); err != nil {
		t.Fatal(err)
	}
	if !eventually(time.Second, func() bool { return b.Control().Current().Hub("SALES").User("ann") != nil }) {
		t.Fatal("node a's new user did not reach node b within 1 s")
	}
	t.Logf("a change reached the other node in %v", time.Since(start))
	if err := b.Control().DeleteUser(control.Actor{ServerAdmin: true}, "SALES", "ann"); err != nil {
		t.Fatal(err)
	}
	if !eventually(time.Second, func() bool { return a.Control().Current().Hub("SALES").User("ann") == nil }) {
		t.Fatal("node b's deletion did not reach node a within 1 s")
	}
	// Both nodes are members, each on its own lease.
	n, err := farm.Join(context.Background(), farm.NodeConfig{Client: cli, Root: "/ethervpn/t/", Self: farm.Member{Name: "probe", NoSessions: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Leave()
	if !eventually(5*time.Second, func() bool { ms, _ := n.Members(context.Background()); return len(ms) == 3 }) {
		ms, _ := n.Members(context.Background())
		t.Fatalf("members: %+v, want a, b and the probe", ms)
	}
}
