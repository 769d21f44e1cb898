package server

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// floodPort is a session.Port that always has another broadcast frame.
type floodPort struct {
	ready chan struct{}
	frame []byte
}

func (p *floodPort) Ready() <-chan struct{} { return p.ready }
func (p *floodPort) Input([][]byte)         {}
func (p *floodPort) Output(limit int, emit func([]byte)) int {
	for range limit {
		emit(p.frame)
	}
	select {
	case p.ready <- struct{}{}:
	default:
	}
	return limit
}

// TestStormingClientIsHeldBack: a client that floods broadcasts as fast as
// its two TCP connections take them is read no faster than the hub's storm
// pace, both connections together, from the start, so that the server
// neither decrypts a flood it drops anyway nor copies it to every session
// before the storm limiter acts.
func TestStormingClientIsHeldBack(t *testing.T) {
	if testing.Short() {
		t.Skip("streams for 3 s")
	}
	srv, addr := testServer(t)
	o := client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw", MaxConnections: 2}
	ctx := context.Background()
	w, first, err := client.Login(ctx, &o)
	if err != nil {
		t.Fatal(err)
	}
	p := &floodPort{ready: make(chan struct{}, 1), frame: ethFrame(bcast, mac(1), 1, 1514)}
	sess := session.New(p, session.Params{Role: session.Client, Timeout: w.Timeout, MaxConnections: int(w.MaxConnection), HalfDuplex: w.HalfConnection})
	t.Cleanup(func() { sess.Close(nil) })
	add := func(c *client.Conn) {
		if err := sess.AddConn(c.Raw, func(wire.Direction) (session.Stream, error) { return c.Stream, nil }); err != nil {
			t.Fatal(err)
		}
	}
	add(first)
	second, err := client.AdditionalConnect(ctx, &o, w, first.Cert())
	if err != nil {
		t.Fatal(err)
	}
	add(second)
	if sess.NumConns() != 2 {
		t.Fatalf("%d connections, want 2", sess.NumConns())
	}
	h := srv.LookupHub("DEFAULT")
	before := h.Stats().Recv.BroadcastBytes
	start := time.Now()
	p.ready <- struct{}{}
	time.Sleep(2 * time.Second)
	got, window := h.Stats().Recv.BroadcastBytes-before, time.Since(start)
	// The 1 MB burst, 10 MB/s (hub.stormPace) for the window, and a batch
	// per connection. Without the hold-back the server reads gigabytes
	// here.
	limit := uint64(1<<20+10<<20*window.Seconds()) + 2<<20
	t.Logf("the server read %.1f MB of the flood in %v (limit %.1f MB)", float64(got)/1e6, window, float64(limit)/1e6)
	if got > limit {
		t.Fatalf("the server read %d bytes of a broadcast flood in %v, want at most %d: the sender is not held back", got, window, limit)
	}
	if got == 0 {
		t.Fatalf("the server read nothing of the flood in %v: held back for good", window)
	}
}

// TestStormingOpenVPNClientIsDropped: the UDP read loop serves every
// OpenVPN client and cannot wait out a storm pause, so a UDP client that
// floods broadcasts has its data packets dropped before decryption while
// its hub port owes the pause: the hub takes in no more than the burst and
// the pace, and once the debt is paid the client's packets pass again.
func TestStormingOpenVPNClientIsDropped(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateUser", params("HubName", "DEFAULT", "Name", "alice", "AuthType", 1, "Auth_Password", "alicepw"))
	u := udpLoopback(t, s)
	c := dialOVPN(t, u.Addr().(*net.UDPAddr), "alice@DEFAULT", "alicepw")
	sc := u.table.Load().byPeer[uint32(c.peerID)]
	if sc == nil || !waitFor(func() bool { return sc.authed.Load() }) {
		t.Fatal("the client did not log in")
	}
	h := s.LookupHub("DEFAULT")
	before := h.Stats().Recv.BroadcastBytes
	frame := ethFrame(bcast, mac(1), 1, 1400)
	start := time.Now()
	const n = 4000 // 5.6 MB: several times the 1 MB burst
	for range n {
		c.sendData(frame)
	}
	sent := time.Since(start)
	if !waitFor(func() bool { return s.ovpn.StormHeld.Load() > 0 }) {
		t.Fatalf("no data packet dropped for the storm hold-back (%d taken in by the hub)", h.Stats().Recv.BroadcastBytes-before)
	}
	time.Sleep(100 * time.Millisecond) // let the read loop finish the batch it holds
	got, elapsed := h.Stats().Recv.BroadcastBytes-before, time.Since(start)
	// The 1 MB burst, 10 MB/s for as long as the flood could be read,
	// and a read batch.
	limit := uint64(1<<20+10<<20*elapsed.Seconds()) + 256<<10
	t.Logf("sent %d frames in %v; the hub took in %.1f MB in %v (limit %.1f MB), %d packets dropped held", n, sent, float64(got)/1e6, elapsed, float64(limit)/1e6, s.ovpn.StormHeld.Load())
	if got > limit {
		t.Fatalf("the hub took in %d bytes of the flood, want at most %d", got, limit)
	}
	// Paid off after at most stormPauseMax: packets pass again.
	time.Sleep(time.Second)
	in := sc.sess.Stats.DataIn.Load()
	c.sendData(arpFrame(1))
	if !waitFor(func() bool { return sc.sess.Stats.DataIn.Load() == in+1 }) {
		t.Fatalf("a data packet after the pause was not taken in (DataIn %d, want %d)", sc.sess.Stats.DataIn.Load(), in+1)
	}
}

// TestStormingWireGuardClientIsDropped: as for OpenVPN over UDP, a
// WireGuard client that floods broadcasts has its transport messages
// dropped before the library decrypts them while its hub port owes the
// storm pause.
func TestStormingWireGuardClientIsDropped(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateUser", params("HubName", "DEFAULT", "Name", "alice", "AuthType", 1, "Auth_Password", "alicepw"))
	call(t, d, serverAdm, "EnableSecureNAT", params("HubName", "DEFAULT"))
	u, srvPub := wgListen(t, s)
	c := newWGClient(t, srvPub, u.Addr().(*net.UDPAddr).AddrPort())
	if err := s.ctl.AddWireGuardKeys([]config.WireGuardKey{{Key: c.key.PublicKey().String(), Hub: "DEFAULT", User: "alice"}}); err != nil {
		t.Fatal(err)
	}
	src, gw := netip.MustParseAddr("192.168.30.77"), netip.MustParseAddr("192.168.30.1")
	if !c.ping(src, gw, 15*time.Second) {
		t.Fatalf("no echo reply from SecureNAT through WireGuard; stats %+v", &s.wguard.stats)
	}
	h := s.LookupHub("DEFAULT")
	before := h.Stats().Recv.BroadcastBytes
	// UDP to the limited broadcast address: an Ethernet broadcast in the hub.
	pkt := make([]byte, 1400)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	copy(pkt[12:16], src.AsSlice())
	copy(pkt[16:20], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(pkt[10:], inetChecksum(pkt[:20]))
	binary.BigEndian.PutUint16(pkt[20:], 9999)
	binary.BigEndian.PutUint16(pkt[22:], 9)
	binary.BigEndian.PutUint16(pkt[24:], uint16(len(pkt)-20))
	start := time.Now()
	const n = 4000 // 5.6 MB: several times the 1 MB burst
	for range n {
		c.tun.Outbound <- pkt
	}
	if !waitFor(func() bool { return s.wguard.stats.StormHeld.Load() > 0 }) {
		t.Fatalf("no transport message dropped for the storm hold-back (%d taken in by the hub)", h.Stats().Recv.BroadcastBytes-before)
	}
	time.Sleep(100 * time.Millisecond)
	got, elapsed := h.Stats().Recv.BroadcastBytes-before, time.Since(start)
	// The 1 MB burst, 10 MB/s for as long as the flood could be read, and
	// what the device's queue held when the hold began.
	limit := uint64(1<<20+10<<20*elapsed.Seconds()) + wgQueue*1500
	t.Logf("sent %d packets; the hub took in %.1f MB in %v (limit %.1f MB), %d messages dropped held", n, float64(got)/1e6, elapsed, float64(limit)/1e6, s.wguard.stats.StormHeld.Load())
	if got > limit {
		t.Fatalf("the hub took in %d bytes of the flood, want at most %d", got, limit)
	}
	time.Sleep(time.Second) // the debt is paid: the client passes again
	if !c.ping(src, gw, 5*time.Second) {
		t.Fatal("no echo reply after the pause")
	}
}
