package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
)

// closedSoon reports whether the server closes c without a word.
func closedSoon(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // generous: a loaded machine may be slow to accept
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF
}

// dialFrom opens a TCP connection to addr from the loopback address src
// (any of 127.0.0.0/8 is this machine's).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConnectionFloodIsRefused(t *testing.T) {
	_, addr := testServer(t, func(s *Server) { s.conns = newConnLimiter(4, 3) })
	var idle []net.Conn
	for i := 0; i < 3; i++ { // idle TCP connections: unestablished
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if !closedSoon(c) {
		t.Fatal("a 4th connection still in the handshake was accepted over the limit of 3")
	}
	// Freeing one lets a real login through; once established it no longer
	// counts as unestablished, but still counts for its address.
	idle[0].Close()
	time.Sleep(100 * time.Millisecond)
	o := client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw"}
	_, first, err := client.Login(context.Background(), &o)
	if err != nil {
		t.Fatalf("login after a slot was freed: %v", err)
	}
	defer first.Raw.Close()
	// 2 idle + 1 session connection = 3 of 4 per address: one more fits,
	// the next does not.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	time.Sleep(100 * time.Millisecond)
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if !closedSoon(over) {
		t.Fatal("a 5th connection from one address was accepted over the limit of 4")
	}
}

// Silent connections from a few addresses cannot take every handshake
// slot: each source holds at most defaultMaxPendingPerSource, so a login
// from elsewhere goes through at once.
func TestHandshakeFloodFromFewSources(t *testing.T) {
	const sources, perSource, limit = 4, 40, 100 // 160 silent connections > 100 slots
	s, addr := testServer(t, func(s *Server) { s.conns = newConnLimiter(defaultMaxConnsPerIP, limit) })
	var wg sync.WaitGroup
	for i := range sources {
		src := fmt.Sprintf("127.0.0.%d", i+2)
		for range perSource {
			c := dialFrom(t, src, addr)
			wg.Go(func() { c.Read(make([]byte, 1)) }) // returns when the server closes it
		}
	}
	// Let the server accept them all (it closes the refused ones at once).
	deadline := time.Now().Add(5 * time.Second)
	for s.conns.pendingCount() < sources*defaultMaxPendingPerSource && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := s.conns.pendingCount(); n > sources*defaultMaxPendingPerSource {
		t.Errorf("%d connections in the handshake from %d sources, want at most %d each", n, sources, defaultMaxPendingPerSource)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, first, err := client.Login(ctx, &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	if err != nil {
		t.Fatalf("login from another address during the flood: %v", err)
	}
	first.Raw.Close()
	t.Logf("login during a flood of %d x %d silent connections took %v", sources, perSource, time.Since(start).Round(time.Millisecond))
}

// Silent connections from more sources than the handshake slots hold fill
// them all; a login from yet another source still gets a slot, taken from
// the heaviest source, whose oldest connection is closed.
func TestHandshakeFloodFromManySources(t *testing.T) {
	const sources, limit = 4, 32 // 4 x 16 silent connections > 32 slots
	s, addr := testServer(t, func(s *Server) { s.conns = newConnLimiter(defaultMaxConnsPerIP, limit) })
	var closed atomic.Int64 // silent connections the server closed
	for i := range sources {
		src := fmt.Sprintf("127.0.0.%d", i+2)
		for range defaultMaxPendingPerSource {
			c := dialFrom(t, src, addr)
			go func() {
				if _, err := c.Read(make([]byte, 1)); err == io.EOF {
					closed.Add(1)
				}
			}()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.conns.pendingCount() < limit && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := s.conns.pendingCount(); n != limit {
		t.Fatalf("%d connections in the handshake, want the %d slots full", n, limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, first, err := client.Login(ctx, &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	if err != nil {
		t.Fatalf("login from a new source with every handshake slot taken: %v", err)
	}
	first.Raw.Close()
	// Every silent connection over the slots was closed, one more for the
	// login, and no other.
	want := int64(sources*defaultMaxPendingPerSource - limit + 1)
	for deadline := time.Now().Add(3 * time.Second); closed.Load() < want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := closed.Load(); n != want {
		t.Errorf("the server closed %d silent connections, want %d", n, want)
	}
}

// A connection that says nothing is closed at the handshake deadline, and
// its slot is freed.
func TestSilentConnectionTimesOut(t *testing.T) {
	s, addr := testServer(t, withHandshakeTimeout(500*time.Millisecond))
	c := dialFrom(t, "127.0.0.1", addr)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("silent connection: %v, want it closed by the server", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %v, want about 500ms", d)
	}
	for deadline := time.Now().Add(2 * time.Second); s.conns.pendingCount() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted in the handshake after the close", s.conns.pendingCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tryAdmit admits a connection that cannot be evicted (see
// connLimiter.admitAt) and says whether it was.
func tryAdmit(l *connLimiter, addr netip.Addr, now time.Time) (ok bool, why string) {
	slot, why := l.admitAt(addr, now, nil)
	return slot != nil, why
}

// oldestOf is the oldest connection of addr's source still in the
// handshake.
func (l *connLimiter) oldestOf(addr netip.Addr) *connSlot {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sources[sourceKey(addr)].oldest
}

func TestConnLimiterPendingPerSource(t *testing.T) {
	l := newConnLimiter(0, 1000)
	l.rateCheck = false
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	now := time.Now()
	for i := range defaultMaxPendingPerSource {
		if ok, why := tryAdmit(l, a, now); !ok {
			t.Fatalf("connection %d: %s", i+1, why)
		}
	}
	if ok, _ := tryAdmit(l, a, now); ok {
		t.Fatalf("connection %d from one source in the handshake was admitted", defaultMaxPendingPerSource+1)
	}
	if ok, why := tryAdmit(l, b, now); !ok {
		t.Fatalf("another source: %s", why)
	}
	l.established(l.oldestOf(a)) // one of a's logs in
	if ok, why := tryAdmit(l, a, now); !ok {
		t.Fatalf("after one of its connections authenticated: %s", why)
	}
	l.release(l.oldestOf(a)) // one of a's pending ones closes
	if ok, why := tryAdmit(l, a, now); !ok {
		t.Fatalf("after one of its connections closed: %s", why)
	}
}

// The connection-rate check follows SoftEther's CheckDosAttack: 16 per
// entry; the entry ends once its source pauses for its span (250 ms doubling
// to 1 s) before a sweep (every 10 s), or is cleared by a login.
func TestConnLimiterRate(t *testing.T) {
	l := newConnLimiter(0, 0)
	l.pendingPerSource = 0
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for i := range dosMaxPerEntry {
		if ok, why := tryAdmit(l, a, at(time.Duration(i)*100*time.Millisecond)); !ok {
			t.Fatalf("connection %d: %s", i+1, why)
		}
	}
	if ok, why := tryAdmit(l, a, at(2*time.Second)); ok || !strings.Contains(why, "short time") {
		t.Fatalf("connection %d in a burst: %v %q, want refused by the rate check", dosMaxPerEntry+1, ok, why)
	}
	if ok, _ := tryAdmit(l, b, at(2*time.Second)); !ok {
		t.Fatal("another source was refused")
	}
	// Hammering keeps the entry alive across sweeps.
	for d := 3 * time.Second; d < 30*time.Second; d += 500 * time.Millisecond {
		if ok, _ := tryAdmit(l, a, at(d)); ok {
			t.Fatalf("admitted at +%v while still hammering", d)
		}
	}
	// A pause longer than the span, then a sweep, ends it.
	if ok, why := tryAdmit(l, a, at(45*time.Second)); !ok {
		t.Fatalf("after a pause: %s", why)
	}
	// A login clears the entry: a client opening many connections of one
	// session is never refused.
	for i := range 3 * dosMaxPerEntry {
		slot, why := l.admitAt(a, at(46*time.Second), nil)
		if slot == nil {
			t.Fatalf("connection %d with logins between: %s", i+1, why)
		}
		l.established(slot)
	}
	// An entry ends at the latest 3000 s after it began, even for a source
	// that never pauses; it then gets another 16.
	l2 := newConnLimiter(0, 0)
	l2.pendingPerSource = 0
	for d := time.Duration(0); d < dosExpiresTotal; d += 900 * time.Millisecond {
		if ok, _ := tryAdmit(l2, a, at(d)); ok != (d < dosMaxPerEntry*900*time.Millisecond) {
			t.Fatalf("hammering, at +%v: admitted %v", d, ok)
		}
	}
	if ok, why := tryAdmit(l2, a, at(dosExpiresTotal+dosSweepInterval)); !ok {
		t.Fatalf("after %v of hammering: %s", dosExpiresTotal, why)
	}
}

func TestSourceKey(t *testing.T) {
	for _, c := range [][2]string{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::9", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
	} {
		if got := sourceKey(netip.MustParseAddr(c[0])); got != netip.MustParseAddr(c[1]) {
			t.Errorf("sourceKey(%s) = %s, want %s", c[0], got, c[1])
		}
	}
	// Two addresses of one /64 share the per-source limits.
	l := newConnLimiter(0, 0)
	l.rateCheck = false
	for i := range defaultMaxPendingPerSource {
		tryAdmit(l, netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1)), time.Now())
	}
	if ok, _ := tryAdmit(l, netip.MustParseAddr("2001:db8::ffff:1"), time.Now()); ok {
		t.Error("the /64 had used up its handshake slots, yet another of its addresses was admitted")
	}
	if ok, why := tryAdmit(l, netip.MustParseAddr("2001:db8:0:1::1"), time.Now()); !ok {
		t.Errorf("another /64: %s", why)
	}
}

func TestConnLimiterFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Options.MaxConnectionsPerIP, cfg.Options.MaxUnestablishedConnections = 300, 200
	l := newConnLimiterFromConfig(cfg)
	if l.perIP != 300 || l.unestablished != 300 || !l.rateCheck || l.pendingPerSource != defaultMaxPendingPerSource {
		t.Errorf("limits %+v, want 300 per IP and 300 unestablished (never below per IP), rate check on", l)
	}
	cfg.Options.DisableDosProtection = true
	l = newConnLimiterFromConfig(cfg)
	if l.perIP != 0 || l.unestablished != 0 || l.rateCheck || l.pendingPerSource != 0 || l.maxWeb != 0 || l.handshake != defaultHandshakeTimeout {
		t.Errorf("DisableDosProtection: %+v, want no limits but the handshake timeout", l)
	}
}

// webClient is a raw HTTPS connection to the admin API.
type webClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWeb(t *testing.T, addr string) *webClient {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &webClient{t: t, c: c, br: bufio.NewReader(c)}
}

// get asks for the server's info, with the password (none: no
// credentials), and returns the status, or 0 when the connection failed.
func (w *webClient) get(password string) int {
	req := "GET /api/GetServerInfo HTTP/1.1\r\nHost: x\r\n"
	if password != "" {
		req += "X-VPNADMIN-PASSWORD: " + password + "\r\n"
	}
	w.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(w.c, req+"\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func setAdminPassword(pw string) func(*Server) {
	return func(s *Server) {
		if _, err := s.Dispatcher().Call(context.Background(), serverAdm, "SetServerPassword", params("PlainTextPassword", pw)); err != nil {
			panic(err)
		}
	}
}

// A JSON-RPC connection counts as in the handshake until one of its
// requests authenticates: unauthenticated keep-alives take handshake slots.
func TestWebConnCountsAsHandshake(t *testing.T) {
	_, addr := testServer(t, withAdmin, setAdminPassword("adminpw"), func(s *Server) { s.conns = newConnLimiter(0, 3) })
	var conns []*webClient
	for range 3 {
		w := dialWeb(t, addr)
		if code := w.get(""); code != http.StatusUnauthorized {
			t.Fatalf("request without credentials: %d, want 401", code)
		}
		conns = append(conns, w)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !closedSoon(c) {
		t.Fatal("3 unauthenticated JSON-RPC connections did not fill 3 handshake slots")
	}
	if code := conns[0].get("adminpw"); code != http.StatusOK {
		t.Fatalf("authenticated request: %d", code)
	}
	if code := dialWeb(t, addr).get(""); code != http.StatusUnauthorized {
		t.Fatalf("after one connection authenticated, a new one: %d, want 401", code)
	}
}

// Before authentication a JSON-RPC connection lives at most the handshake
// timeout, whatever it sends; after, it stays open between requests.
func TestWebPreAuthDeadline(t *testing.T) {
	_, addr := testServer(t, withAdmin, setAdminPassword("adminpw"), withHandshakeTimeout(time.Second))
	w := dialWeb(t, addr)
	start := time.Now()
	for w.get("") == http.StatusUnauthorized {
		if time.Since(start) > 5*time.Second {
			t.Fatal("an unauthenticated connection kept asking for 5 s with a 1 s handshake timeout")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("closed after %v, before the handshake timeout", d)
	}
	a := dialWeb(t, addr)
	if code := a.get("adminpw"); code != http.StatusOK {
		t.Fatalf("authenticated request: %d", code)
	}
	time.Sleep(1500 * time.Millisecond)
	if code := a.get("adminpw"); code != http.StatusOK {
		t.Fatalf("authenticated connection after idling past the handshake timeout: %d, want it open", code)
	}
}

// Authenticated JSON-RPC connections are capped; over the cap a request is
// answered 503 and its connection closed.
func TestWebAuthenticatedConnsCapped(t *testing.T) {
	_, addr := testServer(t, withAdmin, setAdminPassword("adminpw"), func(s *Server) { s.conns.maxWeb = 2 })
	a, b := dialWeb(t, addr), dialWeb(t, addr)
	for _, w := range []*webClient{a, b} {
		if code := w.get("adminpw"); code != http.StatusOK {
			t.Fatalf("authenticated request: %d", code)
		}
	}
	c := dialWeb(t, addr)
	if code := c.get("adminpw"); code != http.StatusServiceUnavailable {
		t.Fatalf("third authenticated connection: %d, want 503", code)
	}
	if code := c.get("adminpw"); code != 0 {
		t.Errorf("the refused connection still answers: %d", code)
	}
	a.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for dialWeb(t, addr).get("adminpw") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("no authenticated connection accepted after one closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The binary admin RPC counts as in the handshake until its login
// succeeds; logins waiting for a (delayed) refusal count apart, as waiting
// answers, and leave the handshake slots to others.
func TestAdminRPCCountsAsHandshake(t *testing.T) {
	s, addr := testServer(t, withAdmin, setAdminPassword("adminpw"), failDelays(2*time.Second, 2*time.Second),
		func(s *Server) { s.conns = newConnLimiter(0, 2) })
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if c, err := admin.Dial(context.Background(), addr, "", "wrong"); err == nil {
				c.Close()
				t.Error("wrong admin password accepted")
			}
		})
	}
	for deadline := time.Now().Add(time.Second); s.conns.delayedCount() < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if p, d := s.conns.pendingCount(), s.conns.delayedCount(); p != 0 || d != 2 {
		t.Fatalf("two admin logins awaiting their refusal: %d in the handshake and %d waiting, want 0 and 2", p, d)
	}
	var silent []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	if !closedSoon(silent[2]) {
		t.Error("with two admin logins awaiting their refusal, two silent connections did not fill the 2 handshake slots")
	}
	for _, c := range silent {
		c.Close()
	}
	wg.Wait()
	for deadline := time.Now().Add(3 * time.Second); s.conns.pendingCount() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the server closes them a moment after its answer
	}
	ac, err := admin.Dial(context.Background(), addr, "", "adminpw")
	if err != nil {
		t.Fatalf("right admin password: %v", err)
	}
	defer ac.Close()
	// Once logged in it no longer counts: two more connections fit.
	dialWeb(t, addr)
	if code := dialWeb(t, addr).get(""); code != http.StatusUnauthorized {
		t.Fatalf("with the admin logged in, a 2nd handshake: %d", code)
	}
}

// When every handshake slot is taken, a source holding fewer than the
// heaviest takes the slot of the heaviest source's oldest connection; a
// source holding as many as any is refused.
func TestConnLimiterEvictsFromHeaviest(t *testing.T) {
	l := newConnLimiter(0, 4)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	now := time.Now()
	var closed []string
	admit := func(addr netip.Addr, name string) bool {
		slot, _ := l.admitAt(addr, now, func() { closed = append(closed, name) })
		return slot != nil
	}
	for i := range 4 {
		if !admit(a, fmt.Sprint("a", i)) {
			t.Fatalf("a's connection %d refused", i)
		}
	}
	if admit(a, "a4") {
		t.Fatal("the only source took a slot from itself")
	}
	if !admit(b, "b0") || !admit(b, "b1") {
		t.Fatal("a lighter source was refused with the pool full")
	}
	if admit(b, "b2") {
		t.Fatal("b took a 3rd slot from a, which then held fewer than b")
	}
	if got := strings.Join(closed, " "); got != "a0 a1" {
		t.Errorf("closed %q, want a's two oldest: a0 a1", got)
	}
	if n := l.pendingCount(); n != 4 {
		t.Errorf("%d pending, want 4", n)
	}
}

// The red team's flood: 70 sources of 16 pending connections each (more
// than the 1000 slots) and, for IPv6, 70 /64s of one /56, keep refilling
// their slots; a login from another source still gets one, every round, and
// keeps it while the flood goes on.
func TestConnLimiterManySourcesCannotStarveANewOne(t *testing.T) {
	for _, c := range []struct{ name, flood, login string }{
		{"IPv4", "127.1.%d.%d", "127.0.0.%d"},
		{"IPv6", "2001:db8:0:%02x%02x::1", "2001:db8:1::%x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newConnLimiter(defaultMaxConnsPerIP, defaultMaxUnestablished)
			var flood []netip.Addr
			for i := range 70 {
				flood = append(flood, netip.MustParseAddr(fmt.Sprintf(c.flood, i/250, i%250+1)))
			}
			now := time.Now()
			var logins []*connSlot
			for round := range 5 {
				// Each round comes after a pause that ends the rate entries,
				// as the red team's bursts did.
				now = now.Add(2 * dosSweepInterval)
				for _, a := range flood {
					for range dosMaxPerEntry {
						l.admitAt(a, now, nil)
					}
				}
				if n := l.pendingCount(); n != defaultMaxUnestablished {
					t.Fatalf("round %d: %d pending, want the pool full (%d)", round, n, defaultMaxUnestablished)
				}
				slot, why := l.admitAt(netip.MustParseAddr(fmt.Sprintf(c.login, round+1)), now, nil)
				if slot == nil {
					t.Fatalf("round %d: a login from a new source was refused: %s", round, why)
				}
				logins = append(logins, slot)
				for i, s := range logins {
					if s.state != slotPending {
						t.Fatalf("round %d: the login of round %d lost its slot to the flood", round, i)
					}
				}
			}
			if l.evicted == 0 {
				t.Error("nothing was evicted")
			}
		})
	}
}

// A connection waiting out a wrong password's delay holds no handshake
// slot, so the addresses of its source (an IPv6 /64 here) still get in;
// the waiting answers are bounded per source.
func TestConnLimiterDelayedAnswersHoldNoSlot(t *testing.T) {
	l := newConnLimiter(0, 1000)
	l.rateCheck = false // the rate check is SoftEther's and apart: this is about slots
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	now := time.Now()
	var waiting []*connSlot
	for i := range defaultMaxDelayedPerSource {
		slot, why := l.admitAt(a, now, nil)
		if slot == nil {
			t.Fatalf("wrong password %d: %s", i+1, why)
		}
		if !l.delayAnswer(slot) {
			t.Fatalf("wrong password %d may not wait for its answer", i+1)
		}
		waiting = append(waiting, slot)
	}
	if p, d := l.pendingCount(), l.delayedCount(); p != 0 || d != defaultMaxDelayedPerSource {
		t.Fatalf("%d pending and %d waiting, want 0 and %d", p, d, defaultMaxDelayedPerSource)
	}
	for _, addr := range []netip.Addr{a, b} {
		for i := range defaultMaxPendingPerSource {
			if ok, why := tryAdmit(l, addr, now); !ok {
				t.Fatalf("%s, connection %d, with wrong passwords waiting: %s", addr, i+1, why)
			}
			l.established(l.oldestOf(addr))
		}
	}
	over, _ := l.admitAt(a, now, nil)
	if l.delayAnswer(over) {
		t.Errorf("wrong password %d of one source may wait for its answer", defaultMaxDelayedPerSource+1)
	}
	l.release(over)
	for _, s := range waiting {
		l.release(s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.delayed != 0 || l.pending != 0 || len(l.sources) != 0 || l.top != 0 {
		t.Errorf("with only logged-in connections left: %d waiting, %d pending, %d sources, top tier %d; want nothing",
			l.delayed, l.pending, len(l.sources), l.top)
	}
}

// BenchmarkConnLimiterAdmitFull measures an admission with every handshake
// slot taken by 70 sources, each one taking a slot from the heaviest
// source: the accept loop's cost during the red team's flood.
func BenchmarkConnLimiterAdmitFull(b *testing.B) {
	l := newConnLimiter(0, defaultMaxUnestablished)
	l.rateCheck = false
	var flood []netip.Addr
	for i := range 70 {
		flood = append(flood, netip.MustParseAddr(fmt.Sprintf("127.1.0.%d", i+1)))
	}
	now := time.Now()
	slots := make([]*connSlot, 0, defaultMaxUnestablished)
	for _, a := range flood {
		for range defaultMaxPendingPerSource {
			if s, _ := l.admitAt(a, now, nil); s != nil {
				slots = append(slots, s)
			}
		}
	}
	b.ResetTimer()
	for i := range b.N {
		// A source that lost slots takes one back from the heaviest.
		a := flood[i%len(flood)]
		if s, _ := l.admitAt(a, now, nil); s != nil {
			slots = append(slots, s)
		}
		if len(slots) > 4*defaultMaxUnestablished {
			for _, s := range slots {
				if s.state == slotDone {
					l.release(s)
				}
			}
			slots = slots[:0]
		}
	}
	b.ReportMetric(float64(l.evicted)/float64(b.N), "evictions/op")
}
