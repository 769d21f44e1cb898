package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// What every benchmark shares: each server kind's topology in a testrig
// runner of its own, iperf3 runs taken in turns with the CPU time of the
// processes involved, medians, and the result table.

const benchPassword = "benchpw"

// options are the benchmarks' flags (each uses the ones it has).
type options struct {
	duration time.Duration // iperf3 -t
	runs     int           // iperf3 runs per server
	maxTCP   int           // TCP connections per client
	leases   int           // connect -> lease measurements per server (nat)
}

// run is one iperf3 run.
type run struct {
	mbps  float64
	bytes int64
	cpu   []float64 // CPU seconds of each measured process during the run, the server first
	retr  int64     // TCP retransmissions the iperf3 sender counted
}

// result is one server's (or chain's) measurements.
type result struct {
	server testrig.ServerKind
	runs   []run
	conns  int             // l2: TCP connections of the client
	leases []time.Duration // nat: connect -> DHCP lease times
	// costed is how many of each run's processes (from the first) count in
	// "CPU per GB"; 0 means all. The others are measured for the log.
	costed int
	err    error
}

// benchFlags are the flags every benchmark has: -t, -runs and the list of
// servers (or chains) to measure.
type benchFlags struct {
	*flag.FlagSet
	secs, runs *int
	servers    *string
}

// newFlags defines the common flags of benchmark name; runsHelp says what
// is run, list names the flag with what is measured ("servers", "chains").
func newFlags(name, runsHelp, list string) benchFlags {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	return benchFlags{
		FlagSet: fs,
		secs:    fs.Int("t", 10, "iperf3 duration per run, seconds"),
		runs:    fs.Int("runs", 1, runsHelp+"; the table shows medians"),
		servers: fs.String(list, "ethervpn,softether", list+" to measure, in order"),
	}
}

// options returns the parsed common flags.
func (f benchFlags) options() options {
	return options{duration: time.Duration(*f.secs) * time.Second, runs: *f.runs}
}

// startBenchServer starts a server of kind with hub BENCH and users user1
// and user2, for benchmarks between two clients.
func startBenchServer(rig *testrig.Rig, kind testrig.ServerKind) *testrig.Server {
	return rig.StartServer(kind, &testrig.ServerConfig{Port: 25555, Hubs: []testrig.HubConfig{{
		Name: "BENCH", Password: "hubpw",
		Users: []testrig.UserConfig{{Name: "user1", Password: benchPassword}, {Name: "user2", Password: benchPassword}},
	}}})
}

// startVPNClient starts real vpnclient number i (1 or 2) in ns, connects
// it as user<i> to hub BENCH of srv and gives it 192.168.77.<i>/24.
func startVPNClient(r *testrig.Runner, rig *testrig.Rig, ns *testrig.Netns, srv *testrig.Server, i, maxTCP int) *testrig.Client {
	c := rig.StartClient(ns, fmt.Sprintf("c%d", i))
	acc := testrig.Account{Hub: "BENCH", User: fmt.Sprintf("user%d", i), Password: benchPassword, MaxTCP: maxTCP}
	if err := c.Connect(srv, acc); err != nil {
		r.Fatalf("%v", err)
	}
	if err := c.SetIP(fmt.Sprintf("192.168.77.%d/24", i)); err != nil {
		r.Fatalf("%v", err)
	}
	return c
}

// parseServers parses a comma-separated list of server kinds.
// serversToRun parses the -servers list and checks that the machine has
// what the benchmarks run; a non-zero code is the exit code when not (2 for
// a bad list, 1 for something missing).
func serversToRun(list string) ([]testrig.ServerKind, int) {
	kinds, err := parseServers(list)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return nil, 2
	}
	if miss := testrig.Missing(); len(miss) > 0 {
		fmt.Fprintf(os.Stderr, "ethervpn-bench needs: %s\n", strings.Join(miss, ", "))
		return nil, 1
	}
	return kinds, 0
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

// setupFunc brings up the topology of one server kind in r and returns
// its result so far (what set-up measures, such as lease times) and the
// function that makes run i (from 1) on that topology.
type setupFunc func(r *testrig.Runner, kind testrig.ServerKind, opt options) (result, func(i int) run)

// measureEach sets up every server kind in servers, each in a runner of
// its own that keeps its namespaces and processes until the end, then
// makes the runs in turns: run 1 of every server, then run 2 of every
// server, and so on, so that a drift in the shared host's speed falls on
// each server alike. It prints the results with print and returns the
// exit code: 2 for a bad list, 1 when something is missing or failed.
func measureEach(servers string, opt options, setup setupFunc, print func(io.Writer, options, []result)) int {
	kinds, code := serversToRun(servers)
	if code != 0 {
		return code
	}
	return measureKinds(kinds, opt, setup, print)
}

// measureKinds is measureEach for a list of kinds already checked: every
// topology is set up first, then the runs are taken in turns.
func measureKinds(kinds []testrig.ServerKind, opt options, setup setupFunc, print func(io.Writer, options, []result)) int {
	defer testrig.RemoveBuilds()
	type setupDone struct {
		res  result
		step func(int) run
	}
	ts := setUp(kinds, func(r *testrig.Runner, k testrig.ServerKind) (d setupDone) {
		d.res, d.step = setup(r, k, opt)
		return d
	})
	defer ts.close()
	results := make([]result, len(ts))
	for i := 1; i <= opt.runs; i++ {
		ts.each(func(j int, t *turn[setupDone]) { t.target.res.runs = append(t.target.res.runs, t.target.step(i)) })
	}
	ts.close()
	code := 0
	for j, t := range ts {
		results[j] = t.target.res
		if t.err != nil {
			results[j] = result{server: t.kind, err: t.err}
			code = 1
		}
	}
	print(os.Stdout, opt, results)
	return code
}

// iperfRun runs iperf3 from ns to target for d, with the CPU time procs
// use meanwhile.
func iperfRun(r *testrig.Runner, ns *testrig.Netns, target string, d time.Duration, procs []*testrig.Proc) run {
	before, after := make([]float64, len(procs)), make([]float64, len(procs))
	var errs []error
	for j, p := range procs {
		var err error
		before[j], err = p.CPUSeconds()
		errs = append(errs, err)
	}
	ip, err := ns.Iperf(target, d, false)
	errs = append(errs, err)
	for j, p := range procs {
		var err error
		after[j], err = p.CPUSeconds()
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		r.Fatalf("%v", err)
	}
	rn := run{mbps: ip.BitsPerSecond / 1e6, bytes: ip.ReceivedBytes, retr: ip.Retransmits, cpu: after}
	for j := range after {
		rn.cpu[j] -= before[j]
	}
	return rn
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summary is the medians of a result's runs: throughput, the server's CPU
// seconds, the CPU seconds of the costed processes per GB received and of
// the others (uncosted) per GB.
type summary struct{ mbps, cpuSec, cpuPerGB, otherPerGB float64 }

func summarize(res result) summary {
	var mbps, cpu, perGB, otherPerGB []float64
	for _, r := range res.runs {
		mbps = append(mbps, r.mbps)
		cpu = append(cpu, r.cpu[0])
		if r.bytes > 0 {
			costed, other := r.perGB(res.costed)
			perGB = append(perGB, costed)
			otherPerGB = append(otherPerGB, other)
		}
	}
	return summary{median(mbps), median(cpu), median(perGB), median(otherPerGB)}
}

// perGB is the CPU seconds per GB received of the first n processes (all
// for 0) and of the rest.
func (r run) perGB(n int) (costed, other float64) {
	if n == 0 {
		n = len(r.cpu)
	}
	gb := float64(r.bytes) / 1e9
	if gb == 0 {
		return 0, 0
	}
	for j, c := range r.cpu {
		if j < n {
			costed += c / gb
		} else {
			other += c / gb
		}
	}
	return costed, other
}

// eachMbps lists the throughput of every run, "969 1012".
func eachMbps(runs []run) string {
	var each []string
	for _, r := range runs {
		each = append(each, fmt.Sprintf("%.0f", r.mbps))
	}
	return strings.Join(each, " ")
}

// tail is the last n lines of s (a process's log, for an error message).
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// newTable prints a benchmark's title and starts its table with the
// header row; cells are tab-terminated and right-aligned.
func newTable(w io.Writer, title, header string) *tabwriter.Writer {
	fmt.Fprintf(w, "\n%s\n\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, header)
	return tw
}

// failedRow prints the row of a server that failed: "failed", a dash for
// each of the dashes columns, the error, then empty cells for the rest.
func failedRow(tw io.Writer, res result, dashes, rest int) {
	fmt.Fprintf(tw, "%s\tfailed\t%s%s\t%s\n", res.server, strings.Repeat("-\t", dashes), res.err, strings.Repeat("\t", rest))
}

// pair returns the results of ethervpn and softether when both were
// measured.
func pair(results []result) (e, s result, ok bool) {
	pe, ps := pairOf(results, func(r *result) (testrig.ServerKind, error) { return r.server, r.err })
	if pe == nil {
		return e, s, false
	}
	return *pe, *ps, true
}

// pairOf returns the results of ethervpn and of softether when both were
// measured without an error, else nils; who tells a result's server and
// error.
func pairOf[R any](results []R, who func(*R) (testrig.ServerKind, error)) (e, s *R) {
	for i := range results {
		switch k, err := who(&results[i]); {
		case err != nil:
		case k == testrig.Ethervpn:
			e = &results[i]
		case k == testrig.SoftEther:
			s = &results[i]
		}
	}
	if e == nil || s == nil {
		return nil, nil
	}
	return e, s
}

// printRatio prints ethervpn's throughput and CPU per GB relative to
// softether's.
func printRatio(w io.Writer, results []result) {
	e, s, ok := pair(results)
	if !ok {
		return
	}
	se, ss := summarize(e), summarize(s)
	if ss.mbps > 0 && ss.cpuPerGB > 0 {
		fmt.Fprintf(w, "\nethervpn/softether: throughput %.2fx, CPU per GB %.2fx (lower is better)\n",
			se.mbps/ss.mbps, se.cpuPerGB/ss.cpuPerGB)
	}
}

// turns are a benchmark's servers, set up side by side before any
// measurement; each measurement is then taken on every server in turn, so
// that a drift in the shared host's speed falls on each alike. A server
// that fails keeps its error and takes no further turns.
type turns[T any] []*turn[T]

// turn is one server of a benchmark: its runner and what its setup made.
type turn[T any] struct {
	kind   testrig.ServerKind
	r      *testrig.Runner
	target T
	err    error
}

// setUp runs setup for every kind, in order. The caller defers close.
func setUp[T any](kinds []testrig.ServerKind, setup func(*testrig.Runner, testrig.ServerKind) T) turns[T] {
	ts := make(turns[T], len(kinds))
	for i, k := range kinds {
		t := &turn[T]{kind: k, r: testrig.NewRunner(os.Stderr)}
		ts[i] = t
		t.try(func() { t.target = setup(t.r, k) })
	}
	return ts
}

// try runs f on the turn's runner unless the server failed before; a
// failure (the runner's Fatalf) ends the server.
func (t *turn[T]) try(f func()) {
	if t.err != nil {
		return
	}
	if err := t.r.Try(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", t.kind, err)
		t.err = err
		t.r.Close()
	}
}

// each takes one measurement, f, on every server still up, in order; i is
// the server's place in kinds.
func (ts turns[T]) each(f func(i int, t *turn[T])) {
	for i, t := range ts {
		t.try(func() { f(i, t) })
	}
}

// takeRuns takes n runs of phases on every server: each phase of a run on
// every server in turn before the next phase. It returns each server's
// runs, as the phases filled them in.
func takeRuns[T, R any](ts turns[T], n int, phases []func(T, *R)) [][]R {
	runs := make([][]R, len(ts))
	for i := range n {
		for j := range runs {
			runs[j] = append(runs[j], *new(R))
		}
		for _, phase := range phases {
			ts.each(func(j int, t *turn[T]) { phase(t.target, &runs[j][i]) })
		}
	}
	return runs
}

// close stops every server (it may run twice, and runs on a panic too).
func (ts turns[T]) close() {
	for _, t := range ts {
		t.r.Close()
	}
}

// failed reports whether a server failed: the benchmark's exit code is 1.
func (ts turns[T]) failed() bool {
	for _, t := range ts {
		if t.err != nil {
			return true
		}
	}
	return false
}
