// Package l3 is SoftEther's virtual layer-3 switch: an IPv4 router whose
// interfaces are ports on Virtual Hubs (docs/protocol/hub.md#layer-3-switch).
//
// A Switch has one interface per hub (IP address and subnet) and static
// routes. Run keeps it attached while every hub exists and is online and
// detaches all interfaces as soon as one hub goes away, polling every 50 ms
// as SoftEther does. While online, one goroutine per interface drains its
// port in batches and routes the frames under the switch lock (the routing
// state is small and shared by all interfaces); the frames it produces are
// collected in reusable per-goroutine buffers and handed to the destination
// ports after the lock is released. Route selection takes the longest prefix
// first and then the lowest metric, where SoftEther can pick a shorter one.
package l3

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/sha0"
)

// Timing and limits of docs/protocol/hub.md#layer-3-switch.
const (
	pollInterval   = 50 * time.Millisecond // online check and timers
	arpLifetime    = 30 * time.Second      // ARP entries expire after the last packet
	arpRetry       = time.Second           // unresolved next hops are asked again
	arpGiveUp      = 5 * time.Second       // ... for this long
	pendingLife    = 5 * time.Second       // packets wait this long for ARP
	beaconInterval = 5 * time.Second
	maxPending     = 1024 // packets waiting for ARP, switch-wide
	drainBatch     = 256  // frames taken from a port at once
	maxOut         = 4096 // frames produced by one batch
)

// Interface is one interface of the switch: its hub and address.
type Interface struct {
	HubName string
	Addr    netip.Prefix // interface IP and subnet length, e.g. 10.1.0.1/24
}

// Route is a static route. Its gateway must lie in an interface subnet.
type Route struct {
	Network netip.Prefix // masked network
	Gateway netip.Addr
	Metric  uint32
}

// Config describes a switch.
type Config struct {
	Name       string
	Interfaces []Interface
	Routes     []Route
	// Lookup returns the named hub, or nil if it does not exist. The switch
	// calls it every poll, so hubs may come and go.
	Lookup func(hubName string) *hub.Hub
	// SessionName names the interface session on a hub; nil gives
	// SID-L3-<SWITCH>-<n> with a switch-local n.
	SessionName func(hubName string) string
	// Log receives the start, online, offline and stop events; nil discards.
	Log *slog.Logger
	// Clock returns the current time; nil means time.Now. For tests.
	Clock func() time.Time
}

// Switch is one virtual layer-3 switch.
type Switch struct {
	name   string
	lookup func(string) *hub.Hub
	sessFn func(string) string
	log    *slog.Logger
	clock  func() time.Time
	epoch  time.Time
	every  time.Duration // poll interval; tests shorten it

	online atomic.Bool
	broken atomic.Bool   // a port was disconnected by its hub
	kick   chan struct{} // wakes Run early
	nsess  atomic.Uint64

	// Owned by Run.
	hubs  []*hub.Hub
	ports []*hub.Port
	stop  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex // routing state below
	ifs     []iface    // sorted by hub name (route lookup order, docs/protocol/hub.md#layer-3-switch)
	routes  []route    // longest prefix first, then lowest metric
	arp     map[uint32]arpEntry
	waits   map[uint32]arpWait
	pend    []*pendingPkt
	free    []*pendingPkt
	npend   int // pending packets allocated (bounded by maxPending)
	ipID    uint16
	scratch [ether.MaxFrameSize]byte // generated IP packets
	drops   uint64
}

type iface struct {
	hubName              string
	ip, mask, net, bcast uint32
	mac                  [6]byte
	nextBeacon           int64
}

func (f *iface) contains(ip uint32) bool { return ip&f.mask == f.net }

type route struct {
	net, mask, gw uint32
	bits          int
	metric        uint32
}

type arpEntry struct {
	mac     [6]byte
	expires int64
}

type arpWait struct {
	ifc         int
	start, last int64
}

// pendingPkt is a frame waiting for its next hop's MAC: everything but the
// destination MAC is filled in.
type pendingPkt struct {
	nh       uint32
	ifc      int
	deadline int64
	n        int
	buf      [ether.MaxFrameSize]byte
}

// New checks cfg and returns a stopped switch; Run runs it.
func New(cfg Config) (*Switch, error) {
	if cfg.Name == "" {
		return nil, errors.New("l3: switch needs a name")
	}
	if len(cfg.Interfaces) == 0 {
		return nil, fmt.Errorf("l3: switch %s has no interfaces", cfg.Name)
	}
	if cfg.Lookup == nil {
		return nil, errors.New("l3: Config.Lookup is required")
	}
	s := &Switch{
		name: cfg.Name, lookup: cfg.Lookup, sessFn: cfg.SessionName, log: cfg.Log, clock: cfg.Clock,
		every: pollInterval, kick: make(chan struct{}, 1),
		arp: map[uint32]arpEntry{}, waits: map[uint32]arpWait{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	s.epoch = s.clock()
	for _, x := range cfg.Interfaces {
		a := x.Addr.Addr()
		if !a.Is4() || x.Addr.Bits() <= 0 || x.Addr.Bits() > 30 || x.HubName == "" {
			return nil, fmt.Errorf("l3: switch %s: bad interface %s %s", cfg.Name, x.HubName, x.Addr)
		}
		ip := u32(a)
		mask := ^uint32(0) << (32 - x.Addr.Bits())
		f := iface{hubName: x.HubName, ip: ip, mask: mask, net: ip & mask, bcast: ip | ^mask}
		if ip == f.net || ip == f.bcast {
			return nil, fmt.Errorf("l3: switch %s: %s is not a host address", cfg.Name, x.Addr)
		}
		if slices.ContainsFunc(s.ifs, func(g iface) bool { return strings.EqualFold(g.hubName, x.HubName) }) {
			return nil, fmt.Errorf("l3: switch %s: two interfaces on hub %s", cfg.Name, x.HubName)
		}
		f.mac = interfaceMAC(cfg.Name, x.HubName, a)
		s.ifs = append(s.ifs, f)
	}
	slices.SortStableFunc(s.ifs, func(a, b iface) int { return cmp.Compare(strings.ToUpper(a.hubName), strings.ToUpper(b.hubName)) })
	for _, r := range cfg.Routes {
		if !r.Network.Addr().Is4() || !r.Gateway.Is4() || r.Gateway.IsUnspecified() || r.Gateway == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return nil, fmt.Errorf("l3: switch %s: bad route %s via %s", cfg.Name, r.Network, r.Gateway)
		}
		p := r.Network.Masked()
		var mask uint32
		if p.Bits() > 0 {
			mask = ^uint32(0) << (32 - p.Bits())
		}
		s.routes = append(s.routes, route{net: u32(p.Addr()), mask: mask, gw: u32(r.Gateway), bits: p.Bits(), metric: r.Metric})
	}
	// [GO] longest prefix, then lowest metric (docs/protocol/hub.md#layer-3-switch weakness fixed).
	slices.SortStableFunc(s.routes, func(a, b route) int {
		if c := cmp.Compare(b.bits, a.bits); c != 0 {
			return c
		}
		return cmp.Compare(a.metric, b.metric)
	})
	return s, nil
}

// interfaceMAC is 5E:A3 and four bytes of SHA-0(switch ‖ hub ‖ IP) (docs/protocol/hub.md#layer-3-switch).
func interfaceMAC(sw, hubName string, ip netip.Addr) [6]byte {
	b := append([]byte(sw+hubName), ip.AsSlice()...)
	h := sha0.Sum(b)
	return [6]byte{0x5e, 0xa3, h[0], h[1], h[2], h[3]}
}

// Name returns the switch name.
func (s *Switch) Name() string { return s.name }

// Online reports whether the interfaces are attached to their hubs.
func (s *Switch) Online() bool { return s.online.Load() }

// Dropped returns how many packets were dropped for lack of an ARP answer
// or queue room.
func (s *Switch) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drops
}

func (s *Switch) now() int64 { return int64(s.clock().Sub(s.epoch)) }

func (s *Switch) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run runs the switch until ctx is done: it attaches the interfaces when all
// hubs are online, detaches them when one is not, and drives the timers
// (ARP retries and expiry, waiting packets, beacons).
func (s *Switch) Run(ctx context.Context) {
	s.log.Info("virtual layer-3 switch started", "switch", s.name)
	out := newOutbox(len(s.ifs))
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		if s.online.Load() && !s.healthy() {
			s.goOffline()
		}
		if !s.online.Load() {
			s.tryOnline()
		}
		if s.online.Load() {
			s.mu.Lock()
			s.poll(s.now(), out)
			s.mu.Unlock()
			out.flush(s.ports)
		}
		select {
		case <-ctx.Done():
			if s.online.Load() {
				s.goOffline()
			}
			s.log.Info("virtual layer-3 switch stopped", "switch", s.name)
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// healthy reports whether every hub is still the one attached to and online
// and no port was disconnected.
func (s *Switch) healthy() bool {
	if s.broken.Load() {
		return false
	}
	for i, f := range s.ifs {
		h := s.lookup(f.hubName)
		if h == nil || h != s.hubs[i] || !h.Online() {
			return false
		}
	}
	return true
}

func (s *Switch) tryOnline() {
	hubs := make([]*hub.Hub, len(s.ifs))
	for i, f := range s.ifs {
		h := s.lookup(f.hubName)
		if h == nil || !h.Online() {
			return
		}
		hubs[i] = h
	}
	s.broken.Store(false)
	ports := make([]*hub.Port, len(s.ifs))
	for i, h := range hubs {
		p, err := h.Attach(hub.PortConfig{
			Name: s.sessionName(s.ifs[i].hubName), User: "L3SW_" + s.name, Kind: hub.KindL3,
			Disconnect: func(error) { s.broken.Store(true); s.wake() },
		})
		if err != nil {
			for _, q := range ports[:i] {
				q.Close()
			}
			return
		}
		ports[i] = p
	}
	s.mu.Lock()
	s.resetLocked()
	now := s.now()
	for i := range s.ifs {
		s.ifs[i].nextBeacon = now
	}
	s.mu.Unlock()
	s.hubs, s.ports, s.stop = hubs, ports, make(chan struct{})
	for i := range ports {
		s.wg.Add(1)
		go s.worker(i, ports, s.stop)
	}
	s.online.Store(true)
	s.log.Info("virtual layer-3 switch online", "switch", s.name)
}

func (s *Switch) sessionName(hubName string) string {
	if s.sessFn != nil {
		return s.sessFn(hubName)
	}
	return fmt.Sprintf("SID-L3-%s-%d", strings.ToUpper(s.name), s.nsess.Add(1))
}

func (s *Switch) goOffline() {
	close(s.stop)
	s.wg.Wait()
	for _, p := range s.ports {
		p.Close()
	}
	s.hubs, s.ports = nil, nil
	s.mu.Lock()
	s.resetLocked()
	s.mu.Unlock()
	s.online.Store(false)
	s.log.Info("virtual layer-3 switch offline", "switch", s.name)
}

// resetLocked forgets addresses and waiting packets.
func (s *Switch) resetLocked() {
	clear(s.arp)
	clear(s.waits)
	s.free = append(s.free, s.pend...)
	clear(s.pend)
	s.pend = s.pend[:0]
}

// worker routes the frames arriving on interface i until stop is closed.
func (s *Switch) worker(i int, ports []*hub.Port, stop <-chan struct{}) {
	defer s.wg.Done()
	// A panic takes the switch offline like a lost port; Run brings it
	// back when its hubs are there.
	defer guard.Recover(s.log, "virtual layer-3 switch "+s.name, func(error) { s.broken.Store(true); s.wake() })
	p := ports[i]
	out := newOutbox(len(ports))
	batch := make([]*hub.Frame, 0, drainBatch)
	for {
		select {
		case <-stop:
			return
		case <-p.Done():
			s.broken.Store(true)
			s.wake()
			return
		case <-p.Ready():
		}
		p.DrainBatches(batch, 0, func(frames []*hub.Frame) bool {
			s.mu.Lock()
			now := s.now()
			for _, f := range frames {
				s.handle(i, f.Bytes(), now, out)
			}
			s.mu.Unlock()
			out.flush(ports)
			return true
		})
	}
}

// outbox collects the frames a batch produces, per interface, in reusable
// buffers, so that they reach the hubs outside the switch lock.
type outbox struct {
	slots [][]byte
	used  int
	per   [][][]byte
}

func newOutbox(n int) *outbox { return &outbox{per: make([][][]byte, n)} }

// take returns a buffer of n bytes queued for interface i, or nil when the
// batch has produced too much already.
func (o *outbox) take(i, n int) []byte {
	if o.used == maxOut {
		return nil
	}
	if o.used == len(o.slots) {
		o.slots = append(o.slots, make([]byte, ether.MaxFrameSize))
	}
	b := o.slots[o.used][:n]
	o.used++
	o.per[i] = append(o.per[i], b)
	return b
}

// flush hands the queued frames to the ports (nil ports discard them).
func (o *outbox) flush(ports []*hub.Port) {
	for i, fs := range o.per {
		if len(fs) > 0 && i < len(ports) && ports[i] != nil {
			ports[i].Input(fs)
		}
		clear(fs)
		o.per[i] = fs[:0]
	}
	o.used = 0
}
