package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// testServer runs a server on a loopback port with hub DEFAULT and the
// password users alice/alicepw and bob/bobpw, plus "watch" who may monitor.
// The before functions adjust the server before it starts serving.
func testServer(t *testing.T, before ...func(*Server)) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	h := cfg.Hub("DEFAULT")
	for _, u := range [][2]string{{"alice", "alicepw"}, {"bob", "bobpw"}, {"carol", "carolpw"}, {"watch", "watchpw"}} {
		hash := sha0.HashPassword(u[0], u[1])
		h.Users = append(h.Users, &config.User{Name: u[0], AuthType: userAuthPassword, PasswordHash: hash[:]})
	}
	h.Users = append(h.Users, &config.User{Name: "guest", AuthType: userAuthAnonymous})
	pol := config.DefaultPolicy()
	pol.MonitorPort = true
	h.User("watch").Policy = &pol
	other := config.NewHub("OTHER")
	hash := sha0.HashPassword("dave", "davepw")
	other.Users = append(other.Users, &config.User{Name: "dave", AuthType: userAuthPassword, PasswordHash: hash[:]})
	cfg.Hubs = append(cfg.Hubs, other)
	if err := config.Save(dir+"/"+ConfigFile, cfg.ToTree()); err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	srv, err := Open(dir, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range before {
		f(srv)
	}
	return srv, serveLoopback(t, srv).Addr().String()
}

// chanPort is a session.Port for tests: received frames go to a channel,
// frames to send are queued with send.
type chanPort struct {
	in    chan []byte
	ready chan struct{}
	mu    sync.Mutex
	out   [][]byte
}

func newChanPort() *chanPort {
	return &chanPort{in: make(chan []byte, 4096), ready: make(chan struct{}, 1)}
}

func (p *chanPort) Input(frames [][]byte) {
	for _, f := range frames {
		select {
		case p.in <- append([]byte(nil), f...):
		default:
		}
	}
}
func (p *chanPort) Ready() <-chan struct{} { return p.ready }
func (p *chanPort) Output(limit int, emit func([]byte)) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(limit, len(p.out))
	for _, f := range p.out[:n] {
		emit(f)
	}
	p.out = p.out[n:]
	return n
}
func (p *chanPort) send(f []byte) {
	p.mu.Lock()
	p.out = append(p.out, f)
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// expect waits for a frame that satisfies ok.
func (p *chanPort) expect(t *testing.T, what string, ok func([]byte) bool) []byte {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-p.in:
			if ok(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

// quiet checks that no frame satisfying bad arrives for a while.
func (p *chanPort) quiet(t *testing.T, what string, bad func([]byte) bool) {
	t.Helper()
	deadline := time.After(300 * time.Millisecond)
	for {
		select {
		case f := <-p.in:
			if bad(f) {
				t.Fatalf("unexpected %s", what)
			}
		case <-deadline:
			return
		}
	}
}

// testClient is a logged-in Go client with all its connections attached.
type testClient struct {
	*session.Session
	port    *chanPort
	welcome *wire.Welcome
}

func connect(t *testing.T, addr string, o client.Options) *testClient {
	t.Helper()
	o.Server = addr
	ctx := context.Background()
	w, first, err := client.Login(ctx, &o)
	if err != nil {
		t.Fatalf("login %s@%s: %v", o.User, o.Hub, err)
	}
	tc := &testClient{port: newChanPort(), welcome: w}
	tc.Session = session.New(tc.port, session.Params{
		Role: session.Client, Timeout: w.Timeout, MaxConnections: int(w.MaxConnection),
		HalfDuplex: w.HalfConnection, Compress: w.UseCompress,
	})
	add := func(c *client.Conn) {
		if err := tc.AddConn(c.Raw, func(wire.Direction) (session.Stream, error) { return c.Stream, nil }); err != nil {
			t.Fatal(err)
		}
	}
	add(first)
	for i := 1; i < int(w.MaxConnection); i++ {
		c, err := client.AdditionalConnect(ctx, &o, w, first.Cert())
		if err != nil {
			t.Fatalf("additional connection %d: %v", i+1, err)
		}
		add(c)
	}
	t.Cleanup(func() { tc.Close(nil) })
	return tc
}

var bcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func mac(b byte) []byte { return []byte{0x02, 0, 0, 0, 0, b} }

// ethFrame builds a frame from src to dst with a marker payload.
func ethFrame(dst, src []byte, marker byte, size int) []byte {
	f := make([]byte, size)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = 0x88, 0xb5 // local experimental EtherType
	for i := 14; i < size; i++ {
		f[i] = marker
	}
	return f
}

func from(src []byte, marker byte) func([]byte) bool {
	return func(f []byte) bool { return len(f) > 14 && bytes.Equal(f[6:12], src) && f[14] == marker }
}

func TestTwoClientsExchangeFrames(t *testing.T) {
	_, addr := testServer(t)
	cases := []struct {
		name string
		opt  client.Options
	}{
		{"default qos", client.Options{QoS: true}},
		{"8 connections", client.Options{MaxConnections: 8}},
		{"half duplex", client.Options{MaxConnections: 4, HalfDuplex: true}},
		{"compression", client.Options{Compress: true, QoS: true}},
		{"no encryption", client.Options{NoEncrypt: true, QoS: true}},
		{"everything", client.Options{MaxConnections: 32, HalfDuplex: true, Compress: true, NoEncrypt: true, QoS: true}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oa, ob := c.opt, c.opt
			oa.Hub, oa.User, oa.Password = "DEFAULT", "alice", "alicepw"
			ob.Hub, ob.User, ob.Password = "DEFAULT", "bob", "bobpw"
			a, b := connect(t, addr, oa), connect(t, addr, ob)
			wantConns := max(c.opt.MaxConnections, 1)
			if c.opt.QoS {
				wantConns = max(wantConns, 2)
			}
			if a.NumConns() != wantConns || int(a.welcome.MaxConnection) != wantConns {
				t.Fatalf("%d connections (welcome %d), want %d", a.NumConns(), a.welcome.MaxConnection, wantConns)
			}
			ma, mb := mac(byte(2*i+1)), mac(byte(2*i+2))
			a.port.send(ethFrame(bcast, ma, 1, 60))
			b.port.expect(t, "broadcast from a", from(ma, 1))
			b.port.send(ethFrame(ma, mb, 2, 1514))
			a.port.expect(t, "unicast from b", from(mb, 2))
			// A burst both ways arrives complete.
			for k := 0; k < 500; k++ {
				a.port.send(ethFrame(mb, ma, 3, 1000))
			}
			for k := 0; k < 500; k++ {
				b.port.expect(t, "burst frame", from(ma, 3))
			}
		})
	}
}

func TestMonitorSeesAllAndCannotSend(t *testing.T) {
	_, addr := testServer(t)
	a := connect(t, addr, client.Options{Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	b := connect(t, addr, client.Options{Hub: "DEFAULT", User: "bob", Password: "bobpw"})
	m := connect(t, addr, client.Options{Hub: "DEFAULT", User: "watch", Password: "watchpw", MonitorMode: true})
	ma, mb, mm := mac(1), mac(2), mac(3)
	a.port.send(ethFrame(bcast, ma, 1, 60))
	b.port.expect(t, "broadcast", from(ma, 1))
	b.port.send(ethFrame(ma, mb, 2, 60))
	a.port.expect(t, "unicast", from(mb, 2))
	m.port.expect(t, "monitor copy of a's broadcast", from(ma, 1))
	m.port.expect(t, "monitor copy of b's unicast", from(mb, 2))
	m.port.send(ethFrame(bcast, mm, 3, 60))
	a.port.quiet(t, "frame from the monitor session", from(mm, 3))

	// alice has no MonitorPort policy.
	_, _, err := client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw", MonitorMode: true})
	if !errors.Is(err, vpnerr.MonitorModeDenied) {
		t.Fatalf("monitor login without policy: %v", err)
	}
}

func TestClientModeMACLimitAndHubIsolation(t *testing.T) {
	_, addr := testServer(t)
	a := connect(t, addr, client.Options{Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	b := connect(t, addr, client.Options{Hub: "DEFAULT", User: "bob", Password: "bobpw"})
	d := connect(t, addr, client.Options{Hub: "OTHER", User: "dave", Password: "davepw"})
	for i := byte(1); i <= 5; i++ {
		a.port.send(ethFrame(bcast, mac(0x10+i), i, 60))
	}
	for i := byte(1); i <= 3; i++ {
		b.port.expect(t, "frame from an allowed MAC", from(mac(0x10+i), i))
	}
	b.port.quiet(t, "frame from a 4th MAC", func(f []byte) bool { return f[11] >= 0x14 })
	d.port.quiet(t, "frame from another hub", func(f []byte) bool { return true })
}

func TestLoginRefusals(t *testing.T) {
	_, addr := testServer(t)
	ctx := context.Background()
	login := func(o client.Options) error {
		o.Server = addr
		_, c, err := client.Login(ctx, &o)
		if c != nil {
			c.Raw.Close()
		}
		return err
	}
	if err := login(client.Options{Hub: "DEFAULT", User: "alice", Password: "wrong"}); !errors.Is(err, vpnerr.AuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := login(client.Options{Hub: "NOPE", User: "alice", Password: "alicepw"}); !errors.Is(err, vpnerr.HubNotFound) {
		t.Fatalf("unknown hub: %v", err)
	}
	if err := login(client.Options{Hub: "DEFAULT", User: "nobody", Password: "x"}); !errors.Is(err, vpnerr.AuthFailed) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := login(client.Options{Hub: "DEFAULT", User: "alice", Anonymous: true}); !errors.Is(err, vpnerr.AuthFailed) {
		t.Fatalf("anonymous login as a password user: %v", err)
	}
	for _, at := range []uint32{3, 96, 97, 98, 99, 1000} {
		p := pack.New()
		p.AddStr("method", "login")
		p.AddStr("hubname", "DEFAULT")
		p.AddStr("username", "alice")
		p.AddInt("authtype", at)
		if resp := rawRequest(t, addr, p); resp.Int("error") != uint32(vpnerr.AuthTypeNotSupported) {
			t.Fatalf("authtype %d: error %d", at, resp.Int("error"))
		}
	}
	p := pack.New()
	p.AddStr("method", "additional_connect")
	p.AddData("session_key", make([]byte, 20))
	if resp := rawRequest(t, addr, p); resp.Int("error") != uint32(vpnerr.SessionTimeout) {
		t.Fatalf("unknown session key: error %d", resp.Int("error"))
	}
	p = pack.New()
	p.AddStr("method", "bogus")
	if resp := rawRequest(t, addr, p); resp.Int("error") != uint32(vpnerr.ProtocolError) {
		t.Fatalf("unknown method: error %d", resp.Int("error"))
	}
}

func TestAnonymousUser(t *testing.T) {
	_, addr := testServer(t)
	// An anonymous user lets anyone in, whatever the request's auth type
	// and password, as on SoftEther.
	g := connect(t, addr, client.Options{Hub: "DEFAULT", User: "guest", Anonymous: true})
	a := connect(t, addr, client.Options{Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	connect(t, addr, client.Options{Hub: "DEFAULT", User: "GUEST", Password: "anything"})
	g.port.send(ethFrame(bcast, mac(9), 9, 60))
	a.port.expect(t, "broadcast from the anonymous session", from(mac(9), 9))
}

func TestAdditionalConnectionsLimited(t *testing.T) {
	_, addr := testServer(t)
	o := client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw", MaxConnections: 2}
	a := connect(t, addr, o)
	_, err := client.AdditionalConnect(context.Background(), &o, a.welcome, nil)
	if !errors.Is(err, vpnerr.TooManyConnection) {
		t.Fatalf("third connection of a 2-connection session: %v", err)
	}
}

// rawRequest performs signature and hello and sends p; it returns the
// server's answer.
func rawRequest(t *testing.T, addr string, p *pack.Pack) *pack.Pack {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if err := wire.WriteSignature(c, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadPackResponse(br); err != nil {
		t.Fatal(err)
	}
	if err := wire.WritePackRequest(c, "127.0.0.1", p); err != nil {
		t.Fatal(err)
	}
	resp, err := wire.ReadPackResponse(br)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestBadInputLeavesServerServing(t *testing.T) {
	_, addr := testServer(t)
	a := connect(t, addr, client.Options{Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	b := connect(t, addr, client.Options{Hub: "DEFAULT", User: "bob", Password: "bobpw"})
	send := func(plain bool, data []byte) {
		var c net.Conn
		var err error
		if plain {
			c, err = net.Dial("tcp", addr)
		} else {
			c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		}
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(data)
		io.Copy(io.Discard, c)
		c.Close()
	}
	send(true, []byte("random bytes that are not TLS"))
	send(false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	send(false, append([]byte("POST /vpnsvc/connect.cgi HTTP/1.1\r\nContent-Length: 1411\r\n\r\n"), make([]byte, 1411)...))
	var sig bytes.Buffer
	wire.WriteSignature(&sig, "127.0.0.1")
	send(false, append(sig.Bytes(), "POST /vpnsvc/vpn.cgi HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 9\r\n\r\n\x00\x00\x00\xff\x00\x00\x00\x05a"...))

	// A data block over the limit closes only that session's connection.
	c, err := client.AdditionalConnect(context.Background(), &client.Options{Server: addr}, a.welcome, nil)
	if err == nil {
		c.Stream.W.Write([]byte{0, 0, 0, 1, 0, 0, 0x20, 0})
		c.Raw.Close()
	}
	ma, mb := mac(1), mac(2)
	a.port.send(ethFrame(bcast, ma, 7, 60))
	b.port.expect(t, "broadcast after bad input", from(ma, 7))
	connect(t, addr, client.Options{Hub: "DEFAULT", User: "carol", Password: "carolpw"})
	_ = mb
}
