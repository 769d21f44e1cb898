package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/testrig"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// The logins benchmark: new VPN sessions per second, each a whole
// session's life (TLS handshake, hello, password check, welcome, one
// frame to SecureNAT's virtual host and its answer, close), from parallel
// callers; then the same while another address hammers wrong passwords,
// to show that the attacker is slowed and the legitimate callers are not.

const loginsPort = 25557

// loginsOptions are the logins benchmark's flags.
type loginsOptions struct {
	users, callers, hammer, runs int
	duration                     time.Duration
	pin                          bool
	loadStart, loadEnd           string
}

// loginsRun is one run's measurements of one server.
type loginsRun struct {
	alone, attacked       opStats // legitimate logins
	hammer                opStats // wrong-password attempts (all fail)
	hammerIn              int     // wrong passwords the server let in: must be 0
	cpuAlone, cpuAttacked float64 // server CPU-seconds during each phase
}

// loginsResult is one server's measurements.
type loginsResult struct {
	server testrig.ServerKind
	tls    string
	pinned string
	runs   []loginsRun
	err    error
}

// runLogins is "ethervpn-bench logins".
func runLogins(args []string) int {
	fs := flag.NewFlagSet("logins", flag.ExitOnError)
	users := fs.Int("users", 100, "password users in the hub")
	callers := fs.Int("callers", 16, "parallel legitimate logins")
	hammer := fs.Int("hammer", 32, "parallel wrong-password logins from the attacker's address")
	dur := fs.Duration("duration", 10*time.Second, "length of each measurement")
	runs := fs.Int("runs", 1, "runs per server, taken in turns; the table merges them")
	pin := fs.Bool("pin", true, "bind the server to CPU 0 and the benchmark to CPU 1 (with 2 or more CPUs)")
	servers := fs.String("servers", "ethervpn,softether", "servers to measure, in order")
	fs.Parse(args)
	opt := loginsOptions{users: *users, callers: *callers, hammer: *hammer, runs: *runs, duration: *dur, pin: *pin && testrig.NumCPU() >= 2}
	if opt.users < 1 || opt.callers < 1 || opt.hammer < 0 || opt.runs < 1 || opt.duration <= 0 {
		fmt.Fprintln(os.Stderr, "logins: -users, -callers and -runs must be at least 1, -hammer at least 0, -duration positive")
		return 2
	}
	kinds, code := serversToRun(*servers)
	if code != 0 {
		return code
	}
	defer testrig.RemoveBuilds()
	if opt.pin {
		if err := testrig.PinThreads(os.Getpid(), 1); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	opt.loadStart = loadAverage()

	ts := setUp(kinds, func(r *testrig.Runner, k testrig.ServerKind) *loginsTarget { return setupLogins(r, k, opt) })
	defer ts.close()
	results := make([]loginsResult, len(ts))
	phases := []func(t *loginsTarget, run *loginsRun){
		func(t *loginsTarget, run *loginsRun) { run.alone, run.cpuAlone = t.measure(nil) },
		func(t *loginsTarget, run *loginsRun) { run.attacked, run.cpuAttacked = t.measure(run) },
	}
	taken := takeRuns(ts, opt.runs, phases)
	opt.loadEnd = loadAverage()
	ts.close()
	for j, t := range ts {
		res := &results[j]
		res.server, res.runs, res.err = t.kind, taken[j], t.err
		if t.err != nil {
			code = 1
			continue
		}
		res.tls, res.pinned = t.target.tls, t.target.pinned
		for _, run := range res.runs {
			if run.hammerIn > 0 {
				fmt.Fprintf(os.Stderr, "%s let %d wrong-password logins in\n", res.server, run.hammerIn)
				code = 1
			}
		}
	}
	printLogins(os.Stdout, opt, results)
	return code
}

// loginsTarget is one running server under measurement, with the
// namespace of the legitimate callers and the attacker's.
type loginsTarget struct {
	r               *testrig.Runner
	kind            testrig.ServerKind
	opt             loginsOptions
	srv             *testrig.Server
	legit, attacker *testrig.Netns
	tls, pinned     string
}

func setupLogins(r *testrig.Runner, kind testrig.ServerKind, opt loginsOptions) *loginsTarget {
	cfg, err := ctlConfig(loginsPort, opt.users, nil, &testrig.SecureNATConfig{})
	if err != nil {
		r.Fatalf("%v", err)
	}
	rig := testrig.New(r)
	t := &loginsTarget{r: r, kind: kind, opt: opt}
	t.srv = rig.StartServerText(kind, loginsPort, ctlAdminPassword, cfg)
	t.legit, t.attacker = rig.AddClient(), rig.AddClient()
	t.pinned = "not pinned"
	if opt.pin {
		if err := testrig.PinCPU(t.srv.Proc.Pid(), 0); err != nil {
			r.Fatalf("%v", err)
		}
		t.pinned = "server on CPU 0, benchmark on CPU 1"
	}
	// The first login also waits for the hub and its SecureNAT to be up.
	var c *client.Conn
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err = t.session(t.legit, 0, ctlUserName(0), benchPassword)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		r.Fatalf("%s: login with a round trip to SecureNAT: %v", kind, err)
	}
	t.tls = tlsOf(c)
	return t
}

// session logs user in from ns, sends an ARP request for SecureNAT's
// virtual host and waits for the answer: one data round trip through the
// hub. The connection is closed when it returns.
func (t *loginsTarget) session(ns *testrig.Netns, caller int, user, password string) (*client.Conn, error) {
	addr := net.JoinHostPort(ns.ServerIP, strconv.Itoa(t.srv.Port))
	var c *client.Conn
	err := ns.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		_, c, err = client.Login(ctx, &client.Options{Server: addr, Hub: ctlHub, User: user, Password: password, MaxConnections: 1})
		if err != nil {
			return err
		}
		defer c.Raw.Close()
		return arpRoundTrip(c, caller)
	})
	return c, err
}

// waitNoSessions waits until the hub lists no user session: both
// servers keep a session whose client closed its connection for a while
// (a client may come back on another connection), and the sessions left
// by one measurement would otherwise make the next one's logins dearer.
func (t *loginsTarget) waitNoSessions() {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		err := t.legit.Do(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := admin.Dial(ctx, net.JoinHostPort(t.legit.ServerIP, strconv.Itoa(t.srv.Port)), "", ctlAdminPassword)
			if err != nil {
				return err
			}
			defer c.Close()
			in := pack.New()
			in.AddStr("HubName", ctlHub)
			res, err := c.Call(ctx, "EnumSession", in)
			if err != nil {
				return err
			}
			for i := range res.Count("Username") {
				if strings.HasPrefix(res.StrAt("Username", i), "user") {
					n++
				}
			}
			return nil
		})
		if err != nil {
			t.r.Fatalf("%s: listing the sessions: %v", t.kind, err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.r.Fatalf("%s: %d sessions still listed 2 minutes after the last login", t.kind, n)
		}
		time.Sleep(time.Second)
	}
}

// arpRoundTrip asks who has SecureNAT's virtual host address from a MAC
// and address of caller's own and reads frames until the answer comes.
func arpRoundTrip(c *client.Conn, caller int) error {
	c.Raw.SetDeadline(time.Now().Add(10 * time.Second))
	mac := [6]byte{0x5e, 0x00, 0x13, 0x00, byte(caller >> 8), byte(caller)}
	ip := [4]byte{192, 168, 30, byte(100 + caller%100)}
	host := [4]byte(net.ParseIP(testrig.SecureNATIP).To4())
	req := make([]byte, 60)
	copy(req[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(req[6:12], mac[:])
	binary.BigEndian.PutUint16(req[12:], 0x0806)
	copy(req[14:22], []byte{0, 1, 8, 0, 6, 4, 0, 1}) // Ethernet, IPv4, request
	copy(req[22:28], mac[:])
	copy(req[28:32], ip[:])
	copy(req[38:42], host[:])
	bw := wire.NewBlockWriter(c.Stream.W, false)
	bw.Add(req)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sending an ARP request: %w", err)
	}
	if c.Stream.Flush != nil {
		if err := c.Stream.Flush(); err != nil {
			return fmt.Errorf("sending an ARP request: %w", err)
		}
	}
	br := wire.NewBlockReader(c.Stream.R, false)
	for {
		frames, err := br.Next()
		if err != nil {
			return fmt.Errorf("waiting for SecureNAT's ARP reply: %w", err)
		}
		for _, f := range frames {
			if len(f) >= 42 && bytes.Equal(f[0:6], mac[:]) && binary.BigEndian.Uint16(f[12:]) == 0x0806 &&
				binary.BigEndian.Uint16(f[20:]) == 2 && bytes.Equal(f[28:32], host[:]) {
				return nil
			}
		}
	}
}

// measure runs the legitimate callers for the measurement's duration and,
// when run is set, the attacker's wrong passwords beside them. It returns
// the legitimate logins and the server's CPU-seconds.
func (t *loginsTarget) measure(run *loginsRun) (opStats, float64) {
	t.waitNoSessions()
	var (
		mu    sync.Mutex
		bad   opStats
		wg    sync.WaitGroup
		stop  atomic.Bool
		badIn atomic.Int64
	)
	cpu0, err := t.srv.Proc.CPUSeconds()
	if err != nil {
		t.r.Fatalf("%s: %v", t.kind, err)
	}
	if run != nil {
		for i := range t.opt.hammer {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s opStats
				for !stop.Load() {
					t0 := time.Now()
					if _, err := t.session(t.attacker, 1000+i, ctlUserName(i%t.opt.users), "wrong-"+benchPassword); err == nil {
						badIn.Add(1)
						continue
					}
					s.add(time.Since(t0), nil) // an attempt answered (with a refusal)
				}
				mu.Lock()
				bad.merge(s)
				mu.Unlock()
			}()
		}
	}
	all := parallelCalls(t.opt.callers, t.opt.duration, func(i int) func() error {
		rnd := rand.New(rand.NewPCG(uint64(i), 3))
		return func() error {
			_, err := t.session(t.legit, i+1, ctlUserName(rnd.IntN(t.opt.users)), benchPassword)
			return err
		}
	})
	cpu1, err := t.srv.Proc.CPUSeconds()
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.r.Fatalf("%s: %v", t.kind, err)
	}
	if run != nil {
		bad.elapsed = all.elapsed
		run.hammer, run.hammerIn = bad, int(badIn.Load())
	}
	checkLogins(t.r, t.kind, all)
	return all, cpu1 - cpu0
}

// printLogins prints the logins table and the ratios ethervpn/vpnserver.
func printLogins(w io.Writer, opt loginsOptions, results []loginsResult) {
	tw := newTable(w, fmt.Sprintf("VPN sessions (TLS, hello, password, welcome, an ARP round trip to SecureNAT, close), %d parallel callers, %v per measurement, %d run(s); then the same while %d callers from another address send wrong passwords",
		opt.callers, opt.duration, opt.runs, opt.hammer),
		"server\tlogins/s\tp50 ms\tp99 ms\tCPU ms/login\tserver CPU\tunder attack logins/s\tp50 ms\tp99 ms\tattempts/s\tattempt p50 ms\tserver CPU\terrors\t")
	for _, res := range results {
		if res.err != nil {
			failedRow(tw, result{server: res.server, err: res.err}, 0, 11)
			continue
		}
		a, b, h := res.merged(func(r loginsRun) opStats { return r.alone }), res.merged(func(r loginsRun) opStats { return r.attacked }), res.merged(func(r loginsRun) opStats { return r.hammer })
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.2f\t%.0f%%\t%.0f\t%s\t%s\t%.0f\t%s\t%.0f%%\t%d\t\n", res.server,
			a.rate(), ms(a.p(50)), ms(a.p(99)), res.cpuPerLogin(), res.cpuShare(a, func(r loginsRun) float64 { return r.cpuAlone }),
			b.rate(), ms(b.p(50)), ms(b.p(99)), h.rate(), ms(h.p(50)), res.cpuShare(b, func(r loginsRun) float64 { return r.cpuAttacked }), a.errs+b.errs)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nCPU ms/login: the server's CPU time over the logins without the attacker; server CPU: its CPU time over the measurement's wall time (100% = one core);\nattempts/s: wrong-password logins answered (refused) per second; attempt p50: how long one waited for its refusal; errors: failed legitimate logins")
	fmt.Fprintf(w, "host load average (1, 5, 15 min): %s at the start, %s at the end\n", opt.loadStart, opt.loadEnd)
	for _, res := range results {
		if res.err == nil {
			fmt.Fprintf(w, "%s login: %s; %s\n", res.server, res.tls, res.pinned)
		}
	}
	e, s := pairOf(results, func(r *loginsResult) (testrig.ServerKind, error) { return r.server, r.err })
	if e == nil {
		return
	}
	alone := func(r loginsRun) opStats { return r.alone }
	attacked := func(r loginsRun) opStats { return r.attacked }
	fmt.Fprintf(w, "\nethervpn/vpnserver: logins/s %s, under attack %s (higher is better); CPU per login %s, attacker's attempts/s %s (lower is better)\n",
		ratio(e.merged(alone).rate(), s.merged(alone).rate()), ratio(e.merged(attacked).rate(), s.merged(attacked).rate()),
		ratio(e.cpuPerLogin(), s.cpuPerLogin()),
		ratio(e.merged(func(r loginsRun) opStats { return r.hammer }).rate(), s.merged(func(r loginsRun) opStats { return r.hammer }).rate()))
}

// merged merges the runs' measurements that pick selects.
func (res loginsResult) merged(pick func(loginsRun) opStats) opStats {
	var s opStats
	for _, r := range res.runs {
		s.merge(pick(r))
	}
	return s
}

// cpuShare is the server's CPU time that cpu picks over the wall time of
// the measurements s merged, in percent of one core.
func (res loginsResult) cpuShare(s opStats, cpu func(loginsRun) float64) float64 {
	var total float64
	for _, r := range res.runs {
		total += cpu(r)
	}
	if s.elapsed <= 0 {
		return 0
	}
	return 100 * total / s.elapsed.Seconds()
}

// cpuPerLogin is the server's CPU milliseconds per legitimate login
// without the attacker.
func (res loginsResult) cpuPerLogin() float64 {
	var cpu float64
	var n int
	for _, r := range res.runs {
		cpu += r.cpuAlone
		n += len(r.alone.lat)
	}
	if n == 0 {
		return 0
	}
	return 1000 * cpu / float64(n)
}
