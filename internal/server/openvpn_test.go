package server

import (
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

	var answered int
	for i := range ovpnHalfOpenPerSource + 2 {
		c, err := net.DialUDP("udp", nil, to)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(hardReset(uint64(i + 1)))
		c.SetReadDeadline(time.Now().Add(time.Second))
		var buf [openvpn.MaxPacket]byte
		if n, err := c.Read(buf[:]); err == nil && n > 0 && buf[0]>>3 == openvpn.OpHardResetServerV2 {
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
	u.Stop()
	u.mu.Lock()
	n, half = len(u.clients), u.nHalf
	u.mu.Unlock()
	if n != 0 || half != 0 {
		t.Fatalf("after Stop: %d sessions, %d half-open; want none", n, half)
	}
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
