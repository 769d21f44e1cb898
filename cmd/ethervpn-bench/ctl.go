package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/testrig"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// The ctl benchmark: the control plane at scale. Each server gets one hub
// with many password users and access rules; the benchmark times admin
// calls over the binary admin RPC (as vpncmd makes them) and VPN logins
// per second, alone and while an admin loop changes the hub.

const (
	ctlHub           = "CTL"
	ctlAdminPassword = "adminpw"
	ctlPort          = 25556
)

// ctlOptions are the ctl benchmark's flags.
type ctlOptions struct {
	users, rules int
	duration     time.Duration // of each measurement
	runs         int
	callers      int // parallel VPN logins
	// loadStart and loadEnd are the host's load averages when the
	// measurements started and ended: the machine may be shared.
	loadStart, loadEnd string
}

// ctlOps are the admin calls timed one after the other, in table order.
var ctlOps = []string{"EnumUser", "GetUser", "SetUser"}

// ctlRun is one run's measurements of one server.
type ctlRun struct {
	ops         [3]opStats // ctlOps
	alone, busy opStats    // logins without and with the admin loop
	admin       opStats    // the admin loop's calls during busy
}

// ctlResult is one server's measurements.
type ctlResult struct {
	server  testrig.ServerKind
	startup time.Duration // process start to listener up, configuration loaded
	tls     string        // cipher suite and certificate key of a login
	runs    []ctlRun
	err     error
}

// runCtl is "ethervpn-bench ctl".
func runCtl(args []string) int {
	fs := flag.NewFlagSet("ctl", flag.ExitOnError)
	users := fs.Int("users", 10000, "password users in the hub (SoftEther allows at most 10000 per hub)")
	rules := fs.Int("rules", 1000, "access-list rules in the hub")
	dur := fs.Duration("duration", 10*time.Second, "length of each measurement")
	runs := fs.Int("runs", 1, "runs per server, taken in turns; the tables merge them")
	callers := fs.Int("callers", 16, "parallel VPN logins")
	quick := fs.Bool("quick", false, "smoke test: 200 users, 50 rules, 1 s measurements")
	servers := fs.String("servers", "ethervpn,softether", "servers to measure, in order")
	fs.Parse(args)
	opt := ctlOptions{users: *users, rules: *rules, duration: *dur, runs: *runs, callers: *callers}
	if *quick {
		opt.users, opt.rules, opt.duration = 200, 50, time.Second
	}
	if opt.users < 1 || opt.rules < 0 || opt.callers < 1 || opt.runs < 1 || opt.duration <= 0 {
		fmt.Fprintln(os.Stderr, "ctl: -users, -callers and -runs must be at least 1, -rules at least 0, -duration positive")
		return 2
	}
	kinds, code := serversToRun(*servers)
	if code != 0 {
		return code
	}
	defer testrig.RemoveBuilds()
	ruleList := genRules(opt.rules, opt.users)
	opt.loadStart = loadAverage()

	ts := setUp(kinds, func(r *testrig.Runner, k testrig.ServerKind) *ctlTarget { return setupCtl(r, k, opt, ruleList) })
	defer ts.close()
	results := make([]ctlResult, len(ts))
	phases := []func(t *ctlTarget, run *ctlRun){
		func(t *ctlTarget, run *ctlRun) { run.ops[0] = t.timeCalls(t.enumUser) },
		func(t *ctlTarget, run *ctlRun) { run.ops[1] = t.timeCalls(t.getUser) },
		func(t *ctlTarget, run *ctlRun) { run.ops[2] = t.timeCalls(t.setUser) },
		func(t *ctlTarget, run *ctlRun) { run.alone = t.logins() },
		func(t *ctlTarget, run *ctlRun) { run.busy, run.admin = t.loginsWithAdmin() },
	}
	taken := takeRuns(ts, opt.runs, phases)
	opt.loadEnd = loadAverage()
	for j, t := range ts {
		if t.target != nil {
			t.target.close()
		}
		t.r.Close()
		res := &results[j]
		res.server, res.runs, res.err = t.kind, taken[j], t.err
		if t.err != nil {
			code = 1
			continue
		}
		res.startup, res.tls = t.target.startup, t.target.tls
	}
	printCtlTables(os.Stdout, opt, results)
	return code
}

// ctlTarget is one running server under measurement.
type ctlTarget struct {
	r       *testrig.Runner
	kind    testrig.ServerKind
	opt     ctlOptions
	ns      *testrig.Netns // where the benchmark's connections come from
	addr    string
	adm     *admin.Client // timed calls
	loop    *admin.Client // the admin loop during logins
	rnd     *rand.Rand
	startup time.Duration
	tls     string
}

// setupCtl starts a server of kind with the benchmark hub, opens two admin
// connections and checks that the hub holds what the file says.
func setupCtl(r *testrig.Runner, kind testrig.ServerKind, opt ctlOptions, rules []aclRule) *ctlTarget {
	cfg, err := ctlConfig(ctlPort, opt.users, rules, nil)
	if err != nil {
		r.Fatalf("%v", err)
	}
	rig := testrig.New(r)
	if kind == testrig.Ethervpn {
		testrig.EthervpnBinary(r) // built once, before the start is timed
	}
	start := time.Now()
	srv := rig.StartServerText(kind, ctlPort, ctlAdminPassword, cfg)
	t := &ctlTarget{r: r, kind: kind, opt: opt, startup: time.Since(start), rnd: rand.New(rand.NewPCG(uint64(opt.users), 1))}
	t.ns = rig.AddClient()
	t.addr = net.JoinHostPort(t.ns.ServerIP, strconv.Itoa(srv.Port))
	for _, c := range []**admin.Client{&t.adm, &t.loop} {
		if err := t.ns.Do(func() (err error) {
			*c, err = admin.Dial(context.Background(), t.addr, "", ctlAdminPassword)
			return err
		}); err != nil {
			r.Fatalf("admin login to %s at %s: %v", kind, t.addr, err)
		}
	}
	// The real vpnserver may accept connections before it has loaded
	// every hub: wait until the whole user list is there.
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := t.call("EnumUser", t.hubPack())
		if err != nil {
			r.Fatalf("%s: EnumUser: %v", kind, err)
		}
		if n := res.Count("Name"); n == opt.users {
			break
		} else if time.Now().After(deadline) {
			r.Fatalf("%s lists %d users in hub %s, the configuration has %d", kind, n, ctlHub, opt.users)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.startup = time.Since(start)
	if err := t.checkRules(rules); err != nil {
		r.Fatalf("%s: %v", kind, err)
	}
	w, c, err := t.login(ctlUserName(0))
	if err != nil {
		r.Fatalf("%s: VPN login: %v", kind, err)
	}
	t.tls = tlsOf(c)
	r.Logf("%s: up with %d users and %d rules after %.1f s; login: %s, session %s", kind, opt.users, len(rules), t.startup.Seconds(), t.tls, w.SessionName)
	return t
}

// checkRules checks that the server lists the rules of the file: their
// number, how many are IPv6 and the users they name.
func (t *ctlTarget) checkRules(rules []aclRule) error {
	res, err := t.call("EnumAccess", t.hubPack())
	if err != nil {
		return fmt.Errorf("EnumAccess: %w", err)
	}
	n := res.Count("Protocol")
	var v6, users, want6, wantUsers int
	for i := range n {
		v6 += int(res.IntAt("IsIPv6", i))
		if res.StrAt("SrcUsername", i) != "" {
			users++
		}
	}
	for _, r := range rules {
		if r.ipv6() {
			want6++
		}
		if r.srcUser != "" {
			wantUsers++
		}
	}
	if n != len(rules) || v6 != want6 || users != wantUsers {
		return fmt.Errorf("the hub lists %d access rules, %d IPv6, %d with a source user; the configuration has %d, %d, %d",
			n, v6, users, len(rules), want6, wantUsers)
	}
	return nil
}

func (t *ctlTarget) close() {
	for _, c := range []*admin.Client{t.adm, t.loop} {
		if c != nil {
			c.Close()
		}
	}
}

func (t *ctlTarget) hubPack() *pack.Pack {
	p := pack.New()
	p.AddStr("HubName", ctlHub)
	return p
}

// call makes one admin call on the measuring connection.
func (t *ctlTarget) call(method string, in *pack.Pack) (*pack.Pack, error) {
	return callOn(t.adm, method, in)
}

func callOn(c *admin.Client, method string, in *pack.Pack) (*pack.Pack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Call(ctx, method, in)
}

// timeCalls makes calls with one (which times what it measures and
// returns that time) for the measurement's duration.
func (t *ctlTarget) timeCalls(one func(*admin.Client) (time.Duration, error)) opStats {
	var s opStats
	start := time.Now()
	for time.Since(start) < t.opt.duration {
		d, err := one(t.adm)
		s.add(d, err)
	}
	s.elapsed = time.Since(start)
	if len(s.lat) == 0 {
		t.r.Fatalf("%s: no call succeeded: %v", t.kind, s.firstErr)
	}
	return s
}

// enumUser lists every user of the hub.
func (t *ctlTarget) enumUser(c *admin.Client) (time.Duration, error) {
	start := time.Now()
	res, err := callOn(c, "EnumUser", t.hubPack())
	d := time.Since(start)
	if err == nil && res.Count("Name") != t.opt.users {
		err = fmt.Errorf("EnumUser listed %d users, want %d", res.Count("Name"), t.opt.users)
	}
	return d, err
}

func (t *ctlTarget) userPack() *pack.Pack {
	p := t.hubPack()
	p.AddStr("Name", ctlUserName(t.rnd.IntN(t.opt.users)))
	return p
}

// getUser reads one random user.
func (t *ctlTarget) getUser(c *admin.Client) (time.Duration, error) {
	start := time.Now()
	_, err := callOn(c, "GetUser", t.userPack())
	return time.Since(start), err
}

// setUser changes one random user's note as vpncmd's UserSet does: GetUser
// (not timed), then SetUser with the same fields (timed), which keeps the
// password.
func (t *ctlTarget) setUser(c *admin.Client) (time.Duration, error) {
	p, err := callOn(c, "GetUser", t.userPack())
	if err != nil {
		return 0, fmt.Errorf("GetUser: %w", err)
	}
	p.AddUniStr("Note", "bench "+strconv.Itoa(t.rnd.IntN(1e9)))
	start := time.Now()
	_, err = callOn(c, "SetUser", p)
	return time.Since(start), err
}

// login makes one VPN login from the benchmark's namespace as user: TLS,
// hello, password, welcome. The caller closes the connection.
func (t *ctlTarget) login(user string) (w *wire.Welcome, c *client.Conn, err error) {
	err = t.ns.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		w, c, err = client.Login(ctx, &client.Options{Server: t.addr, Hub: ctlHub, User: user, Password: benchPassword, MaxConnections: 1})
		return err
	})
	if err == nil {
		c.Raw.Close()
	}
	return w, c, err
}

// tlsOf describes a login's TLS: its cipher suite and the key type of the
// server's certificate.
func tlsOf(c *client.Conn) string {
	s := c.Cipher
	if cert, err := x509.ParseCertificate(c.Cert()); err == nil {
		s += ", " + cert.PublicKeyAlgorithm.String() + " certificate"
	}
	return s
}

// logins runs the parallel login loop for the measurement's duration.
func (t *ctlTarget) logins() opStats {
	all := parallelCalls(t.opt.callers, t.opt.duration, func(i int) func() error {
		rnd := rand.New(rand.NewPCG(uint64(i), 2))
		return func() error {
			_, _, err := t.login(ctlUserName(rnd.IntN(t.opt.users)))
			return err
		}
	})
	checkLogins(t.r, t.kind, all)
	return all
}

// loginsWithAdmin runs the login loop while the admin loop runs on the
// other connection, as fast as it can: SetUser of a random user (after its
// GetUser), AddAccess of a rule that sorts last, DeleteAccess of it. It
// returns the logins and the admin loop's calls.
func (t *ctlTarget) loginsWithAdmin() (logins, adm opStats) {
	var stop atomic.Bool
	done := make(chan opStats)
	go func() {
		var s opStats
		rule := aclRule{priority: adminRulePriority(t.opt.rules), src: netip.MustParsePrefix("10.99.0.0/16"),
			dst: netip.MustParsePrefix("0.0.0.0/0"), protocol: 6, dstPort: [2]uint32{443, 443}}
		del := t.hubPack()
		del.AddInt("Id", uint32(t.opt.rules+1)) // the added rule sorts last
		start := time.Now()
		// stop only after a whole round, so that an added rule is deleted
		for i := 0; i%3 != 0 || !stop.Load(); i++ {
			t0 := time.Now()
			var err error
			switch i % 3 {
			case 0:
				_, err = t.setUser(t.loop)
			case 1:
				_, err = callOn(t.loop, "AddAccess", rule.addAccessPack(ctlHub))
				if err != nil {
					i++ // nothing to delete
				}
			case 2:
				_, err = callOn(t.loop, "DeleteAccess", del)
			}
			s.add(time.Since(t0), err)
		}
		s.elapsed = time.Since(start)
		done <- s
	}()
	logins = t.logins()
	stop.Store(true)
	adm = <-done
	if adm.errs > 0 {
		t.r.Logf("%s: %d admin-loop calls failed, the first: %v", t.kind, adm.errs, adm.firstErr)
	}
	// The loop deleted what it added: the list is as the file made it.
	if res, err := t.call("EnumAccess", t.hubPack()); err != nil || res.Count("Protocol") != t.opt.rules {
		t.r.Fatalf("%s: after the admin loop the hub should list %d rules: %v", t.kind, t.opt.rules, errors.Join(err, countErr(res, t.opt.rules)))
	}
	return logins, adm
}

func countErr(res *pack.Pack, want int) error {
	if res == nil || res.Count("Protocol") == want {
		return nil
	}
	return fmt.Errorf("it lists %d", res.Count("Protocol"))
}

// printCtlTables prints the admin calls' table, the logins' table and the
// ratios ethervpn/vpnserver.
func printCtlTables(w io.Writer, opt ctlOptions, results []ctlResult) {
	title := fmt.Sprintf("Control plane: one hub with %d password users and %d access rules; binary admin RPC, one call at a time; %v per measurement, %d run(s)",
		opt.users, opt.rules, opt.duration, opt.runs)
	tw := newTable(w, title, "call\tserver\tp50 ms\tp99 ms\tcalls/s\tcalls\terrors\t")
	for i, op := range ctlOps {
		for _, res := range results {
			if res.err != nil {
				fmt.Fprintf(tw, "%s\t%s\tfailed\t-\t-\t-\t%v\t\n", op, res.server, res.err)
				continue
			}
			s := res.merged(func(r ctlRun) opStats { return r.ops[i] })
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d\t\n", op, res.server, ms(s.p(50)), ms(s.p(99)), s.rate(), len(s.lat), s.errs)
		}
	}
	tw.Flush()

	tw = newTable(w, fmt.Sprintf("VPN logins (TLS, hello, password, welcome, close), %d parallel callers, alone and while an admin loop runs SetUser/AddAccess/DeleteAccess", opt.callers),
		"server\tlogins/s alone\tp50 ms\tp99 ms\tlogins/s with admin loop\tp50 ms\tp99 ms\tslowdown\tadmin calls/s\terrors\tstart s\t")
	for _, res := range results {
		if res.err != nil {
			failedRow(tw, result{server: res.server, err: res.err}, 0, 9)
			continue
		}
		a := res.merged(func(r ctlRun) opStats { return r.alone })
		b := res.merged(func(r ctlRun) opStats { return r.busy })
		adm := res.merged(func(r ctlRun) opStats { return r.admin })
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%s\t%.1f\t%d/%d\t%.1f\t\n", res.server,
			a.rate(), ms(a.p(50)), ms(a.p(99)), b.rate(), ms(b.p(50)), ms(b.p(99)),
			slowdown(a.rate(), b.rate()), adm.rate(), a.errs+b.errs, adm.errs, res.startup.Seconds())
	}
	tw.Flush()
	fmt.Fprintln(w, "\nerrors: failed logins / failed admin-loop calls; start: process start until the hub lists every user")
	if opt.loadStart != "" {
		fmt.Fprintf(w, "host load average (1, 5, 15 min): %s at the start, %s at the end\n", opt.loadStart, opt.loadEnd)
	}
	for _, res := range results {
		if res.err == nil {
			fmt.Fprintf(w, "%s login: %s\n", res.server, res.tls)
		}
	}

	e, s := pairOf(results, func(r *ctlResult) (testrig.ServerKind, error) { return r.server, r.err })
	if e == nil {
		return
	}
	var parts []string
	for i, op := range ctlOps {
		pick := func(r ctlRun) opStats { return r.ops[i] }
		parts = append(parts, fmt.Sprintf("%s p50 %s", op, ratio(float64(e.merged(pick).p(50)), float64(s.merged(pick).p(50)))))
	}
	rate := func(res *ctlResult, pick func(ctlRun) opStats) float64 { return res.merged(pick).rate() }
	alone := func(r ctlRun) opStats { return r.alone }
	busy := func(r ctlRun) opStats { return r.busy }
	adm := func(r ctlRun) opStats { return r.admin }
	fmt.Fprintf(w, "\nethervpn/vpnserver: %s (lower is better); logins/s alone %s, with admin loop %s, admin-loop calls/s %s (higher is better)\n",
		strings.Join(parts, ", "), ratio(rate(e, alone), rate(s, alone)), ratio(rate(e, busy), rate(s, busy)), ratio(rate(e, adm), rate(s, adm)))
}

// merged merges the runs' measurements that pick selects.
func (res ctlResult) merged(pick func(ctlRun) opStats) opStats {
	var s opStats
	for _, r := range res.runs {
		s.merge(pick(r))
	}
	return s
}

// ms formats d in milliseconds with two significant decimals for small
// values.
func ms(d time.Duration) string {
	v := d.Seconds() * 1000
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// ratio is a/b as "1.23x", "-" when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// slowdown is how much slower busy is than alone, as a percentage of
// alone ("-23%"); "-" when alone is 0.
func slowdown(alone, busy float64) string {
	if alone == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.0f%%", 100*(busy-alone)/alone)
}

// loadAverage is the host's 1, 5 and 15 minute load averages, "" when
// unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}
