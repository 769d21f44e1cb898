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
//
//	go run ./cmd/ethervpn-bench native [-t 10] [-runs 3] [-servers ethervpn,softether,openvpn,wireguard-go]
//
// The native benchmark measures OpenVPN (tun, AES-256-GCM) through
// ethervpn, the real vpnserver and openvpn --server, and a plain
// wireguard-go tunnel as the WireGuard reference (native.go).
//
//	go run ./cmd/ethervpn-bench farm [-duration 10s] [-callers 16]
//	go run ./cmd/ethervpn-bench farm -l2 [-t 10] [-runs 1] [-maxtcp 1]
//
// The farm benchmark measures VPN logins per second at one node of a farm
// on a real etcd (standalone, 1 node, 3 nodes with a dynamic and with a
// static hub) and the time the first session of a dynamic hub waits for
// its placement (farm.go); with -l2, iperf3 between two real vpnclients
// on a dynamic hub, both redirected to its host, against one server
// (farm_l2.go).
//
//	go run ./cmd/ethervpn-bench ctl [-users 10000] [-rules 1000] [-duration 10s] [-quick]
//
// The ctl benchmark measures the control plane at scale (ctl.go): admin
// calls on a hub with many users and access rules, and VPN logins per
// second alone and while an admin loop changes the hub.
//
//	go run ./cmd/ethervpn-bench logins [-duration 10s] [-callers 16] [-hammer 32] [-runs 1]
//
// The logins benchmark measures whole VPN sessions per second (TLS,
// hello, password, welcome, an ARP round trip to SecureNAT, close) from
// parallel callers, then the same while another address hammers wrong
// passwords (logins.go). The server is bound to CPU 0 and the benchmark to
// CPU 1, so that each server is measured on one core of its own.
//
//	go run ./cmd/ethervpn-bench load [-n 2,8,64] [-t 10] [-runs 1] [-size 1514] [-window 256] [-servers ethervpn,softether]
//
// The load benchmark measures the server on its own (load.go, loadgen.go):
// N synthetic sessions made with ethervpn's own client code (TLS, hello,
// password login, one TCP connection each, no compression) log in to one
// hub as N/2 pairs; each streams frames to its partner at full speed and
// checks the sequence number and pattern of what arrives, all in memory.
// A sender keeps at most a window of frames in flight that halves on loss
// and grows while full, as a TCP sender would (-window 0: no window, the
// hub drops what it cannot forward). The server is pinned to CPU 0 and the
// generator to CPU 1. Per server and N it prints Mbit/s and frames/s
// delivered, the server's CPU seconds per GB, the generator's CPU, frames
// lost, and the round trip of a probe frame one pair echoes every 10 ms
// under load (p50, p99).
//
//	go run ./cmd/ethervpn-bench idle [-n 10000] [-softether 2000] [-t 10] [-parallel 32]
//
// The idle benchmark (idle.go) logs the generator's sessions in to a fresh
// server and leaves them idle, keep-alives flowing: -n sessions on ethervpn
// alone, then -softether sessions on each server. It prints the time to log
// them all in, the server's resident memory per session and its CPU per
// idle session.
//
//	go run ./cmd/ethervpn-bench abuse [-t 10] [-conns 2000] [-quick] [-servers ethervpn,softether]
//
// The abuse benchmark (abuse.go) streams one pair of the load generator's
// sessions while the server is abused: first alone (the baseline), then
// beside a session that never reads its socket and one that floods
// broadcast frames, then beside -conns connections that send part of a
// TLS ClientHello and hold. Per phase and server it prints the pair's
// Mbit/s against its baseline, the peak resident memory of the server's
// process tree and what the server logged about it; for ethervpn, whether
// the peak stayed within the bound its queue and handshake caps imply.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) >= 2 {
		switch os.Args[1] {
		case "l2":
			os.Exit(runL2(os.Args[2:]))
		case "client":
			os.Exit(runClient(os.Args[2:]))
		case "nat":
			os.Exit(runNAT(os.Args[2:]))
		case "ctl":
			os.Exit(runCtl(os.Args[2:]))
		case "native":
			os.Exit(runNative(os.Args[2:]))
		case "ovload":
			os.Exit(runOVLoad(os.Args[2:]))
		case "farm":
			os.Exit(runFarm(os.Args[2:]))
		case "logins":
			os.Exit(runLogins(os.Args[2:]))
		case "load":
			os.Exit(runLoad(os.Args[2:]))
		case "idle":
			os.Exit(runIdle(os.Args[2:]))
		case "abuse":
			os.Exit(runAbuse(os.Args[2:]))
		}
	}
	fmt.Fprintln(os.Stderr, "usage: ethervpn-bench l2 [-t seconds] [-runs N] [-maxtcp N] [-servers ethervpn,softether]\n"+
		"       ethervpn-bench client [-t seconds] [-runs N] [-maxtcp N] [-chains ethervpn,softether]\n"+
		"       ethervpn-bench nat [-t seconds] [-runs N] [-leases N] [-servers ethervpn,softether]\n"+
		"       ethervpn-bench native [-t seconds] [-runs N] [-servers ethervpn,softether,openvpn,wireguard-go]\n"+
		"       ethervpn-bench farm [-duration 10s] [-callers N] | farm -l2 [-t seconds] [-runs N] [-maxtcp N]\n"+
		"       ethervpn-bench logins [-duration 10s] [-callers N] [-hammer N] [-runs N] [-pin] [-servers ethervpn,softether]\n"+
		"       ethervpn-bench ovload [-n 2,8] [-t seconds] [-runs N] [-window N] [-servers ethervpn,softether,openvpn]\n"+
		"       ethervpn-bench load [-n 2,8,64] [-t seconds] [-runs N] [-size bytes] [-servers ethervpn,softether]\n"+
		"       ethervpn-bench idle [-n 10000] [-softether 2000] [-t seconds] [-parallel N] [-servers ethervpn,softether]\n"+
		"       ethervpn-bench abuse [-t seconds] [-conns N] [-quick] [-servers ethervpn,softether]\n"+
		"       ethervpn-bench ctl [-users N] [-rules N] [-duration 10s] [-runs N] [-callers N] [-quick] [-servers ethervpn,softether]")
	os.Exit(2)
}
