package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The farm benchmark (issue 12 item 7): VPN logins per second through a
// farm on a real etcd (Debian's), and how long the first session of a
// dynamic hub waits for the hub to be placed, on one node and on three.
// The nodes and etcd run as processes on loopback; the logins are made
// by ethervpn's client library, which follows the farm's redirect as the
// real vpnclient does.

const (
	farmBasePort = 26000
	farmEtcdPort = 26379
	farmUsers    = 16
	farmNewHubs  = 20 // hubs whose first session is timed
)

// farmOptions are the farm benchmark's flags.
type farmOptions struct {
	duration time.Duration
	callers  int
}

// farmRow is one measured setup.
type farmRow struct {
	name            string
	logins          opStats
	placed, already opStats // first session of a fresh dynamic hub; a later one
}

// runFarm is "ethervpn-bench farm".
func runFarm(args []string) int {
	fs := flag.NewFlagSet("farm", flag.ExitOnError)
	var opt farmOptions
	fs.DurationVar(&opt.duration, "duration", 10*time.Second, "length of each login measurement")
	fs.IntVar(&opt.callers, "callers", 16, "parallel logins")
	l2 := fs.Bool("l2", false, "measure L2 throughput through a farm's dynamic hub against one server (farm_l2.go) instead of logins")
	secs := fs.Int("t", 10, "with -l2: iperf3 duration per run, seconds")
	runs := fs.Int("runs", 1, "with -l2: iperf3 runs per setup, taken in turns; the table shows medians")
	maxTCP := fs.Int("maxtcp", 1, "with -l2: vpnclient /MAXTCP")
	fs.Parse(args)
	if *l2 {
		return runFarmL2(options{duration: time.Duration(*secs) * time.Second, runs: *runs, maxTCP: *maxTCP})
	}
	if _, err := exec.LookPath("etcd"); err != nil {
		fmt.Fprintln(os.Stderr, "farm: the etcd server is missing (apt-get install etcd-server)")
		return 1
	}
	r := testrig.NewRunner(os.Stderr)
	defer r.Close()
	defer testrig.RemoveBuilds()
	var rows []farmRow
	err := r.Try(func() {
		bin := testrig.EthervpnBinary(r)
		dir, err := os.MkdirTemp("", "ethervpn-bench-farm-")
		if err != nil {
			r.Fatalf("%v", err)
		}
		r.Cleanup(func() { os.RemoveAll(dir) })
		etcdURL := "http://127.0.0.1:" + strconv.Itoa(farmEtcdPort)
		testrig.StartProc(r, "etcd", filepath.Join(dir, "etcd.log"), "etcd", "--data-dir", filepath.Join(dir, "etcd"),
			"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
			"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(farmEtcdPort+1))
		waitTCP(r, "127.0.0.1:"+strconv.Itoa(farmEtcdPort))
		port := farmBasePort
		for _, setup := range []struct {
			name  string
			nodes int
			typ   uint32
		}{
			{"standalone (no farm)", 0, config.HubStandalone},
			{"farm, 1 node", 1, config.HubDynamic},
			{"farm, 3 nodes, dynamic hub (redirected)", 3, config.HubDynamic},
			{"farm, 3 nodes, static hub (spread)", 3, config.HubStatic},
		} {
			addrs, procs := startFarmNodes(r, bin, dir, etcdURL, setup.name, max(setup.nodes, 1), setup.nodes > 0, setup.typ, &port)
			row := farmRow{name: setup.name}
			row.logins = farmLogins(addrs[0], "FARM", opt)
			if row.logins.errs > 0 {
				for _, p := range procs {
					r.Logf("%s log: %s", p.Name, tail(p.Log(), 5))
				}
			}
			if setup.typ == config.HubDynamic {
				row.placed, row.already = farmPlacement(addrs[0])
			}
			rows = append(rows, row)
			r.Logf("%s: %.0f logins/s", setup.name, row.logins.rate())
		}
	})
	if err != nil {
		return 1
	}
	printFarm(os.Stdout, opt, rows)
	return 0
}

// startFarmNodes starts n nodes (a plain server when farm is false), the
// first seeded with hub FARM of type typ, farmUsers users and the
// farmNewHubs fresh hubs; it returns their addresses.
func startFarmNodes(r *testrig.Runner, bin, dir, etcdURL, name string, n int, farm bool, typ uint32, port *int) ([]string, []*testrig.Proc) {
	cluster := fmt.Sprintf("bench%d", *port)
	var addrs []string
	var procs []*testrig.Proc
	for i := range n {
		*port++
		cfg := config.Default()
		cfg.Listeners = []config.Listener{{Port: uint16(*port), Enabled: true}}
		// Every login comes from 127.0.0.1, faster than SoftEther's DoS
		// protection lets one address connect; no UDP protocols.
		cfg.Options.DisableDosProtection = true
		cfg.PortsUDP = nil
		cfg.Proto.OpenVPN.Enabled, cfg.Proto.WireGuard.Enabled = false, false
		if i == 0 {
			hubs := []*config.Hub{config.NewHub("FARM")}
			for k := range farmNewHubs {
				hubs = append(hubs, config.NewHub(fmt.Sprintf("NEW%02d", k)))
			}
			for _, h := range hubs {
				h.Online, h.Type = true, typ
				for u := range farmUsers {
					name := fmt.Sprintf("user%d", u)
					hash := sha0.HashPassword(name, benchPassword)
					h.Users = append(h.Users, &config.User{Name: name, AuthType: 1, PasswordHash: hash[:]})
				}
			}
			cfg.Hubs = hubs
		}
		data := filepath.Join(dir, fmt.Sprintf("%s-%d", cluster, i))
		if err := os.MkdirAll(data, 0o700); err != nil {
			r.Fatalf("%v", err)
		}
		if err := config.Save(filepath.Join(data, "vpn_server.config"), cfg.ToTree()); err != nil {
			r.Fatalf("%v", err)
		}
		args := []string{bin, "server", "--data-dir", data, "--log-level", "warn"}
		if farm {
			args = append(args, "--farm", etcdURL, "--farm-cluster", cluster, "--farm-address", "127.0.0.1",
				"--farm-name", fmt.Sprintf("node%d", i+1))
		}
		procs = append(procs, testrig.StartProc(r, fmt.Sprintf("%s node %d", name, i+1), filepath.Join(data, "server.log"), args...))
		addr := "127.0.0.1:" + strconv.Itoa(*port)
		waitTCP(r, addr)
		addrs = append(addrs, addr)
		time.Sleep(300 * time.Millisecond) // in order: a tie in load goes to the node that joined last
	}
	// Every node in the member list before the logins start.
	time.Sleep(2 * time.Second)
	return addrs, procs
}

// waitTCP waits until addr accepts connections.
func waitTCP(r *testrig.Runner, addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.Fatalf("%s did not come up: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// farmLogin logs in to hub at addr (following a redirect) and logs out.
func farmLogin(addr, hub, user string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, c, err := client.Login(ctx, &client.Options{Server: addr, Hub: hub, User: user, Password: benchPassword, MaxConnections: 1})
	if err == nil {
		c.Raw.Close()
	}
	return err
}

// farmLogins runs opt.callers parallel login loops at addr.
func farmLogins(addr, hub string, opt farmOptions) opStats {
	return parallelCalls(opt.callers, opt.duration, func(i int) func() error {
		user := fmt.Sprintf("user%d", i%farmUsers)
		return func() error { return farmLogin(addr, hub, user) }
	})
}

// farmPlacement times the first login of each fresh hub (which places
// it) and a second one (placed already), one at a time.
func farmPlacement(addr string) (placed, already opStats) {
	for k := range farmNewHubs {
		hub := fmt.Sprintf("NEW%02d", k)
		for _, s := range []*opStats{&placed, &already} {
			t0 := time.Now()
			err := farmLogin(addr, hub, "user0")
			s.add(time.Since(t0), err)
		}
	}
	return placed, already
}

func printFarm(w io.Writer, opt farmOptions, rows []farmRow) {
	tw := newTable(w, fmt.Sprintf("VPN logins at one node (%d callers, %v; each login: TLS, hello, password, welcome, close; a redirected one twice) and the first session of a fresh dynamic hub (%d hubs, one at a time)",
		opt.callers, opt.duration, farmNewHubs),
		"setup\tlogins/s\tp50\tp99\tfailed\tfirst session of a hub p50\tlater session p50\t")
	base := 0.0
	for i, row := range rows {
		if i == 0 {
			base = row.logins.rate()
		}
		place, later := "-", "-"
		if len(row.placed.lat) > 0 {
			place, later = ms(row.placed.p(50)), ms(row.already.p(50))
		}
		fmt.Fprintf(tw, "%s\t%.0f (%s)\t%s\t%s\t%d\t%s\t%s\t\n", row.name, row.logins.rate(), ratio(row.logins.rate(), base),
			ms(row.logins.p(50)), ms(row.logins.p(99)), row.logins.errs, place, later)
	}
	tw.Flush()
	for _, row := range rows {
		if row.logins.errs > 0 {
			fmt.Fprintf(w, "%s: %d logins failed, the first: %v\n", row.name, row.logins.errs, row.logins.firstErr)
		}
	}
}
