package server

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
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

// TestUDPBatchGSORuns sends a batch of mixed sizes, which the sender
// groups into GSO runs (equal sizes, a shorter packet ending a run): every
// datagram arrives whole and in order, and the runs are the expected ones.
func TestUDPBatchGSORuns(t *testing.T) {
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
	sizes := []int{1538, 1538, 1538, 1538, 1538, 100, 1538, 1538, 1538, 2000, 16, 40}
	var want [][]byte
	for i, n := range sizes {
		p := tx.slot()[:n]
		for j := range p {
			p[j] = byte(i*7 + j)
		}
		tx.add(p)
		want = append(want, append([]byte(nil), p...))
	}
	if n := tx.flush(to); n != 0 {
		t.Fatalf("flush dropped %d", n)
	}
	if !tx.noGSO {
		if got := tx.msgPkts[:tx.nmsgs]; !slices.Equal(got, []int{6, 3, 2, 1}) {
			t.Errorf("GSO runs %v, want [6 3 2 1]", got)
		}
	} else {
		t.Log("the kernel refused UDP GSO: sent one datagram per message")
	}
	for got := 0; got < len(want); {
		n, err := rd.read()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			p, _ := rd.datagram(i)
			if !bytes.Equal(p, want[got]) {
				t.Fatalf("datagram %d: %d bytes, want %d", got, len(p), len(want[got]))
			}
			got++
		}
	}
}

// TestUDPBatchGSOFallback makes the kernel refuse GSO (it does for a
// socket without UDP checksums, SO_NO_CHECK, as for a route whose MTU is
// below the packet size): the sender turns GSO off and the whole batch
// still arrives, one datagram per packet.
func TestUDPBatchGSOFallback(t *testing.T) {
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
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	raw.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) })
	if err != nil {
		t.Skipf("SO_NO_CHECK: %v", err)
	}
	rd, err := newUDPReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	tx := newUDPSender(sc)
	const batch = 7
	for i := range batch {
		tx.add(append(tx.slot(), byte(i), 1, 2, 3))
	}
	if n := tx.flush(rc.LocalAddr().(*net.UDPAddr).AddrPort()); n != 0 {
		t.Fatalf("flush dropped %d", n)
	}
	if !tx.noGSO {
		t.Fatal("the kernel took GSO on a socket without checksums: the fallback is untested")
	}
	for got := 0; got < batch; {
		n, err := rd.read()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if p, _ := rd.datagram(i); !bytes.Equal(p, []byte{byte(got), 1, 2, 3}) {
				t.Fatalf("datagram %d: % x", got, p)
			}
			got++
		}
	}
}
