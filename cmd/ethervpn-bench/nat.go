package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The nat benchmark: one real vpnclient on a hub with SecureNAT, a wan
// host behind the server namespace, and for each server
//   - connect -> lease: from vpncmd AccountConnect to udhcpc's "bound",
//     repeated with a disconnect in between;
//   - iperf3 TCP from the client to the wan host through SecureNAT, with
//     the server process's CPU time.
//
//	ethervpn-bench nat [-t 10] [-runs 1] [-leases 3] [-servers ethervpn,softether]

// natOptions are the nat benchmark's flags.
type natOptions struct {
	duration time.Duration
	runs     int
	leases   int
}

// natResult is one server's measurements.
type natResult struct {
	server testrig.ServerKind
	runs   []run
	leases []time.Duration
	err    error
}

const natHub = "NAT"

func runNAT(args []string) int {
	fs := flag.NewFlagSet("nat", flag.ExitOnError)
	secs := fs.Int("t", 10, "iperf3 duration per run, seconds")
	runs := fs.Int("runs", 1, "iperf3 runs per server; the table shows medians")
	leases := fs.Int("leases", 3, "connect -> lease measurements per server")
	servers := fs.String("servers", "ethervpn,softether", "servers to measure, in order")
	fs.Parse(args)
	kinds, err := parseServers(*servers)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if miss := testrig.Missing(); len(miss) > 0 {
		fmt.Fprintf(os.Stderr, "ethervpn-bench needs: %s\n", strings.Join(miss, ", "))
		return 1
	}
	defer testrig.RemoveBuilds()

	opt := natOptions{duration: time.Duration(*secs) * time.Second, runs: max(*runs, 1), leases: max(*leases, 1)}
	var results []natResult
	failed := false
	for _, k := range kinds {
		r := testrig.NewRunner(os.Stderr)
		var res natResult
		err := r.Run(func() { res = measureNAT(r, k, opt) })
		r.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", k, err)
			res = natResult{server: k, err: err}
			failed = true
		}
		results = append(results, res)
	}
	printNATTable(os.Stdout, opt, results)
	if failed {
		return 1
	}
	return 0
}

func parseServers(s string) ([]testrig.ServerKind, error) {
	var kinds []testrig.ServerKind
	for _, name := range strings.Split(s, ",") {
		k, err := testrig.ParseServerKind(name)
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, k)
	}
	return kinds, nil
}

// measureNAT brings up server, wan host and client for one server kind,
// times opt.leases connections up to their DHCP lease, then runs iperf3
// through SecureNAT opt.runs times.
func measureNAT(r *testrig.Runner, kind testrig.ServerKind, opt natOptions) natResult {
	rig := testrig.New(r)
	wan := rig.AddWAN()
	srv := rig.StartServer(kind, &testrig.ServerConfig{Port: 25555, Hubs: []testrig.HubConfig{{
		Name: natHub, Password: "hubpw",
		Users:     []testrig.UserConfig{{Name: "user1", Password: benchPassword}},
		SecureNAT: &testrig.SecureNATConfig{},
	}}})
	rig.StartIperfServer(wan)
	ns := rig.AddClient()
	cli := rig.StartClient(ns, "c1")
	if err := cli.Configure(srv, testrig.Account{Hub: natHub, User: "user1", Password: benchPassword}); err != nil {
		r.Fatalf("%v", err)
	}

	res := natResult{server: kind}
	for i := 0; i < opt.leases; i++ {
		if i > 0 {
			if err := cli.Disconnect(); err != nil {
				r.Fatalf("%v", err)
			}
		}
		d, dhcp := connectToLease(r, rig, ns, cli)
		if i < opt.leases-1 {
			dhcp.Stop() // the address stays; the next lease renews it
		}
		r.Logf("%s connect -> lease %d: %v", kind, i+1, d.Round(time.Millisecond))
		res.leases = append(res.leases, d)
	}

	if p, err := ns.Ping(testrig.WANHostIP, 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through %s's SecureNAT before the benchmark: %+v %v", kind, p, err)
	}
	for i := 0; i < opt.runs; i++ {
		cpu0, err0 := srv.Proc.CPUSeconds()
		ip, err := ns.Iperf(testrig.WANHostIP, opt.duration, false)
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

// connectToLease connects the configured account and runs udhcpc as soon
// as vpnclient reports the session, returning the time from AccountConnect
// to the lease, and the udhcpc that keeps the lease (and the default route).
func connectToLease(r *testrig.Runner, rig *testrig.Rig, ns *testrig.Netns, cli *testrig.Client) (time.Duration, *testrig.DHCPClient) {
	start := time.Now()
	if err := cli.StartConnect(); err != nil {
		r.Fatalf("%v", err)
	}
	if err := cli.WaitSessionUp(30 * time.Second); err != nil {
		r.Fatalf("%v", err)
	}
	dhcp := rig.StartDHCP(ns, cli.TAP(), "bench")
	lease, err := dhcp.WaitLease(30 * time.Second)
	if err != nil {
		r.Fatalf("%v", err)
	}
	d := time.Since(start)
	if lease.IP != testrig.SecureNATFirstIP {
		r.Fatalf("lease of %s, want %s", lease.IP, testrig.SecureNATFirstIP)
	}
	return d, dhcp
}

func printNATTable(w io.Writer, opt natOptions, results []natResult) {
	fmt.Fprintf(w, "\nSecureNAT, client -> wan host: iperf3 TCP -t %d, 1 stream, %d run(s); connect -> DHCP lease, %d run(s)\n\n",
		int(opt.duration/time.Second), opt.runs, opt.leases)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tMbit/s\tserver CPU-s\tCPU-s per GB\tconnect->lease ms\truns (Mbit/s)\tleases (ms)\t")
	type sum struct{ mbps, lease float64 }
	sums := map[testrig.ServerKind]sum{}
	for _, res := range results {
		if res.err != nil {
			fmt.Fprintf(tw, "%s\tfailed\t-\t-\t-\t%s\t\t\n", res.server, res.err)
			continue
		}
		s := summarize(result{server: res.server, runs: res.runs})
		var each, leases []string
		var ms []float64
		for _, r := range res.runs {
			each = append(each, fmt.Sprintf("%.0f", r.mbps))
		}
		for _, d := range res.leases {
			leases = append(leases, fmt.Sprintf("%.0f", d.Seconds()*1000))
			ms = append(ms, d.Seconds()*1000)
		}
		lease := median(ms)
		sums[res.server] = sum{s.mbps, lease}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.0f\t%s\t%s\t\n", res.server, s.mbps, s.cpuSec, s.cpuPerGB, lease,
			strings.Join(each, " "), strings.Join(leases, " "))
	}
	tw.Flush()
	e, ok1 := sums[testrig.Ethervpn]
	s, ok2 := sums[testrig.SoftEther]
	if ok1 && ok2 && s.mbps > 0 && s.lease > 0 {
		fmt.Fprintf(w, "\nethervpn/softether: TCP throughput %.1fx (target >= 12x), connect->lease time %.2fx (target <= 1x)\n",
			e.mbps/s.mbps, e.lease/s.lease)
	}
}
