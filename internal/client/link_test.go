package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/server"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// testServer is an in-process ethervpn server on a loopback port with hub
// DEFAULT and the password users alice/alicepw and bob/bobpw. It records
// the server end of every accepted TCP connection so that tests can cut
// them, and it can be stopped and started again on the same address.
type testServer struct {
	t    *testing.T
	dir  string
	addr string

	mu     sync.Mutex
	srv    *server.Server
	conns  []net.Conn
	cancel context.CancelFunc
	done   chan error
}

func newTestServer(t *testing.T) *testServer {
	return newTestServerWith(t, nil)
}

// newTestServerWith is newTestServer with change applied to the hub's
// configuration first.
func newTestServerWith(t *testing.T, change func(*config.Hub)) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: t.TempDir()}
	cfg := config.Default()
	h := cfg.Hub("DEFAULT")
	for _, u := range [][2]string{{"alice", "alicepw"}, {"bob", "bobpw"}} {
		hash := sha0.HashPassword(u[0], u[1])
		h.Users = append(h.Users, &config.User{Name: u[0], AuthType: 1, PasswordHash: hash[:]})
	}
	if change != nil {
		change(h)
	}
	if err := config.Save(ts.dir+"/"+server.ConfigFile, cfg.ToTree()); err != nil {
		t.Fatal(err)
	}
	ts.start("127.0.0.1:0")
	t.Cleanup(ts.stop)
	return ts
}

func testLog(t *testing.T) *slog.Logger {
	level := slog.LevelWarn + 4
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
}

func (ts *testServer) start(addr string) {
	ts.t.Helper()
	srv, err := server.Open(ts.dir, testLog(ts.t))
	if err != nil {
		ts.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, &recordingListener{Listener: ln, ts: ts}) }()
	ts.mu.Lock()
	ts.srv, ts.cancel, ts.done, ts.conns = srv, cancel, done, nil
	ts.mu.Unlock()
}

// stop shuts the server down (all its sessions end).
func (ts *testServer) stop() {
	ts.mu.Lock()
	cancel, done := ts.cancel, ts.done
	ts.cancel = nil
	ts.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	if err := <-done; err != nil {
		ts.t.Errorf("server stop: %v", err)
	}
}

// cut closes the server end of up to n accepted connections that are still
// open and returns how many it closed.
func (ts *testServer) cut(n int) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	closed := 0
	for len(ts.conns) > 0 && closed < n {
		c := ts.conns[0]
		ts.conns = ts.conns[1:]
		if c.Close() == nil {
			closed++
		}
	}
	return closed
}

// sessionConns returns the number of TCP connections the server counts for
// the session named name, or -1 if it has no such session.
func (ts *testServer) sessionConns(name string) int {
	ts.mu.Lock()
	srv := ts.srv
	ts.mu.Unlock()
	for _, s := range srv.Sessions() {
		if s.Name == name {
			return s.NumConns()
		}
	}
	return -1
}

type recordingListener struct {
	net.Listener
	ts *testServer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.ts.mu.Lock()
		l.ts.conns = append(l.ts.conns, c)
		l.ts.mu.Unlock()
	}
	return c, err
}

// framePort is a session.Port for tests: received frames are counted by
// their marker byte, frames to send are queued with send.
type framePort struct {
	ready chan struct{}
	mu    sync.Mutex
	out   [][]byte
	got   map[byte]int
}

func newFramePort() *framePort {
	return &framePort{ready: make(chan struct{}, 1), got: map[byte]int{}}
}

func (p *framePort) Input(frames [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range frames {
		if len(f) > 14 {
			p.got[f[14]]++
		}
	}
}

func (p *framePort) Ready() <-chan struct{} { return p.ready }

func (p *framePort) Output(limit int, emit func([]byte)) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(limit, len(p.out))
	for _, f := range p.out[:n] {
		emit(f)
	}
	p.out = p.out[n:]
	return n
}

func (p *framePort) send(f []byte) {
	p.mu.Lock()
	p.out = append(p.out, f)
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *framePort) count(marker byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[marker]
}

func broadcast(src, marker byte) []byte {
	f := make([]byte, 60)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, src, 0x88, 0xb5})
	for i := 14; i < len(f); i++ {
		f[i] = marker
	}
	return f
}

// runLink starts a link and stops it at the end of the test. The returned
// channel is closed when Run has returned, with its result in *runErr.
func runLink(t *testing.T, o client.LinkOptions, port session.Port) (l *client.Link, done <-chan struct{}, runErr *error) {
	t.Helper()
	if o.Log == nil {
		o.Log = testLog(t)
	}
	l = client.NewLink(o, port)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	runErr = new(error)
	go func() {
		*runErr = l.Run(ctx)
		close(ch)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
			return
		}
		if st := l.Status(); st.State != client.LinkStopped {
			t.Errorf("state after Run returned: %v", st.State)
		}
	})
	return l, ch, runErr
}

// waitUntil polls cond until it holds or d passed.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aliceLink(addr string, maxConns int) client.LinkOptions {
	return client.LinkOptions{
		Options:            client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw", MaxConnections: maxConns},
		ConnectionInterval: 50 * time.Millisecond,
		RetryInterval:      200 * time.Millisecond,
		Retries:            -1,
	}
}

func TestLinkOpensAllConnectionsAndCarriesFrames(t *testing.T) {
	ts := newTestServer(t)
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pa, pb := newFramePort(), newFramePort()
			a, _, _ := runLink(t, aliceLink(ts.addr, n), pa)
			ob := aliceLink(ts.addr, 1)
			ob.User, ob.Password = "bob", "bobpw"
			b, _, _ := runLink(t, ob, pb)
			waitUntil(t, 5*time.Second, "all connections", func() bool {
				return a.Status().Connections == n && b.Status().Connections == 1
			})
			st := a.Status()
			if st.State != client.LinkEstablished || st.Welcome == nil || len(st.ServerCertSHA256) != 64 {
				t.Fatalf("status %+v", st)
			}
			if got := ts.sessionConns(st.Welcome.SessionName); got != n {
				t.Fatalf("server counts %d connections, want %d", got, n)
			}
			marker := byte(n)
			for i := 0; i < 100; i++ {
				pa.send(broadcast(1, marker))
			}
			waitUntil(t, 5*time.Second, "frames from a at b", func() bool { return pb.count(marker) == 100 })
		})
	}
}

func TestLinkQoSAndHalfDuplexRaiseConnections(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name      string
		qos, hd   bool
		max, want int
	}{
		{"qos", true, false, 1, 2},
		{"half", false, true, 1, 2},
		{"half qos", true, true, 1, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := aliceLink(ts.addr, c.max)
			o.QoS, o.HalfDuplex = c.qos, c.hd
			l, _, _ := runLink(t, o, newFramePort())
			waitUntil(t, 5*time.Second, "connections", func() bool { return l.Status().Connections == c.want })
			time.Sleep(200 * time.Millisecond) // a few more intervals: no extra connection
			if n := l.Status().Connections; n != c.want {
				t.Fatalf("%d connections, want %d", n, c.want)
			}
		})
	}
}

func TestLinkReopensCutConnections(t *testing.T) {
	ts := newTestServer(t)
	pa, pb := newFramePort(), newFramePort()
	a, _, _ := runLink(t, aliceLink(ts.addr, 8), pa)
	waitUntil(t, 5*time.Second, "8 connections", func() bool { return a.Status().Connections == 8 })
	ob := aliceLink(ts.addr, 1)
	ob.User, ob.Password = "bob", "bobpw"
	b, _, _ := runLink(t, ob, pb)
	waitUntil(t, 5*time.Second, "bob", func() bool { return b.Status().Connections == 1 })
	session := a.Status().Welcome.SessionName

	// The first 8 accepted connections are alice's.
	if n := ts.cut(3); n != 3 {
		t.Fatalf("cut %d connections", n)
	}
	waitUntil(t, 5*time.Second, "connections to drop", func() bool { return a.Status().Connections < 8 })
	waitUntil(t, 5*time.Second, "connections re-opened", func() bool {
		return a.Status().Connections == 8 && ts.sessionConns(session) == 8
	})
	if st := a.Status(); st.Welcome.SessionName != session {
		t.Fatalf("session changed from %s to %s: the cut should not end it", session, st.Welcome.SessionName)
	}
	for i := 0; i < 50; i++ {
		pa.send(broadcast(1, 9))
	}
	waitUntil(t, 5*time.Second, "frames after the cut", func() bool { return pb.count(9) == 50 })
}

func TestLinkLogsInAgainAfterServerRestart(t *testing.T) {
	ts := newTestServer(t)
	o := aliceLink(ts.addr, 2)
	o.RetryInterval = time.Second
	a, _, _ := runLink(t, o, newFramePort())
	waitUntil(t, 5*time.Second, "2 connections", func() bool { return a.Status().Connections == 2 })
	before := a.Status().Welcome.SessionKey

	ts.stop()
	waitUntil(t, 5*time.Second, "the link to notice", func() bool { return a.Status().Connections == 0 })
	ts.start(ts.addr)
	restarted := time.Now()
	waitUntil(t, 5*time.Second, "re-login", func() bool {
		st := a.Status()
		return st.State == client.LinkEstablished && st.Connections == 2 && ts.sessionConns(st.Welcome.SessionName) == 2
	})
	if d := time.Since(restarted); d > o.RetryInterval+2*time.Second {
		t.Fatalf("re-login took %v with a retry interval of %v", d, o.RetryInterval)
	}
	if a.Status().Welcome.SessionKey == before {
		t.Fatal("same session key after the server restarted: no fresh login")
	}
}

func TestLinkGivesUpAfterRetries(t *testing.T) {
	ts := newTestServer(t)
	o := aliceLink(ts.addr, 1)
	o.Password = "wrong"
	o.Retries = 2
	o.RetryInterval = 50 * time.Millisecond
	l, done, runErr := runLink(t, o, newFramePort())
	select {
	case <-done:
		if !errors.Is(*runErr, vpnerr.AuthFailed) {
			t.Fatalf("Run returned %v, want the authentication error", *runErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not give up")
	}
	st := l.Status()
	if st.State != client.LinkStopped || !errors.Is(st.LastError, vpnerr.AuthFailed) {
		t.Fatalf("status after giving up: %+v", st)
	}
}

func TestLinkRecyclesConnectionsAfterLifetime(t *testing.T) {
	ts := newTestServer(t)
	o := aliceLink(ts.addr, 2)
	o.ConnectionLifetime = 300 * time.Millisecond
	a, _, _ := runLink(t, o, newFramePort())
	waitUntil(t, 5*time.Second, "2 connections", func() bool { return a.Status().Connections == 2 })
	session := a.Status().Welcome.SessionName
	// Over 1.5 s every connection is replaced several times.
	time.Sleep(1500 * time.Millisecond)
	ts.mu.Lock()
	accepted := len(ts.conns)
	ts.mu.Unlock()
	if accepted < 6 {
		t.Fatalf("only %d connections accepted in 1.5 s with a 300 ms lifetime", accepted)
	}
	waitUntil(t, 5*time.Second, "2 connections", func() bool { return a.Status().Connections >= 1 })
	if st := a.Status(); st.State != client.LinkEstablished || st.Welcome.SessionName != session {
		t.Fatalf("recycling connections ended the session: %+v", st)
	}
}

func TestLinkStopsOnCancelWhileRetrying(t *testing.T) {
	// Nothing listens here: every attempt fails and the link keeps retrying
	// until cancelled (the cleanup checks that Run returns nil).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l, done, runErr := runLink(t, aliceLink(addr, 1), newFramePort())
	waitUntil(t, 5*time.Second, "retrying", func() bool {
		st := l.Status()
		return st.State == client.LinkRetrying && st.LastError != nil
	})
	select {
	case <-done:
		t.Fatalf("Run returned %v while retries are unlimited", *runErr)
	default:
	}
}

// The AutoDisconnect policy ends a VPN Client's session after its time and
// the link does not log in again, as vpnclient; a cascade ignores it.
func TestLinkAutoDisconnect(t *testing.T) {
	ts := newTestServerWith(t, func(h *config.Hub) {
		p := config.DefaultPolicy()
		p.AutoDisconnect = 1
		h.User("alice").Policy = &p
	})
	o := aliceLink(ts.addr, 1)
	o.AutoDisconnect = true
	l, done, runErr := runLink(t, o, newFramePort())
	waitUntil(t, 5*time.Second, "the session", func() bool { return l.Status().State == client.LinkEstablished })
	start := time.Now()
	select {
	case <-done:
		if !errors.Is(*runErr, vpnerr.AutoDisconnected) {
			t.Fatalf("Run returned %v, want the AutoDisconnect error", *runErr)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("disconnected after %v, the policy says 1 s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session was not ended by the AutoDisconnect policy")
	}

	cascade := aliceLink(ts.addr, 1) // AutoDisconnect not set, as for cascades
	l, done, _ = runLink(t, cascade, newFramePort())
	waitUntil(t, 5*time.Second, "the cascade's session", func() bool { return l.Status().State == client.LinkEstablished })
	select {
	case <-done:
		t.Fatal("a link without AutoDisconnect stopped")
	case <-time.After(2500 * time.Millisecond):
	}
	if st := l.Status(); st.State != client.LinkEstablished {
		t.Fatalf("a link without AutoDisconnect left the session: %+v", st)
	}
}

// pushPort is a framePort that, like tap.Port, lets the session's Push
// send queued frames on the caller's goroutine before waking the writers.
type pushPort struct {
	*framePort
	push          atomic.Pointer[func() bool]
	pushed, woken atomic.Int64
}

func (p *pushPort) SetPush(push func() bool) { p.push.Store(&push) }

func (p *pushPort) send(f []byte) {
	p.mu.Lock()
	p.out = append(p.out, f)
	p.mu.Unlock()
	if push := p.push.Load(); push != nil && (*push)() {
		p.pushed.Add(1)
		return
	}
	p.woken.Add(1)
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// The client's data connections can write without waiting (TryFlush), so
// the port's reader sends its frames itself while the writer is idle.
func TestLinkPushesFromThePortsGoroutine(t *testing.T) {
	ts := newTestServer(t)
	pa, pb := &pushPort{framePort: newFramePort()}, newFramePort()
	a, _, _ := runLink(t, aliceLink(ts.addr, 1), pa)
	ob := aliceLink(ts.addr, 1)
	ob.User, ob.Password = "bob", "bobpw"
	b, _, _ := runLink(t, ob, pb)
	waitUntil(t, 5*time.Second, "both sessions", func() bool {
		return a.Status().Connections == 1 && b.Status().Connections == 1
	})
	// The first frame wakes the writer, which becomes the session's
	// primary; from then on the sender's own goroutine writes.
	pa.send(broadcast(1, 7))
	waitUntil(t, 5*time.Second, "the first frame at b", func() bool { return pb.count(7) == 1 })
	for i := 0; i < 100; i++ {
		pa.send(broadcast(1, 8))
		time.Sleep(time.Millisecond)
	}
	waitUntil(t, 5*time.Second, "frames from a at b", func() bool { return pb.count(8) == 100 })
	if pa.pushed.Load() < 90 {
		t.Fatalf("%d of 101 sends were pushed (%d woke the writer)", pa.pushed.Load(), pa.woken.Load())
	}
}
