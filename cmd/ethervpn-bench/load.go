package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/osprio"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The load benchmark: the server measured on its own. N synthetic
// sessions of the generator (loadgen.go) log in to one hub as N/2 pairs
// and stream frames to their partners at full speed; the table shows what
// the hub delivered and what it cost the server's CPU.

const (
	loadHub  = "LOAD"
	loadPort = 25557
	// serverCPU and genCPU are the CPUs the server and the generator are
	// pinned to, so that neither takes the other's core.
	serverCPU, genCPU = 0, 1
	probeInterval     = 10 * time.Millisecond
)

// loadOptions are the load benchmark's flags.
type loadOptions struct {
	sessions []int
	duration time.Duration
	warmup   time.Duration
	runs     int
	size     int
	window   int    // data frames in flight per session, 0 for none
	pinned   bool   // the server and the generator have a CPU each
	pprof    string // ethervpn's --pprof address, "" for none
}

// loadRun is one measurement of one server with N sessions.
type loadRun struct {
	n      int
	window time.Duration
	// bytes and frames are the data frames delivered to their partners
	// during the window.
	bytes, frames uint64
	final         genCounts // after the senders stopped and the frames in flight arrived
	serverCPU     float64   // CPU seconds of the server's processes in the window
	genCPU        float64   // and of the generator (this process)
	// otherCPU is the CPU seconds the rest of the machine used in the
	// window: on a shared host, what the server and the generator
	// competed with.
	otherCPU float64
	// steal is the CPU seconds the hypervisor took from the machine in
	// the window (/proc/stat): a slow host no process here shows.
	steal float64
	// busiest lists the processes outside the server and the generator
	// that used the most CPU in the window, for the log.
	busiest string
	rtts    []time.Duration
	// timeline is the pair's Mbit/s in each second of the window, for the
	// log: whether a disturbance passes or lasts.
	timeline []float64
}

func (r loadRun) mbps() float64 { return float64(r.bytes) * 8 / r.window.Seconds() / 1e6 }
func (r loadRun) fps() float64  { return float64(r.frames) / r.window.Seconds() }
func (r loadRun) lost() int64   { return int64(r.final.sent) - int64(r.final.frames) }

// cpuPerGB is the server's CPU seconds per GB delivered (0 without data).
func (r loadRun) cpuPerGB() float64 {
	if r.bytes == 0 {
		return 0
	}
	return r.serverCPU / (float64(r.bytes) / 1e9)
}

// loadResult is one server's measurements, by session count.
type loadResult struct {
	server testrig.ServerKind
	runs   map[int][]loadRun
	err    error
}

// runLoad is "ethervpn-bench load".
func runLoad(args []string) int {
	fs := newFlags("load", "runs per server and session count, taken in turns", "servers")
	list := fs.String("n", "2,8,64", "session counts to measure (even), in order")
	size := fs.Int("size", 1514, "data frame length in bytes (Ethernet header included, no FCS)")
	warm := fs.Duration("warmup", time.Second, "streaming before each measured window (not counted)")
	window := fs.Int("window", 256, "most data frames in flight per session; the window halves on loss and grows while full, like TCP's (0: no window, the hub drops what it cannot forward)")
	noPin := fs.Bool("nopin", false, "do not pin the server and the generator to a CPU each")
	pprof := fs.String("pprof", "", "ethervpn's --pprof address (in the server namespace), e.g. 127.0.0.1:6060")
	fs.Parse(args)
	opt := loadOptions{duration: time.Duration(*fs.secs) * time.Second, warmup: *warm, runs: *fs.runs, size: *size, window: *window, pprof: *pprof}
	for _, s := range strings.Split(*list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n%2 != 0 || n > 1000 {
			fmt.Fprintf(os.Stderr, "load: -n: %q is not an even session count from 2 to 1000\n", s)
			return 2
		}
		opt.sessions = append(opt.sessions, n)
	}
	if opt.size < ctrlFrameSize || opt.size > maxLoadFrame || opt.runs < 1 || opt.duration <= 0 || opt.window < 0 {
		fmt.Fprintf(os.Stderr, "load: -size must be %d..%d, -runs at least 1, -t positive, -window at least 0\n", ctrlFrameSize, maxLoadFrame)
		return 2
	}
	kinds, code := serversToRun(*fs.servers)
	if code != 0 {
		return code
	}
	// Pin first: every process started from here on (the servers too,
	// until they are moved to their own CPU) inherits the generator's CPU.
	if !*noPin {
		if runtime.NumCPU() < 2 {
			fmt.Fprintln(os.Stderr, "load: fewer than 2 CPUs: not pinning")
		} else if err := testrig.PinThreads(os.Getpid(), genCPU); err != nil {
			fmt.Fprintf(os.Stderr, "load: pinning the generator to CPU %d: %v\n", genCPU, err)
			return 1
		} else {
			opt.pinned = true
		}
	}
	// Both servers give themselves nice -20 at start, as SoftEther does
	// (internal/osprio): the generator stands in for their clients, and on
	// a shared host at nice 0 it would be the one that waits.
	if err := osprio.Raise(); err != nil {
		fmt.Fprintf(os.Stderr, "load: the generator keeps its priority: %v\n", err)
	}
	defer testrig.RemoveBuilds()

	ts := setUp(kinds, func(r *testrig.Runner, k testrig.ServerKind) *loadTarget { return setupLoad(r, k, opt) })
	defer ts.close()
	results := make([]loadResult, len(ts))
	for j, t := range ts {
		results[j] = loadResult{server: t.kind, runs: map[int][]loadRun{}}
	}
	for i := 1; i <= opt.runs; i++ {
		for _, n := range opt.sessions {
			ts.each(func(j int, t *turn[*loadTarget]) {
				rn := t.target.measure(n)
				results[j].runs[n] = append(results[j].runs[n], rn)
				t.r.Logf("%s run %d, %d sessions: %.0f Mbit/s, %.0f frames/s, server CPU %.2f s, generator CPU %.2f s, sent %d, received %d, gaps %d, late %d, corrupt %d, foreign %d; busiest other processes: %s",
					t.kind, i, n, rn.mbps(), rn.fps(), rn.serverCPU, rn.genCPU, rn.final.sent, rn.final.frames, rn.final.gaps, rn.final.late, rn.final.corrupt, rn.final.foreign, rn.busiest)
			})
		}
	}
	ts.close()
	code = 0
	for j, t := range ts {
		results[j].err = t.err
	}
	if ts.failed() {
		code = 1
	}
	printLoadTable(os.Stdout, opt, results)
	return code
}

// loadTarget is one running server under load.
type loadTarget struct {
	r    *testrig.Runner
	kind testrig.ServerKind
	opt  loadOptions
	ns   *testrig.Netns
	srv  *testrig.Server
	addr string
}

// setupLoad starts a server of kind with hub LOAD and a user per session
// of the largest count, in a namespace of its own, and a client namespace
// for the generator linked to it by a veth pair.
func setupLoad(r *testrig.Runner, kind testrig.ServerKind, opt loadOptions) *loadTarget {
	rig := testrig.New(r)
	cfg := &testrig.ServerConfig{Port: loadPort, AdminPassword: ctlAdminPassword, Hubs: []testrig.HubConfig{{Name: loadHub, Password: "hubpw"}}}
	for i := range slices.Max(opt.sessions) {
		cfg.Hubs[0].Users = append(cfg.Hubs[0].Users, testrig.UserConfig{Name: loadUser(i), Password: benchPassword})
	}
	t := &loadTarget{r: r, kind: kind, opt: opt}
	if kind == testrig.Ethervpn && opt.pprof != "" {
		t.srv = rig.StartEthervpn(cfg, "--pprof", opt.pprof)
		r.Logf("ethervpn: profile with: ip netns exec %s go tool pprof -seconds %d http://%s/debug/pprof/profile",
			rig.Server.Name, int(opt.duration/time.Second), opt.pprof)
	} else {
		t.srv = rig.StartServer(kind, cfg)
	}
	t.ns = rig.AddClient()
	t.addr = net.JoinHostPort(t.ns.ServerIP, strconv.Itoa(loadPort))
	// The real vpnserver may accept connections before it has loaded its
	// hubs: log one pair in until it works.
	deadline := time.Now().Add(60 * time.Second)
	for {
		g, err := newLoadGen(context.Background(), t.genOptions(), 2)
		if err == nil {
			g.close()
			break
		}
		if time.Now().After(deadline) {
			r.Fatalf("%s: the generator cannot log in: %v", kind, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return t
}

// loadUser is the user name of session i.
func loadUser(i int) string { return fmt.Sprintf("load%04d", i) }

func (t *loadTarget) genOptions() genOptions {
	return genOptions{server: t.addr, hub: loadHub, password: benchPassword, user: loadUser, size: t.opt.size, window: t.opt.window, do: t.ns.Do, parallel: 8}
}

// measure logs n sessions in, takes one measurement and logs them out.
func (t *loadTarget) measure(n int) loadRun {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := newLoadGen(ctx, t.genOptions(), n)
	if err != nil {
		t.r.Fatalf("%s: %v", t.kind, err)
	}
	defer g.close()
	if t.opt.pinned {
		// Again for each measurement: threads the server made since are
		// pinned only if their parent thread was.
		if err := testrig.PinCPU(t.srv.Proc.Pid(), serverCPU); err != nil {
			t.r.Fatalf("%s: pinning the server to CPU %d: %v", t.kind, serverCPU, err)
		}
	}
	rn, err := measureLoad(g, t.opt.warmup, t.opt.duration, func() (float64, error) { return testrig.TreeCPUSeconds(t.srv.Proc.Pid()) })
	if err != nil {
		t.r.Fatalf("%s: %v", t.kind, err)
	}
	return rn
}

// measureLoad streams on g for warm, then measures for d: what arrived,
// the CPU of the server (serverCPU, nil for none) and of this process, and
// the probes' round trips; then it stops the senders and waits for the
// frames in flight.
func measureLoad(g *loadGen, warm, d time.Duration, serverCPU func() (float64, error)) (loadRun, error) {
	rn := loadRun{n: len(g.sessions)}
	stop := g.start(probeInterval)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	time.Sleep(warm)
	g.takeRTTs()
	cpu := func() (srv, gen, host, steal float64, err error) {
		if serverCPU != nil {
			if srv, err = serverCPU(); err != nil {
				return 0, 0, 0, 0, err
			}
		}
		if gen, err = testrig.CPUSeconds(os.Getpid()); err != nil {
			return 0, 0, 0, 0, err
		}
		host, steal, err = hostCPU()
		return srv, gen, host, steal, err
	}
	s0, g0, h0, st0, err := cpu()
	procs0 := procCPUs()
	if err != nil {
		return rn, err
	}
	c0, t0 := g.counts(), time.Now()
	tick, tickBytes := t0, c0.bytes
	for end := t0.Add(d); time.Now().Before(end); {
		time.Sleep(min(100*time.Millisecond, time.Until(end)))
		if err := g.err(); err != nil {
			return rn, err
		}
		if now := time.Now(); now.Sub(tick) >= time.Second {
			b := g.counts().bytes
			rn.timeline = append(rn.timeline, float64(b-tickBytes)*8/now.Sub(tick).Seconds()/1e6)
			tick, tickBytes = now, b
		}
	}
	c1, t1 := g.counts(), time.Now()
	s1, g1, h1, st1, err := cpu()
	rn.busiest = busiest(procs0, procCPUs(), 3)
	if err != nil {
		return rn, err
	}
	rn.rtts = g.takeRTTs()
	stop()
	stopped = true
	rn.window = t1.Sub(t0)
	rn.bytes, rn.frames = c1.bytes-c0.bytes, c1.frames-c0.frames
	rn.serverCPU, rn.genCPU = s1-s0, g1-g0
	rn.otherCPU = max(h1-h0-rn.serverCPU-rn.genCPU, 0)
	rn.steal = st1 - st0
	rn.final = g.drain(time.Second, 15*time.Second)
	return rn, nil
}

// procCPU is one process's name and CPU seconds.
type procCPU struct {
	name string
	cpu  float64
}

// procCPUs reads every process's CPU seconds from /proc.
func procCPUs() map[int]procCPU {
	m := map[int]procCPU{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if err != nil || open < 0 || close < open {
			continue
		}
		if cpu, err := testrig.CPUSeconds(pid); err == nil {
			m[pid] = procCPU{string(b[open+1 : close]), cpu}
		}
	}
	return m
}

// busiest names the n processes, other than this one and its
// descendants, that used the most CPU from before to after: "compile
// 3.10 s, ksoftirqd/0 0.52 s".
func busiest(before, after map[int]procCPU, n int) string {
	ours := map[int]bool{}
	for _, p := range testrig.ProcTree(os.Getpid()) {
		ours[p] = true
	}
	var used []procCPU
	for pid, a := range after {
		if d := a.cpu - before[pid].cpu; !ours[pid] && d >= 0.01 {
			used = append(used, procCPU{a.name, d})
		}
	}
	slices.SortFunc(used, func(a, b procCPU) int { return cmp.Compare(b.cpu, a.cpu) })
	var parts []string
	for _, u := range used[:min(n, len(used))] {
		parts = append(parts, fmt.Sprintf("%s %.2f s", u.name, u.cpu))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// hostBusy is the CPU seconds all CPUs have spent in processes (user,
// nice, system) since boot, from /proc/stat.
func hostBusy() (float64, error) {
	busy, _, err := hostCPU()
	return busy, err
}

// hostCPU reads /proc/stat: the CPU seconds the machine's processes used
// (see hostBusy) and those the hypervisor took from this machine (steal:
// time its virtual processors were ready but not run, which slows every
// process and which no process here is charged for).
func hostCPU() (busy, steal float64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var user, stolen uint64
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		// user, nice and system only: idle and iowait are not busy, guest
		// time is already counted in user, and irq and softirq time is
		// mostly the kernel moving this benchmark's own packets, which no
		// process is charged for.
		switch {
		case i < 3:
			user += n
		case i == 7:
			stolen = n
		}
	}
	return float64(user) / 100, float64(stolen) / 100, nil // USER_HZ
}

// loadSummary is the medians of one server's runs with N sessions.
type loadSummary struct {
	mbps, fps, serverCPU, perGB, genCPU, otherCPU float64
	lost                                          int64
	late, corrupt, foreign                        uint64
	p50, p99                                      time.Duration
	probes                                        int
}

func summarizeLoad(runs []loadRun) loadSummary {
	var s loadSummary
	var mbps, fps, cpu, perGB, gen, other []float64
	var rtts []time.Duration
	for _, r := range runs {
		mbps, fps, cpu, perGB, gen = append(mbps, r.mbps()), append(fps, r.fps()), append(cpu, r.serverCPU), append(perGB, r.cpuPerGB()), append(gen, r.genCPU)
		other = append(other, r.otherCPU)
		s.lost += r.lost()
		s.late += r.final.late
		s.corrupt += r.final.corrupt
		s.foreign += r.final.foreign
		rtts = append(rtts, r.rtts...)
	}
	s.mbps, s.fps, s.serverCPU, s.perGB, s.genCPU, s.otherCPU = median(mbps), median(fps), median(cpu), median(perGB), median(gen), median(other)
	s.p50, s.p99, s.probes = percentile(rtts, 50), percentile(rtts, 99), len(rtts)
	return s
}

// printLoadTable prints one row per server and session count, then the
// ratios ethervpn/vpnserver against the targets of issue 13.
func printLoadTable(w io.Writer, opt loadOptions, results []loadResult) {
	pin := "not pinned (the server and the generator share the CPUs)"
	if opt.pinned {
		pin = fmt.Sprintf("server pinned to CPU %d, generator to CPU %d (sched_setaffinity, every thread), all at nice -20", serverCPU, genCPU)
	}
	speed := "at full speed"
	if opt.window > 0 {
		speed = fmt.Sprintf("with a window of frames in flight that halves on loss and grows while full, up to %d", opt.window)
	}
	title := fmt.Sprintf("Load: N sessions of ethervpn's client code (TLS, 1 TCP connection each, no compression, no UDP) in N/2 pairs through one hub,\n"+
		"each streaming %d-byte frames to its partner %s; %d s measured after a %v warm-up, %d run(s) (medians); %s",
		opt.size, speed, int(opt.duration/time.Second), opt.warmup, opt.runs, pin)
	tw := newTable(w, title, "server\tsessions\tMbit/s\tframes/s\tserver CPU-s\tCPU-s per GB\tgenerator CPU-s\tother CPU-s\tlost\tlate/corrupt/foreign\tprobes back\tprobe p50 ms\tp99 ms\t")
	for _, n := range opt.sessions {
		for _, res := range results {
			if res.err != nil {
				fmt.Fprintf(tw, "%s\t%d\tfailed\t%s%v\t\n", res.server, n, strings.Repeat("-\t", 10), res.err)
				continue
			}
			runs := res.runs[n]
			if len(runs) == 0 {
				continue
			}
			s := summarizeLoad(runs)
			p50, p99 := "-", "-"
			if s.probes > 0 {
				p50, p99 = ms(s.p50), ms(s.p99)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d/%d/%d\t%d\t%s\t%s\t\n", res.server, n, s.mbps, s.fps, s.serverCPU, s.perGB, s.genCPU, s.otherCPU,
				s.lost, s.late, s.corrupt, s.foreign, s.probes, p50, p99)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nMbit/s and frames/s: data frames (whole Ethernet frames) delivered to their partners; lost: sent - delivered after the senders stopped;\n"+
		"other CPU-s: what the rest of the machine used meanwhile (a shared host's noise); late: older than one already delivered; probe: one pair echoes a timestamped frame every %v through the same streams (a probe or echo the hub drops never comes back)\n", probeInterval)
	e, s := pairOf(results, func(r *loadResult) (testrig.ServerKind, error) { return r.server, r.err })
	if e == nil {
		return
	}
	fmt.Fprintln(w)
	for _, n := range opt.sessions {
		if len(e.runs[n]) == 0 || len(s.runs[n]) == 0 {
			continue
		}
		se, ss := summarizeLoad(e.runs[n]), summarizeLoad(s.runs[n])
		tput, cost := se.mbps/ss.mbps, se.perGB/ss.perGB
		fmt.Fprintf(w, "ethervpn/softether, %d sessions: throughput %s, CPU per GB %s (lower is better)", n, ratio(se.mbps, ss.mbps), ratio(se.perGB, ss.perGB))
		if se.probes > 0 && ss.probes > 0 {
			fmt.Fprintf(w, ", probe p99 %s", ratio(float64(se.p99), float64(ss.p99)))
		}
		if n >= 8 {
			fmt.Fprintf(w, "; issue 13 targets: throughput >= 1.5x %s, CPU per GB <= 0.5x %s", met(tput >= 1.5), met(cost <= 0.5))
		}
		fmt.Fprintln(w)
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
