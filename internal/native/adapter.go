package native

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// Timings and limits of the layer-3 adapter, SoftEther's where it has them
// (IPC.h, Hub.h).
const (
	// ARPLifetime is how long a resolved neighbour stays known without
	// traffic to it (IPC_ARP_LIFETIME).
	ARPLifetime = 3 * time.Minute
	// ARPGiveUp is how long a query waits for its answer before the
	// packets waiting for it are dropped (IPC_ARP_GIVEUPTIME).
	ARPGiveUp = time.Second
	// DefaultDiscoverTimeout is how long a DISCOVER waits for an OFFER
	// unless the hub option DhcpDiscoverTimeoutMs says otherwise
	// (DEFAULT_DHCP_DISCOVER_TIMEOUT).
	DefaultDiscoverTimeout = 5 * time.Second
	// RequestTimeout is how long a REQUEST waits for its ACK
	// (IPC_DHCP_TIMEOUT).
	RequestTimeout = 5 * time.Second
	// MinLease is the shortest lease the adapter keeps to: a shorter one
	// is taken as this long (IPC_DHCP_MIN_LEASE).
	MinLease = 5 * time.Second
	// DefaultLease is the lease assumed when the server names none
	// (IPC_DHCP_DEFAULT_LEASE).
	DefaultLease = time.Hour
	// VendorClass is the DHCP vendor class (option 60) the adapter sends,
	// as SoftEther's IPC does (IPC_DHCP_VENDOR_ID), so that a DHCP server
	// treats the native client like a Windows one.
	VendorClass = "MSFT 5.0"
	// DefaultARPQueue bounds the packets that wait for ARP answers, all
	// next hops together; SoftEther keeps up to 10000 per next hop
	// (IPC_MAX_PACKET_QUEUE_LEN), far more than a second of waiting needs.
	DefaultARPQueue = 256
	// MaxPacket is the largest IPv4 packet the adapter carries: what fits
	// an untagged Ethernet frame (SoftEther IPCSendIPv4).
	MaxPacket = 1500

	maxARPEntries = 1024 // neighbours learnt unasked are not kept beyond it
	seenEvery     = 64   // packets from one neighbour between two reads of the clock
	batchFrames   = 64   // frames per batch, both directions
	frameRoom     = 14 + MaxPacket
	maxResend     = 3 * time.Second // IPC_DHCP_MAX_RESEND_INTERVAL
)

// Errors of Open.
var (
	ErrNoOffer  = errors.New("native: no DHCP server on the hub answered the DISCOVER")
	ErrNoAck    = errors.New("native: the DHCP server did not acknowledge the REQUEST")
	ErrNak      = errors.New("native: the DHCP server refused the REQUEST (NAK)")
	ErrClosed   = errors.New("native: adapter closed")
	ErrPortGone = errors.New("native: hub port detached")
)

// Port is the hub side of the adapter: a hub port. *hub.Port satisfies it.
type Port interface {
	// Input hands a batch of Ethernet frames to the hub, which copies
	// them.
	Input(frames [][]byte)
	// Ready is signalled when frames for the port are queued.
	Ready() <-chan struct{}
	// Done is closed when the port is detached.
	Done() <-chan struct{}
	// DrainEach passes the queued frames, one at a time and valid only
	// during the call, to emit (limit <= 0: all of them).
	DrainEach(limit int, emit func(frame []byte)) int
}

// Route is a classless static route (DHCP option 121).
type Route struct {
	Dest    netip.Prefix
	Gateway netip.Addr
}

// Lease is what the DHCP server on the hub gave the client: what an L3
// protocol pushes to its client (OpenVPN's ifconfig/route-gateway/
// dhcp-option, or WireGuard's nothing).
type Lease struct {
	Addr     netip.Prefix // the client's address and the subnet mask
	Gateway  netip.Addr   // the first router (option 3); invalid if none
	DNS      []netip.Addr // option 6
	Domain   string       // option 15
	Routes   []Route      // option 121
	Server   netip.Addr   // the server identifier (option 54)
	Duration time.Duration
	T1, T2   time.Duration // renewal and rebinding times
}

// Config configures an Adapter.
type Config struct {
	// MAC is the adapter's Ethernet address (VirtualMAC).
	MAC [6]byte
	// Hostname goes into the DHCP host name (12) and, with the MAC, the
	// client identifier (61), as SoftEther's IPC sends them; SoftEther
	// uses the client's name from the protocol (OpenVPN's IV_HWADDR, the
	// PPP peer's name) or the user name.
	Hostname string
	// UserClass is sent as the DHCP user class (77) when not empty: the
	// hub's name when the hub option UseHubNameAsDhcpUserClassOption is
	// set (SoftEther IPCDhcpSetConditionalUserClass).
	UserClass string
	// DiscoverTimeout is how long the DISCOVER waits for an OFFER (the hub
	// option DhcpDiscoverTimeoutMs); 0 = DefaultDiscoverTimeout.
	DiscoverTimeout time.Duration
	// ARPQueue bounds the packets waiting for ARP; 0 = DefaultARPQueue.
	ARPQueue int
	// Deliver receives the IPv4 packets for the client in batches. The
	// slices are valid only during the call; it runs on the adapter's
	// goroutine (or, with DeliverInline, on a goroutine that queued frames
	// for the port), one call at a time, and must not block for long. Nil
	// drops them.
	Deliver func(pkts [][]byte)
	// DeliverInline lets the goroutine that queued frames for the port
	// unwrap and Deliver them itself when the port supports that
	// (hub.Port.SetPush) and the adapter's goroutine is not already at
	// it: one hand-over and wake-up less per batch. Deliver must then
	// never wait (a full socket drops).
	DeliverInline bool
	// LeaseChanged is called (on the adapter's goroutine) when a renewal
	// changed the lease, and with ok false when the lease was lost (NAK or
	// expiry; the adapter then asks for a new one, and calls it again
	// when it has one).
	LeaseChanged func(l Lease, ok bool)
}

// Stats are an adapter's counters.
type Stats struct {
	Sent, Received uint64 // IPv4 packets to the hub and to the client
	// ARPQueueFull counts packets dropped because ARPQueue packets were
	// already waiting for ARP; ARPGiveUp those dropped because their
	// next hop did not answer within ARPGiveUp.
	ARPQueueFull, ARPGiveUp uint64
	// Refused counts packets from the client that cannot be sent: not
	// IPv4, too long, before the lease, from another source address, to
	// no route.
	Refused uint64
	// Renewals counts acknowledged renewals and rebinds.
	Renewals uint64
}

type counters struct {
	sent, received, queueFull, giveUp, refused, renewals atomic.Uint64
}

// Adapter joins an IPv4 protocol to a hub port, as SoftEther's IPC in layer
// 3 does (IPC.c): it owns a MAC, leases an address from a DHCP server on
// the hub (DISCOVER, OFFER, REQUEST, ACK; renewal at T1, rebinding at T2,
// RELEASE on Close), answers ARP for its address, resolves next hops by
// ARP and wraps and unwraps IPv4 in Ethernet.
//
// One goroutine per adapter reads the port and runs the timers; Send runs
// on the caller's goroutine. Both take the adapter's own mutex (never a
// shared one) and reuse their buffers, so neither allocates per packet.
type Adapter struct {
	port Port
	cfg  Config
	mac  [6]byte

	mu     sync.Mutex
	addr   addrState // the lease as the data path uses it
	lease  Lease
	arp    map[[4]byte]*arpEntry
	queued int      // packets waiting for ARP, all entries
	free   [][]byte // spare buffers for waiting packets
	tx     txBatch
	dhcp   dhcpClient
	opened chan error // Open waits here for the first lease; nil after
	notify []func()   // LeaseChanged calls, made by run outside mu

	// cur is addr for the receive path, read without the mutex.
	cur atomic.Pointer[addrState]

	wake chan struct{} // a new deadline (an ARP query) for the run loop
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// rxMu is held by whoever drains the port (the run goroutine or a
	// pusher, see DeliverInline) and guards rx and ctl.
	rxMu sync.Mutex
	rx   txBatch // receive batch for Deliver
	// receiveFn is receive bound once: a method value made per drain
	// would be allocated per drain.
	receiveFn func(f []byte)
	ctl       bool // the drain handled ARP or DHCP: the run loop has work
	// seen is the neighbour whose MAC the receive path refreshed last,
	// when, and the packets from it since the clock was read.
	seen struct {
		ip  [4]byte
		mac [6]byte
		at  time.Time
		n   int
	}
	stats counters
	rng   *rand.Rand // under mu
}

// addrState is the client's address as the data path needs it.
type addrState struct {
	bound            bool
	ip, mask, bcast  [4]byte
	gw               [4]byte // zero: none
	routes           []route4
	subnetMaskedAddr [4]byte
}

type route4 struct {
	dest, mask [4]byte
	bits       int
	gw         [4]byte
}

type arpEntry struct {
	mac      [6]byte
	resolved bool
	expires  time.Time // resolved: end of life; else: give up
	waiting  [][]byte
}

// txBatch is a batch of frames backed by one arena, reused for every batch.
type txBatch struct {
	arena  []byte
	frames [][]byte
}

func newBatch() txBatch {
	return txBatch{arena: make([]byte, batchFrames*frameRoom), frames: make([][]byte, 0, batchFrames)}
}

// slot returns the next free frame buffer of n bytes; the caller must have
// flushed a full batch first.
func (b *txBatch) slot(n int) []byte {
	off := len(b.frames) * frameRoom
	f := b.arena[off : off+n]
	b.frames = append(b.frames, f)
	return f
}

func (b *txBatch) full() bool { return len(b.frames) == cap(b.frames) }

func (b *txBatch) reset() {
	clear(b.frames)
	b.frames = b.frames[:0]
}

// Open attaches an adapter to port and leases an address from the DHCP
// server on the hub. It returns when the server acknowledged a lease, or
// with an error (ErrNoOffer, ErrNoAck, ErrNak, the context's error, or
// ErrPortGone) after which the adapter is closed. The caller owns port and
// closes it after Close.
func Open(ctx context.Context, port Port, cfg Config) (*Adapter, Lease, error) {
	a := newAdapter(port, cfg)
	opened := make(chan error, 1)
	a.mu.Lock()
	a.opened = opened
	a.startDiscover(time.Now())
	a.flushLocked()
	a.mu.Unlock()
	go a.run()
	var err error
	select {
	case err = <-opened:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		a.Close()
		return nil, Lease{}, err
	}
	return a, a.Lease(), nil
}

// Attach attaches an adapter with a fixed address and no DHCP client, as
// SoftEther's WireGuard server sets up its IPC (Proto_WireGuard.c,
// WgsProcessTransportData: the address is the source of the client's first
// packet; IPC.c, NewIPC: the mask and gateway are the hub options
// DefaultSubnet and DefaultGateway). l.Addr must be an IPv4 prefix. Close
// sends no RELEASE then. The caller owns port and closes it after Close.
func Attach(port Port, cfg Config, l Lease) (*Adapter, error) {
	if !l.Addr.Addr().Is4() {
		return nil, errors.New("native: Attach needs an IPv4 address")
	}
	a := newAdapter(port, cfg)
	a.mu.Lock()
	a.setAddr(l, true)
	a.mu.Unlock()
	go a.run()
	return a, nil
}

// newAdapter makes an adapter that has no lease and runs nothing yet.
func newAdapter(port Port, cfg Config) *Adapter {
	if cfg.DiscoverTimeout <= 0 {
		cfg.DiscoverTimeout = DefaultDiscoverTimeout
	}
	if cfg.ARPQueue <= 0 {
		cfg.ARPQueue = DefaultARPQueue
	}
	a := &Adapter{
		port: port, cfg: cfg, mac: cfg.MAC,
		arp:  make(map[[4]byte]*arpEntry),
		tx:   newBatch(),
		rx:   newBatch(),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		rng:  rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	a.dhcp.phase = phaseReleased
	a.cur.Store(&addrState{})
	a.receiveFn = a.receive
	if pp, ok := port.(interface{ SetPush(func() bool) }); ok && cfg.DeliverInline {
		pp.SetPush(a.push)
	}
	return a
}

// push drains the port on the goroutine that queued the frames
// (hub.Port.SetPush); false leaves them to the run goroutine.
func (a *Adapter) push() bool {
	if !a.rxMu.TryLock() {
		return false
	}
	select {
	case <-a.stop:
		a.rxMu.Unlock()
		return false
	default:
	}
	a.drain()
	ctl := a.ctl
	a.ctl = false
	a.rxMu.Unlock()
	if ctl {
		// ARP answers to send; DHCP deadlines and lease changes for the
		// run loop.
		a.mu.Lock()
		a.flushLocked()
		a.mu.Unlock()
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// drain takes the port's frames to the client; under rxMu.
func (a *Adapter) drain() {
	a.port.DrainEach(0, a.receiveFn)
	a.deliver()
}

// MAC returns the adapter's Ethernet address.
func (a *Adapter) MAC() [6]byte { return a.mac }

// Lease returns the current lease; its Addr is invalid while there is
// none.
func (a *Adapter) Lease() Lease {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lease
}

// Stats returns the adapter's counters.
func (a *Adapter) Stats() Stats {
	s := &a.stats
	return Stats{
		Sent: s.sent.Load(), Received: s.received.Load(),
		ARPQueueFull: s.queueFull.Load(), ARPGiveUp: s.giveUp.Load(),
		Refused: s.refused.Load(), Renewals: s.renewals.Load(),
	}
}

// Close releases the lease (a DHCP RELEASE to the server) and stops the
// adapter; Deliver is not called after it returns. It does not close the
// port. Close is idempotent.
func (a *Adapter) Close() {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
		// A push in flight ends first; none delivers after this.
		a.rxMu.Lock()
		a.rxMu.Unlock()
	})
}

// Send wraps IPv4 packets from the client in Ethernet frames and hands
// them to the hub in one batch. Packets whose next hop is not resolved yet
// wait for the ARP answer (a bounded number; beyond it they are dropped and
// counted). The caller may reuse the packets' buffers when Send returns.
func (a *Adapter) Send(pkts [][]byte) {
	a.mu.Lock()
	now := time.Now()
	for _, p := range pkts {
		a.sendLocked(p, now)
	}
	a.flushLocked()
	a.mu.Unlock()
}

// run is the adapter's goroutine: it reads the port and runs the timers.
func (a *Adapter) run() {
	defer close(a.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		a.mu.Lock()
		next := a.nextDeadline()
		a.mu.Unlock()
		t.Reset(time.Until(next))
		select {
		case <-a.stop:
			a.mu.Lock()
			a.releaseLocked()
			a.failOpen(ErrClosed)
			a.mu.Unlock()
			return
		case <-a.port.Done():
			a.mu.Lock()
			a.failOpen(ErrPortGone)
			a.mu.Unlock()
			return
		case <-a.port.Ready():
			a.rxMu.Lock()
			a.drain()
			a.ctl = false
			a.rxMu.Unlock()
			a.mu.Lock()
			a.flushLocked()
			a.mu.Unlock()
		case <-a.wake:
		case <-t.C:
		}
		a.mu.Lock()
		a.tick(time.Now())
		a.flushLocked()
		calls := a.notify
		a.notify = nil
		a.mu.Unlock()
		for _, f := range calls {
			f()
		}
	}
}

// failOpen reports err to a waiting Open; under mu.
func (a *Adapter) failOpen(err error) {
	if a.opened != nil {
		a.opened <- err
		a.opened = nil
	}
}

// nextDeadline is when tick must run next; under mu.
func (a *Adapter) nextDeadline() time.Time {
	next := a.dhcp.deadline()
	for _, e := range a.arp {
		if !e.resolved && e.expires.Before(next) {
			next = e.expires
		}
	}
	return next
}

// tick runs what is due: ARP give-ups and expiries, DHCP retransmissions,
// renewal, rebinding and expiry; under mu.
func (a *Adapter) tick(now time.Time) {
	for ip, e := range a.arp {
		if e.expires.After(now) {
			continue
		}
		if !e.resolved {
			a.stats.giveUp.Add(uint64(len(e.waiting)))
		}
		a.dropWaiting(e)
		delete(a.arp, ip)
	}
	a.dhcpTick(now)
}

func (a *Adapter) dropWaiting(e *arpEntry) {
	for _, b := range e.waiting {
		a.free = append(a.free, b[:0])
	}
	a.queued -= len(e.waiting)
	clear(e.waiting)
	e.waiting = e.waiting[:0]
}

// setAddr installs a lease (or none) for the data path; under mu.
func (a *Adapter) setAddr(l Lease, bound bool) {
	a.lease = l
	s := &addrState{bound: bound && l.Addr.Addr().Is4()}
	if s.bound {
		s.ip = l.Addr.Addr().As4()
		s.mask = maskOf(l.Addr.Bits())
		for i := range 4 {
			s.subnetMaskedAddr[i] = s.ip[i] & s.mask[i]
			s.bcast[i] = s.ip[i] | ^s.mask[i]
		}
		if l.Gateway.Is4() {
			s.gw = l.Gateway.As4()
		}
		for _, r := range l.Routes {
			if r.Dest.Addr().Is4() && r.Gateway.Is4() {
				s.routes = append(s.routes, route4{dest: r.Dest.Masked().Addr().As4(), mask: maskOf(r.Dest.Bits()), bits: r.Dest.Bits(), gw: r.Gateway.As4()})
			}
		}
	}
	if s.ip != a.addr.ip || s.mask != a.addr.mask {
		// Neighbours of another subnet (or none) are of no use.
		for ip, e := range a.arp {
			a.dropWaiting(e)
			delete(a.arp, ip)
		}
	}
	a.addr = *s
	a.cur.Store(s)
}

func maskOf(bits int) [4]byte {
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], ^uint32(0)<<(32-bits))
	if bits == 0 {
		m = [4]byte{}
	}
	return m
}

func (s *addrState) inSubnet(ip [4]byte) bool {
	for i := range 4 {
		if ip[i]&s.mask[i] != s.subnetMaskedAddr[i] {
			return false
		}
	}
	return true
}

// nextHop is the address whose MAC a packet to dst goes to, as SoftEther's
// IPCSendIPv4 picks it: dst itself in the subnet, else the gateway of the
// longest matching classless route, else the default gateway. ok is false
// when there is none.
func (s *addrState) nextHop(dst [4]byte) (hop [4]byte, ok bool) {
	if s.inSubnet(dst) {
		return dst, true
	}
	best := -1
	for _, r := range s.routes {
		if r.bits > best && dst[0]&r.mask[0] == r.dest[0] && dst[1]&r.mask[1] == r.dest[1] &&
			dst[2]&r.mask[2] == r.dest[2] && dst[3]&r.mask[3] == r.dest[3] {
			best, hop = r.bits, r.gw
		}
	}
	if best < 0 {
		hop = s.gw
	}
	return hop, hop != [4]byte{}
}

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// sendLocked sends one packet from the client; under mu.
func (a *Adapter) sendLocked(p []byte, now time.Time) {
	ip, ok := ether.ParseIPv4(p)
	s := &a.addr
	if !ok || len(ip.Packet) > MaxPacket || !s.bound || ip.Src() != s.ip {
		a.stats.refused.Add(1)
		return
	}
	p = ip.Packet
	dst := ip.Dst()
	switch {
	case dst == [4]byte{} || dst == s.ip:
		a.stats.refused.Add(1)
		return
	case dst == [4]byte{255, 255, 255, 255} || dst == s.bcast:
		a.frame(broadcastMAC, ether.TypeIPv4, p)
		return
	case dst[0] >= 224 && dst[0] <= 239: // RFC 1112 multicast MAC
		a.frame([6]byte{0x01, 0x00, 0x5e, dst[1] & 0x7f, dst[2], dst[3]}, ether.TypeIPv4, p)
		return
	}
	hop, ok := s.nextHop(dst)
	if !ok {
		a.stats.refused.Add(1)
		return
	}
	e := a.arp[hop]
	if e != nil && e.resolved {
		e.expires = now.Add(ARPLifetime)
		a.frame(e.mac, ether.TypeIPv4, p)
		return
	}
	if e == nil {
		if len(a.arp) >= maxARPEntries {
			a.stats.queueFull.Add(1)
			return
		}
		e = &arpEntry{expires: now.Add(ARPGiveUp)}
		a.arp[hop] = e
		a.arpFrame(ether.ARPRequest, broadcastMAC, [6]byte{}, hop)
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	if a.queued >= a.cfg.ARPQueue {
		a.stats.queueFull.Add(1)
		return
	}
	var b []byte
	if n := len(a.free); n > 0 {
		b, a.free = a.free[n-1], a.free[:n-1]
	} else {
		b = make([]byte, 0, MaxPacket) // at most ARPQueue of them, reused
	}
	e.waiting = append(e.waiting, append(b, p...))
	a.queued++
}

// frame queues an Ethernet frame for the hub; under mu.
func (a *Adapter) frame(dst [6]byte, typ uint16, payload []byte) {
	if a.tx.full() {
		a.flushLocked()
	}
	f := a.tx.slot(14 + len(payload))
	copy(f[0:6], dst[:])
	copy(f[6:12], a.mac[:])
	binary.BigEndian.PutUint16(f[12:14], typ)
	copy(f[14:], payload)
	if typ == ether.TypeIPv4 {
		a.stats.sent.Add(1)
	}
}

// arpFrame queues an ARP packet from the adapter's address; under mu.
func (a *Adapter) arpFrame(op uint16, dstMAC, targetMAC [6]byte, targetIP [4]byte) {
	var p [28]byte
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], ether.TypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], op)
	copy(p[8:14], a.mac[:])
	copy(p[14:18], a.addr.ip[:])
	copy(p[18:24], targetMAC[:])
	copy(p[24:28], targetIP[:])
	a.frame(dstMAC, ether.TypeARP, p[:])
}

// flushLocked hands the queued frames to the hub; under mu, so that frames
// reach the hub in the order they were made.
func (a *Adapter) flushLocked() {
	if len(a.tx.frames) > 0 {
		a.port.Input(a.tx.frames)
		a.tx.reset()
	}
}

func unicastMAC(m [6]byte) bool { return m[0]&1 == 0 && m != [6]byte{} }

// receive handles one frame from the hub; under rxMu.
func (a *Adapter) receive(f []byte) {
	if len(f) < 14 {
		return
	}
	dst, src := [6]byte(f[0:6]), [6]byte(f[6:12])
	// As SoftEther's IPCProcessL3EventsEx: frames to the adapter, to
	// broadcast or multicast, from another, valid source.
	if (dst != a.mac && dst[0]&1 == 0) || src == a.mac || !unicastMAC(src) {
		return
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case ether.TypeARP:
		if arp, ok := ether.ParseARP(f[14:]); ok {
			a.ctl = true
			a.mu.Lock()
			a.handleARP(arp, time.Now())
			a.mu.Unlock()
		}
	case ether.TypeIPv4:
		a.receiveIPv4(src, f[14:])
	}
}

func (a *Adapter) receiveIPv4(src [6]byte, p []byte) {
	ip, ok := ether.ParseIPv4(p)
	if !ok {
		return
	}
	s := a.cur.Load()
	dst := ip.Dst()
	if s.bound && dst != s.ip && dst != [4]byte{255, 255, 255, 255} && dst != s.bcast && !(dst[0] >= 224 && dst[0] <= 239) {
		return // not for this client
	}
	if pl := ip.Payload(); ip.Proto() == ether.ProtoUDP && !ip.Fragmented() && len(pl) >= 8 &&
		binary.BigEndian.Uint16(pl[0:2]) == 67 && binary.BigEndian.Uint16(pl[2:4]) == 68 {
		// DHCP to the client port is the adapter's own business.
		a.ctl = true
		a.mu.Lock()
		a.handleDHCP(pl[8:max(8, min(len(pl), int(binary.BigEndian.Uint16(pl[4:6]))))], src, ip.Src(), time.Now())
		a.mu.Unlock()
		return
	}
	if !s.bound {
		return
	}
	if sip := ip.Src(); s.inSubnet(sip) {
		// A neighbour talking to us: learn (refresh) its MAC, as
		// IPCAssociateOnArpTable does for every IPv4 packet; for a
		// stream from one neighbour once a second is enough (the entry
		// lives ARPLifetime), which keeps the adapter's mutex off the
		// per-packet path.
		if sip != a.seen.ip || src != a.seen.mac || a.seen.n >= seenEvery {
			now := time.Now()
			if sip != a.seen.ip || src != a.seen.mac || now.Sub(a.seen.at) >= time.Second {
				a.mu.Lock()
				a.associate(sip, src, now)
				a.ctl = a.ctl || len(a.tx.frames) > 0 // packets that waited for it
				a.mu.Unlock()
				a.seen.ip, a.seen.mac, a.seen.at = sip, src, now
			}
			a.seen.n = 0
		}
		a.seen.n++
	}
	if a.rx.full() {
		a.deliver()
	}
	copy(a.rx.slot(len(ip.Packet)), ip.Packet)
}

// deliver hands the received packets to the protocol; under rxMu.
func (a *Adapter) deliver() {
	if len(a.rx.frames) == 0 {
		return
	}
	a.stats.received.Add(uint64(len(a.rx.frames)))
	if a.cfg.Deliver != nil {
		a.cfg.Deliver(a.rx.frames)
	}
	a.rx.reset()
}

// handleARP learns from an ARP packet and answers a request for the
// adapter's address (SoftEther IPCProcessArp); under mu.
func (a *Adapter) handleARP(arp ether.ARP, now time.Time) {
	s := &a.addr
	sip := arp.SenderIP()
	if !s.bound || sip == s.ip {
		return
	}
	a.associate(sip, arp.SenderMAC(), now)
	a.associate(arp.TargetIP(), arp.TargetMAC(), now)
	if arp.Op() == ether.ARPRequest && arp.TargetIP() == s.ip && unicastMAC(arp.SenderMAC()) {
		a.arpFrame(ether.ARPReply, arp.SenderMAC(), arp.SenderMAC(), sip)
	}
}

// associate records that ip is at mac, and sends what waited for it; under
// mu. Only unicast neighbours in the subnet are kept (SoftEther
// IPCAssociateOnArpTable).
func (a *Adapter) associate(ip [4]byte, mac [6]byte, now time.Time) {
	s := &a.addr
	if !unicastMAC(mac) || mac == a.mac || ip == s.ip || ip == s.bcast || ip == [4]byte{} ||
		ip[0] >= 224 || ip[0] == 127 || !s.inSubnet(ip) {
		return
	}
	e := a.arp[ip]
	if e == nil {
		if len(a.arp) >= maxARPEntries {
			return
		}
		e = &arpEntry{}
		a.arp[ip] = e
	}
	e.mac, e.resolved, e.expires = mac, true, now.Add(ARPLifetime)
	for _, p := range e.waiting {
		a.frame(mac, ether.TypeIPv4, p)
	}
	a.dropWaiting(e)
}
