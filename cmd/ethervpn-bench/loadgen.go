package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// The load generator: synthetic SSL-VPN sessions made with ethervpn's own
// client code (client.Login for TLS, hello and password login, then
// internal/session for the frame stream, as the ethervpn client does), each
// with an in-memory port instead of a TAP adapter. Sessions come in pairs;
// each sends frames to its partner as fast as its TCP connection takes them
// and checks what the partner sent it.

// Frame layout after the Ethernet header (all big-endian):
//
//	14 magic "EVLD"   18 kind   19 sender index (2)   21 sequence (8)   29 stamp (8)   37 pattern...
//
// The pattern is a window of a fixed random array that starts at the
// sequence number modulo a prime, so a frame's bytes depend on its
// sequence number and the check is one memcmp.
const (
	loadEtherType = 0x88b5 // IEEE 802 local experimental EtherType 1
	loadMagic     = 0x45564c44
	loadHeader    = 37
	ctrlFrameSize = 64 // hello, probe and echo frames
	patternStride = 251
	// maxLoadFrame is the largest frame the generator makes (a jumbo
	// frame); SoftEther carries Ethernet frames up to 9 KiB.
	maxLoadFrame = 9014
)

// Frame kinds.
const (
	kindData  = 1
	kindHello = 2 // broadcast once after login, so the hub learns the MAC
	kindProbe = 3 // timestamped by its sender; the partner echoes it
	kindEcho  = 4
)

// loadPattern is the array the frames' patterns are windows of.
var loadPattern = func() []byte {
	b := make([]byte, patternStride+maxLoadFrame)
	r := rand.New(rand.NewPCG(13, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

// patternFor is the pattern of data frame seq, n bytes long.
func patternFor(seq uint64, n int) []byte {
	off := int(seq % patternStride)
	return loadPattern[off : off+n]
}

// genMAC is the MAC address of generator session i: locally administered.
func genMAC(i int) [6]byte {
	return [6]byte{0x02, 0xe7, 0x4c, 0x44, byte(i >> 8), byte(i)}
}

// frameCheck is the receiving half of a session: it checks the data frames
// from the partner, in order, and counts what arrived. The session's reader
// goroutine alone updates it; the counters are atomic so that the
// benchmark can read them while frames flow.
type frameCheck struct {
	from uint16 // the partner's index
	size int    // the data frames' length
	next uint64 // next sequence number expected

	frames, bytes atomic.Uint64 // good data frames from the partner
	// gaps counts frames skipped in the sequence (lost, or late: a late
	// one takes itself back off); late counts frames older than one
	// already received (reordered or duplicated); corrupt counts frames
	// of the generator whose length or pattern is wrong; foreign counts
	// data frames from another session or not the generator's at all.
	gaps, late, corrupt, foreign atomic.Uint64
}

// data checks one data frame (kind already read as kindData).
func (c *frameCheck) data(f []byte) {
	from := binary.BigEndian.Uint16(f[19:])
	seq := binary.BigEndian.Uint64(f[21:])
	switch {
	case len(f) != c.size || !bytes.Equal(f[loadHeader:], patternFor(seq, len(f)-loadHeader)):
		c.corrupt.Add(1)
		return
	case from != c.from:
		c.foreign.Add(1)
		return
	case seq == c.next:
		c.next++
	case seq > c.next:
		c.gaps.Add(seq - c.next)
		c.next = seq + 1
	default:
		c.late.Add(1)
		if g := c.gaps.Load(); g > 0 {
			c.gaps.Store(g - 1)
		}
	}
	c.frames.Add(1)
	c.bytes.Add(uint64(len(f)))
}

// frameKind returns the generator's kind of frame f, 0 when f is not the
// generator's.
func frameKind(f []byte) byte {
	if len(f) < loadHeader || binary.BigEndian.Uint16(f[12:]) != loadEtherType || binary.BigEndian.Uint32(f[14:]) != loadMagic {
		return 0
	}
	return f[18]
}

// genPort is one synthetic session's session.Port: Output makes frames for
// the partner, Input checks what arrives.
type genPort struct {
	idx   int
	ready chan struct{}
	data  []byte // the next data frame: header fixed, sequence and pattern per frame
	ctrl  []byte // hello, probe and echo frames
	seq   uint64 // next data frame's sequence number (Output only)

	// peer is the partner's port and window the most data frames this
	// port has in flight to it (0: no limit, full speed). The generator's
	// two ends share this process, so the partner's counters are the
	// acknowledgements: in flight is sent - (delivered + gaps) - written
	// off, where written off are frames given up for lost after a stall.
	peer     *genPort
	window   int64
	writeOff atomic.Int64
	// cwnd is the window in use, at most window: like a TCP sender's
	// congestion window, it halves when frames were lost and grows while
	// the sender is held back by it (see adapt), so that a hub that drops
	// what it cannot queue is not flooded.
	cwnd     atomic.Int64
	lastGaps uint64      // the partner's gaps at the last adapt
	blocked  atomic.Bool // the last Output stopped at the window

	running atomic.Bool
	hello   atomic.Bool  // a hello to send
	probe   atomic.Bool  // a probe to send
	echo    atomic.Int64 // the stamp of a probe to echo, 0 for none
	sent    atomic.Uint64

	check     frameCheck
	peerHello atomic.Bool // the partner's hello arrived

	rttMu sync.Mutex
	rtts  []time.Duration // probe round trips (the probing session's)
}

// newGenPort makes session idx's port; its partner is idx^1, and data
// frames are size bytes long.
func newGenPort(idx, size int) *genPort {
	p := &genPort{idx: idx, ready: make(chan struct{}, 1), data: make([]byte, size), ctrl: make([]byte, ctrlFrameSize)}
	p.check.from, p.check.size = uint16(idx^1), size
	peer, own := genMAC(idx^1), genMAC(idx)
	for _, b := range [][]byte{p.data, p.ctrl} {
		copy(b[0:], peer[:])
		copy(b[6:], own[:])
		binary.BigEndian.PutUint16(b[12:], loadEtherType)
		binary.BigEndian.PutUint32(b[14:], loadMagic)
		binary.BigEndian.PutUint16(b[19:], uint16(idx))
	}
	p.data[18] = kindData
	return p
}

func (p *genPort) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// Ready implements session.Port.
func (p *genPort) Ready() <-chan struct{} { return p.ready }

// Output implements session.Port: pending control frames first, then, while
// the port runs, data frames up to most (and the window): the session's writer calls again as
// soon as its socket took the batch, so the stream runs at the speed of
// the TCP connection.
func (p *genPort) Output(most int, emit func([]byte)) int {
	n := 0
	ctrl := func(kind byte, dst [6]byte, stamp int64) {
		copy(p.ctrl[0:], dst[:])
		p.ctrl[18] = kind
		binary.BigEndian.PutUint64(p.ctrl[29:], uint64(stamp))
		emit(p.ctrl)
		n++
	}
	if p.hello.Swap(false) {
		ctrl(kindHello, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0)
	}
	if st := p.echo.Swap(0); st != 0 {
		ctrl(kindEcho, genMAC(p.idx^1), st)
	}
	if p.probe.Swap(false) {
		ctrl(kindProbe, genMAC(p.idx^1), time.Now().UnixNano())
	}
	if !p.running.Load() {
		return n
	}
	limit := most
	if p.window > 0 {
		// blocked is set before the window is read, so that the partner's
		// Input, which counts frames and then looks at blocked, signals
		// for any frame this read did not see.
		p.blocked.Store(true)
		free := p.cwnd.Load() - p.inFlight()
		if free >= int64(most-n) {
			p.blocked.Store(false)
		}
		limit = n + int(min(max(free, 0), int64(most-n)))
	}
	k := 0
	for ; n < limit; n++ {
		binary.BigEndian.PutUint64(p.data[21:], p.seq)
		copy(p.data[loadHeader:], patternFor(p.seq, len(p.data)-loadHeader))
		emit(p.data)
		p.seq++
		k++
	}
	p.sent.Add(uint64(k))
	return n
}

// inFlight is how many data frames this port sent that the partner has
// neither received nor skipped, less those written off.
func (p *genPort) inFlight() int64 {
	c := &p.peer.check
	return int64(p.sent.Load()) - int64(c.frames.Load()+c.gaps.Load()) - p.writeOff.Load()
}

// Input implements session.Port.
func (p *genPort) Input(frames [][]byte) {
	// Frames that arrived open the partner's window.
	defer func() {
		if p.peer != nil && p.peer.blocked.Load() {
			p.peer.signal()
		}
	}()
	for _, f := range frames {
		switch frameKind(f) {
		case kindData:
			p.check.data(f)
		case kindHello:
			if binary.BigEndian.Uint16(f[19:]) == p.check.from {
				p.peerHello.Store(true)
			}
		case kindProbe:
			p.echo.Store(int64(binary.BigEndian.Uint64(f[29:])))
			p.signal()
		case kindEcho:
			rtt := time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(f[29:])))
			p.rttMu.Lock()
			p.rtts = append(p.rtts, rtt)
			p.rttMu.Unlock()
		default:
			p.check.foreign.Add(1)
		}
	}
}

// genSession is one logged-in synthetic session.
type genSession struct {
	port *genPort
	sess *session.Session
	done chan error
}

// loadGen is a set of logged-in session pairs on one hub.
type loadGen struct {
	sessions []*genSession
}

// genOptions say where the generator's sessions log in.
type genOptions struct {
	server, hub, password string
	user                  func(i int) string
	size                  int // data frame length
	// do runs a function that dials (in the benchmark's network
	// namespace); nil runs it as it is.
	do func(func() error) error
	// parallel is how many logins run at once.
	parallel int
	// window is the most data frames a session has in flight to its
	// partner; 0 for none (full speed: the hub drops what it cannot
	// forward).
	window int
}

// newLoadGen logs n sessions in (n even), starts their frame streams
// idle, has every session broadcast a hello so that the hub learns the
// MAC addresses, and waits until each session has its partner's.
func newLoadGen(ctx context.Context, o genOptions, n int) (*loadGen, error) {
	if n < 2 || n%2 != 0 {
		return nil, fmt.Errorf("load: %d sessions, want an even number of at least 2", n)
	}
	g, err := loginAll(ctx, o, n)
	if err != nil {
		return nil, err
	}
	// A hub may drop a broadcast (the real vpnserver has dropped the
	// first ones of a session that had just logged in): each session
	// sends its hello again until its partner has it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		waiting := 0
		for _, s := range g.sessions {
			if !s.port.peer.peerHello.Load() {
				waiting++
				s.port.hello.Store(true)
				s.port.signal()
			}
		}
		if waiting == 0 {
			return g, nil
		}
		if err := g.err(); err != nil {
			g.close()
			return nil, err
		}
		if time.Now().After(deadline) {
			g.close()
			return nil, fmt.Errorf("load: %d of %d sessions did not receive their partner's broadcast within 10 s", waiting, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// loginAll logs n sessions in, o.parallel at a time, with their frame
// streams idle (keep-alives only); on an error it logs them all out. With
// n even, the ports know their partners (session i^1) from the start.
func loginAll(ctx context.Context, o genOptions, n int) (*loadGen, error) {
	g := &loadGen{sessions: make([]*genSession, n)}
	ports := make([]*genPort, n)
	for i := range ports {
		ports[i] = newGenPort(i, o.size)
	}
	if n%2 == 0 {
		for i, p := range ports {
			p.peer = ports[i^1]
			p.window = int64(o.window)
			p.cwnd.Store(min(int64(o.window), initialWindow))
		}
	}
	errs := make([]error, n)
	sem := make(chan struct{}, max(o.parallel, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			g.sessions[i], errs[i] = loginGen(ctx, o, ports[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

// loginGen logs session p.idx in and attaches its connection to a session
// with port p, as client.Link does for a TAP adapter.
func loginGen(ctx context.Context, o genOptions, p *genPort) (*genSession, error) {
	sess, done, err := loginPort(ctx, o, p.idx, p)
	if err != nil {
		return nil, err
	}
	return &genSession{port: p, sess: sess, done: done}, nil
}

// loginPort logs user o.user(i) in and attaches the connection to a new
// session with port p; done receives the session's end.
func loginPort(ctx context.Context, o genOptions, i int, p session.Port) (*session.Session, chan error, error) {
	opts := &client.Options{Server: o.server, Hub: o.hub, User: o.user(i), Password: o.password, MaxConnections: 1}
	var (
		w *wire.Welcome
		c *client.Conn
	)
	login := func() (err error) {
		w, c, err = client.Login(ctx, opts)
		return err
	}
	var err error
	if o.do != nil {
		err = o.do(login)
	} else {
		err = login()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load: session %d: %w", i, err)
	}
	if w.UseCompress {
		c.Raw.Close()
		return nil, nil, fmt.Errorf("load: session %d: the server turned compression on", i)
	}
	sess := session.New(p, session.Params{Role: session.Client, Timeout: w.Timeout, MaxConnections: 1, HalfDuplex: w.HalfConnection})
	if err := sess.AddConn(c.Raw, func(wire.Direction) (session.Stream, error) { return c.Stream, nil }); err != nil {
		c.Raw.Close()
		return nil, nil, fmt.Errorf("load: session %d: %w", i, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	return sess, done, nil
}

// err returns why a session ended, nil while all live.
func (g *loadGen) err() error {
	for _, s := range g.sessions {
		select {
		case <-s.sess.Done():
			return fmt.Errorf("load: session %d ended: %v", s.port.idx, s.sess.Wait())
		default:
		}
	}
	return nil
}

// close ends every session.
func (g *loadGen) close() {
	for _, s := range g.sessions {
		if s != nil {
			s.sess.Close(nil)
		}
	}
	for _, s := range g.sessions {
		if s != nil {
			<-s.done
		}
	}
}

// genCounts are the generator's counters summed over its sessions.
type genCounts struct {
	sent, frames, bytes, gaps, late, corrupt, foreign uint64
}

func (g *loadGen) counts() genCounts {
	var c genCounts
	for _, s := range g.sessions {
		p := s.port
		c.sent += p.sent.Load()
		c.frames += p.check.frames.Load()
		c.bytes += p.check.bytes.Load()
		c.gaps += p.check.gaps.Load()
		c.late += p.check.late.Load()
		c.corrupt += p.check.corrupt.Load()
		c.foreign += p.check.foreign.Load()
	}
	return c
}

// initialWindow and minWindow bound the adaptive window from below.
const initialWindow, minWindow = 16, 4

// adapt updates the window once per tick: halved when the partner saw
// frames missing since the last tick (or lost is set: a stall was written
// off), else grown by a quarter while the sender was held back by it.
func (p *genPort) adapt(lost bool) {
	gaps := p.peer.check.gaps.Load()
	w := p.cwnd.Load()
	switch {
	case lost || gaps > p.lastGaps:
		w = max(w/2, minWindow)
	case p.blocked.Load():
		w = min(w+w/4+1, p.window)
	}
	p.lastGaps = gaps
	p.cwnd.Store(w)
}

// stallAfter is how long a session blocked at its window waits for a
// frame from its partner before it writes off what it has in flight as
// lost (the hub dropped the last frames, so no later one reveals the
// gap). Long: on a shared machine a server may not run for a while, and
// frames written off too early are sent on top of those still queued.
const stallAfter = time.Second

// start makes every session send (at full speed or within its window) and
// session 0 probe every interval; stop ends both.
func (g *loadGen) start(interval time.Duration) (stop func()) {
	for _, s := range g.sessions {
		s.port.running.Store(true)
		s.port.signal()
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		p := g.sessions[0].port
		// progress is each port's partner's received count and when it
		// last changed, for the stall check.
		type progress struct {
			seen uint64
			at   time.Time
		}
		prog := make([]progress, len(g.sessions))
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				p.probe.Store(true)
				p.signal()
				for i, s := range g.sessions {
					sp := s.port
					if sp.window == 0 {
						continue
					}
					c := &sp.peer.check
					stalled := false
					if seen := c.frames.Load() + c.gaps.Load(); seen != prog[i].seen || !sp.blocked.Load() {
						prog[i] = progress{seen, now}
					} else if now.Sub(prog[i].at) >= stallAfter {
						sp.writeOff.Add(max(sp.inFlight(), 0))
						prog[i].at = now
						stalled = true
					}
					sp.adapt(stalled)
					sp.signal()
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		for _, s := range g.sessions {
			s.port.running.Store(false)
		}
	}
}

// takeRTTs returns the probe round trips so far and forgets them.
func (g *loadGen) takeRTTs() []time.Duration {
	p := g.sessions[0].port
	p.rttMu.Lock()
	defer p.rttMu.Unlock()
	r := p.rtts
	p.rtts = nil
	return r
}

// drain waits until no more data frames arrive (for quiet, at most limit)
// and returns the counters then.
func (g *loadGen) drain(quiet, limit time.Duration) genCounts {
	end := time.Now().Add(limit)
	last := g.counts()
	calm := time.Now()
	for time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
		c := g.counts()
		if c.frames != last.frames || c.corrupt != last.corrupt {
			last, calm = c, time.Now()
		} else if time.Since(calm) >= quiet {
			break
		}
	}
	return last
}
