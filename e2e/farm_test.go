package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The server farm on etcd (issue 12), end to end: a real etcd (Debian's
// etcd-server), three ethervpn processes as the farm's nodes and real
// vpnclients. The nodes share the rig's server namespace, each with its
// own address (10.251.0.N on the namespace's loopback, routed from every
// client namespace) as its --farm-address and its own port; every client
// reaches node N at its underlay gateway or at 10.251.0.N, port
// farmPort+N. The farm is ethervpn's (SoftEther's clustering needs a
// controller), so these tests do not run against the real vpnserver.

const (
	farmPort    = 25560
	farmDynHub  = "DYN"  // a dynamic hub: one node at a time
	farmStatHub = "STAT" // a static hub: on every node
	farmEtcdIP  = "10.251.0.100"
)

// farm is a running farm: its etcd and its nodes (nodes[0] is node 1).
type farm struct {
	r     *testrig.Rig
	etcd  *testrig.Etcd
	nodes []*testrig.Server
}

func farmNodeIP(i int) string { return fmt.Sprintf("10.251.0.%d", i) }

// farmUsers are the users of both hubs.
func farmUsers() []testrig.UserConfig {
	var us []testrig.UserConfig
	for i := 1; i <= 4; i++ {
		us = append(us, testrig.UserConfig{Name: fmt.Sprintf("u%d", i), Password: password})
	}
	return us
}

// startFarm starts etcd and three nodes. Node 1 seeds the empty farm with
// its configuration (the two hubs and their users); nodes 2 and 3 start
// from a file with only their listener and take the rest from etcd. With
// entryOnly, node 1 carries no sessions (--farm-no-sessions), so that
// every session is redirected to node 2 or 3.
func startFarm(t *testing.T, entryOnly bool) *farm {
	t.Helper()
	testrig.Require(t)
	testrig.RequireEtcd(t)
	if testrig.SelectedServer(t) != testrig.Ethervpn {
		t.Skip("the etcd farm is ethervpn's own: SoftEther's clustering has a controller and no etcd")
	}
	r := testrig.New(t)
	f := &farm{r: r}
	r.AddServerAddress(farmEtcdIP)
	f.etcd = r.StartEtcd(r.Server, farmEtcdIP)
	for i := 1; i <= 3; i++ {
		r.AddServerAddress(farmNodeIP(i))
		cfg := &testrig.ServerConfig{Port: farmPort + i, AdminPassword: "adminpw"}
		if i == 1 {
			cfg.Hubs = []testrig.HubConfig{
				{Name: farmDynHub, Password: "hubpw", Type: 2, Users: farmUsers()},
				{Name: farmStatHub, Password: "hubpw", Type: 1, Users: farmUsers()},
			}
		}
		args := []string{"--farm", f.etcd.URL, "--farm-address", farmNodeIP(i),
			"--farm-name", fmt.Sprintf("node%d", i), "--farm-cluster", "e2e"}
		if i == 1 && entryOnly {
			args = append(args, "--farm-no-sessions")
		}
		f.nodes = append(f.nodes, r.StartEthervpn(cfg, args...))
		f.waitJoined(t, i)
	}
	return f
}

// waitJoined waits until node i says it joined the farm.
func (f *farm) waitJoined(t *testing.T, i int) {
	t.Helper()
	n := f.nodes[i-1]
	if !eventually(15*time.Second, func() bool { return n.Proc.Logged("joined the farm") }) {
		t.Fatalf("node%d did not join the farm; log: %s", i, n.LogTail(15))
	}
}

// logs is every node's log, for failure messages.
func (f *farm) logs() string {
	var b strings.Builder
	for i, n := range f.nodes {
		fmt.Fprintf(&b, "\n--- node%d: %s", i+1, n.LogTail(12))
	}
	return b.String()
}

// sessionsOf counts the sessions created for user on each node (index 0
// is node 1), from the nodes' logs.
func (f *farm) sessionsOf(user string) []int {
	var n []int
	for _, s := range f.nodes {
		n = append(n, strings.Count(s.Proc.Log(), fmt.Sprintf(`created for user \"%s\"`, user)))
	}
	return n
}

// hostOf returns the node (1..3) on which the latest session of user was
// created, or 0.
func (f *farm) hostOf(user string) int {
	var host int
	var at time.Time
	re := regexp.MustCompile(`time=(\S+) .*created for user \\"` + regexp.QuoteMeta(user) + `\\"`)
	for i, s := range f.nodes {
		for _, m := range re.FindAllStringSubmatch(s.Proc.Log(), -1) {
			ts, err := time.Parse(time.RFC3339Nano, m[1])
			if err == nil && !ts.Before(at) {
				host, at = i+1, ts
			}
		}
	}
	return host
}

// redirects counts node i's log lines that redirected user to node j.
func (f *farm) redirects(i int, user string, j int) int {
	return strings.Count(f.nodes[i-1].Proc.Log(),
		fmt.Sprintf(`user \"%s\" redirected to farm node \"node%d\"`, user, j))
}

// farmPeer is a vpnclient with a TAP address on 192.168.78.0/24.
type farmPeer struct {
	ns   *testrig.Netns
	cli  *testrig.Client
	ip   string
	user string
}

func (f *farm) addPeers(t *testing.T, n int) []*farmPeer {
	t.Helper()
	var ps []*farmPeer
	for i := 1; i <= n; i++ {
		ns := f.r.AddClient()
		ps = append(ps, &farmPeer{ns: ns, cli: f.r.StartClient(ns, fmt.Sprintf("f%d", i)),
			ip: fmt.Sprintf("192.168.78.%d", i), user: fmt.Sprintf("u%d", i)})
	}
	return ps
}

// connect logs p into hub through node i and sets its TAP address.
func (f *farm) connect(t *testing.T, p *farmPeer, i int, hub string) {
	t.Helper()
	if err := f.tryConnect(p, i, hub); err != nil {
		t.Fatalf("%s through node%d: %v%s", p.user, i, err, f.logs())
	}
}

func (f *farm) tryConnect(p *farmPeer, i int, hub string) error {
	if err := p.cli.Connect(f.nodes[i-1], testrig.Account{Hub: hub, User: p.user, Password: password}); err != nil {
		return err
	}
	return p.cli.SetIP(p.ip + "/24")
}

// pingable waits up to d until from gets echo replies from to.
func pingable(from, to *farmPeer, d time.Duration) bool {
	return eventually(d, func() bool {
		res, err := from.ns.Ping(to.ip, 3, "-I", from.cli.TAP())
		return err == nil && res.Received > 0
	})
}

func eventually(d time.Duration, ok func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return ok()
}

// TestFarmDynamicHubRedirect: two real vpnclients pointed at node 1, which
// carries no sessions, are redirected with a ticket to the one node that
// hosts the dynamic hub, and exchange frames there.
func TestFarmDynamicHubRedirect(t *testing.T) {
	f := startFarm(t, true)
	ps := f.addPeers(t, 2)
	start := time.Now()
	f.connect(t, ps[0], 1, farmDynHub)
	t.Logf("first login through node1 (redirect, placement, ticket login) took %v", time.Since(start).Round(time.Millisecond))
	f.connect(t, ps[1], 1, farmDynHub)
	h1, h2 := f.hostOf("u1"), f.hostOf("u2")
	if h1 < 2 || h1 != h2 {
		t.Fatalf("sessions on node%d and node%d, want both on node 2 or 3 (the hub's one host)%s", h1, h2, f.logs())
	}
	for _, u := range []string{"u1", "u2"} {
		if f.redirects(1, u, h1) != 1 {
			t.Errorf("node1 did not log %s redirected to farm node node%d%s", u, h1, f.logs())
		}
	}
	if !pingable(ps[0], ps[1], 15*time.Second) {
		t.Fatalf("no ping between the clients on node%d%s", h1, f.logs())
	}
	res, err := ps[1].ns.Ping(ps[0].ip, 20, "-I", ps[1].cli.TAP())
	if err != nil || res.Loss() > 0.1 {
		t.Fatalf("ping over the dynamic hub: %+v, %v", res, err)
	}
	t.Logf("dynamic hub on node%d: ping %d/%d, avg rtt %v", h1, res.Received, res.Sent, res.AvgRTT)
	if st, err := ps[0].cli.Status(); err == nil {
		t.Logf("vpnclient status after the redirect: server %q, port %q, connections %q",
			st["Server Name"], st["Port Number"], st[testrig.StatusTCPConnections])
	}
}

// TestFarmStaticHubSpread: three clients log into a static hub through
// node 1, a couple of seconds apart (nodes report their load every
// second): each node carries one of them.
func TestFarmStaticHubSpread(t *testing.T) {
	f := startFarm(t, false)
	ps := f.addPeers(t, 3)
	for i, p := range ps {
		if i > 0 {
			time.Sleep(2500 * time.Millisecond)
		}
		f.connect(t, p, 1, farmStatHub)
	}
	got := map[int]string{}
	for _, p := range ps {
		h := f.hostOf(p.user)
		if h == 0 {
			t.Fatalf("no node logged a session of %s%s", p.user, f.logs())
		}
		if other, dup := got[h]; dup {
			t.Fatalf("node%d carries both %s and %s, want one session per node%s", h, other, p.user, f.logs())
		}
		got[h] = p.user
		if h != 1 && f.redirects(1, p.user, h) != 1 {
			t.Errorf("node1 did not log %s redirected to node%d", p.user, h)
		}
	}
	t.Logf("static hub: sessions by node %v", got)
}

// TestFarmChangeOnAnyNode: a user created on node 2 (with ethervpn cmd)
// logs in through node 3 at once.
func TestFarmChangeOnAnyNode(t *testing.T) {
	f := startFarm(t, false)
	ps := f.addPeers(t, 1)
	p := ps[0]
	p.user = "newuser"
	adm := func(args ...string) {
		t.Helper()
		cmd := append([]string{testrig.EthervpnBinary(t), "cmd", farmNodeIP(2) + ":" + strconv.Itoa(farmPort+2),
			"/SERVER", "/PASSWORD:adminpw", "/ADMINHUB:" + farmStatHub, "/CMD"}, args...)
		if out, err := f.r.Server.Run(30*time.Second, cmd...); err != nil {
			t.Fatalf("ethervpn cmd %v on node2: %v: %s", args, err, out)
		}
	}
	adm("UserCreate", p.user, "/GROUP:none", "/REALNAME:none", "/NOTE:none")
	adm("UserPasswordSet", p.user, "/PASSWORD:"+password)
	done := time.Now()
	// The account allows no retries: the first attempt must succeed.
	if err := p.cli.Configure(f.nodes[2], testrig.Account{Hub: farmStatHub, User: p.user, Password: password}); err != nil {
		t.Fatal(err)
	}
	if err := p.cli.StartConnect(); err != nil {
		t.Fatal(err)
	}
	if err := p.cli.WaitConnected(30 * time.Second); err != nil {
		t.Fatalf("the user made on node2 cannot log in through node3: %v%s", err, f.logs())
	}
	t.Logf("user made on node2 logged in through node3 (on node%d) %v after the admin call returned",
		f.hostOf(p.user), time.Since(done).Round(time.Millisecond))
}
