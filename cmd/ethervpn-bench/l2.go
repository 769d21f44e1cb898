package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
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
	return measureEach(*fs.servers, opt, setupL2, printL2Table)
}

// setupL2 brings up the topology for one server; each run is iperf3 from
// c1 to c2 through the hub.
func setupL2(r *testrig.Runner, kind testrig.ServerKind, opt options) (result, func(int) run) {
	rig := testrig.New(r)
	srv := startBenchServer(rig, kind)
	var clients [2]*testrig.Client
	var nss [2]*testrig.Netns
	for i := range clients {
		nss[i] = rig.AddClient()
		clients[i] = startVPNClient(r, rig, nss[i], srv, i+1, opt.maxTCP)
	}
	// The server's CPU is what the table compares; the real vpnclients' is
	// measured too, because they share the machine's cores with it.
	res := result{server: kind, conns: waitConns(clients[0], opt.maxTCP), costed: 1}
	// The cipher decides much of the vpnclients' own cost.
	if st, err := clients[0].Status(); err == nil {
		r.Logf("%s: vpnclient c1 session encryption: %s", kind, st[testrig.StatusEncryption])
	}
	rig.StartIperfServer(nss[1])
	if p, err := nss[0].Ping("192.168.77.2", 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through %s before the benchmark: %+v %v", kind, p, err)
	}
	procs := []*testrig.Proc{srv.Proc, clients[0].Proc, clients[1].Proc}
	return res, func(i int) run {
		// Frames lost on the way show up as the tunnelled flow's
		// retransmissions; the TAP counters say where: in the sending
		// client's TAP queue, or between the two TAPs (a vpnclient or the
		// server).
		before := [2]tapCounters{readTAP(r, nss[0], clients[0].TAP()), readTAP(r, nss[1], clients[1].TAP())}
		rn := iperfRun(r, nss[0], "192.168.77.2", opt.duration, procs)
		c1, c2 := readTAP(r, nss[0], clients[0].TAP()).minus(before[0]), readTAP(r, nss[1], clients[1].TAP()).minus(before[1])
		r.Logf("%s run %d: %.0f Mbit/s, %d bytes, %d TCP retransmissions, CPU s: server %.2f, sending vpnclient %.2f, receiving vpnclient %.2f",
			kind, i, rn.mbps, rn.bytes, rn.retr, rn.cpu[0], rn.cpu[1], rn.cpu[2])
		r.Logf("%s run %d: frames c1 -> c2: %d dropped in c1's TAP queue, %d read by c1's vpnclient, %d lost between the TAPs",
			kind, i, c1.txDropped, c1.txPackets, c1.txPackets-c2.rxPackets)
		return rn
	}
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
		"server\tMbit/s\tserver CPU-s\tCPU-s per GB\tvpnclients' CPU-s per GB\tTCP conns\truns (Mbit/s)\t")
	for _, res := range results {
		if res.err != nil {
			failedRow(tw, res, 4, 0)
			continue
		}
		s := summarize(res)
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%s\t\n", res.server, s.mbps, s.cpuSec, s.cpuPerGB, s.otherPerGB, res.conns, eachMbps(res.runs))
	}
	tw.Flush()
	printRatio(w, results)
}

// tapCounters are the kernel's counters of a TAP device: tx is the
// direction from the host into the VPN client process.
type tapCounters struct{ txPackets, txDropped, rxPackets int64 }

func (a tapCounters) minus(b tapCounters) tapCounters {
	return tapCounters{a.txPackets - b.txPackets, a.txDropped - b.txDropped, a.rxPackets - b.rxPackets}
}

// readTAP reads dev's counters in ns.
func readTAP(r *testrig.Runner, ns *testrig.Netns, dev string) tapCounters {
	var c tapCounters
	for _, f := range []struct {
		name string
		v    *int64
	}{{"tx_packets", &c.txPackets}, {"tx_dropped", &c.txDropped}, {"rx_packets", &c.rxPackets}} {
		out, err := ns.Run(5*time.Second, "cat", "/sys/class/net/"+dev+"/statistics/"+f.name)
		if err == nil {
			*f.v, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		}
		if err != nil {
			r.Fatalf("reading %s of %s: %v", f.name, dev, err)
		}
	}
	return c
}
