package hub

import (
	"testing"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// FuzzInput feeds arbitrary bytes, split into frames, through a hub with a mix
// of port kinds and policies. It must never panic, and every queued frame must
// be a frame that was sent.
func FuzzInput(f *testing.F) {
	f.Add(arpRequest(mac(1), "10.0.0.1", "10.0.0.2"), byte(0))
	f.Add(dhcp(mac(1), mac(9), 2, 5, mac(1), "192.168.30.10"), byte(1))
	f.Add(eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "ff02::1", protoICMPv6, []byte{134, 0, 0, 0})), byte(2))
	f.Add(eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0xb8, tcp(1, 2, tcpSYN|tcpACK))), byte(3))
	f.Add(eth(bcast, mac(1), etherVLAN, []byte{0, 5, 0x08, 0x00, 0x45}), byte(4))
	f.Add([]byte{}, byte(5))
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		h, _ := testHub(t, nil)
		ports := []*Port{
			attach(t, h, "client", clientPolicy),
			attach(t, h, "filters", Policy{ArpDHCPOnly: true, DHCPNoServer: true, NoServer: true, NoServerV6: true,
				RSandRAFilter: true, DHCPv6NoServer: true, PrivacyFilter: true, CheckIP: true, CheckMAC: true, MaxIPv6: 1}),
			attach(t, h, "limited", Policy{MaxUpload: 10000, MaxDownload: 10000, QoS: true, FilterNonIP: true}),
			attach(t, h, "monitor", Policy{Monitor: true}),
			attachKind(t, h, "nat", KindSecureNAT, Policy{PrivacyFilter: true}),
		}
		// Split data into frames at a data-dependent size.
		size := int(split)%100 + 1
		var frames [][]byte
		for len(data) > 0 {
			n := min(size, len(data))
			if len(data) > n && int(data[0])%3 == 0 {
				n = len(data) // sometimes one big frame
			}
			frames = append(frames, data[:n])
			data = data[n:]
		}
		for i, p := range ports {
			rot := append(append([][]byte{}, frames[i%max(1, len(frames)):]...), frames[:i%max(1, len(frames))]...)
			p.Input(rot)
		}
		for _, p := range ports {
			for _, fr := range p.Drain(nil, 0) {
				if n := len(fr.Bytes()); n < ether.MinFrameSize || n > ether.MaxFrameSize {
					t.Fatalf("queued a %d-byte frame", n)
				}
				fr.Release()
			}
		}
		h.MACTable()
		h.IPTable()
	})
}

func FuzzParseFrame(f *testing.F) {
	f.Add(dhcp(bcast, mac(1), 1, 1, mac(1), "0.0.0.0"))
	f.Add(eth(bcast, mac(1), etherIPv6, ipv6("fe80::1", "ff02::1", 0, []byte{17, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 8, 0, 0})))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < ether.MinFrameSize {
			return
		}
		var pk packet
		parseFrame(b, &pk)
		if pk.l3 == l3IPv4 && !pk.srcIP.Is4() {
			t.Fatalf("IPv4 packet with source %v", pk.srcIP)
		}
	})
}
