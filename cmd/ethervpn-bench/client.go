package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// runClient is "ethervpn-bench client": L2 throughput between two VPN
// clients through one hub, the whole chain ethervpn (ethervpn client ->
// ethervpn server -> ethervpn client) against the whole chain SoftEther
// (vpnclient -> vpnserver -> vpnclient, UDP acceleration off), in one run.
func runClient(args []string) int {
	fs := newFlags("client", "runs per chain", "chains")
	maxTCP := fs.Int("maxtcp", 1, "TCP connections per client (ethervpn client --max-connections, vpnclient /MAXTCP; vpnclient's QoS adds one when 1)")
	fs.Parse(args)
	opt := fs.options()
	opt.maxTCP = *maxTCP
	return measureEach(*fs.servers, opt, setupChain, printChainTable)
}

// setupChain brings up server and two clients of one implementation; each
// run is iperf3 from the first client to the second.
func setupChain(r *testrig.Runner, kind testrig.ServerKind, opt options) (result, func(int) run) {
	rig := testrig.New(r)
	srv := startBenchServer(rig, kind)
	var nss [2]*testrig.Netns
	var procs [2]*testrig.Proc
	for i := range nss {
		nss[i] = rig.AddClient()
		if kind == testrig.Ethervpn {
			procs[i] = startEthervpnClient(r, nss[i], srv, fmt.Sprintf("user%d", i+1), fmt.Sprintf("192.168.77.%d/24", i+1), opt.maxTCP)
			continue
		}
		c := startVPNClient(r, rig, nss[i], srv, i+1, opt.maxTCP)
		waitConns(c, opt.maxTCP)
		procs[i] = c.Proc
	}
	rig.StartIperfServer(nss[1])
	if p, err := nss[0].Ping("192.168.77.2", 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through the %s chain before the benchmark: %+v %v", kind, p, err)
	}
	// CPU time of the server, the sending and the receiving client.
	all := []*testrig.Proc{srv.Proc, procs[0], procs[1]}
	return result{server: kind}, func(i int) run {
		rn := iperfRun(r, nss[0], "192.168.77.2", opt.duration, all)
		r.Logf("%s chain run %d: %.0f Mbit/s, %d TCP retransmissions, CPU s server %.2f, clients %.2f %.2f", kind, i, rn.mbps, rn.retr, rn.cpu[0], rn.cpu[1], rn.cpu[2])
		return rn
	}
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

func printChainTable(w io.Writer, opt options, results []result) {
	tw := newTable(w, fmt.Sprintf("L2 client -> server -> client: iperf3 -t %d, 1 stream, %d run(s), %d TCP connection(s) per client, UDP acceleration off",
		int(opt.duration/time.Second), opt.runs, opt.maxTCP),
		"chain\tMbit/s\tserver CPU %\tclient1 CPU %\tclient2 CPU %\tCPU-s per GB\truns (Mbit/s)\t")
	for _, res := range results {
		if res.err != nil {
			failedRow(tw, res, 4, 0)
			continue
		}
		// Each process's CPU time as a share of the run's duration.
		var cpu [3][]float64
		for _, rn := range res.runs {
			for j, c := range rn.cpu {
				cpu[j] = append(cpu[j], 100*c/opt.duration.Seconds())
			}
		}
		s := summarize(res)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%s\t\n", res.server, s.mbps,
			median(cpu[0]), median(cpu[1]), median(cpu[2]), s.cpuPerGB, eachMbps(res.runs))
	}
	tw.Flush()
	printRatio(w, results)
}
