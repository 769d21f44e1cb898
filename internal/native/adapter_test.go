package native

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakePort is a hub port in memory: what the adapter sends goes to sent,
// and push queues frames for the adapter.
type fakePort struct {
	sent  chan []byte
	mu    sync.Mutex
	queue [][]byte
	ready chan struct{}
	done  chan struct{}
}

func newFakePort() *fakePort {
	return &fakePort{sent: make(chan []byte, 4096), ready: make(chan struct{}, 1), done: make(chan struct{})}
}

func (p *fakePort) Input(frames [][]byte) {
	for _, f := range frames {
		p.sent <- append([]byte(nil), f...)
	}
}

func (p *fakePort) Ready() <-chan struct{} { return p.ready }
func (p *fakePort) Done() <-chan struct{}  { return p.done }

func (p *fakePort) DrainEach(limit int, emit func([]byte)) int {
	p.mu.Lock()
	q := p.queue
	p.queue = nil
	p.mu.Unlock()
	for _, f := range q {
		emit(f)
	}
	return len(q)
}

func (p *fakePort) push(frames ...[]byte) {
	p.mu.Lock()
	p.queue = append(p.queue, frames...)
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// next returns the next frame the adapter sent, or fails after d.
func (p *fakePort) next(t *testing.T, d time.Duration) []byte {
	t.Helper()
	select {
	case f := <-p.sent:
		return f
	case <-time.After(d):
		t.Fatal("the adapter sent nothing")
		return nil
	}
}

// none checks that the adapter sent nothing.
func (p *fakePort) none(t *testing.T) {
	t.Helper()
	select {
	case f := <-p.sent:
		t.Fatalf("unexpected frame % x", f)
	default:
	}
}

var (
	testMAC   = [6]byte{0xCA, 1, 2, 3, 4, 5}
	serverMAC = [6]byte{0x00, 0xAC, 9, 9, 9, 9}
	gwMAC     = [6]byte{0x00, 0xAC, 7, 7, 7, 7}
	peerMAC   = [6]byte{0x02, 0, 0, 0, 0, 0x22}
	serverIP  = netip.MustParseAddr("10.5.0.1")
	clientIP  = netip.MustParseAddr("10.5.0.77")
	gwIP      = netip.MustParseAddr("10.5.0.254")
	routeGW   = netip.MustParseAddr("10.5.0.253")
)

// serverReply builds the server's answer of type typ to the request m as
// an Ethernet frame, with mods for its options.
func serverReply(t *testing.T, m *dhcpv4.DHCPv4, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) []byte {
	t.Helper()
	r, err := dhcpv4.NewReplyFromRequest(m, append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithServerIP(net.IP(serverIP.AsSlice())),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(serverIP.AsSlice()))),
	}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]byte, 14)
	copy(f[0:6], m.ClientHWAddr)
	copy(f[6:12], serverMAC[:])
	binary.BigEndian.PutUint16(f[12:14], ether.TypeIPv4)
	return append(f, udpPacket(serverIP.As4(), [4]byte{255, 255, 255, 255}, 67, 68, 1, r.ToBytes())...)
}

// leaseOptions are the options of the test server's OFFER and ACK.
func leaseOptions(lease time.Duration) []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithYourIP(net.IP(clientIP.AsSlice())),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IP(gwIP.AsSlice())),
		dhcpv4.WithDNS(net.IP(serverIP.AsSlice()), net.IPv4(10, 5, 0, 2)),
		dhcpv4.WithDomainSearchList(),
		dhcpv4.WithOption(dhcpv4.OptDomainName("corp.test")),
		dhcpv4.WithLeaseTime(uint32(lease / time.Second)),
		dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(&dhcpv4.Route{
			Dest: &net.IPNet{IP: net.IPv4(172, 16, 0, 0), Mask: net.CIDRMask(12, 32)}, Router: net.IP(routeGW.AsSlice()),
		})),
	}
}

// expectDHCP reads frames until a DHCP message to the server port.
func expectDHCP(t *testing.T, p *fakePort, typ dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	t.Helper()
	for {
		f := p.next(t, 3*time.Second)
		if m := parseDHCPFrame(f, 67); m != nil && m.MessageType() == typ {
			if [6]byte(f[6:12]) != testMAC {
				t.Fatalf("DHCP from MAC % x", f[6:12])
			}
			return m
		}
	}
}

// openWith runs Open against a scripted DHCP server that offers and
// acknowledges lease.
func openWith(t *testing.T, cfg Config, lease time.Duration) (*Adapter, Lease, *fakePort) {
	t.Helper()
	p := newFakePort()
	cfg.MAC = testMAC
	go func() {
		d := expectDHCP(t, p, dhcpv4.MessageTypeDiscover)
		p.push(serverReply(t, d, dhcpv4.MessageTypeOffer, leaseOptions(lease)...))
		r := expectDHCP(t, p, dhcpv4.MessageTypeRequest)
		p.push(serverReply(t, r, dhcpv4.MessageTypeAck, leaseOptions(lease)...))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, l, err := Open(ctx, p, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(a.Close)
	return a, l, p
}

func TestOpenLease(t *testing.T) {
	a, l, _ := openWith(t, Config{Hostname: "carol"}, 2*time.Second)
	want := Lease{
		Addr: netip.PrefixFrom(clientIP, 24), Gateway: gwIP,
		DNS: []netip.Addr{serverIP, netip.MustParseAddr("10.5.0.2")}, Domain: "corp.test",
		Routes:   []Route{{Dest: netip.MustParsePrefix("172.16.0.0/12"), Gateway: routeGW}},
		Server:   serverIP,
		Duration: MinLease, T1: MinLease / 2, T2: MinLease * 7 / 8, // a 2 s lease is raised to 5 s
	}
	if !leaseEqual(l, want) || l.Duration != want.Duration || l.T1 != want.T1 || l.T2 != want.T2 {
		t.Fatalf("lease\n%+v\nwant\n%+v", l, want)
	}
	if a.MAC() != testMAC {
		t.Fatal("MAC")
	}
}

func TestOpenRequestOptions(t *testing.T) {
	p := newFakePort()
	go Open(context.Background(), p, Config{MAC: testMAC, Hostname: "carol", UserClass: "VPN", DiscoverTimeout: 300 * time.Millisecond})
	d := expectDHCP(t, p, dhcpv4.MessageTypeDiscover)
	if d.HostName() != "carol" || d.ClassIdentifier() != VendorClass || string(d.GetOneOption(dhcpv4.OptionUserClassInformation)) != "VPN" {
		t.Errorf("host name %q, vendor class %q, user class %q", d.HostName(), d.ClassIdentifier(), d.GetOneOption(dhcpv4.OptionUserClassInformation))
	}
	if id := string(d.GetOneOption(dhcpv4.OptionClientIdentifier)); id != "carol/CA-01-02-03-04-05" {
		t.Errorf("client identifier %q", id)
	}
	if got := d.ParameterRequestList(); len(got) != 12 || !got.Has(dhcpv4.OptionClasslessStaticRoute) {
		t.Errorf("parameter request list %v", got)
	}
}

func TestOpenNoOffer(t *testing.T) {
	p := newFakePort()
	start := time.Now()
	_, _, err := Open(context.Background(), p, Config{MAC: testMAC, DiscoverTimeout: 600 * time.Millisecond})
	if !errors.Is(err, ErrNoOffer) {
		t.Fatalf("Open: %v, want ErrNoOffer", err)
	}
	// the upper bound is loose: CI runs this beside other packages' tests
	if d := time.Since(start); d < 550*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %v, want 600 ms", d)
	}
	// Retransmitted every 100 ms (SoftEther: a third of the wait less 100 ms).
	n := 0
	for len(p.sent) > 0 {
		if m := parseDHCPFrame(<-p.sent, 67); m != nil && m.MessageType() == dhcpv4.MessageTypeDiscover {
			n++
		}
	}
	if n < 2 || n > 8 {
		t.Fatalf("%d DISCOVERs in 600 ms, want about 6 (at least 2: it retransmits)", n)
	}
}

func TestOpenNak(t *testing.T) {
	p := newFakePort()
	go func() {
		d := expectDHCP(t, p, dhcpv4.MessageTypeDiscover)
		p.push(serverReply(t, d, dhcpv4.MessageTypeOffer, leaseOptions(time.Hour)...))
		r := expectDHCP(t, p, dhcpv4.MessageTypeRequest)
		p.push(serverReply(t, r, dhcpv4.MessageTypeNak))
	}()
	if _, _, err := Open(context.Background(), p, Config{MAC: testMAC}); !errors.Is(err, ErrNak) {
		t.Fatalf("Open: %v, want ErrNak", err)
	}
}

func TestOpenIgnoresOtherTransactions(t *testing.T) {
	p := newFakePort()
	go func() {
		d := expectDHCP(t, p, dhcpv4.MessageTypeDiscover)
		other := *d
		other.TransactionID[0] ^= 0xff
		p.push(serverReply(t, &other, dhcpv4.MessageTypeOffer, leaseOptions(time.Hour)...))
	}()
	_, _, err := Open(context.Background(), p, Config{MAC: testMAC, DiscoverTimeout: 400 * time.Millisecond})
	if !errors.Is(err, ErrNoOffer) {
		t.Fatalf("Open took an offer of another transaction: %v", err)
	}
}

func TestLeaseDefaults(t *testing.T) {
	_, l, _ := openWith(t, Config{}, 0) // no lease time option's value: 0
	if l.Duration != DefaultLease || l.T1 != DefaultLease/2 {
		t.Fatalf("lease %v T1 %v, want %v", l.Duration, l.T1, DefaultLease)
	}
}

// bound returns an adapter that holds the lease of leaseOptions, without
// its goroutine, so that tests drive receive and tick themselves.
func bound(cfg Config) (*Adapter, *fakePort) {
	p := newFakePort()
	cfg.MAC = testMAC
	a := newAdapter(p, cfg)
	a.setAddr(Lease{
		Addr: netip.PrefixFrom(clientIP, 24), Gateway: gwIP, Server: serverIP,
		Routes: []Route{{Dest: netip.MustParsePrefix("172.16.0.0/12"), Gateway: routeGW}},
	}, true)
	return a, p
}

func ethFrame(dst, src [6]byte, typ uint16, payload []byte) []byte {
	f := make([]byte, 14, 14+len(payload))
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], typ)
	return append(f, payload...)
}

func arpPacket(op uint16, smac [6]byte, sip netip.Addr, tmac [6]byte, tip netip.Addr) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], ether.TypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], op)
	s4, t4 := sip.As4(), tip.As4()
	copy(p[8:14], smac[:])
	copy(p[14:18], s4[:])
	copy(p[18:24], tmac[:])
	copy(p[24:28], t4[:])
	return p
}

// recvFrame runs one frame through the receive path as run does.
func (a *Adapter) recvFrame(f []byte) {
	a.receive(f)
	a.deliver()
	a.mu.Lock()
	a.flushLocked()
	a.mu.Unlock()
}

func TestARPAnswer(t *testing.T) {
	a, p := bound(Config{})
	peerIP := netip.MustParseAddr("10.5.0.9")
	a.recvFrame(ethFrame(broadcastMAC, peerMAC, ether.TypeARP, arpPacket(ether.ARPRequest, peerMAC, peerIP, [6]byte{}, clientIP)))
	f := p.next(t, time.Second)
	want := ethFrame(peerMAC, testMAC, ether.TypeARP, arpPacket(ether.ARPReply, testMAC, clientIP, peerMAC, peerIP))
	if !bytes.Equal(f, want) {
		t.Fatalf("ARP reply\n% x\nwant\n% x", f, want)
	}
	// Not for our address, from our own MAC, or a broken packet: no answer.
	a.recvFrame(ethFrame(broadcastMAC, peerMAC, ether.TypeARP, arpPacket(ether.ARPRequest, peerMAC, peerIP, [6]byte{}, gwIP)))
	a.recvFrame(ethFrame(broadcastMAC, testMAC, ether.TypeARP, arpPacket(ether.ARPRequest, testMAC, peerIP, [6]byte{}, clientIP)))
	a.recvFrame(ethFrame(broadcastMAC, peerMAC, ether.TypeARP, arpPacket(ether.ARPRequest, peerMAC, peerIP, [6]byte{}, clientIP)[:27]))
	a.recvFrame(ethFrame(broadcastMAC, peerMAC, ether.TypeARP, arpPacket(ether.ARPRequest, broadcastMAC, peerIP, [6]byte{}, clientIP)))
	p.none(t)
	// The request taught the adapter the peer's MAC: a packet to it goes at once.
	a.Send([][]byte{echo(clientIP, peerIP, 1, 1, nil)})
	if f := p.next(t, time.Second); [6]byte(f[0:6]) != peerMAC || [6]byte(f[6:12]) != testMAC {
		t.Fatalf("packet to a learnt neighbour: % x", f[:14])
	}
}

func TestARPResolveAndQueue(t *testing.T) {
	a, p := bound(Config{ARPQueue: 4})
	dst := netip.MustParseAddr("8.8.8.8") // off the subnet: via the gateway
	var pkts [][]byte
	for i := range 10 {
		pkts = append(pkts, echo(clientIP, dst, 7, uint16(i), nil))
	}
	a.Send(pkts)
	f := p.next(t, time.Second)
	if want := ethFrame(broadcastMAC, testMAC, ether.TypeARP, arpPacket(ether.ARPRequest, testMAC, clientIP, [6]byte{}, gwIP)); !bytes.Equal(f, want) {
		t.Fatalf("ARP request\n% x\nwant\n% x", f, want)
	}
	p.none(t) // one query, and the packets wait
	if st := a.Stats(); st.ARPQueueFull != 6 {
		t.Fatalf("ARPQueueFull %d, want 6", st.ARPQueueFull)
	}
	a.recvFrame(ethFrame(testMAC, gwMAC, ether.TypeARP, arpPacket(ether.ARPReply, gwMAC, gwIP, testMAC, clientIP)))
	for i := range 4 {
		f := p.next(t, time.Second)
		if !bytes.Equal(f, ethFrame(gwMAC, testMAC, ether.TypeIPv4, pkts[i])) {
			t.Fatalf("queued packet %d: % x", i, f)
		}
	}
	p.none(t)
	// Resolved: the next packet goes straight out, and the queue is free.
	a.Send(pkts[9:])
	if f := p.next(t, time.Second); !bytes.Equal(f, ethFrame(gwMAC, testMAC, ether.TypeIPv4, pkts[9])) {
		t.Fatalf("packet after resolution: % x", f)
	}
	if a.queued != 0 || len(a.free) != 4 {
		t.Fatalf("queued %d, spare buffers %d", a.queued, len(a.free))
	}
	// A classless route wins over the default gateway.
	a.Send([][]byte{echo(clientIP, netip.MustParseAddr("172.20.1.1"), 1, 1, nil)})
	f = p.next(t, time.Second)
	if a, ok := ether.ParseARP(f[14:]); !ok || netip.AddrFrom4(a.TargetIP()) != routeGW {
		t.Fatalf("query for the route's gateway: % x", f)
	}
}

func TestARPGiveUpAndExpiry(t *testing.T) {
	a, p := bound(Config{})
	pkt := echo(clientIP, netip.MustParseAddr("10.5.0.50"), 1, 1, nil)
	a.Send([][]byte{pkt, pkt})
	p.next(t, time.Second) // the query
	now := time.Now()
	a.mu.Lock()
	a.tick(now.Add(ARPGiveUp / 2))
	if len(a.arp) != 1 {
		t.Fatal("gave up early")
	}
	a.tick(now.Add(ARPGiveUp + time.Millisecond))
	a.mu.Unlock()
	if st := a.Stats(); st.ARPGiveUp != 2 || a.queued != 0 || len(a.arp) != 0 {
		t.Fatalf("after give-up: %+v, queued %d, entries %d", st, a.queued, len(a.arp))
	}
	// A resolved entry lives ARPLifetime after its last use.
	a.recvFrame(ethFrame(testMAC, gwMAC, ether.TypeARP, arpPacket(ether.ARPReply, gwMAC, gwIP, testMAC, clientIP)))
	a.mu.Lock()
	a.tick(time.Now().Add(ARPLifetime - time.Second))
	kept := len(a.arp)
	a.tick(time.Now().Add(ARPLifetime + time.Second))
	gone := len(a.arp)
	a.mu.Unlock()
	if kept != 1 || gone != 0 {
		t.Fatalf("entries %d before and %d after the lifetime", kept, gone)
	}
}

func TestSendRefuses(t *testing.T) {
	a, p := bound(Config{})
	bad := [][]byte{
		echo(netip.MustParseAddr("10.5.0.78"), gwIP, 1, 1, nil), // another source
		echo(clientIP, clientIP, 1, 1, nil),                     // to itself
		echo(clientIP, netip.IPv4Unspecified(), 1, 1, nil),
		{0x60, 0, 0, 0}, // not IPv4
		make([]byte, 19),
		append(echo(clientIP, gwIP, 1, 1, nil)[:20], 0), // total length past the end
	}
	a.Send(bad)
	p.none(t)
	if st := a.Stats(); st.Refused != uint64(len(bad)) {
		t.Fatalf("Refused %d, want %d", st.Refused, len(bad))
	}
	// Broadcast and multicast need no ARP.
	a.Send([][]byte{echo(clientIP, netip.MustParseAddr("10.5.0.255"), 1, 1, nil), echo(clientIP, netip.MustParseAddr("239.1.2.3"), 1, 1, nil)})
	if f := p.next(t, time.Second); [6]byte(f[0:6]) != broadcastMAC {
		t.Fatalf("subnet broadcast to % x", f[0:6])
	}
	if f := p.next(t, time.Second); [6]byte(f[0:6]) != [6]byte{1, 0, 0x5e, 1, 2, 3} {
		t.Fatalf("multicast to % x", f[0:6])
	}
	// Nothing before a lease.
	b := newAdapter(p, Config{MAC: testMAC})
	b.Send([][]byte{echo(clientIP, gwIP, 1, 1, nil)})
	p.none(t)
}

func TestReceiveFilters(t *testing.T) {
	var got [][]byte
	a, _ := bound(Config{Deliver: func(pkts [][]byte) {
		for _, p := range pkts {
			got = append(got, append([]byte(nil), p...))
		}
	}})
	toUs := echo(netip.MustParseAddr("1.1.1.1"), clientIP, 1, 1, []byte("hi"))
	padded := append(append([]byte(nil), toUs...), 0, 0, 0, 0) // Ethernet padding is cut
	a.recvFrame(ethFrame(testMAC, gwMAC, ether.TypeIPv4, padded))
	a.recvFrame(ethFrame(broadcastMAC, gwMAC, ether.TypeIPv4, echo(gwIP, netip.MustParseAddr("10.5.0.255"), 1, 2, nil)))
	a.recvFrame(ethFrame(testMAC, gwMAC, ether.TypeIPv4, echo(gwIP, netip.MustParseAddr("10.5.0.5"), 1, 3, nil))) // not our address
	a.recvFrame(ethFrame(peerMAC, gwMAC, ether.TypeIPv4, toUs))                                                   // another MAC
	a.recvFrame(ethFrame(testMAC, testMAC, ether.TypeIPv4, toUs))                                                 // from ourselves
	a.recvFrame(ethFrame(testMAC, broadcastMAC, ether.TypeIPv4, toUs))                                            // from a broadcast MAC
	a.recvFrame(ethFrame(testMAC, gwMAC, ether.TypeIPv4, toUs[:29]))                                              // truncated
	if len(got) != 2 || !bytes.Equal(got[0], toUs) {
		t.Fatalf("delivered %d packets: %x", len(got), got)
	}
	if st := a.Stats(); st.Received != 2 {
		t.Fatalf("Received %d", st.Received)
	}
	// The gateway's packet taught its MAC.
	if e := a.arp[gwIP.As4()]; e == nil || e.mac != gwMAC {
		t.Fatal("the sender in the subnet was not learnt")
	}
}

// TestRenewNak: a NAK to the renewal loses the lease, tells the protocol,
// and starts over with a DISCOVER.
func TestRenewNak(t *testing.T) {
	changes := make(chan bool, 4)
	a, _, p := openWith(t, Config{LeaseChanged: func(l Lease, ok bool) { changes <- ok }}, time.Hour)
	a.mu.Lock()
	a.dhcp.renewAt = time.Now()
	a.mu.Unlock()
	select { // wake the loop
	case a.wake <- struct{}{}:
	default:
	}
	r := expectDHCP(t, p, dhcpv4.MessageTypeRequest)
	if !r.ClientIPAddr.Equal(clientIP.AsSlice()) {
		t.Fatalf("renewal ciaddr %v", r.ClientIPAddr)
	}
	p.push(serverReply(t, r, dhcpv4.MessageTypeNak))
	select {
	case ok := <-changes:
		if ok {
			t.Fatal("LeaseChanged(ok) for a NAK")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("LeaseChanged not called")
	}
	expectDHCP(t, p, dhcpv4.MessageTypeDiscover)
	if a.Lease().Addr.IsValid() {
		t.Fatal("lease kept after NAK")
	}
}

// TestNoAllocation checks the data path: Send and receive allocate nothing
// per packet once warm.
func TestNoAllocation(t *testing.T) {
	a, p := bound(Config{Deliver: func([][]byte) {}})
	go func() {
		for range p.sent {
		}
	}()
	a.recvFrame(ethFrame(testMAC, gwMAC, ether.TypeARP, arpPacket(ether.ARPReply, gwMAC, gwIP, testMAC, clientIP)))
	out := [][]byte{echo(clientIP, netip.MustParseAddr("8.8.8.8"), 1, 1, make([]byte, 1000))}
	in := ethFrame(testMAC, gwMAC, ether.TypeIPv4, echo(netip.MustParseAddr("8.8.8.8"), clientIP, 1, 1, make([]byte, 1000)))
	p2 := &countPort{}
	a.port = p2
	if n := testing.AllocsPerRun(200, func() { a.Send(out) }); n != 0 {
		t.Errorf("Send: %v allocations per packet", n)
	}
	if n := testing.AllocsPerRun(200, func() { a.receive(in); a.deliver() }); n != 0 {
		t.Errorf("receive: %v allocations per packet", n)
	}
	// Draining the port (the run loop's and a push's path).
	p2.frame = in
	if n := testing.AllocsPerRun(200, func() { a.drain() }); n != 0 {
		t.Errorf("drain: %v allocations per frame", n)
	}
	if p2.n == 0 {
		t.Fatal("nothing sent")
	}
}

// countPort counts frames and keeps none; DrainEach passes frame, if
// any.
type countPort struct {
	n     int
	frame []byte
}

func (c *countPort) Input(f [][]byte)       { c.n += len(f) }
func (c *countPort) Ready() <-chan struct{} { return nil }
func (c *countPort) Done() <-chan struct{}  { return nil }
func (c *countPort) DrainEach(_ int, emit func([]byte)) int {
	if c.frame == nil {
		return 0
	}
	emit(c.frame)
	return 1
}

// pushPort is a fakePort that takes a push function, as hub.Port does.
type pushPort struct {
	*fakePort
	pushFn func() bool
}

func (p *pushPort) SetPush(f func() bool) { p.pushFn = f }

// queue stores frames for the adapter without signalling Ready: only a
// push takes them.
func (p *pushPort) queueOnly(frames ...[]byte) {
	p.mu.Lock()
	p.queue = append(p.queue, frames...)
	p.mu.Unlock()
}

// TestDeliverInline: with DeliverInline the goroutine that queued frames
// delivers them within its push call, ARP answers included; while the
// adapter's goroutine drains, the push declines; without DeliverInline the
// adapter takes no push function.
func TestDeliverInline(t *testing.T) {
	p := &pushPort{fakePort: newFakePort()}
	var got [][]byte
	a := newAdapter(p, Config{MAC: testMAC, DeliverInline: true, Deliver: func(pkts [][]byte) {
		for _, q := range pkts {
			got = append(got, append([]byte(nil), q...))
		}
	}})
	a.setAddr(Lease{Addr: netip.PrefixFrom(clientIP, 24), Gateway: gwIP}, true)
	if p.pushFn == nil {
		t.Fatal("DeliverInline: the adapter set no push function")
	}
	toUs := echo(gwIP, clientIP, 1, 1, []byte("inline"))
	peerIP := netip.MustParseAddr("10.5.0.9")
	p.queueOnly(ethFrame(testMAC, gwMAC, ether.TypeIPv4, toUs),
		ethFrame(broadcastMAC, peerMAC, ether.TypeARP, arpPacket(ether.ARPRequest, peerMAC, peerIP, [6]byte{}, clientIP)))
	if !p.pushFn() {
		t.Fatal("push declined on an idle adapter")
	}
	if len(got) != 1 || !bytes.Equal(got[0], toUs) {
		t.Fatalf("delivered within the push: %x", got)
	}
	if f := p.next(t, time.Second); binary.BigEndian.Uint16(f[12:14]) != ether.TypeARP || [6]byte(f[0:6]) != peerMAC {
		t.Fatalf("the push sent % x, want the ARP answer", f)
	}
	select {
	case <-a.wake: // the run loop is told of the ARP/DHCP work
	default:
		t.Fatal("the push handled ARP without waking the run loop")
	}

	a.rxMu.Lock() // the adapter's goroutine is draining
	p.queueOnly(ethFrame(testMAC, gwMAC, ether.TypeIPv4, toUs))
	if p.pushFn() {
		t.Fatal("push took frames while the adapter's goroutine drained")
	}
	a.rxMu.Unlock()
	if len(got) != 1 {
		t.Fatalf("delivered %d packets, want 1", len(got))
	}
	close(a.stop)
	if p.pushFn() {
		t.Fatal("push after Close")
	}

	q := &pushPort{fakePort: newFakePort()}
	newAdapter(q, Config{MAC: testMAC})
	if q.pushFn != nil {
		t.Fatal("without DeliverInline the adapter set a push function")
	}
}
