package server

import (
	"bytes"
	"net"
	"testing"
)

// TestUDPBatchRoundTrip sends a batch with udpSender and reads it with
// udpReader on loopback: every datagram arrives whole, from the sender's
// address, and neither side allocates per batch once warm.
func TestUDPBatchRoundTrip(t *testing.T) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	rc, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	rd, err := newUDPReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	tx := newUDPSender(sc)
	to := rc.LocalAddr().(*net.UDPAddr).AddrPort()
	from := sc.LocalAddr().(*net.UDPAddr).AddrPort()
	const batch = 5
	round := func() {
		for i := range batch {
			b := append(tx.slot(), byte(i), 0xEE, 0xEE)
			tx.add(b)
		}
		if n := tx.flush(to); n != 0 {
			t.Fatalf("flush dropped %d", n)
		}
		for got := 0; got < batch; {
			n, err := rd.read()
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				p, src := rd.datagram(i)
				if src != from || !bytes.Equal(p, []byte{byte(got), 0xEE, 0xEE}) {
					t.Fatalf("datagram %d: % x from %v, want it from %v", got, p, src, from)
				}
				got++
			}
		}
	}
	round()
	if n := testing.AllocsPerRun(50, round); n != 0 {
		t.Errorf("%v allocations per batch of %d", n, batch)
	}
}
