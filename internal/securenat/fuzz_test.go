package securenat

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/config"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// FuzzInput feeds arbitrary frames to the virtual host's frame path (ARP,
// IPv4, DHCP, ICMP relay and the netstack behind them): it must never panic.
func FuzzInput(f *testing.F) {
	vhMAC := [6]byte{0x00, 0xac, 1, 2, 3, 4}
	client := [6]byte{2, 0, 0, 0, 0, 1}
	src, vh := netip.MustParseAddr("192.168.30.10"), netip.MustParseAddr("192.168.30.1")
	f.Add(arpRequest(client, src, vh))
	f.Add(ethFrame(vhMAC, client, header.IPv4ProtocolNumber, ipPacket(src, vh, 1, 64, echoRequest(1, 1, "x"))))
	f.Add(ethFrame(vhMAC, client, header.IPv4ProtocolNumber, ipPacket(src, wanIP, 1, 64, echoRequest(1, 1, "x"))))
	f.Add(ethFrame(vhMAC, client, header.IPv4ProtocolNumber, ipPacket(src, wanIP, 1, 1, echoRequest(1, 1, "x"))))
	f.Add(ethFrame(vhMAC, client, header.IPv4ProtocolNumber, ipPacket(src, vh, 17, 64, []byte{0, 68, 0, 67, 0, 9, 0, 0, 1})))
	f.Add(ethFrame(vhMAC, client, header.IPv4ProtocolNumber, ipPacket(src, vh, 17, 64, []byte{0x30, 0x39, 0, 53, 0, 20, 0, 0, 1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0})))
	f.Add(ethFrame(vhMAC, client, header.IPv4ProtocolNumber, ipPacket(src, wanIP, 6, 64, make([]byte, 20))))
	f.Add([]byte{})

	e := newEnv(f, func(c *config.SecureNAT, o *Options) {
		c.MAC = vhMAC[:]
		o.Dial = refuseDial
	})
	f.Fuzz(func(t *testing.T, frame []byte) {
		e.nat.input(frame)
		if len(frame) > 0 {
			// The same bytes as if addressed to the virtual host.
			g := append(append([]byte(nil), vhMAC[:]...), frame[min(6, len(frame)):]...)
			e.nat.input(g)
		}
	})
}

func FuzzParseIPv4(f *testing.F) {
	f.Add(ipPacket(netip.MustParseAddr("1.2.3.4"), wanIP, 6, 64, []byte("x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := parseIPv4(b)
		if ok && (ip.hdrLen < 20 || ip.totalLen > len(b) || ip.totalLen < ip.hdrLen) {
			t.Fatalf("accepted a bad header: %+v", ip)
		}
	})
}

// refuseDial keeps fuzzed flows off the network.
func refuseDial(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("fuzzing: no network")
}
