package main

import (
	"fmt"
	"io"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// runL2 is "ethervpn-bench l2": two real vpnclients on one hub of each
// server, iperf3 from the first to the second, with the server's CPU time.
func runL2(args []string) int {
	fs := newFlags("l2", "runs per server", "servers")
	maxTCP := fs.Int("maxtcp", 1, "vpnclient /MAXTCP (QoS adds one connection when 1)")
	fs.Parse(args)
	opt := fs.options()
	opt.maxTCP = *maxTCP
	return measureEach(*fs.servers, opt, measureL2, printL2Table)
}

// measureL2 brings up the topology for one server and runs iperf3 opt.runs
// times from c1 to c2 through the hub.
func measureL2(r *testrig.Runner, kind testrig.ServerKind, opt options) result {
	rig := testrig.New(r)
	srv := startBenchServer(rig, kind)
	var clients [2]*testrig.Client
	var nss [2]*testrig.Netns
	for i := range clients {
		nss[i] = rig.AddClient()
		clients[i] = startVPNClient(r, rig, nss[i], srv, i+1, opt.maxTCP)
	}
	res := result{server: kind, conns: waitConns(clients[0], opt.maxTCP)}
	rig.StartIperfServer(nss[1])
	if p, err := nss[0].Ping("192.168.77.2", 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through %s before the benchmark: %+v %v", kind, p, err)
	}
	res.runs = iperfRuns(r, opt.runs, nss[0], "192.168.77.2", opt.duration, []*testrig.Proc{srv.Proc}, func(i int, rn run) {
		r.Logf("%s run %d: %.0f Mbit/s, %d bytes, %d TCP retransmissions, server CPU %.2f s", kind, i, rn.mbps, rn.bytes, rn.retr, rn.cpu[0])
	})
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

func printL2Table(w io.Writer, opt options, results []result) {
	tw := newTable(w, fmt.Sprintf("L2 c1 -> c2 through one hub: iperf3 -t %d, 1 stream, %d run(s), vpnclient MAXTCP %d, UDP acceleration off",
		int(opt.duration/time.Second), opt.runs, opt.maxTCP),
		"server\tMbit/s\tserver CPU-s\tCPU-s per GB\tTCP conns\truns (Mbit/s)\t")
	for _, res := range results {
		if res.err != nil {
			failedRow(tw, res, 3, 0)
			continue
		}
		s := summarize(res)
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%d\t%s\t\n", res.server, s.mbps, s.cpuSec, s.cpuPerGB, res.conns, eachMbps(res.runs))
	}
	tw.Flush()
	printRatio(w, results)
}
