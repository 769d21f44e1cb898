package securenat

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// rawPort is a hub port driven with hand-made frames.
type rawPort struct {
	t    *testing.T
	port *hub.Port
	mac  [6]byte
	ip   netip.Addr
}

func newRawPort(t *testing.T, e *testEnv) *rawPort {
	p, err := e.hub.Attach(hub.PortConfig{Name: "SID-RAW", User: "raw", Kind: hub.KindClient})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &rawPort{t: t, port: p, mac: [6]byte{0x02, 0, 0, 0, 0, 0x99}, ip: netip.MustParseAddr("192.168.30.50")}
}

func ethFrame(dst, src [6]byte, typ tcpip.NetworkProtocolNumber, payload []byte) []byte {
	b := make([]byte, header.EthernetMinimumSize+len(payload))
	header.Ethernet(b).Encode(&header.EthernetFields{
		DstAddr: tcpip.LinkAddress(dst[:]), SrcAddr: tcpip.LinkAddress(src[:]), Type: typ,
	})
	copy(b[header.EthernetMinimumSize:], payload)
	return b
}

func ipPacket(src, dst netip.Addr, proto uint8, ttl uint8, payload []byte) []byte {
	b := make([]byte, header.IPv4MinimumSize+len(payload))
	ip := header.IPv4(b)
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(b)), TTL: ttl, Protocol: proto,
		SrcAddr: tcpAddr(src), DstAddr: tcpAddr(dst),
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	copy(b[header.IPv4MinimumSize:], payload)
	return b
}

func echoRequest(id, seq uint16, data string) []byte {
	m := make([]byte, 8+len(data))
	m[0] = uint8(header.ICMPv4Echo)
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[8:], data)
	binary.BigEndian.PutUint16(m[2:], ^checksum.Checksum(m, 0))
	return m
}

func arpRequest(srcMAC [6]byte, src, target netip.Addr) []byte {
	a := header.ARP(make([]byte, header.ARPSize))
	a.SetIPv4OverEthernet()
	a.SetOp(header.ARPRequest)
	copy(a.HardwareAddressSender(), srcMAC[:])
	s, t := src.As4(), target.As4()
	copy(a.ProtocolAddressSender(), s[:])
	copy(a.ProtocolAddressTarget(), t[:])
	return ethFrame([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, srcMAC, header.ARPProtocolNumber, a)
}

func (r *rawPort) send(frames ...[]byte) { r.port.Input(frames) }

// recv waits up to d for a frame that match accepts; nil if none came.
func (r *rawPort) recv(d time.Duration, match func([]byte) bool) []byte {
	deadline := time.After(d)
	for {
		for _, f := range r.port.Drain(nil, 0) {
			b := append([]byte(nil), f.Bytes()...)
			f.Release()
			if match(b) {
				return b
			}
		}
		select {
		case <-r.port.Ready():
		case <-deadline:
			return nil
		}
	}
}

// icmpFrom matches an IPv4 ICMP message of type typ from src.
func icmpFrom(src netip.Addr, typ header.ICMPv4Type) func([]byte) bool {
	return func(b []byte) bool {
		if header.Ethernet(b).Type() != header.IPv4ProtocolNumber {
			return false
		}
		ip, ok := parseIPv4(b[header.EthernetMinimumSize:])
		return ok && ip.src == src && ip.proto == 1 && b[header.EthernetMinimumSize+ip.hdrLen] == uint8(typ)
	}
}

func TestARPAndPing(t *testing.T) {
	e := newEnv(t, nil)
	r := newRawPort(t, e)
	vh := netip.MustParseAddr("192.168.30.1")
	vhMAC := [6]byte(e.nat.cfg.mac)

	r.send(arpRequest(r.mac, r.ip, netip.MustParseAddr("192.168.30.2")))
	r.send(arpRequest(r.mac, r.ip, vh))
	reply := r.recv(2*time.Second, func(b []byte) bool { return header.Ethernet(b).Type() == header.ARPProtocolNumber })
	if reply == nil {
		t.Fatal("no ARP reply")
	}
	a := header.ARP(reply[header.EthernetMinimumSize:])
	if a.Op() != header.ARPReply || [6]byte(a.HardwareAddressSender()) != vhMAC ||
		netip.AddrFrom4([4]byte(a.ProtocolAddressSender())) != vh {
		t.Fatalf("ARP reply for the wrong address: % x", reply)
	}
	// Only the request for the virtual host's own address was answered: the
	// NAT stack must not proxy-ARP for the whole subnet.
	if extra := r.recv(200*time.Millisecond, func(b []byte) bool { return header.Ethernet(b).Type() == header.ARPProtocolNumber }); extra != nil {
		t.Fatalf("unexpected second ARP reply: % x", extra)
	}

	r.send(ethFrame(vhMAC, r.mac, header.IPv4ProtocolNumber, ipPacket(r.ip, vh, 1, 64, echoRequest(7, 1, "hello"))))
	if r.recv(2*time.Second, icmpFrom(vh, header.ICMPv4EchoReply)) == nil {
		t.Fatal("virtual host did not answer ping")
	}
}

func TestPingRemoteAndTimeExceeded(t *testing.T) {
	old := icmpTarget
	icmpTarget = func(netip.Addr) netip.Addr { return netip.MustParseAddr("127.0.0.1") }
	defer func() { icmpTarget = old }()
	e := newEnv(t, nil)
	r := newRawPort(t, e)
	vhMAC := [6]byte(e.nat.cfg.mac)
	mode := e.nat.Status().ICMPMode
	t.Logf("ICMP mode: %s", mode)
	if !e.logs.has("ICMP echo requests to remote hosts are") {
		t.Errorf("ICMP mode not logged: %q", e.logs.msgs)
	}

	r.send(ethFrame(vhMAC, r.mac, header.IPv4ProtocolNumber, ipPacket(r.ip, wanIP, 1, 64, echoRequest(0x4242, 9, "remote"))))
	b := r.recv(3*time.Second, icmpFrom(wanIP, header.ICMPv4EchoReply))
	if b == nil {
		t.Fatalf("no echo reply from %v (mode %s)", wanIP, mode)
	}
	ip, _ := parseIPv4(b[header.EthernetMinimumSize:])
	m := b[header.EthernetMinimumSize+ip.hdrLen:]
	if binary.BigEndian.Uint16(m[4:]) != 0x4242 || binary.BigEndian.Uint16(m[6:]) != 9 || string(m[8:]) != "remote" ||
		checksum.Checksum(m, 0) != 0xffff || ip.dst != r.ip {
		t.Fatalf("bad echo reply: % x", b)
	}
	if mode != ICMPDummy {
		if tab := e.nat.NATTable(); len(tab) != 1 || tab[0].Protocol != ProtoICMP || tab[0].ClientPort != 0x4242 {
			t.Fatalf("NAT table = %+v", tab)
		}
		// ICMP flows end 10 units (200 ms) after the last echo.
		eventually(t, 2*time.Second, "ICMP entry expired", func() bool { return len(e.nat.NATTable()) == 0 })
	}

	// TTL 1: the virtual host itself answers Time Exceeded.
	r.send(ethFrame(vhMAC, r.mac, header.IPv4ProtocolNumber, ipPacket(r.ip, wanIP, 1, 1, echoRequest(1, 1, "x"))))
	if r.recv(2*time.Second, icmpFrom(e.nat.cfg.ip, header.ICMPv4TimeExceeded)) == nil {
		t.Fatal("no Time Exceeded for TTL 1")
	}
}

func TestDHCPThroughVirtualHost(t *testing.T) {
	e := newEnv(t, nil)
	r := newRawPort(t, e)
	disc, err := dhcpv4.NewDiscovery(r.mac[:])
	if err != nil {
		t.Fatal(err)
	}
	payload := disc.ToBytes()
	udpb := make([]byte, header.UDPMinimumSize+len(payload))
	u := header.UDP(udpb)
	u.Encode(&header.UDPFields{SrcPort: 68, DstPort: 67, Length: uint16(len(udpb))})
	copy(udpb[header.UDPMinimumSize:], payload)
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	r.send(ethFrame(bcast, r.mac, header.IPv4ProtocolNumber,
		ipPacket(netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), 17, 64, udpb)))
	offer := r.recv(2*time.Second, func(b []byte) bool {
		ip, ok := parseIPv4(b[header.EthernetMinimumSize:])
		return ok && ip.proto == 17 && ip.src == e.nat.cfg.ip
	})
	if offer == nil {
		t.Fatal("no DHCP offer")
	}
	ip, _ := parseIPv4(offer[header.EthernetMinimumSize:])
	m, err := dhcpv4.FromBytes(offer[header.EthernetMinimumSize+ip.hdrLen+header.UDPMinimumSize:])
	if err != nil || m.MessageType() != dhcpv4.MessageTypeOffer || !m.YourIPAddr.Equal(netip.MustParseAddr("192.168.30.10").AsSlice()) {
		t.Fatalf("offer = %v, %v", m, err)
	}
}
