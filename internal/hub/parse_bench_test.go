package hub

import "testing"

// BenchmarkParseFrame measures parseFrame, which every frame the hub
// switches goes through, on a mix of the frames it reads most.
func BenchmarkParseFrame(b *testing.B) {
	frames := [][]byte{
		ipFrame(mac(2), mac(1), "10.0.0.1", "10.0.0.2"),
		eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(40000, 80, tcpSYN))),
		eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoUDP, 0, udp(5000, 53, make([]byte, 40)))),
		arpRequest(mac(1), "10.0.0.1", "10.0.0.2"),
		dhcp(bcast, mac(1), 1, 1, mac(1), "0.0.0.0"),
		eth(mac(2), mac(1), etherIPv6, ipv6("2001:db8::1", "2001:db8::2", protoUDP, udp(5000, 53, make([]byte, 40)))),
	}
	var pk packet
	n := 0
	for b.Loop() {
		for _, f := range frames {
			parseFrame(f, &pk)
			n += int(pk.l3)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/frame")
	if n == 0 {
		b.Fatal("nothing parsed")
	}
}
