package hub

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for ageing tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

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

// testHub returns a hub with SoftEther defaults and a fake clock.
func testHub(t testing.TB, mod func(*Options)) (*Hub, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	opt := DefaultOptions()
	opt.Clock = clk.Now
	if mod != nil {
		mod(&opt)
	}
	h := New("TEST", opt)
	t.Cleanup(h.Close)
	return h, clk
}

func attach(t testing.TB, h *Hub, name string, pol Policy) *Port {
	t.Helper()
	return attachKind(t, h, name, KindBridge, pol)
}

func attachKind(t testing.TB, h *Hub, name string, kind Kind, pol Policy) *Port {
	t.Helper()
	p, err := h.Attach(PortConfig{Name: name, User: name, Kind: kind, Policy: pol})
	if err != nil {
		t.Fatalf("Attach %s: %v", name, err)
	}
	return p
}

// clientPolicy is the client-mode policy: NoBridge and NoRouting forced.
var clientPolicy = Policy{NoBridge: true, NoRouting: true}

func mac(last byte) [6]byte { return [6]byte{0x02, 0, 0, 0, 0, last} }

var bcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func eth(dst, src [6]byte, etherType uint16, payload []byte) []byte {
	b := make([]byte, 14, 14+len(payload))
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etherType)
	b = append(b, payload...)
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

// raw builds a plain non-IP frame (ethertype 0x88B5, local experimental).
func raw(dst, src [6]byte) []byte { return eth(dst, src, 0x88b5, []byte("hello")) }

func ipv4(src, dst string, proto byte, tos byte, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0] = 0x45
	b[1] = tos
	binary.BigEndian.PutUint16(b[2:4], uint16(20+len(l4)))
	b[8] = 64
	b[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	return append(b, l4...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint16(b[2:4], dport)
	binary.BigEndian.PutUint16(b[4:6], uint16(8+len(payload)))
	return append(b, payload...)
}

func tcp(sport, dport uint16, flags byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint16(b[2:4], dport)
	b[12] = 5 << 4
	b[13] = flags
	return b
}

func ipFrame(dst, src [6]byte, srcIP, dstIP string) []byte {
	return eth(dst, src, etherIPv4, ipv4(srcIP, dstIP, protoUDP, 0, udp(1000, 2000, []byte("x"))))
}

func arpRequest(src [6]byte, senderIP, targetIP string) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], etherIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], 1)
	copy(p[8:14], src[:])
	s, d := netip.MustParseAddr(senderIP).As4(), netip.MustParseAddr(targetIP).As4()
	copy(p[14:18], s[:])
	copy(p[24:28], d[:])
	return eth(bcast, src, etherARP, p)
}

// dhcp builds a DHCPv4 message (BOOTP op, DHCP type) from src to dst MAC.
func dhcp(dst, src [6]byte, op, msgType byte, chaddr [6]byte, yiaddr string) []byte {
	bp := make([]byte, bootpFixedLen, bootpFixedLen+8)
	bp[0], bp[1], bp[2] = op, 1, 6
	y := netip.MustParseAddr(yiaddr).As4()
	copy(bp[16:20], y[:])
	copy(bp[28:34], chaddr[:])
	bp = binary.BigEndian.AppendUint32(bp, dhcpCookie)
	bp = append(bp, 53, 1, msgType, 255)
	sport, dport := uint16(68), uint16(67)
	srcIP, dstIP := "0.0.0.0", "255.255.255.255"
	if op == 2 {
		sport, dport = 67, 68
		srcIP = "192.168.30.1"
	}
	return eth(dst, src, etherIPv4, ipv4(srcIP, dstIP, protoUDP, 0, udp(sport, dport, bp)))
}

func ipv6(src, dst string, next byte, l4 []byte) []byte {
	b := make([]byte, 40, 40+len(l4))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(l4)))
	b[6] = next
	b[7] = 255
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, l4...)
}

// drain returns and releases everything queued on p, as byte copies.
func drain(p *Port) [][]byte {
	var out [][]byte
	for _, f := range p.Drain(nil, 0) {
		out = append(out, append([]byte(nil), f.Bytes()...))
		f.Release()
	}
	return out
}

// expectFrames checks how many frames each port has queued, then empties them.
func expectFrames(t *testing.T, want map[*Port]int) {
	t.Helper()
	for p, n := range want {
		if got := len(drain(p)); got != n {
			t.Errorf("port %s: got %d frames, want %d", p.Name(), got, n)
		}
	}
}

func send(p *Port, frames ...[]byte) { p.Input(frames) }
