package openvpn_test

import (
	"crypto/tls"
	"net"
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/openvpn"
)

// A UDP server: one Session per client address, made on a hard reset.
// A real server also finds sessions by PeerIDOf when a client roams,
// bounds half-open sessions, and closes idle ones.
func Example() {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return
	}
	defer pc.Close()
	cfg := &openvpn.Config{
		TLS: &tls.Config{ /* Certificates: the server's */ },
		Authenticate: func(r *openvpn.AuthRequest) (*openvpn.PushOptions, error) {
			// Check r.Username / r.Password against the hub; for tun,
			// obtain an address (DHCP) and push it.
			return &openvpn.PushOptions{IP: netip.MustParseAddr("10.8.0.2"), Netmask: netip.MustParseAddr("255.255.255.0"),
				Gateway: netip.MustParseAddr("10.8.0.1")}, nil
		},
		OnData: func(s *openvpn.Session, pkt []byte) {
			// An IP packet (tun) or Ethernet frame (tap) from the client:
			// hand it to the hub. Packets for the client go back with
			// s.SendData(pkt).
		},
	}
	sessions := map[netip.AddrPort]*openvpn.Session{}
	buf := make([]byte, openvpn.MaxPacket)
	for range 0 { // a real server loops for ever
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		addr := from.(*net.UDPAddr).AddrPort()
		s := sessions[addr]
		if s == nil {
			if !openvpn.IsNewSession(buf[:n]) {
				continue
			}
			s = openvpn.NewSession(cfg, len(sessions), func(p []byte) { pc.WriteTo(p, from) })
			sessions[addr] = s
		}
		s.HandlePacket(buf[:n])
	}
}
