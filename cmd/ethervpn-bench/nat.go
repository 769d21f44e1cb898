package main

import (
	"fmt"
	"io"
	"strings"
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

const natHub = "NAT"

// runNAT is "ethervpn-bench nat".
func runNAT(args []string) int {
	fs := newFlags("nat", "iperf3 runs per server", "servers")
	leases := fs.Int("leases", 3, "connect -> lease measurements per server")
	fs.Parse(args)
	opt := fs.options()
	opt.runs, opt.leases = max(opt.runs, 1), max(*leases, 1)
	return measureEach(*fs.servers, opt, setupNAT, printNATTable)
}

// setupNAT brings up server, wan host and client for one server kind and
// times opt.leases connections up to their DHCP lease; each run is iperf3
// through SecureNAT.
func setupNAT(r *testrig.Runner, kind testrig.ServerKind, opt options) (result, func(int) run) {
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

	res := result{server: kind}
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
	return res, func(i int) run {
		rn := iperfRun(r, ns, testrig.WANHostIP, opt.duration, []*testrig.Proc{srv.Proc})
		r.Logf("%s run %d: %.0f Mbit/s, %d bytes, %d TCP retransmissions, server CPU %.2f s", kind, i, rn.mbps, rn.bytes, rn.retr, rn.cpu[0])
		return rn
	}
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

func printNATTable(w io.Writer, opt options, results []result) {
	tw := newTable(w, fmt.Sprintf("SecureNAT, client -> wan host: iperf3 TCP -t %d, 1 stream, %d run(s); connect -> DHCP lease, %d run(s)",
		int(opt.duration/time.Second), opt.runs, opt.leases),
		"server\tMbit/s\tserver CPU-s\tCPU-s per GB\tconnect->lease ms\truns (Mbit/s)\tleases (ms)\t")
	for _, res := range results {
		if res.err != nil {
			failedRow(tw, res, 3, 1)
			continue
		}
		s := summarize(res)
		var leases []string
		for _, d := range res.leases {
			leases = append(leases, fmt.Sprintf("%.0f", d.Seconds()*1000))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.0f\t%s\t%s\t\n", res.server, s.mbps, s.cpuSec, s.cpuPerGB, leaseMs(res),
			eachMbps(res.runs), strings.Join(leases, " "))
	}
	tw.Flush()
	e, s, ok := pair(results)
	if !ok {
		return
	}
	if sm := summarize(s); sm.mbps > 0 && leaseMs(s) > 0 {
		fmt.Fprintf(w, "\nethervpn/softether: TCP throughput %.1fx (target >= 12x), connect->lease time %.2fx (target <= 1x)\n",
			summarize(e).mbps/sm.mbps, leaseMs(e)/leaseMs(s))
	}
}

// leaseMs is the median connect -> lease time in milliseconds.
func leaseMs(res result) float64 {
	var ms []float64
	for _, d := range res.leases {
		ms = append(ms, d.Seconds()*1000)
	}
	return median(ms)
}
