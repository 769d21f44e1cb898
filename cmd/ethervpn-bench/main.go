// Command ethervpn-bench measures ethervpn against the real SoftEther
// vpnserver on this machine, one after the other in the same topology.
//
//	go run ./cmd/ethervpn-bench l2 [-t 10] [-runs 1] [-maxtcp 1] [-servers ethervpn,softether]
//	go run ./cmd/ethervpn-bench nat [-t 10] [-runs 1] [-leases 3] [-servers ethervpn,softether]
//
//	go run ./cmd/ethervpn-bench client [-t 10] [-runs 1] [-maxtcp 1] [-chains ethervpn,softether]
//
// The client benchmark measures whole chains: two ethervpn clients through
// ethervpn's server, then two real vpnclients through the real vpnserver,
// with the CPU time of all three processes.
//
// The l2 benchmark connects two real vpnclients (UDP acceleration off) to
// one hub, runs iperf3 -c from the first to the second through the hub, and
// reads the server process's CPU time from /proc before and after. It needs
// root and the packages internal/testrig lists, and removes every namespace
// and process it created when it ends.
//
// The nat benchmark connects one real vpnclient to a hub with SecureNAT,
// times AccountConnect -> DHCP lease (busybox udhcpc), and runs iperf3 -c
// from the client to a wan host behind the server namespace (nat.go).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "client" {
		clientMain(os.Args[2:])
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "nat" {
		os.Exit(runNAT(os.Args[2:]))
	}
	if len(os.Args) < 2 || os.Args[1] != "l2" {
		fmt.Fprintln(os.Stderr, "usage: ethervpn-bench l2 [-t seconds] [-runs N] [-maxtcp N] [-servers ethervpn,softether]\n"+
			"       ethervpn-bench client [-t seconds] [-runs N] [-maxtcp N] [-chains ethervpn,softether]\n"+
			"       ethervpn-bench nat [-t seconds] [-runs N] [-leases N] [-servers ethervpn,softether]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("l2", flag.ExitOnError)
	secs := fs.Int("t", 10, "iperf3 duration per run, seconds")
	runs := fs.Int("runs", 1, "runs per server; the table shows medians")
	maxTCP := fs.Int("maxtcp", 1, "vpnclient /MAXTCP (QoS adds one connection when 1)")
	servers := fs.String("servers", "ethervpn,softether", "servers to measure, in order")
	fs.Parse(os.Args[2:])

	var kinds []testrig.ServerKind
	for _, s := range strings.Split(*servers, ",") {
		k, err := testrig.ParseServerKind(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		kinds = append(kinds, k)
	}
	if miss := testrig.Missing(); len(miss) > 0 {
		fmt.Fprintf(os.Stderr, "ethervpn-bench needs: %s\n", strings.Join(miss, ", "))
		os.Exit(1)
	}
	defer testrig.RemoveBuilds()

	opt := options{duration: time.Duration(*secs) * time.Second, runs: *runs, maxTCP: *maxTCP}
	var results []result
	failed := false
	for _, k := range kinds {
		r := testrig.NewRunner(os.Stderr)
		var res result
		err := r.Run(func() { res = measureL2(r, k, opt) })
		r.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", k, err)
			res = result{server: k, err: err}
			failed = true
		}
		results = append(results, res)
	}
	printTable(os.Stdout, opt, results)
	if failed {
		os.Exit(1)
	}
}

type options struct {
	duration time.Duration
	runs     int
	maxTCP   int
}

// run is one iperf3 run.
type run struct {
	mbps   float64
	bytes  int64
	cpuSec float64 // server process CPU time during the run
}

type result struct {
	server testrig.ServerKind
	runs   []run
	conns  int
	err    error
}

const benchPassword = "benchpw"

// measureL2 brings up the topology for one server and runs iperf3 opt.runs
// times from c1 to c2 through the hub.
func measureL2(r *testrig.Runner, kind testrig.ServerKind, opt options) result {
	rig := testrig.New(r)
	cfg := &testrig.ServerConfig{Port: 25555, Hubs: []testrig.HubConfig{{
		Name: "BENCH", Password: "hubpw",
		Users: []testrig.UserConfig{{Name: "user1", Password: benchPassword}, {Name: "user2", Password: benchPassword}},
	}}}
	srv := rig.StartServer(kind, cfg)
	var clients [2]*testrig.Client
	var nss [2]*testrig.Netns
	for i := range clients {
		nss[i] = rig.AddClient()
		clients[i] = rig.StartClient(nss[i], fmt.Sprintf("c%d", i+1))
		acc := testrig.Account{Hub: "BENCH", User: fmt.Sprintf("user%d", i+1), Password: benchPassword, MaxTCP: opt.maxTCP}
		if err := clients[i].Connect(srv, acc); err != nil {
			r.Fatalf("%v", err)
		}
		if err := clients[i].SetIP(fmt.Sprintf("192.168.77.%d/24", i+1)); err != nil {
			r.Fatalf("%v", err)
		}
	}
	res := result{server: kind, conns: waitConns(clients[0], opt.maxTCP)}
	rig.StartIperfServer(nss[1])
	if p, err := nss[0].Ping("192.168.77.2", 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through %s before the benchmark: %+v %v", kind, p, err)
	}
	for i := 0; i < opt.runs; i++ {
		cpu0, err0 := srv.Proc.CPUSeconds()
		ip, err := nss[0].Iperf("192.168.77.2", opt.duration, false)
		cpu1, err1 := srv.Proc.CPUSeconds()
		if err := errors.Join(err, err0, err1); err != nil {
			r.Fatalf("run %d: %v", i+1, err)
		}
		rn := run{mbps: ip.BitsPerSecond / 1e6, bytes: ip.ReceivedBytes, cpuSec: cpu1 - cpu0}
		r.Logf("%s run %d: %.0f Mbit/s, %d bytes, server CPU %.2f s", kind, i+1, rn.mbps, rn.bytes, rn.cpuSec)
		res.runs = append(res.runs, rn)
	}
	return res
}

// waitConns waits for the TCP connections a MAXTCP setting should give
// (additional ones open one per second) and returns the count seen.
func waitConns(c *testrig.Client, maxTCP int) int {
	want := maxTCP
	if want == 1 {
		want = 2 // QoS adds one
	}
	n := -1
	deadline := time.Now().Add(time.Duration(want+10) * time.Second)
	for time.Now().Before(deadline) {
		if st, err := c.Status(); err == nil {
			if n = st.Int(testrig.StatusTCPConnections); n >= want {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return n
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summary is the medians of a result's runs.
type summary struct{ mbps, cpuSec, cpuPerGB float64 }

func summarize(res result) summary {
	var mbps, cpu, perGB []float64
	for _, r := range res.runs {
		mbps = append(mbps, r.mbps)
		cpu = append(cpu, r.cpuSec)
		if r.bytes > 0 {
			perGB = append(perGB, r.cpuSec/(float64(r.bytes)/1e9))
		}
	}
	return summary{median(mbps), median(cpu), median(perGB)}
}

func printTable(w io.Writer, opt options, results []result) {
	fmt.Fprintf(w, "\nL2 c1 -> c2 through one hub: iperf3 -t %d, 1 stream, %d run(s), vpnclient MAXTCP %d, UDP acceleration off\n\n",
		int(opt.duration/time.Second), opt.runs, opt.maxTCP)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tMbit/s\tserver CPU-s\tCPU-s per GB\tTCP conns\truns (Mbit/s)\t")
	sums := map[testrig.ServerKind]summary{}
	for _, res := range results {
		if res.err != nil {
			fmt.Fprintf(tw, "%s\tfailed\t-\t-\t-\t%s\t\n", res.server, res.err)
			continue
		}
		s := summarize(res)
		sums[res.server] = s
		var each []string
		for _, r := range res.runs {
			each = append(each, fmt.Sprintf("%.0f", r.mbps))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%d\t%s\t\n", res.server, s.mbps, s.cpuSec, s.cpuPerGB, res.conns, strings.Join(each, " "))
	}
	tw.Flush()
	e, ok1 := sums[testrig.Ethervpn]
	s, ok2 := sums[testrig.SoftEther]
	if ok1 && ok2 && s.mbps > 0 && s.cpuPerGB > 0 {
		fmt.Fprintf(w, "\nethervpn/softether: throughput %.2fx, CPU per GB %.2fx (lower is better)\n",
			e.mbps/s.mbps, e.cpuPerGB/s.cpuPerGB)
	}
}
