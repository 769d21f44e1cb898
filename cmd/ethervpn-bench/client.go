package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// clientMain is "ethervpn-bench client": L2 throughput between two VPN
// clients through one hub, the whole chain ethervpn (ethervpn client ->
// ethervpn server -> ethervpn client) against the whole chain SoftEther
// (vpnclient -> vpnserver -> vpnclient, UDP acceleration off), in one run.
func clientMain(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	secs := fs.Int("t", 10, "iperf3 duration per run, seconds")
	runs := fs.Int("runs", 1, "runs per chain; the table shows medians")
	maxTCP := fs.Int("maxtcp", 1, "TCP connections per client (ethervpn client --max-connections, vpnclient /MAXTCP; vpnclient's QoS adds one when 1)")
	chains := fs.String("chains", "ethervpn,softether", "chains to measure, in order")
	fs.Parse(args)
	var kinds []testrig.ServerKind
	for _, s := range strings.Split(*chains, ",") {
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
	var results []chainResult
	failed := false
	for _, k := range kinds {
		r := testrig.NewRunner(os.Stderr)
		var res chainResult
		err := r.Run(func() { res = measureChain(r, k, opt) })
		r.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", k, err)
			res = chainResult{chain: k, err: err}
			failed = true
		}
		results = append(results, res)
	}
	printChainTable(os.Stdout, opt, results)
	if failed {
		os.Exit(1)
	}
}

// chainRun is one iperf3 run with the CPU time of the server and of both
// clients.
type chainRun struct {
	mbps  float64
	bytes int64
	cpu   [3]float64 // seconds: server, sending client, receiving client
}

type chainResult struct {
	chain testrig.ServerKind
	runs  []chainRun
	err   error
}

// measureChain brings up server and two clients of one implementation and
// runs iperf3 from the first client to the second.
func measureChain(r *testrig.Runner, kind testrig.ServerKind, opt options) chainResult {
	rig := testrig.New(r)
	cfg := &testrig.ServerConfig{Port: 25555, Hubs: []testrig.HubConfig{{
		Name: "BENCH", Password: "hubpw",
		Users: []testrig.UserConfig{{Name: "user1", Password: benchPassword}, {Name: "user2", Password: benchPassword}},
	}}}
	srv := rig.StartServer(kind, cfg)
	var nss [2]*testrig.Netns
	var procs [2]*testrig.Proc
	for i := range nss {
		nss[i] = rig.AddClient()
		user := fmt.Sprintf("user%d", i+1)
		ip := fmt.Sprintf("192.168.77.%d/24", i+1)
		if kind == testrig.Ethervpn {
			procs[i] = startEthervpnClient(r, nss[i], srv, user, ip, opt.maxTCP)
			continue
		}
		c := rig.StartClient(nss[i], fmt.Sprintf("c%d", i+1))
		acc := testrig.Account{Hub: "BENCH", User: user, Password: benchPassword, MaxTCP: opt.maxTCP}
		if err := c.Connect(srv, acc); err != nil {
			r.Fatalf("%v", err)
		}
		if err := c.SetIP(ip); err != nil {
			r.Fatalf("%v", err)
		}
		waitConns(c, opt.maxTCP)
		procs[i] = c.Proc
	}
	rig.StartIperfServer(nss[1])
	if p, err := nss[0].Ping("192.168.77.2", 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through the %s chain before the benchmark: %+v %v", kind, p, err)
	}
	res := chainResult{chain: kind}
	all := []*testrig.Proc{srv.Proc, procs[0], procs[1]}
	for i := 0; i < opt.runs; i++ {
		var before, after [3]float64
		var errs []error
		for j, p := range all {
			var err error
			before[j], err = p.CPUSeconds()
			errs = append(errs, err)
		}
		ip, err := nss[0].Iperf("192.168.77.2", opt.duration, false)
		errs = append(errs, err)
		for j, p := range all {
			var err error
			after[j], err = p.CPUSeconds()
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			r.Fatalf("run %d: %v", i+1, err)
		}
		rn := chainRun{mbps: ip.BitsPerSecond / 1e6, bytes: ip.ReceivedBytes}
		for j := range rn.cpu {
			rn.cpu[j] = after[j] - before[j]
		}
		r.Logf("%s chain run %d: %.0f Mbit/s, CPU s server %.2f, clients %.2f %.2f", kind, i+1, rn.mbps, rn.cpu[0], rn.cpu[1], rn.cpu[2])
		res.runs = append(res.runs, rn)
	}
	return res
}

// startEthervpnClient runs "ethervpn client" in ns, waits for "Now
// connected" and for all its TCP connections, and addresses its TAP.
func startEthervpnClient(r *testrig.Runner, ns *testrig.Netns, srv *testrig.Server, user, cidr string, maxTCP int) *testrig.Proc {
	const tapName = "vpn_bench"
	p := testrig.StartProc(r, "ethervpn client "+ns.Name, filepath.Join(ns.Dir, "ethervpn-client.log"),
		ns.Cmd(testrig.EthervpnBinary(r), "client", "--server", ns.ServerIP+":"+strconv.Itoa(srv.Port),
			"--hub", "BENCH", "--user", user, "--password", benchPassword, "--tap", tapName,
			"--max-connections", strconv.Itoa(maxTCP))...)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Log(), "Now connected") {
		if p.Exited() || time.Now().After(deadline) {
			r.Fatalf("ethervpn client in %s did not connect: %s", ns.Name, p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := ns.Run(10*time.Second, "ip", "addr", "add", cidr, "dev", tapName); err != nil {
		r.Fatalf("%v", err)
	}
	// Additional connections open one per second.
	deadline = time.Now().Add(time.Duration(maxTCP+10) * time.Second)
	for time.Now().Before(deadline) {
		out, _ := ns.Run(5*time.Second, "ss", "-Htn", "state", "established", "dport", "=", ":"+strconv.Itoa(srv.Port))
		if strings.Count(out, "\n") >= maxTCP {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	return p
}

func printChainTable(w io.Writer, opt options, results []chainResult) {
	fmt.Fprintf(w, "\nL2 client -> server -> client: iperf3 -t %d, 1 stream, %d run(s), %d TCP connection(s) per client, UDP acceleration off\n\n",
		int(opt.duration/time.Second), opt.runs, opt.maxTCP)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "chain\tMbit/s\tserver CPU %\tclient1 CPU %\tclient2 CPU %\tCPU-s per GB\truns (Mbit/s)\t")
	type sum struct{ mbps, perGB float64 }
	sums := map[testrig.ServerKind]sum{}
	for _, res := range results {
		if res.err != nil {
			fmt.Fprintf(tw, "%s\tfailed\t-\t-\t-\t-\t%s\t\n", res.chain, res.err)
			continue
		}
		var mbps, perGB []float64
		var cpu [3][]float64
		var each []string
		for _, rn := range res.runs {
			mbps = append(mbps, rn.mbps)
			total := 0.0
			for j, c := range rn.cpu {
				cpu[j] = append(cpu[j], 100*c/opt.duration.Seconds())
				total += c
			}
			if rn.bytes > 0 {
				perGB = append(perGB, total/(float64(rn.bytes)/1e9))
			}
			each = append(each, fmt.Sprintf("%.0f", rn.mbps))
		}
		s := sum{median(mbps), median(perGB)}
		sums[res.chain] = s
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%s\t\n", res.chain, s.mbps,
			median(cpu[0]), median(cpu[1]), median(cpu[2]), s.perGB, strings.Join(each, " "))
	}
	tw.Flush()
	e, ok1 := sums[testrig.Ethervpn]
	s, ok2 := sums[testrig.SoftEther]
	if ok1 && ok2 && s.mbps > 0 && s.perGB > 0 {
		fmt.Fprintf(w, "\nethervpn/softether: throughput %.2fx, CPU per GB %.2fx (lower is better)\n",
			e.mbps/s.mbps, e.perGB/s.perGB)
	}
}
