// Package securenat implements SoftEther's SecureNAT: a virtual host that
// lives on a Virtual Hub as one port and gives the hub's clients a router to
// the server host's network (user-mode NAT for TCP, UDP and ICMP echo), a
// DNS proxy and a DHCP server.
//
// The virtual host is a gVisor netstack (SACK, window scaling, large
// buffers) whose Ethernet interface is the hub port. With NAT on, the stack
// runs in promiscuous and spoofing mode so that connections to any
// destination terminate in it; each flow is then re-originated with an
// ordinary host socket and the two are spliced. Nothing needs root; ICMP
// echo relaying uses an unprivileged ping socket or a raw socket when the
// process may open one, and answers locally otherwise.
//
// Behaviour follows docs/protocol/securenat.md#overview, with the improvements it
// asks for: refused connects give the client RST|ACK, DNS works over TCP
// and failed upstreams give SERVFAIL, half-closes are honoured, and every
// flow has its own goroutines instead of one NAT thread.
package securenat

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/securenat/dhcpd"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Session identity of the SecureNAT port on its hub (docs/protocol/securenat.md#overview).
const (
	SessionName = "SID-SECURENAT-1"
	UserName    = "SecureNAT"
)

// DefaultMaxSessions is SoftEther's cap on user-mode NAT entries (docs/protocol/securenat.md#threads-and-timing).
const DefaultMaxSessions = 4096

// timeoutUnit is the unit of the configured NAT timeouts (seconds). Tests
// shrink it so that expiry can be observed quickly.
var timeoutUnit = time.Second

// Limits are the NAT entry limits: SoftEther's hub options
// SecureNAT_Max*PerIp (0 = unlimited, the default) and the table size.
type Limits struct {
	MaxSessions        int // all entries; 0 = DefaultMaxSessions
	MaxTCPPerIP        int // established TCP per client IP: the oldest is evicted
	MaxTCPSynSentPerIP int // TCP still connecting per client IP: new SYNs are refused
	MaxUDPPerIP        int // UDP per client IP: the oldest is evicted
	MaxICMPPerIP       int // ICMP echo flows per client IP: the oldest is evicted
}

// Options are the run-time dependencies of SecureNAT.
type Options struct {
	// Log is the hub's logger; SecureNAT security-log lines go here.
	Log *slog.Logger
	// Resolvers are the DNS upstreams; nil means the nameservers of
	// /etc/resolv.conf (port 53), or 127.0.0.1:53 if it lists none.
	Resolvers []netip.AddrPort
	// Dial opens the host side of a NAT flow ("tcp" or "udp"); nil uses a
	// net.Dialer. Tests use it to map destinations onto loopback.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Limits caps the NAT table.
	Limits Limits
	// Leases, when set, keeps the DHCP server's leases beyond this
	// SecureNAT: it starts with those Leases holds and tells it of each
	// lease granted (a farm keeps them in etcd, so that a dynamic hub
	// that moves to another node gives its clients their addresses).
	Leases LeaseKeeper
}

// LeaseKeeper keeps DHCP leases beyond one SecureNAT (Options.Leases).
type LeaseKeeper interface {
	// Load returns the leases kept (read once, at start).
	Load() []dhcpd.Lease
	// Keep is told of a lease granted or renewed; it must not block.
	Keep(dhcpd.Lease)
}

// Status is the SecureNatStatusGet view (docs/protocol/securenat.md#status-views).
type Status struct {
	TCPSessions, UDPSessions, ICMPSessions, DNSSessions int
	DHCPClients                                         int
	ICMPMode                                            ICMPMode
	KernelModeNAT, RawIPModeNAT                         bool // always false: only user mode exists
}

// settings is a validated, clamped copy of config.SecureNAT.
type settings struct {
	mac                    net.HardwareAddr
	ip                     netip.Addr
	subnet                 netip.Prefix
	mtu                    uint32
	nat, dhcp, saveLog     bool
	tcpTimeout, udpTimeout time.Duration
}

func newSettings(c config.SecureNAT) (settings, error) {
	s := settings{mac: c.MAC, ip: c.IP, nat: c.NatEnabled, dhcp: c.DHCPEnabled, saveLog: c.SaveLog}
	if len(c.MAC) != 6 || [6]byte(c.MAC) == [6]byte{} || c.MAC[0]&1 != 0 {
		return s, fmt.Errorf("securenat: virtual host MAC %v is not a unicast Ethernet address", c.MAC)
	}
	if !c.IP.Is4() || c.IP.IsUnspecified() {
		return s, fmt.Errorf("securenat: virtual host IP %v is not an IPv4 host address", c.IP)
	}
	bits, err := maskBits(c.Mask)
	if err != nil {
		return s, err
	}
	s.subnet = netip.PrefixFrom(c.IP, bits).Masked()
	if bits < 31 && (c.IP == s.subnet.Addr() || c.IP == broadcastOf(s.subnet)) {
		return s, fmt.Errorf("securenat: %v is not a host address in %v", c.IP, s.subnet)
	}
	// docs/protocol/securenat.md#options clamps; 0 means the default (and for timeouts, a fresh VH's).
	s.mtu = c.MTU
	if s.mtu == 0 {
		s.mtu = 1500
	}
	s.mtu = min(max(s.mtu, 576), 1500) // below 576 IPv4 itself breaks; SoftEther allowed 62
	s.tcpTimeout = clampTimeout(c.TCPTimeout, 7200, 60)
	s.udpTimeout = clampTimeout(c.UDPTimeout, 600, 10)
	return s, nil
}

func clampTimeout(v, def, lo uint32) time.Duration {
	if v == 0 {
		v = def
	}
	return time.Duration(min(max(v, lo), 2_000_000)) * timeoutUnit
}

func maskBits(m netip.Addr) (int, error) {
	if !m.Is4() {
		return 0, fmt.Errorf("securenat: subnet mask %v is not IPv4", m)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for v&(1<<31) != 0 {
		bits++
		v <<= 1
	}
	if v != 0 || bits == 0 {
		return 0, fmt.Errorf("securenat: %v is not a valid subnet mask", m)
	}
	return bits, nil
}

func broadcastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}

// SecureNAT is one running SecureNAT instance on a hub.
type SecureNAT struct {
	cfg  settings
	opt  Options
	log  *slog.Logger // nil when SaveLog is off
	hub  string
	port *hub.Port

	stack *stack.Stack
	link  *linkEndpoint
	nat   *natTable
	icmp  *icmpRelay
	dns   *dnsProxy
	dhcp  *dhcpGlue

	ctx    context.Context // cancelled by Stop; bounds dials and DNS queries
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// Start attaches the SecureNAT virtual host to h as the port
// "SID-SECURENAT-1" (user "SecureNAT") and starts NAT, DHCP and DNS
// according to cfg. It needs no root privileges.
func Start(h *hub.Hub, cfg config.SecureNAT, opt Options) (*SecureNAT, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	if opt.Dial == nil {
		var d net.Dialer
		opt.Dial = d.DialContext
	}
	if opt.Limits.MaxSessions <= 0 {
		opt.Limits.MaxSessions = DefaultMaxSessions
	}
	if opt.Resolvers == nil {
		opt.Resolvers = systemResolvers("/etc/resolv.conf")
	}
	n := &SecureNAT{cfg: s, opt: opt, hub: h.Name(), done: make(chan struct{})}
	if s.saveLog {
		n.log = opt.Log
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.nat = newNATTable(n)
	if s.dhcp {
		if n.dhcp, err = newDHCPGlue(cfg, s, opt.Log, opt.Leases); err != nil {
			return nil, err
		}
	}

	n.link = newLinkEndpoint(tcpip.LinkAddress(s.mac), s.mtu)
	if n.stack, err = n.newStack(); err != nil {
		return nil, err
	}
	if s.nat {
		n.icmp = newICMPRelay(n)
		if n.dns, err = startDNS(n); err != nil {
			n.stack.Close()
			return nil, err
		}
	}

	n.port, err = h.Attach(hub.PortConfig{
		Name: SessionName, User: UserName, Kind: hub.KindSecureNAT,
		Disconnect: func(error) { go n.Stop() },
	})
	if err != nil {
		n.cancel()
		if n.dns != nil {
			n.dns.close()
		}
		n.stack.Close()
		return nil, fmt.Errorf("securenat: attach to hub %q: %w", h.Name(), err)
	}
	n.spawn(func() { n.link.flush(n.port, n.done) })
	n.spawn(n.readHub)
	n.spawn(func() { n.nat.reap(n.done) })
	if n.dhcp != nil {
		n.spawn(func() { n.dhcp.expire(n.done) })
	}

	n.logRaw("LH_NAT_START", fmt.Sprintf(`SecureNAT has started. The SecureNAT session "%s" was created.`, SessionName),
		slog.String("session", SessionName))
	if s.nat {
		n.logICMPMode()
	}
	return n, nil
}

// spawn runs fn as one of SecureNAT's own goroutines, which Stop waits
// for. A panic in one stops this SecureNAT (only it, never the server; the
// hub's administrator can start it again); Stop waits for the goroutines,
// so it runs on a goroutine of its own.
func (n *SecureNAT) spawn(fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer guard.Recover(n.opt.Log, "SecureNAT", func(error) { go n.Stop() })
		fn()
	}()
}

// Stop detaches SecureNAT from its hub and closes every NAT flow. Leases are
// forgotten (they are not persisted, as in SoftEther). Stop is idempotent.
func (n *SecureNAT) Stop() {
	n.once.Do(func() {
		n.cancel()
		if n.dns != nil {
			n.dns.close()
		}
		n.nat.closeAll()
		n.nat.wait()
		close(n.done) // the flusher hands the flows' final RSTs to the hub first
		n.wg.Wait()
		n.port.Close()
		n.stack.Close()
		n.stack.Wait()
		n.logRaw("LH_NAT_STOP", "SecureNAT stopped.")
	})
}

// readHub moves frames from the hub port into the virtual host in batches.
func (n *SecureNAT) readHub() {
	batch := make([]*hub.Frame, 0, maxBatch)
	for {
		select {
		case <-n.done:
			return
		case <-n.port.Done():
			return
		case <-n.port.Ready():
		}
		n.port.DrainBatches(batch, 0, func(frames []*hub.Frame) bool {
			for _, f := range frames {
				n.input(f.Bytes())
			}
			return true
		})
	}
}

// NATTable lists the NAT entries (docs/protocol/securenat.md#status-views NatTable), oldest first.
func (n *SecureNAT) NATTable() []NATEntry { return n.nat.list() }

// Status returns the SecureNatStatusGet counters.
func (n *SecureNAT) Status() Status {
	st := n.nat.status()
	st.ICMPMode = ICMPDisabled
	if n.icmp != nil {
		st.ICMPMode = n.icmp.mode
	}
	if n.dhcp != nil {
		st.DHCPClients = len(n.dhcp.srv.Leases())
	}
	return st
}

// Dropped reports how many frames the virtual host could not hand to the hub
// because its outbound queue was full.
func (n *SecureNAT) Dropped() uint64 { return n.link.outDrops.Load() }
