package server

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestUDPBatch sends batches with udpSender and reads them with udpReader
// on loopback: every datagram arrives whole, in order and from the
// sender's address, and the sender groups the batch as each case expects.
func TestUDPBatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int // the batch's packets
		// noCheck makes the kernel refuse GSO (it does for a socket
		// without UDP checksums, SO_NO_CHECK, as for a route whose MTU is
		// below the packet size): the sender must turn GSO off and still
		// send the whole batch, one datagram per packet.
		noCheck bool
		// runs are the GSO runs expected (equal sizes, a shorter packet
		// ending a run) when the kernel takes GSO; nil: not checked.
		runs []int
		// warm: once warm, neither side allocates per batch.
		warm bool
	}{
		{name: "RoundTrip", sizes: []int{3, 3, 3, 3, 3}, warm: true},
		{name: "GSORuns", sizes: []int{1538, 1538, 1538, 1538, 1538, 100, 1538, 1538, 1538, 2000, 16, 40}, runs: []int{6, 3, 2, 1}},
		{name: "GSOFallback", sizes: []int{4, 4, 4, 4, 4, 4, 4}, noCheck: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			if tc.noCheck {
				raw, err := sc.SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				raw.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) })
				if err != nil {
					t.Skipf("SO_NO_CHECK: %v", err)
				}
			}
			rd, err := newUDPReader(rc)
			if err != nil {
				t.Fatal(err)
			}
			tx := newUDPSender(sc)
			to := rc.LocalAddr().(*net.UDPAddr).AddrPort()
			from := sc.LocalAddr().(*net.UDPAddr).AddrPort()
			want := make([][]byte, len(tc.sizes))
			for i, n := range tc.sizes {
				want[i] = make([]byte, n)
				for j := range want[i] {
					want[i][j] = byte(i*7 + j)
				}
			}
			round := func() {
				for _, p := range want {
					tx.add(append(tx.slot(), p...))
				}
				if n := tx.flush(to); n != 0 {
					t.Fatalf("flush dropped %d", n)
				}
				for got := 0; got < len(want); {
					n, err := rd.read()
					if err != nil {
						t.Fatal(err)
					}
					for i := range n {
						p, src := rd.datagram(i)
						if src != from || !bytes.Equal(p, want[got]) {
							t.Fatalf("datagram %d: %d bytes % .8x from %v, want %d bytes % .8x from %v",
								got, len(p), p, src, len(want[got]), want[got], from)
						}
						got++
					}
				}
			}
			round()
			switch {
			case tc.noCheck && !tx.noGSO:
				t.Fatal("the kernel took GSO on a socket without checksums: the fallback is untested")
			case tc.runs != nil && tx.noGSO:
				t.Log("the kernel refused UDP GSO: sent one datagram per message")
			case tc.runs != nil:
				if got := tx.msgPkts[:tx.nmsgs]; !slices.Equal(got, tc.runs) {
					t.Errorf("GSO runs %v, want %v", got, tc.runs)
				}
			}
			if tc.warm {
				if n := testing.AllocsPerRun(50, round); n != 0 {
					t.Errorf("%v allocations per batch of %d", n, len(want))
				}
			}
		})
	}
}
