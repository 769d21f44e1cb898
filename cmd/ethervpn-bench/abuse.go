package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/osprio"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The abuse benchmark (issue 13 item 4): one pair of the load generator's
// sessions streams while the server is abused, and the table shows what
// the pair kept of its baseline throughput, how far the server's resident
// memory rose and what the server logged about it. Phases, each on every
// server in turn:
//
//  1. baseline: the pair alone;
//  2. flood: a session that logs in and never reads its socket, and a
//     session that sends 1514-byte broadcast frames as fast as its TCP
//     connection takes them, with no window;
//  3. handshake: -conns TCP connections from a few source addresses that
//     send the first bytes of a TLS ClientHello and then hold.
//
// The servers run with their default DoS protection on, as deployed: it
// is what phase 3 measures (most of the connections of one source are
// refused), and phases 1 and 2 log in too few sessions to meet it.

// abuseSources is how many client namespaces (source addresses) the
// handshake flood comes from, besides the pair's.
const abuseSources = 4

// Users of the abuse benchmark: the pair is load0000 and load0001.
const (
	stalledUser     = 2
	broadcasterUser = 3
	abuseUsers      = 4
)

// handshakeAllowance is the memory allowed per connection in the
// handshake for the stated bound: a goroutine stack (8 KiB), crypto/tls's
// record buffer for a partial ClientHello and the socket's state. An
// estimate, not a cap the server enforces: its cap is on the number of
// such connections (maxUnestablished).
const handshakeAllowance = 16 << 10

// maxUnestablished is ethervpn's default MaxUnestablishedConnections
// (internal/server/limits.go, SoftEther Cedar.h
// DEFAULT_MAX_UNESTABLISHED_CONNECTIONS).
const maxUnestablished = 1000

// handshakeHold is how long the handshake flood holds its connections
// at least, from its start: past both servers' 15 s handshake deadline.
const handshakeHold = 17 * time.Second

// sessionEndWait is how long a phase waits at most for the server to log
// the end of its sessions.
const sessionEndWait = 90 * time.Second

// abusePhase is one phase of the benchmark.
type abusePhase int

const (
	phaseBaseline abusePhase = iota
	phaseFlood
	phaseHandshake
	numPhases
)

func (p abusePhase) String() string {
	return [...]string{"baseline", "stalled+broadcast", "handshake flood"}[p]
}

// abuseOptions are the abuse benchmark's flags.
type abuseOptions struct {
	load  loadOptions
	conns int // connections of the handshake flood
}

// abuseRow is one phase measured on one server.
type abuseRow struct {
	mbps    float64
	peakRSS int64 // bytes, the server's process tree
	// kept and rssRise are filled in by combineRounds: the median of the
	// rounds' throughput over their own baseline's, and the largest rise of
	// the peak RSS over the round's baseline.
	kept    float64
	rssRise int64
	detail  string // what the abuse did and met
	// otherCPU and busiest are what the rest of the machine used while
	// the pair streamed (measureLoad), for the log: a shared host's noise.
	otherCPU float64
	busiest  string
	timeline []float64 // the pair's Mbit/s second by second, for the log
	steal    float64   // CPU seconds the hypervisor took meanwhile
	said     logSummary
	err      error
}

// runAbuse is "ethervpn-bench abuse".
func runAbuse(args []string) int {
	fs := newFlags("abuse", "rounds of all phases (each phase on each server in turn)", "servers")
	conns := fs.Int("conns", 2000, "connections of the handshake flood")
	quick := fs.Bool("quick", false, "a short run: -t 2, 200 connections")
	fs.Parse(args)
	opt := abuseOptions{
		load:  loadOptions{sessions: []int{abuseUsers}, duration: time.Duration(*fs.secs) * time.Second, warmup: time.Second, runs: *fs.runs, size: 1514, window: 256},
		conns: *conns,
	}
	if *quick {
		opt.load.duration, opt.load.warmup, opt.conns = 2*time.Second, 500*time.Millisecond, 200
	}
	if opt.load.duration <= 0 || opt.conns < 1 || opt.load.runs < 1 {
		fmt.Fprintln(os.Stderr, "abuse: -t, -runs and -conns must be positive")
		return 2
	}
	kinds, code := serversToRun(*fs.servers)
	if code != 0 {
		return code
	}
	if err := raiseFileLimit(2*opt.conns+1024, opt.conns+256); err != nil {
		fmt.Fprintf(os.Stderr, "abuse: %v\n", err)
		return 1
	}
	if runtime.NumCPU() >= 2 {
		if err := testrig.PinThreads(os.Getpid(), genCPU); err != nil {
			fmt.Fprintf(os.Stderr, "abuse: pinning the generator to CPU %d: %v\n", genCPU, err)
			return 1
		}
		opt.load.pinned = true
	}
	if err := osprio.Raise(); err != nil {
		fmt.Fprintf(os.Stderr, "abuse: the generator keeps its priority: %v\n", err)
	}
	defer testrig.RemoveBuilds()

	type bench struct {
		r      *testrig.Runner
		t      *abuseTarget
		rounds [][numPhases]abuseRow
		err    error
	}
	benches := make([]*bench, len(kinds))
	for i, k := range kinds {
		b := &bench{r: testrig.NewRunner(os.Stderr), rounds: make([][numPhases]abuseRow, opt.load.runs)}
		defer b.r.Close()
		benches[i] = b
		if b.err = b.r.Try(func() { b.t = setupAbuse(b.r, k, opt) }); b.err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", k, b.err)
			b.r.Close()
		}
	}
	// Each phase on each server in turn, round after round, so that a
	// drift in the shared host's speed falls on each alike, and each
	// round's abuse is compared with that round's own baseline.
	for round := range opt.load.runs {
		for ph := range numPhases {
			for i, b := range benches {
				if b.err != nil {
					continue
				}
				if err := b.r.Try(func() {
					row := b.t.measure(ph)
					b.rounds[round][ph] = row
					b.r.Logf("%s %s, round %d: %.0f Mbit/s (by second: %.0f), peak RSS %.1f MiB, %s; server said %d lines; other processes used %.2f CPU-s meanwhile (the busiest: %s), the hypervisor took %.2f",
						kinds[i], ph, round+1, row.mbps, row.timeline, mib(row.peakRSS), row.detail, row.said.count, row.otherCPU, row.busiest, row.steal)
				}); err != nil {
					b.rounds[round][ph].err = err
					fmt.Fprintf(os.Stderr, "%s %s: %v\n", kinds[i], ph, err)
				}
			}
		}
	}
	results := make([]abuseResult, len(benches))
	code = 0
	for i, b := range benches {
		b.r.Close()
		results[i] = abuseResult{server: kinds[i], rows: combineRounds(b.rounds), err: b.err}
		if b.err != nil {
			code = 1
		}
	}
	printAbuseTable(os.Stdout, opt, results)
	return code
}

// abuseTarget is one running server and the namespaces the abuse comes
// from.
type abuseTarget struct {
	*loadTarget
	flood []*testrig.Netns
	conns int // of the handshake flood
	logs  logWatch
}

// setupAbuse starts a server of kind with hub LOAD and the benchmark's
// users, a namespace for the generator and abuseSources more for the
// handshake flood.
func setupAbuse(r *testrig.Runner, kind testrig.ServerKind, opt abuseOptions) *abuseTarget {
	rig := testrig.New(r)
	cfg := &testrig.ServerConfig{Port: loadPort, AdminPassword: ctlAdminPassword, Hubs: []testrig.HubConfig{{Name: loadHub, Password: "hubpw"}}}
	for i := range abuseUsers {
		cfg.Hubs[0].Users = append(cfg.Hubs[0].Users, testrig.UserConfig{Name: loadUser(i), Password: benchPassword})
	}
	t := &abuseTarget{loadTarget: &loadTarget{r: r, kind: kind, opt: opt.load}, conns: opt.conns}
	t.srv = rig.StartServer(kind, cfg)
	t.ns = rig.AddClient()
	for range abuseSources {
		t.flood = append(t.flood, rig.AddClient())
	}
	t.addr = net.JoinHostPort(t.ns.ServerIP, strconv.Itoa(loadPort))
	t.logs = logWatch{path: t.srv.Proc.LogPath}
	if kind == testrig.Ethervpn {
		t.logs.only = slogRecord
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		g, err := newLoadGen(context.Background(), t.genOptions(), 2)
		if err == nil {
			g.close()
			return t
		}
		if time.Now().After(deadline) {
			r.Fatalf("%s: the generator cannot log in: %v", kind, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// measure runs one phase: the pair logs in, the abuse starts, the pair
// streams for the window while the server's memory is sampled, then the
// abuse stops and the server's new log lines are read.
func (t *abuseTarget) measure(ph abusePhase) abuseRow {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var row abuseRow
	mark := t.logs.mark()
	rss := startRSS(t.srv.Proc.Pid(), 100*time.Millisecond)
	g, err := newLoadGen(ctx, t.genOptions(), 2)
	if err != nil {
		rss.stop()
		t.r.Fatalf("%s: %v", t.kind, err)
	}
	var (
		stalled net.Conn
		bc      *broadcaster
		hs      *handshakeFlood
	)
	switch ph {
	case phaseFlood:
		if stalled, err = stallSession(ctx, t.genOptions(), stalledUser); err == nil {
			bc, err = startBroadcaster(ctx, t.genOptions(), broadcasterUser)
		}
	case phaseHandshake:
		hs = openHandshakes(t.flood, loadPort, t.conns)
	}
	if err == nil && t.opt.pinned {
		err = testrig.PinCPU(t.srv.Proc.Pid(), serverCPU)
	}
	var rn loadRun
	if err == nil {
		rn, err = measureLoad(g, t.opt.warmup, t.opt.duration, nil)
	}
	g.close()
	// What the server said while the abuse ran; after we end it, only
	// the session-end records count (not its notes on the connections we
	// close).
	during := t.logs.since(mark)
	switch {
	case bc != nil:
		sent, secs, alive := bc.stop()
		row.detail = fmt.Sprintf("broadcast %d frames (%.0f Mbit/s)", sent, float64(sent)*1514*8/secs/1e6)
		// The stalled session is alive if the server has not closed it:
		// a read that times out at once finds it open.
		stalled.SetReadDeadline(time.Now())
		if _, rerr := stalled.Read(make([]byte, 1)); rerr != nil && !os.IsTimeout(rerr) {
			row.detail += "; stalled session closed by the server"
		} else {
			row.detail += "; stalled session still open"
		}
		if !alive {
			row.detail += "; the broadcaster's session ended"
		}
	case hs != nil:
		// Hold the flood past the handshake deadline (15 s on both
		// servers) so that the table shows what the server does with
		// connections that never finish.
		if hold := handshakeHold - time.Since(hs.start); err == nil && hold > 0 {
			time.Sleep(hold)
		}
		during = t.logs.since(mark)
		row.detail = hs.finish().String()
	}
	if stalled != nil {
		stalled.Close()
	}
	// A session outlives its TCP connections until its timeout, so that
	// its client can reconnect (SoftEther's protocol): wait for the
	// server's session-end records, which carry ethervpn's drop counts,
	// so that they fall in this phase.
	sessions := 2
	if ph == phaseFlood {
		sessions = abuseUsers
	}
	lines := t.logs.since(mark)
	for end := time.Now().Add(sessionEndWait); countSessionEnds(lines) < sessions && time.Now().Before(end); {
		time.Sleep(500 * time.Millisecond)
		lines = t.logs.since(mark)
	}
	row.peakRSS = rss.stop()
	for _, l := range lines[min(len(during), len(lines)):] {
		if sessionEnd.MatchString(l) {
			during = append(during, l)
		}
	}
	row.said = summarizeLog(during)
	row.otherCPU, row.busiest = rn.otherCPU, rn.busiest
	if err != nil {
		t.r.Fatalf("%s %s: %v", t.kind, ph, err)
	}
	row.mbps = rn.mbps()
	row.timeline, row.steal = rn.timeline, rn.steal
	if d := row.said.dropped; d > 0 {
		row.detail += fmt.Sprintf("; hub dropped %d (queue full)", d)
	}
	return row
}

// stallSession logs user i in and returns its connection, which nobody
// reads or writes from then on: a session that stops reading.
func stallSession(ctx context.Context, o genOptions, i int) (net.Conn, error) {
	opts := &client.Options{Server: o.server, Hub: o.hub, User: o.user(i), Password: o.password, MaxConnections: 1}
	var c *client.Conn
	if err := o.do(func() (err error) { _, c, err = client.Login(ctx, opts); return err }); err != nil {
		return nil, fmt.Errorf("abuse: stalled session: %w", err)
	}
	return c.Raw, nil
}

// broadcaster is a session that sends broadcast frames as fast as its
// connection takes them (no window).
type broadcaster struct {
	port  *floodPort
	done  chan error
	start time.Time
	close func()
}

// floodPort is the broadcaster's session.Port.
type floodPort struct {
	ready   chan struct{}
	frame   []byte
	running atomic.Bool
	sent    atomic.Uint64
}

func (p *floodPort) Ready() <-chan struct{} { return p.ready }
func (p *floodPort) Input([][]byte)         {}

// Output emits as many broadcast frames as asked and asks to be called
// again: there is always another.
func (p *floodPort) Output(most int, emit func([]byte)) int {
	if !p.running.Load() {
		return 0
	}
	for range most {
		emit(p.frame)
	}
	p.sent.Add(uint64(most))
	select {
	case p.ready <- struct{}{}:
	default:
	}
	return most
}

// startBroadcaster logs user i in and starts its broadcast flood.
func startBroadcaster(ctx context.Context, o genOptions, i int) (*broadcaster, error) {
	p := &floodPort{ready: make(chan struct{}, 1), frame: make([]byte, 1514)}
	src := genMAC(i)
	copy(p.frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(p.frame[6:], src[:])
	p.frame[12], p.frame[13] = loadEtherType>>8, loadEtherType&0xff
	sess, done, err := loginPort(ctx, o, i, p)
	if err != nil {
		return nil, err
	}
	p.running.Store(true)
	p.ready <- struct{}{}
	return &broadcaster{port: p, done: done, start: time.Now(), close: func() { sess.Close(nil) }}, nil
}

// stop ends the flood and returns the frames sent, over how many seconds,
// and whether the session was still alive.
func (b *broadcaster) stop() (sent uint64, secs float64, alive bool) {
	b.port.running.Store(false)
	secs = time.Since(b.start).Seconds()
	select {
	case <-b.done:
	default:
		alive = true
	}
	b.close()
	if alive {
		<-b.done
	}
	return b.port.sent.Load(), secs, alive
}

// partialClientHello is the first 48 bytes of a TLS 1.2 ClientHello whose
// record announces 512 bytes: a server in the handshake waits for the
// rest.
var partialClientHello = func() []byte {
	b := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	for len(b) < 48 {
		b = append(b, byte(len(b)*37))
	}
	return b
}()

// handshakeFlood is the open connections of phase 3.
type handshakeFlood struct {
	start    time.Time
	mu       sync.Mutex
	conns    []net.Conn
	closedAt []time.Duration // per connection: when the server closed it, 0 while open
	dialErrs int
	firstErr error
	wg       sync.WaitGroup
}

// openHandshakes opens n connections to the server's port from the
// namespaces in turn, each to the server's address on its link, sends
// each a partial ClientHello and watches for the server closing it.
func openHandshakes(nss []*testrig.Netns, port, n int) *handshakeFlood {
	h := &handshakeFlood{start: time.Now()}
	sem := make(chan struct{}, 32)
	var dials sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		dials.Add(1)
		go func() {
			defer dials.Done()
			defer func() { <-sem }()
			var c net.Conn
			ns := nss[i%len(nss)]
			err := ns.Do(func() (err error) {
				c, err = net.DialTimeout("tcp", net.JoinHostPort(ns.ServerIP, strconv.Itoa(port)), 3*time.Second)
				return err
			})
			if err == nil {
				_, err = c.Write(partialClientHello)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if err != nil {
				if c != nil {
					c.Close()
				}
				if h.dialErrs == 0 {
					h.firstErr = err
				}
				h.dialErrs++
				return
			}
			k := len(h.conns)
			h.conns = append(h.conns, c)
			h.closedAt = append(h.closedAt, 0)
			h.wg.Add(1)
			go h.watch(c, k)
		}()
	}
	dials.Wait()
	return h
}

// watch reads c until the server closes it and records when.
func (h *handshakeFlood) watch(c net.Conn, k int) {
	defer h.wg.Done()
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	h.mu.Lock()
	if h.closedAt[k] == 0 {
		h.closedAt[k] = max(time.Since(h.start), 1)
	}
	h.mu.Unlock()
}

// finish closes every connection and returns what happened to them
// before.
func (h *handshakeFlood) finish() handshakeOutcome {
	h.mu.Lock()
	o := summarizeHandshakes(h.closedAt, h.dialErrs, h.firstErr)
	// Mark the rest as closed by us before closing them, so watch does not
	// count them.
	for k := range h.closedAt {
		if h.closedAt[k] == 0 {
			h.closedAt[k] = -1
		}
	}
	conns := h.conns
	h.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	h.wg.Wait()
	return o
}

// handshakeOutcome says what the server did with the flood's connections.
type handshakeOutcome struct {
	total, refused, fastClosed, lateClosed, held int
	lateMedian                                   time.Duration
	firstErr                                     error
}

// fastClose is how soon after the flood started a connection closed by
// the server counts as turned away on arrival, rather than timed out.
const fastClose = 2 * time.Second

// summarizeHandshakes counts the flood's connections: not accepted
// (dialErrs), closed by the server within fastClose of the start, closed
// later (and the median time), still open (closedAt 0).
func summarizeHandshakes(closedAt []time.Duration, dialErrs int, firstErr error) handshakeOutcome {
	o := handshakeOutcome{total: len(closedAt) + dialErrs, refused: dialErrs, firstErr: firstErr}
	var late []time.Duration
	for _, d := range closedAt {
		switch {
		case d <= 0:
			o.held++
		case d <= fastClose:
			o.fastClosed++
		default:
			late = append(late, d)
		}
	}
	o.lateClosed = len(late)
	o.lateMedian = percentile(late, 50)
	return o
}

func (o handshakeOutcome) String() string {
	s := fmt.Sprintf("%d conns: %d not accepted, %d closed < %v, %d closed later", o.total, o.refused, o.fastClosed, fastClose, o.lateClosed)
	if o.lateClosed > 0 {
		s += fmt.Sprintf(" (median %.1f s)", o.lateMedian.Seconds())
	}
	s += fmt.Sprintf(", %d held to the end", o.held)
	if o.firstErr != nil {
		s += fmt.Sprintf(" [first error: %v]", o.firstErr)
	}
	return s
}

// abuseResult is one server's phases.
type abuseResult struct {
	server testrig.ServerKind
	rows   [numPhases]abuseRow
	err    error
}

// combineRounds makes one row per phase of the rounds' rows: the median
// throughput, the median of each round's ratio to its own baseline, the
// largest peak RSS and rise over the round's baseline, the most other CPU,
// and the first round's log summary and detail (each round is logged as it
// runs). A phase that failed in any round fails.
func combineRounds(rounds [][numPhases]abuseRow) [numPhases]abuseRow {
	var out [numPhases]abuseRow
	for ph := range numPhases {
		var mbps, kept []float64
		o := &out[ph]
		for i, rd := range rounds {
			row, base := rd[ph], rd[phaseBaseline]
			if row.err != nil || base.err != nil {
				if o.err == nil {
					o.err = cmp.Or(row.err, base.err)
				}
				continue
			}
			if i == 0 || o.detail == "" {
				o.detail, o.said = row.detail, row.said
			}
			mbps = append(mbps, row.mbps)
			if base.mbps > 0 {
				kept = append(kept, row.mbps/base.mbps)
			}
			o.peakRSS = max(o.peakRSS, row.peakRSS)
			o.rssRise = max(o.rssRise, row.peakRSS-base.peakRSS)
			o.otherCPU = max(o.otherCPU, row.otherCPU)
		}
		o.mbps, o.kept = median(mbps), median(kept)
	}
	return out
}

// abuseBound is the memory ethervpn's caps allow its queues and
// handshakes in phase ph, doubled because the Go runtime lets the heap
// grow to twice what is live before it collects (GOGC=100), with the
// formula.
func abuseBound(ph abusePhase, conns int) (int64, string) {
	sessions := int64(2)
	if ph == phaseFlood {
		sessions = abuseUsers
	}
	queues := min(sessions*hub.DefaultQueueBytes, sessions*hub.QueueReserve+hub.DefaultQueueBudget)
	hs := int64(0)
	if ph == phaseHandshake {
		hs = int64(min(conns, maxUnestablished)) * handshakeAllowance
	}
	return 2 * (queues + hs), fmt.Sprintf("2 x (%d sessions x %d MiB queue + %d handshakes x %d KiB)",
		sessions, hub.DefaultQueueBytes>>20, hs/handshakeAllowance, handshakeAllowance>>10)
}

// printAbuseTable prints a row per phase and server, the bound check for
// ethervpn, and the servers' first log lines per phase.
func printAbuseTable(w io.Writer, opt abuseOptions, results []abuseResult) {
	title := fmt.Sprintf("Abuse: one pair of load sessions (%d-byte frames, window up to %d) streams %v after a %v warm-up while the server is abused;\n"+
		"server pinned to CPU %d, generator (and the abuse) to CPU %d; default DoS protection on; RSS: VmRSS of the server's process tree every 100 ms, peak;\n"+
		"%d round(s) of all phases, each phase on each server in turn: pair Mbit/s is the median, kept the median of each round's ratio to its own baseline, RSS and other CPU the most",
		opt.load.size, opt.load.window, opt.load.duration, opt.load.warmup, serverCPU, genCPU, opt.load.runs)
	tw := newTable(w, title, "server\tphase\tpair Mbit/s\tkept\tpeak RSS MiB\trise MiB\tother CPU-s\tserver said\t")
	for ph := range numPhases {
		for _, res := range results {
			row := res.rows[ph]
			switch {
			case res.err != nil:
				fmt.Fprintf(tw, "%s\t%s\tfailed\t-\t-\t-\t-\t%v\t\n", res.server, ph, res.err)
				continue
			case row.err != nil:
				fmt.Fprintf(tw, "%s\t%s\tfailed\t-\t-\t-\t-\t%v\t\n", res.server, ph, row.err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.2fx\t%.1f\t%+.1f\t%.2f\t%s\t\n", res.server, ph, row.mbps, row.kept,
				mib(row.peakRSS), mib(row.rssRise), row.otherCPU, row.said.short(50))
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, res := range results {
		if res.err != nil {
			continue
		}
		for ph := phaseFlood; ph < numPhases; ph++ {
			row := res.rows[ph]
			if row.err != nil {
				continue
			}
			fmt.Fprintf(w, "%s, %s: %s\n", res.server, ph, row.detail)
			if res.server == testrig.Ethervpn && res.rows[phaseBaseline].err == nil {
				bound, how := abuseBound(ph, opt.conns)
				fmt.Fprintf(w, "  bound %.0f MiB = %s: largest peak RSS rise %.1f MiB, %s\n", mib(bound), how, mib(row.rssRise), met(row.rssRise <= bound))
			}
			for _, l := range row.said.first {
				fmt.Fprintf(w, "  said: %s\n", truncate(l, 200))
			}
		}
	}
	fmt.Fprintln(w, "\nother CPU-s: what the rest of the machine used while the pair streamed (a shared host's noise: the pair's figures are only comparable when it is small).\n"+
		"server said: the lines the server wrote during the phase (its output, where both write every log record) about drops, queues, limits, refusals and closed connections: count, then the first.\n"+
		"The bound for ethervpn is from its caps (hub.DefaultQueueBytes per session, hub.DefaultQueueBudget shared, MaxUnestablishedConnections) with an estimated allowance per handshake; the rise is over the round's baseline peak, and memory the Go runtime has not yet returned after a phase counts in the next.")
}

// mib is n bytes in MiB.
func mib(n int64) float64 { return float64(n) / (1 << 20) }

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
