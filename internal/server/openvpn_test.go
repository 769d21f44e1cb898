package server

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/openvpn"
)

// hardReset is a client's first packet: P_CONTROL_HARD_RESET_CLIENT_V2,
// key id 0, a session id, no acks, packet id 0.
func hardReset(sid uint64) []byte {
	p := []byte{openvpn.OpHardResetClientV2 << 3}
	p = binary.BigEndian.AppendUint64(p, sid)
	p = append(p, 0)
	return binary.BigEndian.AppendUint32(p, 0)
}

// The UDP port makes sessions for hard resets only, at most
// ovpnHalfOpenPerSource unauthenticated ones per source address (beyond,
// dropped and counted), answers each with the server's hard reset, and
// ends the sessions when it stops.
func TestOpenVPNUDPDemux(t *testing.T) {
	s, _, _ := openAdmin(t)
	u, err := s.listenUDP(0, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	to := u.Addr().(*net.UDPAddr)

	junk, err := net.DialUDP("udp", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	junk.Write([]byte{openvpn.OpDataV2 << 3, 0, 0, 1, 1, 2, 3, 4})
	if !waitFor(func() bool { return s.ovpn.Unknown.Load() == 1 }) {
		t.Fatalf("a data packet from an unknown source: Unknown=%d, want 1", s.ovpn.Unknown.Load())
	}

	answer := func(c *net.UDPConn, sid uint64) bool {
		c.Write(hardReset(sid))
		c.SetReadDeadline(time.Now().Add(time.Second))
		var buf [openvpn.MaxPacket]byte
		n, err := c.Read(buf[:])
		return err == nil && n > 0 && buf[0]>>3 == openvpn.OpHardResetServerV2
	}
	var answered int
	var first *net.UDPConn
	for i := range ovpnHalfOpenPerSource + 2 {
		c, err := net.DialUDP("udp", nil, to)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if first == nil {
			first = c
		}
		if answer(c, uint64(i+1)) {
			answered++
		}
	}
	if answered != ovpnHalfOpenPerSource || s.ovpn.HalfOpenDropped.Load() != 2 {
		t.Fatalf("answered %d hard resets, dropped %d; want %d and 2", answered, s.ovpn.HalfOpenDropped.Load(), ovpnHalfOpenPerSource)
	}
	u.mu.Lock()
	n, half := len(u.clients), u.nHalf
	u.mu.Unlock()
	if n != ovpnHalfOpenPerSource || half != n {
		t.Fatalf("%d sessions, %d half-open; want %d", n, half, ovpnHalfOpenPerSource)
	}
	// A client that restarts on the same port (a new session id) gets a
	// new session in place of its old one.
	firstAddr := first.LocalAddr().(*net.UDPAddr).AddrPort()
	u.mu.Lock()
	old := u.clients[firstAddr]
	u.mu.Unlock()
	answer(first, 100)
	u.mu.Lock()
	n, renewed := len(u.clients), u.clients[firstAddr]
	u.mu.Unlock()
	if old == nil || renewed == nil || renewed == old || !old.sess.Closed() || n != ovpnHalfOpenPerSource {
		t.Fatalf("after a restart on the same port: old %p (closed %v), new %p, %d sessions; want a new session in place of the closed old one",
			old, old != nil && old.sess.Closed(), renewed, n)
	}
	u.Stop()
	u.mu.Lock()
	n, half = len(u.clients), u.nHalf
	u.mu.Unlock()
	if n != 0 || half != 0 {
		t.Fatalf("after Stop: %d sessions, %d half-open; want none", n, half)
	}
}

// On the SSL-VPN listener, a connection that opens with OpenVPN's framed
// hard reset is answered by the OpenVPN service, and a TLS client on the
// same port still gets the SSL-VPN's TLS.
func TestOpenVPNTCPDetect(t *testing.T) {
	s, _, _ := openAdmin(t)
	ln := serveLoopback(t, s)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(openvpn.AppendFrame(nil, hardReset(1)))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := openvpn.NewFrameReader(c).Next()
	if err != nil || p[0]>>3 != openvpn.OpHardResetServerV2 {
		t.Fatalf("answer to a framed hard reset: % x, %v; want the server's hard reset", p, err)
	}

	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS on the same port: %v", err)
	}
	tc.Close()
}

func waitFor(cond func() bool) bool {
	for range 200 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// udpLoopback opens s's UDP port (OpenVPN and WireGuard) on a loopback
// address until the test ends.
func udpLoopback(tb testing.TB, s *Server) *udpListener {
	tb.Helper()
	u, err := s.listenUDP(0, "127.0.0.1")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(u.Stop)
	return u
}

// serveLoopback serves s on a loopback port until the test ends; an
// error from Serve then fails the test.
func serveLoopback(t *testing.T, s *Server) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stop: %v", err)
		}
	})
	return ln
}
