package securenat

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// The tests run with NAT timeouts in units of 20 ms (UDP 10 → 200 ms,
// TCP 60 → 1.2 s) and short DNS upstream timeouts.
func TestMain(m *testing.M) {
	timeoutUnit = 20 * time.Millisecond
	upstreamTimeout = 300 * time.Millisecond
	os.Exit(m.Run())
}

// wanIP is the "remote host" the test client talks to; the test's Dial maps
// it onto 127.0.0.1.
var wanIP = netip.MustParseAddr("10.99.0.1")

// testDial maps wanIP to loopback and dials everything else unchanged.
func testDial(ctx context.Context, network, addr string) (net.Conn, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr() == wanIP {
		addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// logSink collects log messages.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *logSink) WithGroup(string) slog.Handler            { return s }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, r.Message)
	s.mu.Unlock()
	return nil
}

// has reports whether some message contains sub.
func (s *logSink) has(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

type testEnv struct {
	hub  *hub.Hub
	nat  *SecureNAT
	logs *logSink
}

// newEnv starts a hub with SecureNAT (defaults: 192.168.30.1/24) and the
// test's Dial; mod may change the configuration and options.
func newEnv(t testing.TB, mod func(*config.SecureNAT, *Options)) *testEnv {
	t.Helper()
	h := hub.New("TEST", hub.DefaultOptions())
	t.Cleanup(h.Close)
	cfg := config.DefaultSecureNAT()
	cfg.Enabled = true
	cfg.TCPTimeout, cfg.UDPTimeout = 60, 25 // 1.2 s and 500 ms here
	logs := &logSink{}
	opt := Options{Log: slog.New(logs), Dial: testDial, Resolvers: []netip.AddrPort{}}
	if mod != nil {
		mod(&cfg, &opt)
	}
	n, err := Start(h, cfg, opt)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(n.Stop)
	return &testEnv{hub: h, nat: n, logs: logs}
}

// client is an in-process VPN client: a gVisor stack on its own hub port.
type client struct {
	s    *stack.Stack
	link *linkEndpoint
	port *hub.Port
	done chan struct{}
	wg   sync.WaitGroup
}

var clientSeq struct {
	sync.Mutex
	n byte
}

// newClient attaches a client stack with address ip/24 and a default route
// via the virtual host.
func newClient(t testing.TB, e *testEnv, ip string) *client {
	t.Helper()
	clientSeq.Lock()
	clientSeq.n++
	k := clientSeq.n
	clientSeq.Unlock()
	mac := tcpip.LinkAddress([]byte{0x02, 0, 0, 0, 0, k})
	port, err := e.hub.Attach(hub.PortConfig{Name: "SID-CLIENT-" + string('0'+k), User: "client", Kind: hub.KindClient})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{link: newLinkEndpoint(mac, 1500), port: port, done: make(chan struct{})}
	c.s = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 4 << 20}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 4 << 20}
	c.s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	c.s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv)
	c.s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd)
	if err := c.s.CreateNIC(1, c.link); err != nil {
		t.Fatal(err)
	}
	c.s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr(netip.MustParseAddr(ip)), PrefixLen: 24},
	}, stack.AddressProperties{})
	c.s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, Gateway: tcpip.AddrFrom4([4]byte{192, 168, 30, 1}), NIC: 1},
	})
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.link.flush(port, c.done) }()
	go func() {
		defer c.wg.Done()
		batch := make([]*hub.Frame, 0, maxBatch)
		for {
			select {
			case <-c.done:
				return
			case <-port.Ready():
			}
			batch = port.Drain(batch[:0], maxBatch)
			for _, f := range batch {
				c.link.deliver(f.Bytes())
				f.Release()
			}
		}
	}()
	t.Cleanup(func() {
		close(c.done)
		c.wg.Wait()
		c.s.Close()
		c.s.Wait()
		port.Close()
	})
	return c
}

func fullAddr(ap netip.AddrPort) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: 1, Addr: tcpAddr(ap.Addr()), Port: ap.Port()}
}

func (c *client) dialTCP(ctx context.Context, to netip.AddrPort) (*gonet.TCPConn, error) {
	return gonet.DialContextTCP(ctx, c.s, fullAddr(to), ipv4.ProtocolNumber)
}

func (c *client) dialUDP(to netip.AddrPort) (*gonet.UDPConn, error) {
	ra := fullAddr(to)
	return gonet.DialUDP(c.s, nil, &ra, ipv4.ProtocolNumber)
}

// eventually polls cond for up to d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
