package server

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/openvpn"
)

// testOVPN is a minimal OpenVPN client made of the protocol core, for the
// UDP port's tests: hard reset, TLS over P_CONTROL_V1 (loopback loses
// nothing, so it acks but never retransmits), key method 2, PUSH_REQUEST,
// then data packets with P_DATA_V2.
type testOVPN struct {
	t      *testing.T
	srv    *net.UDPAddr
	sid    uint64
	rsid   atomic.Uint64
	nextID uint32

	mu   sync.Mutex
	pc   *net.UDPConn // the socket it sends from (and reads)
	ctl  chan []byte  // control payloads, in order
	data chan []byte  // data packets as received

	dk     *openvpn.DataKeys
	peerID int
}

// dialOVPN logs in as user/password over UDP to srv with a tap device.
func dialOVPN(t *testing.T, srv *net.UDPAddr, user, password string) *testOVPN {
	c := &testOVPN{t: t, srv: srv, ctl: make(chan []byte, 256), data: make(chan []byte, 1024)}
	var b [8]byte
	rand.Read(b[:])
	c.sid = binary.BigEndian.Uint64(b[:])
	c.move()
	t.Cleanup(func() { c.socket().Close() })

	c.send(openvpn.AppendControl(nil, &openvpn.Control{Opcode: openvpn.OpHardResetClientV2, SessionID: c.sid}))
	c.nextID = 1
	select {
	case <-c.ctl: // the server's hard reset (no payload)
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to the hard reset")
	}
	tc := tls.Client(&testCtlConn{c: c}, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS: %v", err)
	}
	ckm := &openvpn.KeyMethod2{
		Options:  "V4,dev-type tap,link-mtu 1559,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-client",
		Username: user, Password: password,
		PeerInfo: "IV_VER=2.6.14\nIV_PROTO=2\nIV_CIPHERS=AES-256-GCM\n",
	}
	rand.Read(ckm.PreMaster[:])
	rand.Read(ckm.Random1[:])
	rand.Read(ckm.Random2[:])
	tc.Write(ckm.AppendClient(nil))
	buf := make([]byte, 8192)
	n, err := tc.Read(buf)
	if err != nil {
		t.Fatalf("reading the server's key method 2 message: %v", err)
	}
	skm, err := openvpn.ParseKeyMethod2(buf[:n], false)
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("PUSH_REQUEST\x00"))
	var reply string
	for !strings.Contains(reply, "\x00") {
		n, err := tc.Read(buf)
		if err != nil {
			t.Fatalf("reading PUSH_REPLY: %v", err)
		}
		reply += string(buf[:n])
	}
	if !strings.HasPrefix(reply, "PUSH_REPLY") {
		t.Fatalf("answer to PUSH_REQUEST: %q", reply)
	}
	c.peerID = -1
	for opt := range strings.SplitSeq(strings.TrimRight(reply, "\x00"), ",") {
		if v, ok := strings.CutPrefix(opt, "peer-id "); ok {
			c.peerID, _ = strconv.Atoi(v)
		}
	}
	if c.peerID < 0 {
		t.Fatalf("no peer-id pushed: %q", reply)
	}
	// The client's keys are the server's with the directions swapped.
	km := openvpn.DeriveKeysPRF(ckm, skm, c.sid, c.rsid.Load())
	var ckmat [openvpn.KeyMaterialLen]byte
	copy(ckmat[:128], km[128:])
	copy(ckmat[128:], km[:128])
	if c.dk, err = openvpn.NewDataKeys(0, "AES-256-GCM", "", &ckmat, c.peerID, false); err != nil {
		t.Fatal(err)
	}
	return c
}

// move makes the client send from a new socket (a new source port), as
// after a NAT rebinding.
func (c *testOVPN) move() {
	pc, err := net.DialUDP("udp", nil, c.srv)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	old := c.pc
	c.pc = pc
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	go c.read(pc)
}

func (c *testOVPN) socket() *net.UDPConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

func (c *testOVPN) send(p []byte) { c.socket().Write(p) }

// read receives on pc until it closes: control packets are acked and
// their payloads queued in order; data packets are queued as they are.
func (c *testOVPN) read(pc *net.UDPConn) {
	next := uint32(0)
	buf := make([]byte, openvpn.MaxPacket)
	for {
		n, err := pc.Read(buf)
		if err != nil {
			return
		}
		p := append([]byte(nil), buf[:n]...)
		op, _ := openvpn.Opcode(p[0])
		if op == openvpn.OpDataV1 || op == openvpn.OpDataV2 {
			select {
			case c.data <- p:
			default:
			}
			continue
		}
		var ctl openvpn.Control
		if openvpn.ParseControl(p, &ctl) != nil || ctl.Opcode == openvpn.OpAckV1 {
			continue
		}
		c.rsid.Store(ctl.SessionID)
		pc.Write(openvpn.AppendControl(nil, &openvpn.Control{Opcode: openvpn.OpAckV1, SessionID: c.sid,
			Acks: []uint32{ctl.PacketID}, RemoteSessionID: ctl.SessionID}))
		if ctl.PacketID != next {
			continue // a retransmission
		}
		next++
		c.ctl <- append([]byte(nil), ctl.Payload...)
	}
}

// sendData sends one data packet carrying payload and returns it.
func (c *testOVPN) sendData(payload []byte) []byte {
	p, err := c.dk.Seal(nil, payload)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(p)
	return p
}

// recvData waits for a data packet and decrypts it.
func (c *testOVPN) recvData(d time.Duration) ([]byte, error) {
	select {
	case p := <-c.data:
		return c.dk.Open(p)
	case <-time.After(d):
		return nil, errors.New("no data packet")
	}
}

// testCtlConn carries TLS over the client's control channel.
type testCtlConn struct {
	c    *testOVPN
	rbuf []byte
	dl   time.Time
}

func (x *testCtlConn) Read(b []byte) (int, error) {
	for len(x.rbuf) == 0 {
		select {
		case p := <-x.c.ctl:
			x.rbuf = p
		case <-time.After(time.Until(x.dl)):
			return 0, os.ErrDeadlineExceeded
		}
	}
	n := copy(b, x.rbuf)
	x.rbuf = x.rbuf[n:]
	return n, nil
}

func (x *testCtlConn) Write(b []byte) (int, error) {
	for off := 0; off < len(b); off += 1000 {
		chunk := b[off:min(len(b), off+1000)]
		x.c.send(openvpn.AppendControl(nil, &openvpn.Control{Opcode: openvpn.OpControlV1, SessionID: x.c.sid,
			PacketID: x.c.nextID, Payload: chunk}))
		x.c.nextID++
	}
	return len(b), nil
}

func (x *testCtlConn) Close() error                       { return nil }
func (x *testCtlConn) LocalAddr() net.Addr                { return &net.UDPAddr{} }
func (x *testCtlConn) RemoteAddr() net.Addr               { return &net.UDPAddr{} }
func (x *testCtlConn) SetDeadline(t time.Time) error      { x.dl = t; return nil }
func (x *testCtlConn) SetReadDeadline(t time.Time) error  { x.dl = t; return nil }
func (x *testCtlConn) SetWriteDeadline(t time.Time) error { return nil }

// arpFrame is a broadcast ARP request from mac, something a tap client
// sends.
func arpFrame(mac byte) []byte {
	f := bytes.Repeat([]byte{0xff}, 6)
	f = append(f, 0x02, 0, 0, 0, 0, mac, 0x08, 0x06)
	f = append(f, 0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, mac, 10, 0, 0, mac)
	f = append(f, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1)
	return append(f, make([]byte, 18)...)
}

// UDP roaming: a logged-in client whose source port changes keeps its
// session once a P_DATA_V2 packet from the new address decrypts under
// its keys; the server then sends to the new address. A packet naming
// the session from a third address that does not decrypt (garbage, or a
// replay of the client's own packet) moves nothing and is counted.
func TestOpenVPNUDPRoaming(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateUser", params("HubName", "DEFAULT", "Name", "alice", "AuthType", 1, "Auth_Password", "alicepw"))
	u := udpLoopback(t, s)
	c := dialOVPN(t, u.Addr().(*net.UDPAddr), "alice@DEFAULT", "alicepw")
	first := c.socket().LocalAddr().(*net.UDPAddr).AddrPort()
	sc := u.table.Load().byPeer[uint32(c.peerID)]
	if sc == nil || sc.addr() != first {
		t.Fatalf("the server's session of peer id %d: %v", c.peerID, sc)
	}
	if !waitFor(func() bool { return sc.authed.Load() }) {
		t.Fatal("the session did not log in")
	}
	c.sendData(arpFrame(1))
	if !waitFor(func() bool { return sc.sess.Stats.DataIn.Load() == 1 }) {
		t.Fatalf("data in from the first address: %d packets, want 1", sc.sess.Stats.DataIn.Load())
	}

	// The client's NAT mapping changes.
	c.move()
	second := c.socket().LocalAddr().(*net.UDPAddr).AddrPort()
	moved := c.sendData(arpFrame(1))
	if !waitFor(func() bool { return s.ovpn.Roamed.Load() == 1 }) {
		t.Fatalf("Roamed=%d after a data packet from a new port, want 1", s.ovpn.Roamed.Load())
	}
	if sc.addr() != second || u.table.Load().byAddr[second] != sc || u.table.Load().byAddr[first] != nil {
		t.Fatalf("the session is at %v, want %v (and only there)", sc.addr(), second)
	}
	sc.sess.SendPing()
	for {
		p, err := c.recvData(2 * time.Second)
		if err != nil {
			t.Fatalf("after the move, the server's ping: %v", err)
		}
		if openvpn.IsPing(p) {
			break
		}
	}

	// A third address: a replay of the client's packet, then garbage
	// under the client's peer id. Neither moves the session.
	third, err := net.DialUDP("udp", nil, u.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.Write(moved)
	bad := append([]byte(nil), moved...)
	bad[len(bad)-1] ^= 1
	third.Write(bad)
	if !waitFor(func() bool { return s.ovpn.RoamRefused.Load() == 2 }) {
		t.Fatalf("RoamRefused=%d after a replay and a forgery, want 2", s.ovpn.RoamRefused.Load())
	}
	if sc.addr() != second || s.ovpn.Roamed.Load() != 1 {
		t.Fatalf("the session moved to %v (Roamed=%d); want it at %v", sc.addr(), s.ovpn.Roamed.Load(), second)
	}
	// An unknown peer id is an unknown packet.
	unknown := append([]byte(nil), moved...)
	unknown[3] ^= 0x55
	before := s.ovpn.Unknown.Load()
	third.Write(unknown)
	if !waitFor(func() bool { return s.ovpn.Unknown.Load() == before+1 }) {
		t.Fatalf("Unknown=%d after a packet with an unknown peer id, want %d", s.ovpn.Unknown.Load(), before+1)
	}
}

// Bad input on the UDP port while a client passes data: random and
// truncated datagrams from elsewhere, a flood of hard resets from one
// address, and forged, truncated and replayed data packets from the
// client's own address are dropped and counted; the client's session
// carries on and its data keeps flowing both ways.
func TestOpenVPNUDPFlood(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateUser", params("HubName", "DEFAULT", "Name", "alice", "AuthType", 1, "Auth_Password", "alicepw"))
	u := udpLoopback(t, s)
	to := u.Addr().(*net.UDPAddr)
	c := dialOVPN(t, to, "alice@DEFAULT", "alicepw")
	sc := u.table.Load().byPeer[uint32(c.peerID)]
	if sc == nil || !waitFor(func() bool { return sc.authed.Load() }) {
		t.Fatal("the client did not log in")
	}
	// passData sends a frame and has the server ping: both must arrive.
	sent := uint64(0)
	passData := func(when string) {
		t.Helper()
		c.sendData(arpFrame(1))
		sent++
		if !waitFor(func() bool { return sc.sess.Stats.DataIn.Load() == sent }) {
			t.Fatalf("%s: the server took %d of the client's %d data packets", when, sc.sess.Stats.DataIn.Load(), sent)
		}
		sc.sess.SendPing()
		for {
			p, err := c.recvData(2 * time.Second)
			if err != nil {
				t.Fatalf("%s: the server's ping: %v", when, err)
			}
			if openvpn.IsPing(p) {
				return
			}
		}
	}
	passData("before the flood")

	junk, err := net.DialUDP("udp", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	buf := make([]byte, 1600)
	for i := range 2000 {
		n := i % 64 // mostly short: truncated headers of every kind
		if i%10 == 0 {
			n = 100 + i%1400
		}
		rand.Read(buf[:n])
		if n > 0 && buf[0]>>3 == openvpn.OpHardResetClientV2 {
			buf[0] = openvpn.OpDataV1 << 3
		}
		junk.Write(buf[:n])
		if i%500 == 0 {
			passData("during random datagrams")
		}
	}
	// A hard-reset flood from one address (many ports): only
	// ovpnHalfOpenPerSource sessions are made.
	for i := range 200 {
		hr, err := net.DialUDP("udp", nil, to)
		if err != nil {
			t.Fatal(err)
		}
		hr.Write(hardReset(uint64(i + 1)))
		hr.Close()
	}
	// From the client's own address: a replay, a forgery, a truncation.
	good := c.sendData(arpFrame(1))
	sent++
	c.send(good)
	forged, _ := c.dk.Seal(nil, arpFrame(1)) // a fresh packet id, so not a replay
	forged[len(forged)-1] ^= 1
	c.send(forged)
	c.send(good[:6])
	c.send([]byte{}) // an empty datagram
	passData("after the flood")

	// All but ovpnHalfOpenPerSource are dropped, give or take the places
	// that sessions of the flood free while it runs on a slow machine
	// (their client's port is closed; CI once saw 191 dropped).
	if !waitFor(func() bool { return s.ovpn.HalfOpenDropped.Load() >= 200-2*ovpnHalfOpenPerSource }) {
		t.Fatalf("HalfOpenDropped=%d after 200 hard resets from one address, want >= %d", s.ovpn.HalfOpenDropped.Load(), 200-2*ovpnHalfOpenPerSource)
	}
	if got := s.ovpn.Replayed.Load(); got != 1 {
		t.Errorf("Replayed=%d, want 1", got)
	}
	if got := s.ovpn.BadData.Load(); got != 2 {
		t.Errorf("BadData=%d (a forgery and a truncated packet), want 2", got)
	}
	if got := s.ovpn.BadControl.Load(); got != 1 {
		t.Errorf("BadControl=%d (an empty datagram), want 1", got)
	}
	if got := s.ovpn.Unknown.Load(); got < 1500 {
		t.Errorf("Unknown=%d after 2000 random datagrams from an address without a session, want most of them", got)
	}
	if sc.sess.Closed() {
		t.Fatal("the client's session ended")
	}
	// The counters are in GetServerStatus.
	st := call(t, d, serverAdm, "GetServerStatus", params())
	if v := st.Int64("OpenVpnReplayed"); v != 1 {
		t.Errorf("GetServerStatus OpenVpnReplayed=%d, want 1", v)
	}
}

// A TCP OpenVPN connection with a bad frame length is closed and counted;
// so is one that ends inside a frame.
func TestOpenVPNTCPBadFrame(t *testing.T) {
	s, _, _ := openAdmin(t)
	ln := serveLoopback(t, s)
	for _, tail := range [][]byte{{0xff, 0xff}, {0, 0}} { // too long, empty
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(append(openvpn.AppendFrame(nil, hardReset(1)), tail...))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c) // the server's hard reset, then the close
		c.Close()
		if err != nil {
			t.Fatalf("after a bad frame length % x: %v, want the server to close", tail, err)
		}
	}
	// A stream that ends inside a frame.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(append(openvpn.AppendFrame(nil, hardReset(1)), 0, 40, 1, 2, 3))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(c)
	c.Close()
	if !waitFor(func() bool { return s.ovpn.BadTCP.Load() == 3 }) {
		t.Fatalf("BadTCP=%d, want 3 (too long, empty, cut short)", s.ovpn.BadTCP.Load())
	}
}

// FuzzOpenVPNUDPDispatch feeds arbitrary datagrams from a few sources to
// a UDP port's demultiplexer (sessions, roaming by peer id, half-open
// limits): never a panic, every datagram is handled or counted.
func FuzzOpenVPNUDPDispatch(f *testing.F) {
	f.Add(byte(0), hardReset(1))
	f.Add(byte(1), []byte{openvpn.OpDataV2 << 3, 0, 0, 1, 1, 2, 3, 4})
	f.Add(byte(2), []byte{openvpn.OpDataV1 << 3})
	f.Add(byte(0), append(hardReset(1), 0xff))
	f.Add(byte(3), []byte{openvpn.OpControlV1 << 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0})
	f.Add(byte(0), []byte{}) // UDP allows empty datagrams
	s, _, _ := openAdmin(f)
	u := udpLoopback(f, s)
	f.Fuzz(func(t *testing.T, src byte, pkt []byte) {
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1 + src%4}), 40000+uint16(src))
		if c := u.dispatch(from, append([]byte(nil), pkt...)); c != nil {
			c.flushIn()
		}
	})
}

// The OpenVPN counters are logged once per interval in which they
// changed, and not when they did not.
func TestOpenVPNCountersLogged(t *testing.T) {
	var out logBuffer
	s, err := Open(t.TempDir(), slog.New(slog.NewTextHandler(&out, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go s.ovpnReport(20 * time.Millisecond)
	s.ovpn.Replayed.Add(3)
	lines := func() int { return strings.Count(out.String(), "OpenVPN counters") }
	if !waitFor(func() bool { return lines() == 1 }) || !strings.Contains(out.String(), "OpenVpnReplayed=3") {
		t.Fatalf("no counters line with OpenVpnReplayed=3 in:\n%s", out.String())
	}
	time.Sleep(100 * time.Millisecond)
	if n := lines(); n != 1 {
		t.Fatalf("%d counters lines while nothing changed, want 1", n)
	}
	s.ovpn.BadData.Add(1)
	if !waitFor(func() bool { return lines() == 2 }) {
		t.Fatalf("no second counters line after a change:\n%s", out.String())
	}
}
