package dhcpd

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	serverMAC = net.HardwareAddr{0x00, 0xac, 0x11, 0x22, 0x33, 0x44}
	macA      = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	macB      = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
	macC      = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x03}
	macD      = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x04}
	serverIP  = netip.MustParseAddr("192.168.30.1")
	bcastIP   = netip.MustParseAddr("255.255.255.255")
	zeroIP    = netip.MustParseAddr("0.0.0.0")
)

func ip4(s string) netip.Addr { return netip.MustParseAddr(s) }

// defaultConfig is SoftEther's default SecureNAT DHCP setting.
func defaultConfig() Config {
	return Config{
		ServerIP:   serverIP,
		Mask:       ip4("255.255.255.0"),
		RangeStart: ip4("192.168.30.10"),
		RangeEnd:   ip4("192.168.30.200"),
		Gateway:    serverIP,
		DNS:        serverIP,
		Domain:     "example.test",
		ServerMAC:  serverMAC,
	}
}

// logRecorder collects log messages; debug ones start with "DEBUG ".
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := rec.Message
	if rec.Level < slog.LevelInfo {
		m = "DEBUG " + m
	}
	r.msgs = append(r.msgs, m)
	return nil
}

// takeInfo is take without the debug lines (which the server's log level
// hides by default).
func (r *logRecorder) takeInfo() []string {
	var out []string
	for _, m := range r.take() {
		if !strings.HasPrefix(m, "DEBUG ") {
			out = append(out, m)
		}
	}
	return out
}

func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// harness drives one server with a fake clock.
type harness struct {
	t    *testing.T
	s    *Server
	now  time.Time
	logs *logRecorder
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, now: time.Date(2026, 4, 5, 12, 0, 0, 0, time.UTC), logs: &logRecorder{}}
	cfg.Log = slog.New(h.logs)
	cfg.Clock = func() time.Time { return h.now }
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.s = s
	return h
}

// reply is a decoded reply frame.
type reply struct {
	dstMAC       net.HardwareAddr
	srcIP, dstIP netip.Addr
	dstPort      uint16
	vlan         int // -1 if untagged
	msg          *dhcpv4.DHCPv4
	raw          []byte // DHCP payload
}

// request describes how a request travels.
type request struct {
	srcIP, dstIP netip.Addr
	vlan         int // -1 or 0 = untagged unless tagged is set
	tagged       bool
}

// send wraps msg in a broadcast frame from its chaddr and returns the
// replies (checked: checksums, lengths).
func (h *harness) send(msg *dhcpv4.DHCPv4) []reply {
	return h.sendVia(msg, request{srcIP: zeroIP, dstIP: bcastIP})
}

func (h *harness) sendVia(msg *dhcpv4.DHCPv4, rq request) []reply {
	h.t.Helper()
	return h.sendFrom(msg.ClientHWAddr, msg, rq)
}

// sendFrom sends msg in a frame whose Ethernet source is src, whatever
// chaddr the message carries.
func (h *harness) sendFrom(srcMAC net.HardwareAddr, msg *dhcpv4.DHCPv4, rq request) []reply {
	h.t.Helper()
	var src [6]byte
	copy(src[:], srcMAC)
	frame := buildFrame(src, broadcastMAC, rq.tagged, uint16(rq.vlan), rq.srcIP, rq.dstIP, 68, 67, 1, msg.ToBytes())
	out, ok := h.s.HandleFrame(frame, nil)
	if !ok {
		h.t.Fatalf("HandleFrame did not take a DHCP request")
	}
	var rs []reply
	for _, f := range out {
		rs = append(rs, decodeReply(h.t, f))
	}
	return rs
}

// one sends msg and expects exactly one reply.
func (h *harness) one(msg *dhcpv4.DHCPv4) reply {
	h.t.Helper()
	rs := h.send(msg)
	if len(rs) != 1 {
		h.t.Fatalf("%v: got %d replies, want 1", msg.MessageType(), len(rs))
	}
	return rs[0]
}

// none sends msg and expects no reply.
func (h *harness) none(msg *dhcpv4.DHCPv4) {
	h.t.Helper()
	if rs := h.send(msg); len(rs) != 0 {
		h.t.Fatalf("%v: got %d replies (%v), want none", msg.MessageType(), len(rs), rs[0].msg.MessageType())
	}
}

// sum16 is an independent Internet-checksum for the tests.
func sum16(parts ...[]byte) uint16 {
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint64
	for i := 0; i < len(all); i += 2 {
		s += uint64(binary.BigEndian.Uint16(all[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// decodeReply checks every header of a reply frame and decodes it.
func decodeReply(t *testing.T, f []byte) reply {
	t.Helper()
	r := reply{dstMAC: net.HardwareAddr(f[0:6]), vlan: -1}
	if got := net.HardwareAddr(f[6:12]); got.String() != serverMAC.String() {
		t.Fatalf("reply source MAC %v, want %v", got, serverMAC)
	}
	l3 := f[14:]
	if binary.BigEndian.Uint16(f[12:14]) == 0x8100 {
		r.vlan = int(binary.BigEndian.Uint16(f[14:16]))
		l3 = f[18:]
		if binary.BigEndian.Uint16(f[16:18]) != 0x0800 {
			t.Fatalf("tagged reply is not IPv4")
		}
	} else if binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
		t.Fatalf("reply is not IPv4")
	}
	if l3[0] != 0x45 || l3[8] != 128 || l3[9] != 17 || binary.BigEndian.Uint16(l3[6:8]) != 0 {
		t.Fatalf("IPv4 header % x: want version 4, IHL 5, TTL 128, UDP, DF clear", l3[:20])
	}
	if int(binary.BigEndian.Uint16(l3[2:4])) != len(l3) {
		t.Fatalf("IPv4 total length %d, frame carries %d", binary.BigEndian.Uint16(l3[2:4]), len(l3))
	}
	if sum16(l3[:20]) != 0 {
		t.Fatalf("bad IPv4 header checksum")
	}
	r.srcIP = netip.AddrFrom4([4]byte(l3[12:16]))
	r.dstIP = netip.AddrFrom4([4]byte(l3[16:20]))
	udp := l3[20:]
	if binary.BigEndian.Uint16(udp[0:2]) != 67 {
		t.Fatalf("reply source port %d", binary.BigEndian.Uint16(udp[0:2]))
	}
	r.dstPort = binary.BigEndian.Uint16(udp[2:4])
	if int(binary.BigEndian.Uint16(udp[4:6])) != len(udp) {
		t.Fatalf("UDP length mismatch")
	}
	pseudo := append(append([]byte{}, l3[12:20]...), 0, 17, udp[4], udp[5])
	if binary.BigEndian.Uint16(udp[6:8]) == 0 || sum16(pseudo, udp) != 0 {
		t.Fatalf("bad UDP checksum")
	}
	r.raw = udp[8:]
	if len(r.raw) < 300 {
		t.Fatalf("DHCP payload %d bytes, want at least 300", len(r.raw))
	}
	msg, err := dhcpv4.FromBytes(r.raw)
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	if msg.OpCode != dhcpv4.OpcodeBootReply {
		t.Fatalf("reply op %v", msg.OpCode)
	}
	r.msg = msg
	return r
}

// optionOrder lists the option codes of a raw DHCP payload in order.
func optionOrder(raw []byte) []byte {
	var codes []byte
	o := raw[240:]
	for len(o) > 0 && o[0] != 255 {
		if o[0] == 0 {
			o = o[1:]
			continue
		}
		codes = append(codes, o[0])
		o = o[2+int(o[1]):]
	}
	return codes
}

func discover(mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		panic(err)
	}
	return m
}

// newMsg builds a client message of the given type.
func newMsg(typ dhcpv4.MessageType, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	all := append([]dhcpv4.Modifier{dhcpv4.WithMessageType(typ), dhcpv4.WithHwAddr(mac)}, mods...)
	m, err := dhcpv4.New(all...)
	if err != nil {
		panic(err)
	}
	return m
}

// requestFor is a SELECTING-state REQUEST for ip from server sid.
func requestFor(mac net.HardwareAddr, ip, sid netip.Addr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	all := []dhcpv4.Modifier{dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ip.AsSlice()))}
	if sid.IsValid() {
		all = append(all, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(sid.AsSlice())))
	}
	return newMsg(dhcpv4.MessageTypeRequest, mac, append(all, mods...)...)
}

// lease runs DISCOVER + REQUEST for mac and returns the address acked.
func (h *harness) lease(mac net.HardwareAddr, mods ...dhcpv4.Modifier) netip.Addr {
	h.t.Helper()
	off := h.one(discover(mac, mods...))
	if off.msg.MessageType() != dhcpv4.MessageTypeOffer {
		h.t.Fatalf("got %v, want OFFER", off.msg.MessageType())
	}
	ip := addr4(off.msg.YourIPAddr)
	ack := h.one(requestFor(mac, ip, serverIP, mods...))
	if ack.msg.MessageType() != dhcpv4.MessageTypeAck || addr4(ack.msg.YourIPAddr) != ip {
		h.t.Fatalf("REQUEST %v: got %v %v", ip, ack.msg.MessageType(), ack.msg.YourIPAddr)
	}
	return ip
}

func (h *harness) offerFor(mac net.HardwareAddr) netip.Addr {
	h.t.Helper()
	r := h.one(discover(mac))
	return addr4(r.msg.YourIPAddr)
}
