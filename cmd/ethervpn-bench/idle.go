package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The idle benchmark: many logged-in sessions that carry nothing but
// keep-alives. It measures what a session costs a server while idle: the
// server's resident memory per session, its CPU per idle session, and the
// time it took to log them all in. The sessions are the load generator's
// (loadgen.go) with their frame streams stopped.

const (
	idleHub  = "IDLE"
	idlePort = 25558
)

// idleOptions are the idle benchmark's flags.
type idleOptions struct {
	ethervpnN, softetherN int // sessions for ethervpn alone, then for both
	hold                  time.Duration
	parallel              int
	kinds                 []testrig.ServerKind
}

// idleRun is one measurement: n sessions on one server.
type idleRun struct {
	server             testrig.ServerKind
	n                  int
	login              time.Duration // all n logged in
	rssBefore, rssIdle int64         // server resident bytes before the logins and with the n sessions
	cpu                float64       // server CPU seconds during hold
	hold               time.Duration
	err                error
}

func (r idleRun) perSession() float64 { return float64(r.rssIdle-r.rssBefore) / float64(r.n) }

// runIdle is "ethervpn-bench idle".
func runIdle(args []string) int {
	fs := newFlags("idle", "unused", "servers")
	n := fs.Int("n", 10000, "idle sessions on ethervpn alone (0 to skip)")
	softN := fs.Int("softether", 2000, "idle sessions on both servers, side by side (0 to skip)")
	parallel := fs.Int("parallel", 32, "logins at once")
	fs.Parse(args)
	opt := idleOptions{ethervpnN: *n, softetherN: *softN, hold: time.Duration(*fs.secs) * time.Second, parallel: *parallel}
	if opt.ethervpnN < 0 || opt.softetherN < 0 || opt.parallel < 1 || opt.hold <= 0 {
		fmt.Fprintln(os.Stderr, "idle: -n and -softether must be at least 0, -parallel at least 1, -t positive")
		return 2
	}
	kinds, code := serversToRun(*fs.servers)
	if code != 0 {
		return code
	}
	opt.kinds = kinds
	// Every session is a socket here and in the server, which inherits
	// this limit from the rig.
	most := max(opt.ethervpnN, opt.softetherN)
	if err := raiseFileLimit(2*most+1024, most+256); err != nil {
		fmt.Fprintf(os.Stderr, "idle: %v\n", err)
		return 1
	}
	defer testrig.RemoveBuilds()

	type step struct {
		kind testrig.ServerKind
		n    int
	}
	var steps []step
	if opt.ethervpnN > 0 && hasKind(kinds, testrig.Ethervpn) {
		steps = append(steps, step{testrig.Ethervpn, opt.ethervpnN})
	}
	if opt.softetherN > 0 {
		for _, k := range kinds {
			steps = append(steps, step{k, opt.softetherN})
		}
	}
	var runs []idleRun
	for _, s := range steps {
		rn := measureIdle(s.kind, s.n, opt)
		if rn.err != nil {
			fmt.Fprintf(os.Stderr, "%s, %d sessions: %v\n", s.kind, s.n, rn.err)
			code = 1
		}
		runs = append(runs, rn)
	}
	printIdleTable(os.Stdout, opt, runs)
	return code
}

func hasKind(kinds []testrig.ServerKind, k testrig.ServerKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// measureIdle starts a fresh server of kind with a user per session, logs
// n sessions in, and measures them idle for opt.hold.
func measureIdle(kind testrig.ServerKind, n int, opt idleOptions) (rn idleRun) {
	rn = idleRun{server: kind, n: n, hold: opt.hold}
	r := testrig.NewRunner(os.Stderr)
	defer r.Close()
	rn.err = r.Try(func() {
		cfg, err := idleConfig(idlePort, n)
		if err != nil {
			r.Fatalf("%v", err)
		}
		rig := testrig.New(r)
		srv := rig.StartServerText(kind, idlePort, ctlAdminPassword, cfg)
		ns := rig.AddClient()
		o := genOptions{server: net.JoinHostPort(ns.ServerIP, strconv.Itoa(idlePort)), hub: idleHub, password: benchPassword,
			user: loadUser, size: ctrlFrameSize, do: ns.Do, parallel: opt.parallel}
		// The real vpnserver may accept connections before it has
		// loaded its hub: one session logs in and out until it works.
		deadline := time.Now().Add(60 * time.Second)
		for {
			g, err := loginAll(context.Background(), o, 1)
			if err == nil {
				g.close()
				break
			}
			if time.Now().After(deadline) {
				r.Fatalf("the generator cannot log in: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // the first session's end settles
		pid := srv.Proc.Pid()
		if rn.rssBefore, err = treeRSS(pid); err != nil {
			r.Fatalf("%v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		g, err := loginAll(ctx, o, n)
		if err != nil {
			r.Fatalf("logging %d sessions in: %v", n, err)
		}
		defer g.close()
		rn.login = time.Since(start)
		r.Logf("%s: %d sessions logged in after %.1f s", kind, n, rn.login.Seconds())
		time.Sleep(2 * time.Second) // what the logins left behind settles
		c0, err := testrig.TreeCPUSeconds(pid)
		if err != nil {
			r.Fatalf("%v", err)
		}
		for end := time.Now().Add(opt.hold); time.Now().Before(end); {
			time.Sleep(min(time.Second, time.Until(end)))
			if err := g.err(); err != nil {
				r.Fatalf("while idle: %v", err)
			}
		}
		c1, err := testrig.TreeCPUSeconds(pid)
		if err != nil {
			r.Fatalf("%v", err)
		}
		rn.cpu = c1 - c0
		if rn.rssIdle, err = treeRSS(pid); err != nil {
			r.Fatalf("%v", err)
		}
		// Keep-alives kept every session up through the hold: the
		// generator's own counters say whether the server sent them.
		if err := g.err(); err != nil {
			r.Fatalf("at the end: %v", err)
		}
	})
	return rn
}

// idleConfig is the configuration of the idle benchmark's servers: hub
// IDLE with a user per session (loadUser), and DoS protection off, since
// every session comes from one address, beyond the 256 connections per
// address that SoftEther (and ethervpn) allow by default.
func idleConfig(port, users int) ([]byte, error) {
	cfg := testrig.ServerConfig{Port: port, AdminPassword: ctlAdminPassword, Hubs: []testrig.HubConfig{{Name: idleHub, Password: "hubpw"}}}
	for i := range users {
		cfg.Hubs[0].Users = append(cfg.Hubs[0].Users, testrig.UserConfig{Name: loadUser(i), Password: benchPassword})
	}
	text, err := renderWithoutDoS(&cfg)
	if err != nil {
		return nil, err
	}
	return []byte(text), nil
}

// raiseFileLimit raises RLIMIT_NOFILE to want, or to the hard limit
// when that is lower and this process may not raise it (no
// CAP_SYS_RESOURCE in a container); it fails when the result is below
// need.
func raiseFileLimit(want, need int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= uint64(want) {
		return nil
	}
	up := lim
	up.Cur, up.Max = uint64(want), max(lim.Max, uint64(want))
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &up); err == nil {
		return nil
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising the open-file limit: %w", err)
	}
	if lim.Cur < uint64(need) {
		return fmt.Errorf("the open-file limit is %d and cannot be raised; %d sessions need %d", lim.Cur, need-256, need)
	}
	return nil
}

// treeRSS is the resident memory of process pid and its descendants, in
// bytes (VmRSS of /proc/PID/status).
func treeRSS(pid int) (int64, error) {
	var sum int64
	for _, p := range testrig.ProcTree(pid) {
		kb, err := statusKB(p, "VmRSS:")
		if err != nil && p == pid {
			return 0, err
		}
		sum += kb * 1024
	}
	return sum, nil
}

// statusKB reads a "kB" field of /proc/PID/status.
func statusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// printIdleTable prints a row per measurement and the ratios
// ethervpn/vpnserver at the same session count.
func printIdleTable(w io.Writer, opt idleOptions, runs []idleRun) {
	title := fmt.Sprintf("Idle sessions: ethervpn's client code (TLS, 1 TCP connection each), keep-alives only, a fresh server per row;\n"+
		"%d logins at once; CPU over %v of idle; memory: the server's resident set with the sessions minus before the logins", opt.parallel, opt.hold)
	tw := newTable(w, title, "server\tsessions\tlogin s\tlogins/s\tRSS before MiB\tRSS idle MiB\tKiB per session\tCPU-s idle\tCPU µs per session per s\t")
	for _, r := range runs {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%d\tfailed\t%s%v\t\n", r.server, r.n, strings.Repeat("-\t", 5), r.err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%.1f\t%.1f\t%.1f\t%.2f\t%.1f\t\n", r.server, r.n, r.login.Seconds(), float64(r.n)/r.login.Seconds(),
			float64(r.rssBefore)/(1<<20), float64(r.rssIdle)/(1<<20), r.perSession()/1024, r.cpu, r.cpu/r.hold.Seconds()/float64(r.n)*1e6)
	}
	tw.Flush()
	for i, e := range runs {
		if e.server != testrig.Ethervpn || e.err != nil {
			continue
		}
		if e.n >= 10000 {
			fmt.Fprintf(w, "\nissue 13 targets, %d sessions on ethervpn: held %s, <= 64 KiB per session %s\n", e.n, met(true), met(e.perSession() <= 64*1024))
		}
		// Each ethervpn row is compared with the softether row that
		// follows it with the same count (the side-by-side pair).
		for _, s := range runs[i+1:] {
			if s.n != e.n {
				continue
			}
			if s.server == testrig.SoftEther && s.err == nil {
				fmt.Fprintf(w, "\nethervpn/softether, %d sessions: memory per session %s, idle CPU %s, login time %s (lower is better)\n",
					e.n, ratio(e.perSession(), s.perSession()), ratio(e.cpu, s.cpu), ratio(e.login.Seconds(), s.login.Seconds()))
				fmt.Fprintf(w, "issue 13 target, %d sessions: ethervpn's memory per session <= half of vpnserver's %s\n", e.n, met(e.perSession() <= s.perSession()/2))
			}
			break
		}
	}
}
