package native

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/securenat"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// spyPort is a hub port that also records the frames the adapter sends.
type spyPort struct {
	*hub.Port
	mu   sync.Mutex
	sent [][]byte
}

func (s *spyPort) Input(frames [][]byte) {
	s.mu.Lock()
	for _, f := range frames {
		s.sent = append(s.sent, append([]byte(nil), f...))
	}
	s.mu.Unlock()
	s.Port.Input(frames)
}

// dhcpSent returns the DHCP messages the adapter sent, in order.
func (s *spyPort) dhcpSent() []*dhcpv4.DHCPv4 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*dhcpv4.DHCPv4
	for _, f := range s.sent {
		if m := parseDHCPFrame(f, 67); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// parseDHCPFrame returns the DHCP message of an Ethernet/IPv4/UDP frame to
// port dport, or nil.
func parseDHCPFrame(f []byte, dport uint16) *dhcpv4.DHCPv4 {
	if len(f) < 14 || binary.BigEndian.Uint16(f[12:14]) != ether.TypeIPv4 {
		return nil
	}
	ip, ok := ether.ParseIPv4(f[14:])
	if !ok || ip.Proto() != ether.ProtoUDP || len(ip.Payload()) < 8 || binary.BigEndian.Uint16(ip.Payload()[2:4]) != dport {
		return nil
	}
	m, err := dhcpv4.FromBytes(ip.Payload()[8:])
	if err != nil {
		return nil
	}
	return m
}

// natHub starts a hub with SecureNAT (192.168.30.1/24, DHCP .10-.200) and
// attaches a client port for the adapter.
func natHub(t *testing.T, expire uint32) (*securenat.SecureNAT, *spyPort) {
	t.Helper()
	h := hub.New("VPN", hub.DefaultOptions())
	t.Cleanup(h.Close)
	cfg := config.DefaultSecureNAT()
	cfg.Enabled = true
	cfg.DHCPExpire = expire
	cfg.DHCPDomain = "example.test"
	n, err := securenat.Start(h, cfg, securenat.Options{Resolvers: []netip.AddrPort{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	p, err := h.Attach(hub.PortConfig{Name: "SID-ALICE-[OPENVPN_L3]-1", User: "alice", Kind: hub.KindClient})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return n, &spyPort{Port: p}
}

// echo builds an ICMP echo request.
func echo(src, dst netip.Addr, id, seq uint16, data []byte) []byte {
	p := make([]byte, 28+len(data))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8], p[9] = 64, ether.ProtoICMP
	s4, d4 := src.As4(), dst.As4()
	copy(p[12:16], s4[:])
	copy(p[16:20], d4[:])
	binary.BigEndian.PutUint16(p[10:12], ^ether.Checksum(p[:20], 0))
	ic := p[20:]
	ic[0] = 8
	binary.BigEndian.PutUint16(ic[4:6], id)
	binary.BigEndian.PutUint16(ic[6:8], seq)
	copy(ic[8:], data)
	binary.BigEndian.PutUint16(ic[2:4], ^ether.Checksum(ic, 0))
	return p
}

// TestSecureNATLeaseAndPing leases an address from SecureNAT's DHCP server
// through a real hub, then pings the virtual host and gets its answer.
func TestSecureNATLeaseAndPing(t *testing.T) {
	n, port := natHub(t, 7200)
	got := make(chan []byte, 16)
	mac := VirtualMAC("testhost", "VPN", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, l, err := Open(ctx, port, Config{
		MAC: mac, Hostname: "alice-laptop",
		Deliver: func(pkts [][]byte) {
			for _, p := range pkts {
				select {
				case got <- append([]byte(nil), p...):
				default:
				}
			}
		},
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer a.Close()

	vh := netip.MustParseAddr("192.168.30.1")
	lo, hi := netip.MustParseAddr("192.168.30.10"), netip.MustParseAddr("192.168.30.200")
	if ip := l.Addr.Addr(); ip.Less(lo) || hi.Less(ip) || l.Addr.Bits() != 24 {
		t.Fatalf("lease %v is not in SecureNAT's range %v-%v/24", l.Addr, lo, hi)
	}
	if l.Gateway != vh || len(l.DNS) == 0 || l.DNS[0] != vh || l.Server != vh {
		t.Fatalf("lease gateway %v, DNS %v, server %v; want the virtual host %v", l.Gateway, l.DNS, l.Server, vh)
	}
	if l.Domain != "example.test" || l.Duration != 7200*time.Second {
		t.Errorf("lease domain %q, duration %v", l.Domain, l.Duration)
	}
	leases := n.DHCPTable()
	if len(leases) != 1 || leases[0].IP != l.Addr.Addr() || [6]byte(leases[0].MAC) != mac || leases[0].Hostname != "alice-laptop" {
		t.Fatalf("SecureNAT's lease table: %+v", leases)
	}
	// What the server saw: the vendor class and host name SoftEther's IPC sends.
	msgs := port.dhcpSent()
	if len(msgs) < 2 || msgs[0].MessageType() != dhcpv4.MessageTypeDiscover || msgs[len(msgs)-1].MessageType() != dhcpv4.MessageTypeRequest {
		t.Fatalf("DHCP messages sent: %v", msgs)
	}
	for _, m := range msgs {
		if m.ClassIdentifier() != VendorClass || m.HostName() != "alice-laptop" {
			t.Errorf("%v: vendor class %q, host name %q", m.MessageType(), m.ClassIdentifier(), m.HostName())
		}
	}

	// Ping the virtual host: SecureNAT ARPs for the client (the adapter
	// answers) and the adapter ARPs for the virtual host.
	data := []byte("ethervpn native adapter")
	for seq := uint16(1); seq <= 3; seq++ {
		a.Send([][]byte{echo(l.Addr.Addr(), vh, 0x4242, seq, data)})
		deadline := time.After(3 * time.Second)
	wait:
		for {
			select {
			case p := <-got:
				ip, ok := ether.ParseIPv4(p)
				if !ok || ip.Proto() != ether.ProtoICMP || netip.AddrFrom4(ip.Src()) != vh || netip.AddrFrom4(ip.Dst()) != l.Addr.Addr() {
					continue
				}
				ic := ip.Payload()
				if ic[0] == 0 && binary.BigEndian.Uint16(ic[4:6]) == 0x4242 && binary.BigEndian.Uint16(ic[6:8]) == seq && string(ic[8:]) == string(data) {
					break wait
				}
			case <-deadline:
				t.Fatalf("no echo reply %d from the virtual host; stats %+v", seq, a.Stats())
			}
		}
	}
	if st := a.Stats(); st.Sent < 3 || st.Received < 3 || st.Refused != 0 || st.ARPGiveUp != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestSecureNATRenewAndRelease renews a short lease at T1 with SecureNAT,
// and sends a RELEASE on Close.
func TestSecureNATRenewAndRelease(t *testing.T) {
	n, port := natHub(t, 15) // SecureNAT's shortest lease: T1 at 7 s
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	changed := make(chan Lease, 4)
	a, l, err := Open(ctx, port, Config{
		MAC: VirtualMAC("testhost", "VPN", 2), Hostname: "bob",
		LeaseChanged: func(l Lease, ok bool) { changed <- l },
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if l.Duration != 15*time.Second || l.T1 != 7*time.Second {
		t.Fatalf("lease %v, T1 %v", l.Duration, l.T1)
	}
	first := n.DHCPTable()[0].Expires
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats().Renewals < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no renewal in 10 s: %+v", a.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The server's table moved the lease's end.
	if got := a.Lease(); got.Addr != l.Addr {
		t.Fatalf("after renewals the lease is %v, was %v", got.Addr, l.Addr)
	}
	if e := n.DHCPTable()[0].Expires; !e.After(first.Add(5 * time.Second)) {
		t.Fatalf("SecureNAT's lease ends %v, first %v: not renewed", e, first)
	}
	select {
	case c := <-changed:
		t.Fatalf("LeaseChanged called for an unchanged renewal: %v", c)
	default:
	}
	// Renewals go to the server by unicast, with the client's address.
	var renew *dhcpv4.DHCPv4
	for _, m := range port.dhcpSent() {
		if m.MessageType() == dhcpv4.MessageTypeRequest && !m.ClientIPAddr.IsUnspecified() {
			renew = m
		}
	}
	if renew == nil || !renew.ClientIPAddr.Equal(l.Addr.Addr().AsSlice()) {
		t.Fatalf("no renewing REQUEST with ciaddr %v", l.Addr.Addr())
	}

	a.Close()
	msgs := port.dhcpSent()
	last := msgs[len(msgs)-1]
	if last.MessageType() != dhcpv4.MessageTypeRelease || !last.ClientIPAddr.Equal(l.Addr.Addr().AsSlice()) ||
		!last.ServerIdentifier().Equal(netip.MustParseAddr("192.168.30.1").AsSlice()) {
		t.Fatalf("last DHCP message %v (ciaddr %v, server %v), want a RELEASE of %v", last.MessageType(), last.ClientIPAddr, last.ServerIdentifier(), l.Addr)
	}
	if a.Lease().Addr.IsValid() {
		t.Fatal("lease kept after Close")
	}
}

// TestSecureNATStatic attaches an adapter with a fixed address (the
// WireGuard way: no DHCP) and pings the virtual host through the hub.
func TestSecureNATStatic(t *testing.T) {
	_, port := natHub(t, 7200)
	got := make(chan []byte, 16)
	me := netip.MustParseAddr("192.168.30.250")
	vh := netip.MustParseAddr("192.168.30.1")
	a, err := Attach(port, Config{MAC: VirtualMAC("testhost", "VPN", 3), Deliver: func(pkts [][]byte) {
		for _, p := range pkts {
			got <- append([]byte(nil), p...)
		}
	}}, Lease{Addr: netip.PrefixFrom(me, 24), Gateway: vh})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Send([][]byte{echo(me, vh, 9, 1, []byte("wg"))})
	select {
	case p := <-got:
		ip, ok := ether.ParseIPv4(p)
		if !ok || ip.Proto() != ether.ProtoICMP || ip.Payload()[0] != 0 || netip.AddrFrom4(ip.Src()) != vh {
			t.Fatalf("got % x, want an echo reply from %v", p, vh)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("no echo reply; stats %+v", a.Stats())
	}
	a.Close()
	for _, m := range port.dhcpSent() {
		t.Fatalf("a static adapter sent DHCP %v", m.MessageType())
	}
	if _, err := Attach(port, Config{}, Lease{}); err == nil {
		t.Fatal("Attach without an address")
	}
}
