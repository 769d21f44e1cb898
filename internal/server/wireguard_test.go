package server

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/wireguard"
)

// wgTestClient is the WireGuard library as a client, over loopback UDP,
// with a channel tun to write and read inner packets.
type wgTestClient struct {
	dev *device.Device
	tun *tuntest.ChannelTUN
	key wireguard.Key
}

func newWGKey() wireguard.Key {
	var k wireguard.Key
	rand.Read(k[:])
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return k
}

func newWGClient(t *testing.T, server wireguard.Key, to netip.AddrPort) *wgTestClient {
	t.Helper()
	c := &wgTestClient{tun: tuntest.NewChannelTUN(), key: newWGKey()}
	c.dev = device.NewDevice(c.tun.TUN(), conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
	t.Cleanup(c.dev.Close)
	err := c.dev.IpcSet(fmt.Sprintf("private_key=%s\npublic_key=%s\nendpoint=%s\nallowed_ip=0.0.0.0/0\n",
		hex.EncodeToString(c.key[:]), hex.EncodeToString(server[:]), to))
	if err == nil {
		err = c.dev.Up()
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ping sends an ICMP echo from src to dst through the tunnel and waits for
// the echo reply.
func (c *wgTestClient) ping(src, dst netip.Addr, wait time.Duration) bool {
	deadline := time.After(wait)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case c.tun.Outbound <- icmpEcho(src, dst):
		case <-deadline:
			return false
		}
		select {
		case p := <-c.tun.Inbound:
			if len(p) >= 28 && p[9] == 1 && p[20] == 0 && netip.AddrFrom4([4]byte(p[12:16])) == dst && netip.AddrFrom4([4]byte(p[16:20])) == src {
				return true
			}
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
}

// A WireGuard client whose key is in WireGuardKeyList completes a real
// handshake with the library, gets a hub session named as SoftEther names
// it, with the address of its first packet, and reaches SecureNAT's
// virtual host; an unknown key gets nothing; deleting the key ends the
// session.
func TestWireGuardSecureNAT(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateUser", params("HubName", "DEFAULT", "Name", "alice", "AuthType", 1, "Auth_Password", "alicepw"))
	call(t, d, serverAdm, "EnableSecureNAT", params("HubName", "DEFAULT"))
	u, srvPub := wgListen(t, s)
	to := u.Addr().(*net.UDPAddr).AddrPort()

	c := newWGClient(t, srvPub, to)
	if err := s.ctl.AddWireGuardKeys([]config.WireGuardKey{{Key: c.key.PublicKey().String(), Hub: "DEFAULT", User: "alice"}}); err != nil {
		t.Fatal(err)
	}
	src, gw := netip.MustParseAddr("192.168.30.77"), netip.MustParseAddr("192.168.30.1")
	if !c.ping(src, gw, 15*time.Second) {
		t.Fatalf("no echo reply from SecureNAT through WireGuard; stats %+v", &s.wguard.stats)
	}
	out := call(t, d, serverAdm, "EnumSession", params("HubName", "DEFAULT"))
	var name string
	for i := range out.Count("Name") {
		if n := strAt(out, "Name", i); strings.HasPrefix(n, "SID-ALICE-[WIREGUARD]-") {
			name = n
		}
	}
	if name == "" {
		t.Fatal("EnumSession does not list SID-ALICE-[WIREGUARD]-n")
	}
	s.wguard.mu.Lock()
	p := s.wguard.byKey[c.key.PublicKey()]
	s.wguard.mu.Unlock()
	if p == nil || p.ad.Load() == nil || p.ad.Load().Lease().Addr != netip.PrefixFrom(src, 24) {
		t.Fatal("the session's address is not the source of the first packet")
	}
	var hw handshakeTimeWriter
	p.dev.IpcGetOperation(&hw)
	if hw.sec == 0 || time.Since(p.lastHandshake()) > time.Minute {
		t.Fatalf("the device's last handshake reads as %d (unix seconds)", hw.sec)
	}

	// The client roams to another port: the library takes the endpoint of
	// its authenticated datagrams, and answers follow it.
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	if err := c.dev.IpcSet(fmt.Sprintf("listen_port=%d\n", port)); err != nil {
		t.Fatal(err)
	}
	if !c.ping(src, gw, 10*time.Second) {
		t.Fatal("no echo reply after the client roamed")
	}
	if ep := p.ep.Load(); ep == nil || ep.addr.Port() != uint16(port) {
		t.Fatalf("the client's endpoint is %v after it roamed to port %d", ep, port)
	}

	// An unknown key: dropped and counted, never answered.
	stranger := newWGClient(t, srvPub, to)
	if stranger.ping(src, gw, 2*time.Second) {
		t.Fatal("an unknown key got an answer")
	}
	if s.wguard.stats.UnknownKey.Load() == 0 {
		t.Fatal("the unknown key's initiations were not counted")
	}

	// Deleting the key ends the session.
	if err := s.ctl.DeleteWireGuardKeys([]string{c.key.PublicKey().String()}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool {
		s.wguard.mu.Lock()
		defer s.wguard.mu.Unlock()
		return len(s.wguard.byKey) == 0
	}) {
		t.Fatal("deleting the key did not end the client")
	}
	s.wguard.closers.Wait()
	out = call(t, d, serverAdm, "EnumSession", params("HubName", "DEFAULT"))
	for i := range out.Count("Name") {
		if strAt(out, "Name", i) == name {
			t.Fatal("the session outlived its key")
		}
	}

	// With the key back, the client gets a new session; disabling
	// WireGuard ends it and drops what comes next.
	if err := s.ctl.AddWireGuardKeys([]config.WireGuardKey{{Key: c.key.PublicKey().String(), Hub: "DEFAULT", User: "alice"}}); err != nil {
		t.Fatal(err)
	}
	// The client would make a new handshake by itself after 15 s without
	// answers (its keepalive and rekey timeouts); restart its peer instead.
	if err := c.dev.IpcSet(fmt.Sprintf("public_key=%s\nremove=true\npublic_key=%s\nendpoint=%s\nallowed_ip=0.0.0.0/0\n",
		hex.EncodeToString(srvPub[:]), hex.EncodeToString(srvPub[:]), to)); err != nil {
		t.Fatal(err)
	}
	if !c.ping(src, gw, 15*time.Second) {
		t.Fatal("no echo reply after the key was added back")
	}
	if err := s.ctl.SetProtoOptions("WireGuard", []control.ProtoOption{{Name: "Enabled", Type: config.OptionBool, Bool: false}}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool {
		s.wguard.mu.Lock()
		defer s.wguard.mu.Unlock()
		return len(s.wguard.byKey) == 0
	}) {
		t.Fatal("disabling WireGuard did not end the client")
	}
	if c.ping(src, gw, 2*time.Second) || s.wguard.stats.Disabled.Load() == 0 {
		t.Fatalf("after WireGuard was disabled: answered, or nothing counted (Disabled %d)", s.wguard.stats.Disabled.Load())
	}
}

// Bad datagrams are dropped and counted: transport messages to unknown
// indices, initiations for another server key (never rate limited, so
// they cannot use up the rate), initiations of unknown keys, and floods
// of good-MAC initiations from one source and from many.
func TestWireGuardBadInput(t *testing.T) {
	s, _, _ := openAdmin(t)
	u, srvPub := wgListen(t, s)
	from := netip.MustParseAddrPort("192.0.2.1:5000")
	st := &s.wguard.stats

	transport := make([]byte, 64)
	transport[0] = wireguard.TypeTransport
	binary.LittleEndian.PutUint32(transport[4:], 12345)
	u.dispatch(from, transport)
	if st.UnknownIndex.Load() != 1 {
		t.Fatalf("UnknownIndex %d, want 1", st.UnknownIndex.Load())
	}
	junk := make([]byte, wireguard.InitiationSize)
	junk[0] = wireguard.TypeInitiation
	for range 30 {
		u.dispatch(from, junk)
	}
	if st.BadMAC1.Load() != 30 || st.RateLimited.Load() != 0 {
		t.Fatalf("BadMAC1 %d, RateLimited %d; want 30, 0", st.BadMAC1.Load(), st.RateLimited.Load())
	}
	stranger := wgInitiation(t, newWGKey(), srvPub)
	for range 25 { // the library's per-source burst is 5
		u.dispatch(from, stranger)
	}
	if n, l := st.UnknownKey.Load(), st.RateLimited.Load(); n < 5 || n > 6 || l < 19 {
		t.Fatalf("UnknownKey %d, RateLimited %d of 25 from one source; want a burst of 5, the rest limited", n, l)
	}
	// Another source is not held up by the first one's flood.
	unknown := st.UnknownKey.Load()
	u.dispatch(netip.MustParseAddrPort("192.0.2.2:5000"), stranger)
	if st.UnknownKey.Load() != unknown+1 {
		t.Fatal("another source's initiation was limited with the flooder's")
	}
	// Many sources at once: the total rate holds (a burst of
	// wgInitiationBurst, then wgInitiationRate a second).
	limited := st.RateLimited.Load()
	for i := range 2 * wgInitiationBurst {
		u.dispatch(netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), 5000), stranger)
	}
	if n := st.RateLimited.Load() - limited; n < wgInitiationBurst/2 {
		t.Fatalf("%d of %d initiations from distinct sources rate limited, want most beyond the burst of %d", n, 2*wgInitiationBurst, wgInitiationBurst)
	}
}

// wgListen serves s's UDP on a loopback port until the test ends and
// returns the port and the server's WireGuard public key.
func wgListen(tb testing.TB, s *Server) (*udpListener, wireguard.Key) {
	tb.Helper()
	priv, err := wireguard.ParseKey(s.ctl.Current().Proto.WireGuard.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	return udpLoopback(tb, s), priv.PublicKey()
}

// wgInitiation has the WireGuard library, as a client with key client,
// make a handshake initiation to the server key server.
func wgInitiation(t testing.TB, client, server wireguard.Key) []byte {
	t.Helper()
	binds := bindtest.NewChannelBinds()
	dev := device.NewDevice(tuntest.NewChannelTUN().TUN(), binds[0], device.NewLogger(device.LogLevelSilent, ""))
	defer dev.Close()
	err := dev.IpcSet(fmt.Sprintf("private_key=%s\npublic_key=%s\nendpoint=127.0.0.1:1\nallowed_ip=0.0.0.0/0\n",
		hex.EncodeToString(client[:]), hex.EncodeToString(server[:])))
	if err == nil {
		err = dev.Up()
	}
	if err != nil {
		t.Fatal(err)
	}
	fns, _, err := binds[1].Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer binds[1].Close()
	dev.LookupPeer(device.NoisePublicKey(server)).SendHandshakeInitiation(false)
	bufs, sizes, eps := [][]byte{make([]byte, 2048)}, make([]int, 1), make([]conn.Endpoint, 1)
	if n, err := fns[0](bufs, sizes, eps); err != nil || n != 1 {
		t.Fatalf("no initiation from the library: %v", err)
	}
	return bufs[0][:sizes[0]]
}

// Valid initiations of known keys make at most wgHalfOpenPerSource
// devices per source that have not sent a transport packet; beyond, they
// are dropped and counted; another source is not affected; a second
// initiation of a key goes to its device.
func TestWireGuardHalfOpen(t *testing.T) {
	s, _, _ := openAdmin(t)
	u, srvPub := wgListen(t, s)
	var inits [][]byte
	var keys []config.WireGuardKey
	for range wgHalfOpenPerSource + 3 {
		k := newWGKey()
		inits = append(inits, wgInitiation(t, k, srvPub))
		keys = append(keys, config.WireGuardKey{Key: k.PublicKey().String(), Hub: "DEFAULT", User: "alice"})
	}
	if err := s.ctl.AddWireGuardKeys(keys); err != nil {
		t.Fatal(err)
	}
	defer s.wguard.closeAll("test over")
	peers := func() int {
		s.wguard.mu.Lock()
		defer s.wguard.mu.Unlock()
		return len(s.wguard.byKey)
	}
	// 60 ms apart: within the library's per-source rate (20 a second).
	for i, m := range inits[:wgHalfOpenPerSource+2] {
		u.dispatch(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(40000+i)), m)
		time.Sleep(60 * time.Millisecond)
	}
	st := &s.wguard.stats
	if n := peers(); n != wgHalfOpenPerSource || st.HalfOpenDropped.Load() != 2 || st.RateLimited.Load() != 0 {
		t.Fatalf("%d devices, %d dropped, %d rate limited; want %d, 2, 0", n, st.HalfOpenDropped.Load(), st.RateLimited.Load(), wgHalfOpenPerSource)
	}
	u.dispatch(netip.MustParseAddrPort("127.0.0.2:40000"), inits[len(inits)-1])
	u.dispatch(netip.MustParseAddrPort("127.0.0.2:40000"), inits[0]) // a known key again: its device
	if n := peers(); n != wgHalfOpenPerSource+1 {
		t.Fatalf("%d devices after another source's initiation, want %d", n, wgHalfOpenPerSource+1)
	}
}

// The service's side of the data path allocates nothing per packet: a
// datagram queued for a device and received by it, a packet from the hub
// queued for the client and read by the device.
func TestWireGuardQueuesNoAlloc(t *testing.T) {
	p := &wgPeer{w: &wgService{}}
	p.bind.p, p.tun.p = p, p
	p.bind.in = make(chan wgDatagram, wgQueue)
	p.tun.q = make(chan wgDatagram, wgQueue)
	p.tun.closed = make(chan struct{})
	fns, _, err := p.bind.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	u := &udpListener{}
	from := netip.MustParseAddrPort("192.0.2.1:51820")
	pkt := make([]byte, 1400)
	bufs, sizes, eps := [][]byte{make([]byte, 2048), make([]byte, 2048)}, make([]int, 2), make([]conn.Endpoint, 2)
	hub := [][]byte{pkt[:1200], pkt[:60]}
	p.deliver(u, from, pkt) // the first datagram makes the endpoint
	fns[0](bufs, sizes, eps)
	allocs := testing.AllocsPerRun(1000, func() {
		p.deliver(u, from, pkt)
		p.deliver(u, from, pkt)
		if n, _ := fns[0](bufs, sizes, eps); n != 2 || sizes[0] != len(pkt) {
			t.Fatalf("received %d datagrams", n)
		}
		p.toClient(hub)
		if n, _ := p.tun.Read(bufs, sizes, 16); n != 2 || sizes[0] != 1200 || sizes[1] != 60 {
			t.Fatalf("read %d packets", n)
		}
	})
	if allocs != 0 && !wgRaceEnabled {
		t.Fatalf("%v allocations per round, want 0", allocs)
	}
	p.bind.Close()
	if _, err := fns[0](bufs, sizes, eps); err == nil {
		t.Fatal("a receive after Close did not fail")
	}
}

// FuzzWireGuardDispatch: no datagram makes the UDP port's WireGuard path
// panic (a server with a known key; seeds of each message type).
func FuzzWireGuardDispatch(f *testing.F) {
	s, _, _ := openAdmin(f)
	u, srvPub := wgListen(f, s)
	f.Cleanup(func() { s.wguard.closeAll("fuzzing over") })
	k := newWGKey()
	if err := s.ctl.AddWireGuardKeys([]config.WireGuardKey{{Key: k.PublicKey().String(), Hub: "DEFAULT", User: "alice"}}); err != nil {
		f.Fatal(err)
	}
	f.Add(wgInitiation(f, k, srvPub))
	for _, m := range [][]byte{
		append([]byte{2, 0, 0, 0}, make([]byte, wireguard.ResponseSize-4)...),
		append([]byte{3, 0, 0, 0}, make([]byte, wireguard.CookieReplySize-4)...),
		append([]byte{4, 0, 0, 0}, make([]byte, 60)...),
		{0x38, 0, 0, 0},
	} {
		f.Add(m)
	}
	from := netip.MustParseAddrPort("127.0.0.1:9")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		u.dispatch(from, pkt)
	})
}

// A key that maps to a user the hub does not have completes its
// handshake but gets no session: the login fails, is counted, and the
// device ends.
func TestWireGuardLoginRefused(t *testing.T) {
	s, _, _ := openAdmin(t)
	u, srvPub := wgListen(t, s)
	c := newWGClient(t, srvPub, u.Addr().(*net.UDPAddr).AddrPort())
	if err := s.ctl.AddWireGuardKeys([]config.WireGuardKey{{Key: c.key.PublicKey().String(), Hub: "DEFAULT", User: "nobody"}}); err != nil {
		t.Fatal(err)
	}
	if c.ping(netip.MustParseAddr("192.168.30.77"), netip.MustParseAddr("192.168.30.1"), 2*time.Second) {
		t.Fatal("a key of a user that does not exist got an answer")
	}
	if s.wguard.stats.LoginFailed.Load() == 0 {
		t.Fatal("the refused login was not counted")
	}
	if !waitFor(func() bool {
		s.wguard.mu.Lock()
		defer s.wguard.mu.Unlock()
		return len(s.wguard.byKey) == 0
	}) {
		t.Fatal("the device of a refused login did not end")
	}
	s.wguard.closers.Wait()
}

// icmpEcho is an ICMP echo request from src to dst, with good checksums.
func icmpEcho(src, dst netip.Addr) []byte {
	p := make([]byte, 20+8+8)
	p[0], p[8], p[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	copy(p[12:16], src.AsSlice())
	copy(p[16:20], dst.AsSlice())
	binary.BigEndian.PutUint16(p[10:], inetChecksum(p[:20]))
	p[20] = 8
	binary.BigEndian.PutUint16(p[24:], 0x1234)
	copy(p[28:], "ethervpn")
	binary.BigEndian.PutUint16(p[22:], inetChecksum(p[20:]))
	return p
}

func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
