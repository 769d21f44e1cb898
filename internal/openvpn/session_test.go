package openvpn

import (
	"crypto/tls"
	"testing"
	"time"
)

// FuzzSessionHandlePacket feeds arbitrary packets to a session that has
// started (it answered a hard reset): each is dropped with an error or
// taken, never a panic.
func FuzzSessionHandlePacket(f *testing.F) {
	cert := testCert(f, f.TempDir())
	cfg := &Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}
	reset := AppendControl(nil, &Control{Opcode: OpHardResetClientV2, SessionID: 42})
	f.Add(reset)
	f.Add(AppendControl(nil, &Control{Opcode: OpControlV1, SessionID: 42, PacketID: 1, Payload: []byte{0x16, 3, 1, 0, 5}}))
	f.Add(AppendControl(nil, &Control{Opcode: OpAckV1, SessionID: 42, Acks: []uint32{0}, RemoteSessionID: 1}))
	f.Add([]byte{OpDataV2 << 3, 0, 0, 1, 2, 3, 4, 5})
	f.Add([]byte{OpDataV1<<3 | 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSession(cfg, 1, func([]byte) {})
		defer s.Close()
		if err := s.HandlePacket(reset); err != nil {
			t.Fatal(err)
		}
		s.HandlePacket(b)
	})
}

// TestSessionDropsForeign checks that packets of another session id, data
// before keys and garbage are dropped and counted.
func TestSessionDropsForeign(t *testing.T) {
	cert := testCert(t, t.TempDir())
	var out [][]byte
	s := NewSession(&Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, 1, func(p []byte) { out = append(out, append([]byte(nil), p...)) })
	defer s.Close()
	if err := s.HandlePacket(AppendControl(nil, &Control{Opcode: OpControlV1, SessionID: 42, PacketID: 1})); err == nil {
		t.Fatal("a session took P_CONTROL_V1 before a hard reset")
	}
	if err := s.HandlePacket(AppendControl(nil, &Control{Opcode: OpHardResetClientV2, SessionID: 42})); err != nil {
		t.Fatal(err)
	}
	// The answer: P_CONTROL_HARD_RESET_SERVER_V2 acking packet 0 of session 42.
	var c Control
	if len(out) != 1 || ParseControl(out[0], &c) != nil || c.Opcode != OpHardResetServerV2 || len(c.Acks) != 1 || c.Acks[0] != 0 || c.RemoteSessionID != 42 || c.PacketID != 0 {
		t.Fatalf("answer %x", out)
	}
	// A repeated client reset draws exactly one more server reset, and the
	// timer never resends it (no reflection amplification).
	if err := s.HandlePacket(AppendControl(nil, &Control{Opcode: OpHardResetClientV2, SessionID: 42})); err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || ParseControl(out[1], &c) != nil || c.Opcode != OpHardResetServerV2 || len(c.Acks) != 1 {
		t.Fatalf("answer to a repeated reset: %x", out)
	}
	time.Sleep(2 * rtoInitial)
	s.keys[0].rel.mu.Lock()
	n := len(out)
	s.keys[0].rel.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d packets sent: the server reset was retransmitted by the timer", n)
	}
	if err := s.HandlePacket(AppendControl(nil, &Control{Opcode: OpControlV1, SessionID: 43, PacketID: 1})); err == nil {
		t.Fatal("took a packet of session 43")
	}
	if err := s.HandlePacket([]byte{OpDataV1 << 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}); err != ErrNoKey {
		t.Fatalf("data before keys: %v", err)
	}
	if s.Stats.DropControl.Load() != 2 || s.Stats.DropNoKey.Load() != 1 {
		t.Fatalf("counters control %d nokey %d", s.Stats.DropControl.Load(), s.Stats.DropNoKey.Load())
	}
}

// TestSessionDataPathNoAllocs checks that a data packet in (HandlePacket to
// OnData) and one out (SendData to output) allocate nothing.
func TestSessionDataPathNoAllocs(t *testing.T) {
	srv, cli := pair(t, "AES-256-GCM", "", 3, false)
	var got int
	var sent []byte
	s := NewSession(&Config{OnData: func(_ *Session, p []byte) { got += len(p) }}, 3, func(p []byte) { sent = p })
	s.data[srv.KeyID].Store(srv)
	s.tx.keys.Store(srv)
	msg := make([]byte, 1400)
	buf := make([]byte, 0, 2048)
	wire := make([]byte, 2048)
	allocs := testing.AllocsPerRun(200, func() {
		pkt, _ := cli.Seal(buf[:0], msg)
		n := copy(wire, pkt)
		if err := s.HandlePacket(wire[:n]); err != nil {
			t.Fatal(err)
		}
		if err := s.SendData(msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per packet in and out", allocs)
	}
	if p, err := cli.Open(sent); err != nil || len(p) != len(msg) || got == 0 {
		t.Fatalf("round trip: %v", err)
	}
}
