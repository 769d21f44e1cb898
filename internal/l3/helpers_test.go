package l3

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/hub"
)

// fakeClock is a settable clock for the switch timers.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a running switch on in-process hubs.
type rig struct {
	t    *testing.T
	clk  *fakeClock
	mu   sync.Mutex
	hubs map[string]*hub.Hub
	sw   *Switch
}

// newRig creates one hub per interface (named by the interface) and runs a
// switch on them with a fast poll and a fake clock; it waits until online.
func newRig(t *testing.T, ifs []Interface, routes []Route) *rig {
	t.Helper()
	r := &rig{t: t, clk: &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, hubs: map[string]*hub.Hub{}}
	for _, x := range ifs {
		h := hub.New(x.HubName, hub.DefaultOptions())
		t.Cleanup(h.Close)
		r.hubs[strings.ToUpper(x.HubName)] = h
	}
	sw, err := New(Config{Name: "SW1", Interfaces: ifs, Routes: routes, Lookup: r.lookup, Clock: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	sw.every = 2 * time.Millisecond
	r.sw = sw
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sw.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r.waitOnline(true)
	return r
}

func (r *rig) lookup(name string) *hub.Hub {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hubs[strings.ToUpper(name)]
}

func (r *rig) waitOnline(want bool) {
	r.t.Helper()
	for deadline := time.Now().Add(2 * time.Second); r.sw.Online() != want; {
		if time.Now().After(deadline) {
			r.t.Fatalf("switch online = %v, want %v", r.sw.Online(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// settle gives the switch a few polls to run its timers.
func (r *rig) settle() { time.Sleep(20 * r.sw.every) }

// mac returns the switch's MAC on the named hub.
func (r *rig) mac(hubName string) [6]byte {
	for i := range r.sw.ifs {
		// Only the fields fixed at New: poll writes nextBeacon.
		if f := &r.sw.ifs[i]; f.hubName == hubName {
			return f.mac
		}
	}
	r.t.Fatalf("no interface on %s", hubName)
	return [6]byte{}
}

// host is a test machine on a hub.
type host struct {
	t   *testing.T
	p   *hub.Port
	mac [6]byte
	ip  netip.Addr
	// backlog holds frames drained but not yet matched, in arrival order.
	backlog [][]byte
}

func (r *rig) host(hubName, ip string, last byte) *host {
	r.t.Helper()
	p, err := r.lookup(hubName).Attach(hub.PortConfig{Name: "SID-" + ip, User: ip, Kind: hub.KindBridge})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(p.Close)
	return &host{t: r.t, p: p, mac: [6]byte{2, 0, 0, 0, 0, last}, ip: netip.MustParseAddr(ip)}
}

func (h *host) send(frames ...[]byte) { h.p.Input(frames) }

// expect waits for a frame that match accepts and returns a copy of it.
func (h *host) expect(what string, match func([]byte) bool) []byte {
	h.t.Helper()
	if b := h.wait(2*time.Second, match); b != nil {
		return b
	}
	h.t.Fatalf("%s: no such frame arrived", what)
	return nil
}

// none checks that no frame match accepts arrives for a short while.
func (h *host) none(what string, match func([]byte) bool) {
	h.t.Helper()
	if b := h.wait(100*time.Millisecond, match); b != nil {
		h.t.Fatalf("%s: unexpected frame % x", what, b)
	}
}

func (h *host) wait(d time.Duration, match func([]byte) bool) []byte {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var fs []*hub.Frame
	for {
		fs = h.p.Drain(fs[:0], 0)
		for _, f := range fs {
			h.backlog = append(h.backlog, append([]byte(nil), f.Bytes()...))
			f.Release()
		}
		for i, b := range h.backlog {
			if match(b) {
				h.backlog = slices.Delete(h.backlog, i, i+1)
				return b
			}
		}
		select {
		case <-h.p.Ready():
		case <-timer.C:
			return nil
		}
	}
}

// --- frame builders and matchers ---

func ip4(s string) uint32 { return u32(netip.MustParseAddr(s)) }

func arpFrame(op uint16, ethDst, sha [6]byte, spa string, tha [6]byte, tpa string) []byte {
	b := make([]byte, 60)
	writeARP(b, ethDst, sha, op, ip4(spa), tha, ip4(tpa))
	return b
}

// ipFrame builds an Ethernet/IPv4 frame with a valid header checksum.
func ipFrame(dst, src [6]byte, from, to string, ttl, proto byte, payload []byte) []byte {
	b := make([]byte, ethHeader+20+len(payload))
	writeEth(b, dst, src, ether.TypeIPv4)
	ip := b[ethHeader:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], 0x1234)
	ip[8], ip[9] = ttl, proto
	binary.BigEndian.PutUint32(ip[12:], ip4(from))
	binary.BigEndian.PutUint32(ip[16:], ip4(to))
	binary.BigEndian.PutUint16(ip[10:], ^ether.Checksum(ip[:20], 0))
	copy(ip[20:], payload)
	return b
}

// echo builds an ICMP echo request with a valid checksum.
func echo(seq uint16, data string) []byte {
	b := make([]byte, 8+len(data))
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], 0x4242)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], data)
	binary.BigEndian.PutUint16(b[2:], ^ether.Checksum(b, 0))
	return b
}

// isARP matches an ARP frame with the given operation and target address.
func isARP(op uint16, tpa string) func([]byte) bool {
	return func(b []byte) bool {
		return len(b) >= 42 && binary.BigEndian.Uint16(b[12:]) == ether.TypeARP &&
			binary.BigEndian.Uint16(b[20:]) == op && binary.BigEndian.Uint32(b[38:]) == ip4(tpa)
	}
}

// isIP matches an IPv4 frame from..to with the given protocol whose first
// payload byte (the ICMP type) is typ (any when typ < 0).
func isIP(from, to string, proto byte, typ int) func([]byte) bool {
	return func(b []byte) bool {
		if len(b) < ethHeader+21 || binary.BigEndian.Uint16(b[12:]) != ether.TypeIPv4 {
			return false
		}
		ip := b[ethHeader:]
		return binary.BigEndian.Uint32(ip[12:]) == ip4(from) && binary.BigEndian.Uint32(ip[16:]) == ip4(to) &&
			ip[9] == proto && (typ < 0 || int(ip[20]) == typ)
	}
}

// checkIP verifies the IPv4 header checksum and, for ICMP, the ICMP checksum.
func checkIP(t *testing.T, b []byte) {
	t.Helper()
	ip := b[ethHeader:]
	tot := int(binary.BigEndian.Uint16(ip[2:]))
	if ^ether.Checksum(ip[:20], 0) != 0 {
		t.Errorf("bad IPv4 header checksum in % x", ip[:20])
	}
	if ip[9] == ether.ProtoICMP && ^ether.Checksum(ip[20:tot], 0) != 0 {
		t.Errorf("bad ICMP checksum in % x", ip[20:tot])
	}
}
