package securenat

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const (
	nicID = 1
	// tcpBuffer is the largest TCP send/receive buffer; with window scaling
	// and receive-buffer moderation this keeps a fast path full.
	tcpBuffer = 4 << 20
)

// newStack builds the virtual host: one Ethernet NIC on the hub port with the
// configured address, ARP, ICMP echo, and with NAT the TCP/UDP forwarders.
func (n *SecureNAT) newStack() (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	fail := func(what string, err tcpip.Error) (*stack.Stack, error) {
		s.Close()
		return nil, fmt.Errorf("securenat: %s: %s", what, err)
	}
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: tcpBuffer}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: tcpBuffer}
	for _, o := range []tcpip.SettableTransportProtocolOption{&sack, &moderate, &rcv, &snd} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fail("tcp option", err)
		}
	}
	if err := s.CreateNIC(nicID, n.link); err != nil {
		return fail("create NIC", err)
	}
	addr := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpAddr(n.cfg.ip), PrefixLen: n.cfg.subnet.Bits()},
	}
	if err := s.AddProtocolAddress(nicID, addr, stack.AddressProperties{}); err != nil {
		return fail("add address", err)
	}
	subnet := addr.AddressWithPrefix.Subnet()
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnet, NIC: nicID},
		// Clients may use addresses outside the subnet (static setups); reach
		// them on-link, as SoftEther's virtual host does.
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
	})
	if n.cfg.nat {
		// Accept packets for any destination and answer from it.
		if err := s.SetPromiscuousMode(nicID, true); err != nil {
			return fail("promiscuous mode", err)
		}
		if err := s.SetSpoofing(nicID, true); err != nil {
			return fail("spoofing", err)
		}
		s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, 0, n.opt.Limits.MaxSessions, n.forwardTCP).HandlePacket)
		s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s, n.forwardUDP).HandlePacket)
	}
	return s, nil
}

func tcpAddr(a netip.Addr) tcpip.Address { return tcpip.AddrFrom4(a.As4()) }

func netAddr(a tcpip.Address) netip.Addr {
	if a.Len() == 4 {
		return netip.AddrFrom4(a.As4())
	}
	return netip.Addr{}
}

// ipv4Info is what the frame classifier needs from an IPv4 header.
type ipv4Info struct {
	hdrLen   int // IP header length
	totalLen int
	ttl      uint8
	proto    uint8
	fragment bool // a fragment (MF set or offset non-zero)
	src, dst netip.Addr
}

// parseIPv4 validates an IPv4 header at the start of b.
func parseIPv4(b []byte) (ipv4Info, bool) {
	var h ipv4Info
	if len(b) < header.IPv4MinimumSize || b[0]>>4 != 4 {
		return h, false
	}
	h.hdrLen = int(b[0]&0x0f) * 4
	h.totalLen = int(binary.BigEndian.Uint16(b[2:4]))
	if h.hdrLen < header.IPv4MinimumSize || h.totalLen < h.hdrLen || h.totalLen > len(b) {
		return h, false
	}
	flags := binary.BigEndian.Uint16(b[6:8])
	h.fragment = flags&0x2000 != 0 || flags&0x1fff != 0
	h.ttl, h.proto = b[8], b[9]
	h.src = netip.AddrFrom4([4]byte(b[12:16]))
	h.dst = netip.AddrFrom4([4]byte(b[16:20]))
	return h, true
}

// input classifies one frame from the hub (docs/protocol/securenat.md#virtual-host) and hands it to the DHCP
// server, the ICMP relay or the stack.
func (n *SecureNAT) input(frame []byte) {
	if len(frame) < header.EthernetMinimumSize {
		return
	}
	eth := header.Ethernet(frame)
	dst, src := frame[0:6], frame[6:12]
	if string(src) == string(n.cfg.mac) || src[0]&1 != 0 {
		return
	}
	if dst[0]&1 == 0 && string(dst) != string(n.cfg.mac) {
		return // unicast to someone else (flooded unknown unicast)
	}
	payload := frame[header.EthernetMinimumSize:]
	switch eth.Type() {
	case header.ARPProtocolNumber:
		// The stack spoofs every address when NAT is on, and would then
		// answer ARP requests for any IP. Only requests for our own address
		// may reach it; replies (to our own requests) always do.
		a := header.ARP(payload)
		if !a.IsValid() {
			return
		}
		if a.Op() == header.ARPRequest && netip.AddrFrom4([4]byte(a.ProtocolAddressTarget())) != n.cfg.ip {
			return
		}
		n.link.deliver(frame)
	case header.IPv4ProtocolNumber:
		ip, ok := parseIPv4(payload)
		if !ok {
			return
		}
		body := payload[ip.hdrLen:ip.totalLen]
		switch {
		case n.dhcp != nil && ip.proto == uint8(header.UDPProtocolNumber) && !ip.fragment &&
			len(body) >= header.UDPMinimumSize && binary.BigEndian.Uint16(body[2:4]) == 67:
			n.dhcp.handle(n, frame)
		case n.icmp != nil && ip.proto == uint8(header.ICMPv4ProtocolNumber) && !ip.fragment &&
			ip.dst != n.cfg.ip && dst[0]&1 == 0 && len(body) >= header.ICMPv4MinimumSize &&
			body[0] == uint8(header.ICMPv4Echo):
			n.icmp.handle(frame, payload[:ip.totalLen], ip)
		default:
			n.link.deliver(frame)
		}
	}
}

// routable reports whether a NAT flow from a client to dst is allowed: a
// unicast address outside the virtual host's subnet that is not the server's
// own loopback.
func (n *SecureNAT) routable(src, dst netip.Addr) bool {
	return dst.Is4() && !n.cfg.subnet.Contains(dst) && !dst.IsLoopback() && !dst.IsMulticast() &&
		!dst.IsUnspecified() && dst != netip.AddrFrom4([4]byte{255, 255, 255, 255}) &&
		src.Is4() && !src.IsLoopback() && !src.IsUnspecified() && src != dst
}
