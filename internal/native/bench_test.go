package native

import (
	"net/netip"
	"testing"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// BenchmarkSend wraps batches of 64 1400-byte packets to a resolved next
// hop.
func BenchmarkSend(b *testing.B) {
	a, _ := bound(Config{})
	a.recvFrame(ethFrame(testMAC, gwMAC, ether.TypeARP, arpPacket(ether.ARPReply, gwMAC, gwIP, testMAC, clientIP)))
	a.port = &countPort{}
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = echo(clientIP, netip.MustParseAddr("8.8.8.8"), 1, uint16(i), make([]byte, 1372))
	}
	b.SetBytes(64 * 1400)
	b.ReportAllocs()
	for b.Loop() {
		a.Send(batch)
	}
}

// BenchmarkReceive unwraps 64 1400-byte packets per batch for the
// protocol.
func BenchmarkReceive(b *testing.B) {
	a, _ := bound(Config{Deliver: func([][]byte) {}})
	a.port = &countPort{}
	f := ethFrame(testMAC, gwMAC, ether.TypeIPv4, echo(netip.MustParseAddr("8.8.8.8"), clientIP, 1, 1, make([]byte, 1372)))
	b.SetBytes(64 * 1400)
	b.ReportAllocs()
	for b.Loop() {
		for range 64 {
			a.receive(f)
		}
		a.deliver()
	}
}
