package farm_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/farm"
	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/native"
	"github.com/ethervpn/ethervpn/internal/server"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// runNode opens and serves a farm node on a loopback port until the test
// ends.
func runNode(t *testing.T, endpoints []string, name, dir string) *server.Server {
	t.Helper()
	srv, _, _ := runNodeAt(t, endpoints, name, dir)
	return srv
}

// runNodeAt is runNode; it also returns the node's address and a function
// that stops it before the test ends.
func runNodeAt(t *testing.T, endpoints []string, name, dir string) (*server.Server, string, func()) {
	t.Helper()
	return runNodeWith(t, endpoints, name, dir, 0)
}

// runNodeWith is runNodeAt with the node's lease TTL (0: the default).
func runNodeWith(t *testing.T, endpoints []string, name, dir string, ttl time.Duration) (*server.Server, string, func()) {
	t.Helper()
	return runNodeOpts(t, server.FarmOptions{Endpoints: endpoints, Cluster: "t", Name: name,
		Address: netip.MustParseAddr("127.0.0.1"), Timeout: 2 * time.Second, LeaseTTL: ttl}, dir)
}

// runNodeOpts serves a node with options f (its Ports set to a loopback
// listener's) from dir until the test ends or stop is called.
func runNodeOpts(t *testing.T, f server.FarmOptions, dir string) (srv *server.Server, addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.Ports = []uint16{uint16(ln.Addr().(*net.TCPAddr).Port)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err = server.OpenNode(dir, log, f)
	if err != nil {
		t.Fatalf("node %s: %v", f.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node %s stop: %v", f.Name, err)
			}
		})
	}
	t.Cleanup(stop)
	return srv, ln.Addr().String(), stop
}

// eventually waits up to d for ok.
func eventually(d time.Duration, ok func() bool) bool {
	return eventuallyEvery(d, 20*time.Millisecond, ok)
}

// eventuallyEvery waits up to d for ok, trying every step.
func eventuallyEvery(d, step time.Duration, ok func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(step) {
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

// farmWithUser runs nodes a, b, c (joined in that order) sharing hub
// kind's user ann/annpw; it waits until all three are members.
func farmWithUser(t *testing.T, hubType uint32) (nodes []*server.Server, addrs []string) {
	t.Helper()
	f := startFarm(t, func(h *config.Hub) { h.Type = hubType })
	return f.nodes, f.addrs
}

// testFarm is three nodes a, b, c of one farm.
type testFarm struct {
	nodes []*server.Server
	addrs []string
	stops []func()
}

// startFarm runs nodes a, b, c (joined in that order) sharing hub H, as
// edit leaves it, with the user ann/annpw; it waits until all three are
// members.
func startFarm(t *testing.T, edit func(*config.Hub)) *testFarm {
	t.Helper()
	cli := etcdtest.Start(t)
	dir := t.TempDir()
	seed := config.Default()
	hub := config.NewHub("H")
	hub.Online = true
	edit(hub)
	hash := sha0.HashPassword("ann", "annpw")
	hub.Users = append(hub.Users, &config.User{Name: "ann", AuthType: control.AuthPassword, PasswordHash: hash[:]})
	seed.Hubs = append(seed.Hubs, hub)
	if err := config.Save(dir+"/"+server.ConfigFile, seed.ToTree()); err != nil {
		t.Fatal(err)
	}
	f := &testFarm{}
	for i, name := range []string{"a", "b", "c"} {
		if i > 0 {
			dir = t.TempDir()
		}
		srv, addr, stop := runNodeAt(t, cli.Endpoints(), name, dir)
		f.nodes, f.addrs, f.stops = append(f.nodes, srv), append(f.addrs, addr), append(f.stops, stop)
		time.Sleep(20 * time.Millisecond) // join in order: a tie goes to the later node
	}
	probe, err := farm.Join(context.Background(), farm.NodeConfig{Client: cli, Root: "/ethervpn/t/", Self: farm.Member{Name: "probe", NoSessions: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Leave()
	if !eventually(5*time.Second, func() bool { ms, _ := probe.Members(context.Background()); return len(ms) == 4 }) {
		t.Fatal("the three nodes did not join within 5 s")
	}
	return f
}

func login(t *testing.T, addr string) (*wire.Welcome, *client.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, c, err := client.Login(ctx, &client.Options{Server: addr, Hub: "H", User: "ann", Password: "annpw"})
	if err != nil {
		t.Fatalf("login at %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Raw.Close() })
	return w, c
}

func TestDynamicHubSessionsGoToItsNode(t *testing.T) {
	nodes, addrs := farmWithUser(t, config.HubDynamic)
	// The first session places the hub: every node idle, so on the node
	// that joined last (c); a login at a is redirected there.
	_, c1 := login(t, addrs[0])
	if got := c1.Raw.RemoteAddr().String(); got != addrs[2] {
		t.Fatalf("the first session reached %s, want node c (%s)", got, addrs[2])
	}
	// Later sessions go to the hub's node, whichever node they log in at.
	_, c2 := login(t, addrs[1])
	_, c3 := login(t, addrs[2])
	for _, c := range []*client.Conn{c2, c3} {
		if got := c.Raw.RemoteAddr().String(); got != addrs[2] {
			t.Fatalf("a session of the placed hub reached %s, want node c (%s)", got, addrs[2])
		}
	}
	if n := len(nodes[2].Sessions()); n != 3 {
		t.Fatalf("node c carries %d sessions, want 3", n)
	}
	if n := len(nodes[0].Sessions()) + len(nodes[1].Sessions()); n != 0 {
		t.Fatalf("nodes a and b carry %d sessions of a dynamic hub placed on c", n)
	}
}

func TestStaticHubSpreadsSessionsByLoad(t *testing.T) {
	nodes, addrs := farmWithUser(t, config.HubStatic)
	for range 6 {
		login(t, addrs[0])
		time.Sleep(1500 * time.Millisecond) // the node reports its load each second
	}
	names := map[string]int{}
	for i, n := range nodes {
		if got := len(n.Sessions()); got != 2 {
			t.Errorf("node %d carries %d of 6 sessions, want 2", i, got)
		}
		// Names are farm-wide, as SoftEther's controller gives them: no
		// two nodes carry a session of one name.
		for _, x := range n.Sessions() {
			if other, dup := names[x.Name]; dup {
				t.Errorf("nodes %d and %d both carry a session named %s", other, i, x.Name)
			}
			names[x.Name] = i
		}
	}
}

func TestTicketIsGoodOnceForItsUserAndHub(t *testing.T) {
	_, addrs := farmWithUser(t, config.HubDynamic)
	// Log in at a by hand to see the redirect.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := client.Login(ctx, &client.Options{Server: addrs[0], Hub: "H", User: "ann", Password: "annpw", NoRedirect: true})
	var r *wire.Redirect
	if !errors.As(err, &r) {
		t.Fatalf("login at a: %v, want a redirect", err)
	}
	to := net.JoinHostPort(r.Addr.String(), fmt.Sprint(r.Ports[0]))
	// Another user or hub with the ticket: refused, and the ticket is spent.
	if _, _, err := client.LoginTicket(ctx, &client.Options{Server: to, Hub: "H", User: "bob"}, r.Ticket); err == nil {
		t.Fatal("a ticket was accepted for another user")
	}
	if _, _, err := client.LoginTicket(ctx, &client.Options{Server: to, Hub: "H", User: "ann"}, r.Ticket); err == nil {
		t.Fatal("a spent ticket was accepted")
	}
	// A fresh ticket works once, then no more.
	_, _, err = client.Login(ctx, &client.Options{Server: addrs[0], Hub: "H", User: "ann", Password: "annpw", NoRedirect: true})
	if !errors.As(err, &r) {
		t.Fatalf("login at a: %v, want a redirect", err)
	}
	_, c, err := client.LoginTicket(ctx, &client.Options{Server: to, Hub: "H", User: "ann"}, r.Ticket)
	if err != nil {
		t.Fatalf("the ticket's own login: %v", err)
	}
	c.Raw.Close()
	if _, _, err := client.LoginTicket(ctx, &client.Options{Server: to, Hub: "H", User: "ann"}, r.Ticket); err == nil {
		t.Fatal("a ticket was accepted twice")
	}
}

// lease gets an address from the hub H's SecureNAT on srv for mac, as a
// native session would.
func lease(t *testing.T, srv *server.Server, mac [6]byte) netip.Addr {
	t.Helper()
	p, err := srv.LookupHub("H").Attach(hub.PortConfig{Name: fmt.Sprintf("SID-LEASE-%x", mac), User: "ann", Kind: hub.KindClient})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, l, err := native.Open(ctx, p, native.Config{MAC: mac, Hostname: "test"})
	if err != nil {
		t.Fatalf("DHCP on the hub: %v", err)
	}
	a.Close()
	return l.Addr.Addr()
}

func TestDynamicHubKeepsDHCPLeasesWhenItMoves(t *testing.T) {
	f := startFarm(t, func(h *config.Hub) {
		h.Type = config.HubDynamic
		h.SecureNAT = config.DefaultSecureNAT()
		h.SecureNAT.Enabled = true
	})
	a, b, c := f.nodes[0], f.nodes[1], f.nodes[2]
	_, conn := login(t, f.addrs[0]) // places H on c
	for i, n := range []*server.Server{a, b, c} {
		if running := n.LookupHub("H").SecureNAT() != nil; running != (i == 2) {
			t.Fatalf("node %d runs SecureNAT: %v; want it on the hub's node c only", i, running)
		}
	}
	m1, m2 := [6]byte{0x5e, 0, 0, 0, 0, 1}, [6]byte{0x5e, 0, 0, 0, 0, 2}
	first := lease(t, c, m2) // so that m1's is not the pool's first address
	want := lease(t, c, m1)
	if first == want {
		t.Fatalf("two clients got %v", want)
	}
	time.Sleep(200 * time.Millisecond) // the leases are written to etcd behind the DHCP answers
	// Node c goes; the next session places H on b, whose SecureNAT starts
	// with c's leases.
	conn.Raw.Close()
	f.stops[2]()
	_, conn = login(t, f.addrs[0])
	if got := conn.Raw.RemoteAddr().String(); got != f.addrs[1] {
		t.Fatalf("after c left, H went to %s, want b (%s)", got, f.addrs[1])
	}
	if b.LookupHub("H").SecureNAT() == nil {
		t.Fatal("node b does not run the moved hub's SecureNAT")
	}
	if got := lease(t, b, m1); got != want {
		t.Fatalf("after the move the client got %v, want its address %v", got, want)
	}
}

// etcd lost: sessions already up stay, new logins and admin changes get a
// clear error, and everything works again by itself when etcd returns; a
// node restarted while etcd is away starts from its file's copy.
func TestLostEtcd(t *testing.T) {
	etcd := etcdtest.StartServer(t)
	dirA := t.TempDir()
	seed := config.Default()
	hub := config.NewHub("H")
	hub.Online = true
	hash := sha0.HashPassword("ann", "annpw")
	hub.Users = append(hub.Users, &config.User{Name: "ann", AuthType: control.AuthPassword, PasswordHash: hash[:]})
	seed.Hubs = append(seed.Hubs, hub)
	if err := config.Save(dirA+"/"+server.ConfigFile, seed.ToTree()); err != nil {
		t.Fatal(err)
	}
	endpoints := etcd.Client.Endpoints()
	a, addrA, stopA := runNodeWith(t, endpoints, "a", dirA, 2*time.Second)
	b, addrB, _ := runNodeWith(t, endpoints, "b", t.TempDir(), 2*time.Second)
	waitLogin := func(addr string, within time.Duration) {
		t.Helper()
		var err error
		if !eventuallyEvery(within, 300*time.Millisecond, func() bool { // slower than the DoS protection's limit
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var c *client.Conn
			if _, c, err = client.Login(ctx, &client.Options{Server: addr, Hub: "H", User: "ann", Password: "annpw"}); err == nil {
				c.Raw.Close()
			}
			return err == nil
		}) {
			t.Fatalf("no login at %s within %v: %v", addr, within, err)
		}
	}
	waitLogin(addrA, 5*time.Second)
	_, up := login(t, addrA) // a session that must outlive etcd's absence
	host := b
	if up.Raw.RemoteAddr().String() != addrB {
		host = a
	}

	etcd.Stop()
	time.Sleep(3 * time.Second) // past the nodes' 2 s leases
	if len(host.Sessions()) == 0 {
		t.Fatal("the session ended when etcd went away")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := client.Login(ctx, &client.Options{Server: addrA, Hub: "H", User: "ann", Password: "annpw"})
	if !errors.Is(err, vpnerr.CouldNotHostHubOnFarm) {
		t.Fatalf("a login without etcd: %v, want error 49 (the farm could not place the session)", err)
	}
	if _, err := a.Control().CreateUser(control.Actor{ServerAdmin: true}, "H", "late",
		control.UserSettings{AuthType: control.AuthPassword, PasswordHash: make([]byte, 20)}); err == nil {
		t.Fatal("an admin change was taken without etcd")
	}
	// Node a restarts while etcd is away: from its file.
	stopA()
	a, addrA, _ = runNodeWith(t, endpoints, "a", dirA, 2*time.Second)
	if a.Control().Current().Hub("H").User("ann") == nil {
		t.Fatal("node a did not start from its file's copy")
	}

	etcd.Restart()
	waitLogin(addrA, 20*time.Second)
	if len(host.Sessions()) == 0 && len(a.Sessions()) == 0 {
		t.Fatal("no session left after etcd came back")
	}
	if _, err := a.Control().CreateUser(control.Actor{ServerAdmin: true}, "H", "later",
		control.UserSettings{AuthType: control.AuthPassword, PasswordHash: make([]byte, 20)}); err != nil {
		t.Fatalf("an admin change after etcd came back: %v", err)
	}
	if !eventually(2*time.Second, func() bool { return b.Control().Current().Hub("H").User("later") != nil }) {
		t.Fatal("the change did not reach node b")
	}
}
