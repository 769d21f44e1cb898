package native

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// checkPort is a port that checks every frame the adapter sends.
type checkPort struct {
	t *testing.T
	n int
}

func (c *checkPort) Input(frames [][]byte) {
	for _, f := range frames {
		if len(f) < 14 || len(f) > 14+MaxPacket || [6]byte(f[6:12]) != testMAC {
			c.t.Fatalf("sent a bad frame % x", f)
		}
		c.n++
	}
}
func (c *checkPort) Ready() <-chan struct{}          { return nil }
func (c *checkPort) Done() <-chan struct{}           { return nil }
func (c *checkPort) DrainEach(int, func([]byte)) int { return 0 }

func offerFrame() []byte {
	m, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr(testMAC[:])), dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, 4}))
	return serverReplyNoT(m, dhcpv4.MessageTypeOffer, leaseOptions(time.Hour)...)
}

// serverReplyNoT is serverReply for fuzz seeds (no *testing.T at seeding).
func serverReplyNoT(m *dhcpv4.DHCPv4, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) []byte {
	r, _ := dhcpv4.NewReplyFromRequest(m, append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(serverIP.AsSlice()))),
	}, mods...)...)
	return ethFrame(testMAC, serverMAC, ether.TypeIPv4, udpPacket(serverIP.As4(), [4]byte{255, 255, 255, 255}, 67, 68, 1, r.ToBytes()))
}

// FuzzReceive feeds arbitrary frames from the hub to an adapter that holds
// a lease and to one that is asking for one: they must never panic, send
// only well-formed frames of their own, and keep their tables bounded.
func FuzzReceive(f *testing.F) {
	peerIP := netip.MustParseAddr("10.5.0.9")
	f.Add(ethFrame(broadcastMAC, peerMAC, ether.TypeARP, arpPacket(ether.ARPRequest, peerMAC, peerIP, [6]byte{}, clientIP)))
	f.Add(ethFrame(testMAC, gwMAC, ether.TypeARP, arpPacket(ether.ARPReply, gwMAC, gwIP, testMAC, clientIP)))
	f.Add(ethFrame(testMAC, gwMAC, ether.TypeIPv4, echo(gwIP, clientIP, 1, 1, []byte("x"))))
	f.Add(offerFrame())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		port := &checkPort{t: t}
		a, _ := bound(Config{ARPQueue: 8, Deliver: func(pkts [][]byte) {
			for _, p := range pkts {
				if _, ok := ether.ParseIPv4(p); !ok {
					t.Fatalf("delivered a bad packet % x", p)
				}
			}
		}})
		a.port = port
		a.Send([][]byte{echo(clientIP, netip.MustParseAddr("8.8.8.8"), 1, 1, nil)}) // waits for the gateway
		a.recvFrame(frame)
		b := newAdapter(port, Config{MAC: testMAC})
		b.mu.Lock()
		b.startDiscover(time.Now())
		b.dhcp.xid = 0x01020304
		b.flushLocked()
		b.mu.Unlock()
		b.recvFrame(frame)
		for _, x := range []*Adapter{a, b} {
			x.mu.Lock()
			x.tick(time.Now().Add(10 * time.Second))
			x.flushLocked()
			if x.queued > x.cfg.ARPQueue || len(x.arp) > maxARPEntries {
				t.Fatalf("queued %d, entries %d", x.queued, len(x.arp))
			}
			x.mu.Unlock()
		}
	})
}

// FuzzSend feeds arbitrary packets from the client: never a panic, only
// well-formed frames out, and bounded waiting.
func FuzzSend(f *testing.F) {
	f.Add(echo(clientIP, netip.MustParseAddr("8.8.8.8"), 1, 1, nil))
	f.Add(echo(clientIP, netip.MustParseAddr("10.5.0.255"), 1, 1, nil))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		port := &checkPort{t: t}
		a, _ := bound(Config{ARPQueue: 2})
		a.port = port
		a.Send([][]byte{pkt, pkt, pkt})
		if a.queued > 2 {
			t.Fatalf("queued %d", a.queued)
		}
	})
}

// FuzzLeaseOf reads arbitrary DHCP messages as leases: never a panic, and
// a lease it accepts is usable.
func FuzzLeaseOf(f *testing.F) {
	m, _ := dhcpv4.New(dhcpv4.WithHwAddr(net.HardwareAddr(testMAC[:])))
	r, _ := dhcpv4.NewReplyFromRequest(m, append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(serverIP.AsSlice()))),
	}, leaseOptions(time.Hour)...)...)
	f.Add(r.ToBytes())
	f.Add(m.ToBytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		l, err := leaseOf(m)
		if err != nil {
			return
		}
		if !l.Addr.Addr().Is4() || l.Addr.Bits() < 1 || !l.Server.Is4() || l.Duration < MinLease ||
			l.T1 <= 0 || l.T1 > l.T2 || l.T2 > l.Duration {
			t.Fatalf("accepted lease %+v", l)
		}
		for _, r := range l.Routes {
			if !r.Dest.IsValid() || !r.Gateway.Is4() {
				t.Fatalf("route %+v", r)
			}
		}
	})
}
