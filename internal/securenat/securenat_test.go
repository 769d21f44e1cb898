package securenat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/miekg/dns"
)

// listenTCP starts a loopback listener; serve handles each connection.
func listenTCP(t testing.TB, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return netip.AddrPortFrom(wanIP, l.Addr().(*net.TCPAddr).AddrPort().Port())
}

// closedPort returns a loopback port nobody listens on.
func closedPort(t testing.TB) uint16 {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).AddrPort().Port()
	l.Close()
	return p
}

func TestTCPTransferBothWays(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e, "192.168.30.10")
	const size = 4 << 20
	up := make([]byte, size)
	down := make([]byte, size)
	rnd := rand.NewChaCha8([32]byte{1})
	rnd.Read(up)
	rnd.Read(down)

	// The server reads the whole upload (until the client's half-close),
	// answers with its checksum, then sends the download.
	srv := listenTCP(t, func(c net.Conn) {
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			return
		}
		c.Write(h.Sum(nil))
		c.Write(down)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.dialTCP(ctx, srv)
	if err != nil {
		t.Fatalf("dial through NAT: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(up); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	sum := sha256.Sum256(up)
	if len(got) != 32+size || !bytes.Equal(got[:32], sum[:]) {
		t.Fatalf("upload checksum mismatch (got %d bytes)", len(got))
	}
	if !bytes.Equal(got[32:], down) {
		t.Fatal("download corrupted")
	}

	// The flow was listed with its byte counts and logged.
	eventually(t, 5*time.Second, "TCP entry removed", func() bool { return len(e.nat.NATTable()) == 0 })
	for _, want := range []string{
		"SecureNAT: The TCP session 1 has been created. Connection source 192.168.30.10:",
		"Connection destination 10.99.0.1:",
		`SecureNAT: The connection to TCP session 1: Host "127.0.0.1 (10.99.0.1)", Port`,
		"SecureNAT: The TCP session 1 has been deleted.",
	} {
		if !e.logs.has(want) {
			t.Errorf("log lacks %q: %q", want, e.logs.msgs)
		}
	}
}

func TestTCPRefusedGetsReset(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e, "192.168.30.10")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.dialTCP(ctx, netip.AddrPortFrom(wanIP, closedPort(t)))
	if err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !bytes.Contains([]byte(err.Error()), []byte("refused")) {
		t.Fatalf("want connection refused (RST), got %v after %v", err, time.Since(start))
	}
	if !e.logs.has("SecureNAT: The connection to TCP session 1: Host \"10.99.0.1\", Port") {
		t.Errorf("no failure log line: %q", e.logs.msgs)
	}
}

func TestTCPNATTableAndTimeout(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e, "192.168.30.10")
	srv := listenTCP(t, func(c net.Conn) { io.Copy(c, c) })
	conn, err := c.dialTCP(context.Background(), srv)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	var en NATEntry
	eventually(t, time.Second, "counters", func() bool {
		tab := e.nat.NATTable()
		if len(tab) != 1 {
			t.Fatalf("NAT table = %+v, want one entry", tab)
		}
		en = tab[0]
		return en.SentBytes == 4 && en.RecvBytes == 4
	})
	if en.Protocol != ProtoTCP || en.ClientIP != netip.MustParseAddr("192.168.30.10") || en.DestIP != wanIP ||
		en.DestPort != srv.Port() || en.State != "Running" || en.SentBytes != 4 || en.RecvBytes != 4 {
		t.Fatalf("entry = %+v", en)
	}
	if st := e.nat.Status(); st.TCPSessions != 1 {
		t.Fatalf("status = %+v", st)
	}
	// Idle past the TCP timeout (60 units = 1.2 s here): the client is reset.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(buf); err == nil {
		t.Fatal("read after idle timeout succeeded")
	}
	eventually(t, 2*time.Second, "TCP entry expired", func() bool { return len(e.nat.NATTable()) == 0 })
}

func TestUDPEchoAndTimeout(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e, "192.168.30.10")
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			pc.WriteTo(b[:n], from)
		}
	}()
	dst := netip.AddrPortFrom(wanIP, pc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	u, err := c.dialUDP(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(5 * time.Second))
	for i := range 3 {
		msg := []byte{'e', 'c', 'h', 'o', byte(i)}
		if _, err := u.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 100)
		n, err := u.Read(got)
		if err != nil || !bytes.Equal(got[:n], msg) {
			t.Fatalf("echo %d: %q, %v", i, got[:n], err)
		}
	}
	eventually(t, time.Second, "UDP entry with counters", func() bool {
		tab := e.nat.NATTable()
		return len(tab) == 1 && tab[0].Protocol == ProtoUDP && tab[0].SentBytes == 15 && tab[0].RecvBytes == 15
	})
	// UDP timeout is 25 units = 500 ms here.
	eventually(t, 2*time.Second, "UDP entry expired", func() bool { return len(e.nat.NATTable()) == 0 })
	if !e.logs.has("SecureNAT: The UDP session 1 has been created.") || !e.logs.has("SecureNAT: The UDP session 1 has been deleted.") {
		t.Errorf("UDP log lines missing: %q", e.logs.msgs)
	}
}

// dnsServer runs a miekg/dns server on loopback (UDP and TCP, same port)
// that answers A queries for www.rig.test.
func dnsServer(t *testing.T) (netip.AddrPort, func()) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	l, err := net.Listen("tcp4", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if len(r.Question) == 1 && r.Question[0].Name == "www.rig.test." {
			rr, _ := dns.NewRR("www.rig.test. 60 IN A 10.254.0.2")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeRefused
		}
		w.WriteMsg(m)
	})
	us := &dns.Server{PacketConn: pc, Handler: handler}
	ts := &dns.Server{Listener: l, Handler: handler}
	go us.ActivateAndServe()
	go ts.ActivateAndServe()
	stop := func() { us.Shutdown(); ts.Shutdown() }
	t.Cleanup(stop)
	return addr, stop
}

func TestDNSRelayUDPTCPAndServfail(t *testing.T) {
	upstream, stop := dnsServer(t)
	e := newEnv(t, func(_ *config.SecureNAT, o *Options) { o.Resolvers = []netip.AddrPort{upstream} })
	c := newClient(t, e, "192.168.30.10")
	vh := netip.MustParseAddrPort("192.168.30.1:53")

	query := func(id uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion("www.rig.test.", dns.TypeA)
		m.Id = id
		b, _ := m.Pack()
		return b
	}
	askUDP := func(id uint16) *dns.Msg {
		t.Helper()
		u, err := c.dialUDP(vh)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		u.SetDeadline(time.Now().Add(5 * time.Second))
		u.Write(query(id))
		b := make([]byte, 4096)
		n, err := u.Read(b)
		if err != nil {
			t.Fatalf("no DNS answer: %v", err)
		}
		var m dns.Msg
		if err := m.Unpack(b[:n]); err != nil {
			t.Fatal(err)
		}
		return &m
	}

	m := askUDP(0x1234)
	if m.Id != 0x1234 || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.254.0.2" {
		t.Fatalf("UDP answer = %v", m)
	}
	tab := e.nat.NATTable()
	if len(tab) != 1 || tab[0].Protocol != ProtoUDP || tab[0].DestIP != netip.MustParseAddr("192.168.30.1") || tab[0].DestPort != 53 {
		t.Fatalf("NAT table = %+v", tab)
	}

	// DNS over TCP, two queries on one connection.
	conn, err := c.dialTCP(context.Background(), vh)
	if err != nil {
		t.Fatalf("DNS over TCP: %v", err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	for _, id := range []uint16{7, 8} {
		if err := writeDNSTCP(conn, query(id)); err != nil {
			t.Fatal(err)
		}
		b, err := readDNSTCP(conn)
		if err != nil {
			t.Fatalf("TCP answer: %v", err)
		}
		var m dns.Msg
		if err := m.Unpack(b); err != nil || m.Id != id || len(m.Answer) != 1 {
			t.Fatalf("TCP answer = %v, %v", m, err)
		}
	}
	conn.Close()

	// Upstream gone: SERVFAIL with the same id and question.
	stop()
	m = askUDP(0x4321)
	if m.Id != 0x4321 || m.Rcode != dns.RcodeServerFailure || len(m.Question) != 1 || m.Question[0].Name != "www.rig.test." {
		t.Fatalf("answer without upstream = %v", m)
	}
}

func TestNATDisabledRefusesTCP(t *testing.T) {
	e := newEnv(t, func(c *config.SecureNAT, _ *Options) { c.NatEnabled = false })
	c := newClient(t, e, "192.168.30.10")
	srv := listenTCP(t, func(net.Conn) {})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.dialTCP(ctx, srv); err == nil {
		t.Fatal("connected through a SecureNAT with NAT disabled")
	}
	if st := e.nat.Status(); st.ICMPMode != ICMPDisabled {
		t.Fatalf("ICMP mode = %q", st.ICMPMode)
	}
}

func TestTCPSynSentLimit(t *testing.T) {
	// The upstream never answers the connect: a Dial that blocks.
	block := make(chan struct{})
	defer close(block)
	e := newEnv(t, func(_ *config.SecureNAT, o *Options) {
		o.Limits.MaxTCPSynSentPerIP = 1
		o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case <-ctx.Done():
			case <-block:
			}
			return nil, errors.New("blackholed")
		}
	})
	c := newClient(t, e, "192.168.30.10")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	go c.dialTCP(ctx, netip.AddrPortFrom(wanIP, 1))
	eventually(t, 2*time.Second, "first flow connecting", func() bool {
		tab := e.nat.NATTable()
		return len(tab) == 1 && tab[0].State == "Connecting"
	})
	if _, err := c.dialTCP(ctx, netip.AddrPortFrom(wanIP, 2)); err == nil || ctx.Err() != nil {
		t.Fatalf("second SYN: want an immediate reset, got %v", err)
	}
	if !e.logs.has("hit a NAT limit") {
		t.Errorf("no limit log line: %q", e.logs.msgs)
	}
}

func TestServfailOfGarbage(t *testing.T) {
	if servfail([]byte{1, 2, 3}) != nil {
		t.Fatal("answered a query shorter than a header")
	}
	b := servfail([]byte{0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xff})
	if len(b) != 12 || b[0] != 0xab || b[1] != 0xcd || b[2]&0x80 == 0 || b[3]&0x0f != dns.RcodeServerFailure {
		t.Fatalf("servfail = % x", b)
	}
}

func TestSystemResolvers(t *testing.T) {
	p := t.TempDir() + "/resolv.conf"
	if err := writeFile(p, "# x\nnameserver 10.254.0.2\nsearch rig\nnameserver ::1\n"); err != nil {
		t.Fatal(err)
	}
	got := systemResolvers(p)
	if len(got) != 2 || got[0].String() != "10.254.0.2:53" || got[1].String() != "[::1]:53" {
		t.Fatalf("resolvers = %v", got)
	}
	if got := systemResolvers(p + ".missing"); len(got) != 1 || got[0].String() != "127.0.0.1:53" {
		t.Fatalf("fallback = %v", got)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	for name, mod := range map[string]func(*config.SecureNAT){
		"zero MAC":   func(c *config.SecureNAT) { c.MAC = make([]byte, 6) },
		"bad mask":   func(c *config.SecureNAT) { c.Mask = netip.MustParseAddr("255.0.255.0") },
		"network IP": func(c *config.SecureNAT) { c.IP = netip.MustParseAddr("192.168.30.0") },
		"no IP":      func(c *config.SecureNAT) { c.IP = netip.Addr{} },
	} {
		cfg := config.DefaultSecureNAT()
		mod(&cfg)
		if _, err := newSettings(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStopAndHubClose(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e, "192.168.30.10")
	srv := listenTCP(t, func(c net.Conn) { io.Copy(c, c) })
	conn, err := c.dialTCP(context.Background(), srv)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !e.logs.has(`SecureNAT has started. The SecureNAT session "SID-SECURENAT-1" was created.`) {
		t.Errorf("no start line: %q", e.logs.msgs)
	}
	found := false
	for _, p := range e.hub.Ports() {
		found = found || (p.Name == SessionName && p.User == UserName)
	}
	if !found {
		t.Fatalf("no SecureNAT port on the hub: %+v", e.hub.Ports())
	}
	e.nat.Stop()
	if !e.logs.has("SecureNAT stopped.") {
		t.Errorf("no stop line: %q", e.logs.msgs)
	}
	if tab := e.nat.NATTable(); len(tab) != 0 {
		t.Fatalf("flows left after stop: %+v", tab)
	}
	// The client's connection was reset, not left hanging.
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client connection after stop: %v", err)
	}
	e.nat.Stop() // idempotent

	// Taking the hub offline asks the port to go; SecureNAT stops itself.
	e2 := newEnv(t, nil)
	e2.hub.SetOnline(false)
	eventually(t, 5*time.Second, "SecureNAT stopped", func() bool { return e2.logs.has("SecureNAT stopped.") })
}
