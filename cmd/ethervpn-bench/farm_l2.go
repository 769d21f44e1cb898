package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The farm's L2 benchmark (issue 12 item 7): two real vpnclients (the ones
// the l2 benchmark uses) on one dynamic hub of a 3-node farm on a real
// etcd, each logging in at a node that does not host the hub, so that both
// follow the redirect; iperf3 from the first to the second. The same two
// clients through one ethervpn server are measured in the same run, the
// runs taken in turns (measureKinds). The farm's nodes share the rig's
// server namespace, each on its own address, as in e2e/farm_test.go.

// The two setups the table compares; they stand where measureKinds has a
// server kind.
const (
	setupSingle testrig.ServerKind = "ethervpn, one server"
	setupFarm   testrig.ServerKind = "ethervpn farm, 3 nodes"
)

const (
	farmL2Port    = 25560 // node i listens on farmL2Port+i
	farmL2Cluster = "bench"
	farmL2EtcdIP  = "10.251.0.100"
)

func farmL2NodeIP(i int) string { return fmt.Sprintf("10.251.0.%d", i) }

// runFarmL2 is "ethervpn-bench farm -l2".
func runFarmL2(opt options) int {
	if _, err := exec.LookPath("etcd"); err != nil {
		fmt.Fprintln(os.Stderr, "farm -l2: the etcd server is missing (apt-get install etcd-server)")
		return 1
	}
	if miss := testrig.Missing(); len(miss) > 0 {
		fmt.Fprintf(os.Stderr, "ethervpn-bench needs: %s\n", strings.Join(miss, ", "))
		return 1
	}
	return measureKinds([]testrig.ServerKind{setupSingle, setupFarm}, opt, setupFarmL2, printFarmL2)
}

// setupFarmL2 brings up one setup: the single server, or the farm with
// both clients on the dynamic hub's host. The first measured process is
// the server, or the node that hosts the hub.
func setupFarmL2(r *testrig.Runner, kind testrig.ServerKind, opt options) (result, func(int) run) {
	rig := testrig.New(r)
	var (
		clients [2]*testrig.Client
		nss     [2]*testrig.Netns
		procs   []*testrig.Proc
		host    int // the farm's node that hosts the hub
	)
	for i := range nss {
		nss[i] = rig.AddClient()
	}
	if kind == setupSingle {
		srv := startBenchServer(rig, testrig.Ethervpn)
		for i := range clients {
			clients[i] = startVPNClient(r, rig, nss[i], srv, i+1, opt.maxTCP)
		}
		procs = []*testrig.Proc{srv.Proc}
	} else {
		nodes, etcd := startFarmL2(r, rig)
		// Client 1 logs in at node 1; the farm places the hub on another
		// node (the tie in load goes to the node that joined last).
		clients[0] = startVPNClient(r, rig, nss[0], nodes[0], 1, opt.maxTCP)
		host = farmL2Host(r, etcd)
		if host == 1 {
			r.Fatalf("the farm placed BENCH on node1, where client 1 logged in: no redirect to measure")
		}
		// Client 2 logs in at the third node, neither client 1's nor the host.
		entry2 := 6 - 1 - host
		clients[1] = startVPNClient(r, rig, nss[1], nodes[entry2-1], 2, opt.maxTCP)
		checkFarmL2Redirects(r, rig, nodes, host, map[string]int{"user1": 1, "user2": entry2})
		r.Logf("%s: BENCH hosted by node%d; user1 entered at node1, user2 at node%d, both redirected", kind, host, entry2)
		procs = []*testrig.Proc{nodes[host-1].Proc, nodes[0].Proc, nodes[entry2-1].Proc}
	}
	res := result{server: kind, conns: waitConns(clients[0], opt.maxTCP), costed: 1}
	if host != 0 {
		// The table names the host (printFarmL2 knows the setup by its
		// prefix).
		res.server = testrig.ServerKind(fmt.Sprintf("%s, hub on node%d", kind, host))
	}
	rig.StartIperfServer(nss[1])
	if p, err := nss[0].Ping("192.168.77.2", 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through %s before the benchmark: %+v %v", kind, p, err)
	}
	procs = append(procs, clients[0].Proc, clients[1].Proc)
	return res, func(i int) run {
		rn := iperfRun(r, nss[0], "192.168.77.2", opt.duration, procs)
		r.Logf("%s run %d: %.0f Mbit/s, %d TCP retransmissions, CPU s: server or host, (entry nodes,) c1, c2: %.2f",
			kind, i, rn.mbps, rn.retr, rn.cpu)
		return rn
	}
}

// startFarmL2 starts etcd and three farm nodes; node 1 seeds the farm with
// the dynamic hub BENCH and its users user1 and user2.
func startFarmL2(r *testrig.Runner, rig *testrig.Rig) ([]*testrig.Server, *testrig.Etcd) {
	rig.AddServerAddress(farmL2EtcdIP)
	etcd := rig.StartEtcd(rig.Server, farmL2EtcdIP)
	var nodes []*testrig.Server
	for i := 1; i <= 3; i++ {
		rig.AddServerAddress(farmL2NodeIP(i))
		cfg := &testrig.ServerConfig{Port: farmL2Port + i, AdminPassword: "adminpw"}
		if i == 1 {
			cfg.Hubs = []testrig.HubConfig{{Name: "BENCH", Password: "hubpw", Type: 2,
				Users: []testrig.UserConfig{{Name: "user1", Password: benchPassword}, {Name: "user2", Password: benchPassword}}}}
		}
		n := rig.StartEthervpn(cfg, "--farm", etcd.URL, "--farm-address", farmL2NodeIP(i),
			"--farm-name", fmt.Sprintf("node%d", i), "--farm-cluster", farmL2Cluster)
		deadline := time.Now().Add(15 * time.Second)
		for !n.Proc.Logged("joined the farm") {
			if time.Now().After(deadline) {
				r.Fatalf("node%d did not join the farm: %s", i, n.LogTail(10))
			}
			time.Sleep(100 * time.Millisecond)
		}
		nodes = append(nodes, n)
	}
	// Every node in the member list (nodes publish each second) before
	// the first login.
	time.Sleep(2 * time.Second)
	return nodes, etcd
}

// farmL2Host reads the node that hosts BENCH from etcd.
func farmL2Host(r *testrig.Runner, etcd *testrig.Etcd) int {
	keys, err := etcd.Keys("/ethervpn/" + farmL2Cluster + "/hubs/")
	if err != nil {
		r.Fatalf("reading the placement from etcd: %v", err)
	}
	h := keys["/ethervpn/"+farmL2Cluster+"/hubs/BENCH"]
	n, err := strconv.Atoi(strings.TrimPrefix(h, "node"))
	if err != nil {
		r.Fatalf("etcd places BENCH on %q, not on a node", h)
	}
	return n
}

// checkFarmL2Redirects checks that the sessions of users really are on
// host: the host's own session list (ethervpn cmd SessionList) shows them
// as local sessions, and each user's entry node logged its redirect there.
func checkFarmL2Redirects(r *testrig.Runner, rig *testrig.Rig, nodes []*testrig.Server, host int, entry map[string]int) {
	out, err := rig.Server.Run(30*time.Second, testrig.EthervpnBinary(r), "cmd",
		farmL2NodeIP(host)+":"+strconv.Itoa(farmL2Port+host), "/SERVER", "/PASSWORD:adminpw", "/ADMINHUB:BENCH",
		"/CSV", "/CMD", "SessionList")
	if err != nil {
		r.Fatalf("SessionList on node%d: %v: %s", host, err, out)
	}
	for user, in := range entry {
		local := false
		for _, line := range strings.Split(out, "\n") {
			cols := strings.Split(strings.TrimSpace(line), ",")
			if len(cols) > 3 && cols[2] == "Local Session" && strings.EqualFold(cols[3], user) {
				local = true
			}
		}
		if !local {
			r.Fatalf("node%d's SessionList has no local session of %s:\n%s", host, user, out)
		}
		want := fmt.Sprintf(`user \"%s\" redirected to farm node \"node%d\"`, user, host)
		if !nodes[in-1].Proc.Logged(want) {
			r.Fatalf("node%d did not log %s redirected to node%d: %s", in, user, host, nodes[in-1].LogTail(10))
		}
	}
	r.Logf("node%d's SessionList:\n%s", host, strings.TrimSpace(out))
}

func printFarmL2(w io.Writer, opt options, results []result) {
	tw := newTable(w, fmt.Sprintf("L2 c1 -> c2, two real vpnclients on one hub (in the farm a dynamic hub, each client entering at a node that does not host it): iperf3 -t %d, 1 stream, %d run(s), vpnclient MAXTCP %d",
		int(opt.duration/time.Second), opt.runs, opt.maxTCP),
		"setup\tMbit/s\thost's CPU-s\thost's CPU-s per GB\tother processes' CPU-s per GB\truns (Mbit/s)\t")
	var single, farm *summary
	for _, res := range results {
		if res.err != nil {
			failedRow(tw, res, 3, 1)
			continue
		}
		s := summarize(res)
		switch {
		case res.server == setupSingle:
			single = &s
		case strings.HasPrefix(string(res.server), string(setupFarm)):
			farm = &s
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t\n", res.server, s.mbps, s.cpuSec, s.cpuPerGB, s.otherPerGB, eachMbps(res.runs))
	}
	tw.Flush()
	if single != nil && farm != nil && single.mbps > 0 && single.cpuPerGB > 0 {
		fmt.Fprintf(w, "\nfarm/one server: throughput %.2fx, host's CPU per GB %.2fx (target: within 10%%)\n",
			farm.mbps/single.mbps, farm.cpuPerGB/single.cpuPerGB)
	}
}
