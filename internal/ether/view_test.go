package ether

import (
	"bytes"
	"encoding/binary"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// checkViews parses b as every reader does and compares the views with
// gVisor's header package, an independent reading of the same headers.
func checkViews(t *testing.T, b []byte) {
	e, ok := ParseEthernet(b)
	tagged := len(b) >= 14 && binary.BigEndian.Uint16(b[12:]) == TypeVLAN
	if want := len(b) >= 14 && (!tagged || len(b) >= 18); ok != want {
		t.Fatalf("ParseEthernet(%d bytes) ok %v, want %v", len(b), ok, want)
	}
	if !ok {
		return
	}
	l2 := 14
	if tagged {
		l2 = 18
		if !e.Tagged || e.TCI != binary.BigEndian.Uint16(b[14:]) || e.VLAN() != e.TCI&0xfff {
			t.Fatalf("tag: %+v", e)
		}
	}
	if e.Type != binary.BigEndian.Uint16(b[l2-2:]) || len(e.Payload) != len(b)-l2 || (len(e.Payload) > 0 && &e.Payload[0] != &b[l2]) {
		t.Fatalf("Ethernet view %+v of %x", e, b)
	}

	p := e.Payload
	ip, ok := ParseIPv4(p)
	if want := header.IPv4(p).IsValid(len(p)); ok != want {
		t.Fatalf("ParseIPv4 ok %v, gVisor's IsValid %v: %x", ok, want, p)
	}
	if ok {
		g := header.IPv4(p)
		if ip.HeaderLen() != int(g.HeaderLength()) || len(ip.Packet) != int(g.TotalLength()) ||
			!bytes.Equal(ip.Payload(), p[ip.HeaderLen():len(ip.Packet)]) || len(ip.Header()) != ip.HeaderLen() {
			t.Fatalf("IPv4 lengths: header %d total %d, gVisor %d %d", ip.HeaderLen(), len(ip.Packet), g.HeaderLength(), g.TotalLength())
		}
		if ip.Proto() != g.Protocol() || ip.TOS() != p[1] || ip.TTL() != g.TTL() ||
			ip.Src() != g.SourceAddress().As4() || ip.Dst() != g.DestinationAddress().As4() {
			t.Fatal("IPv4 fields differ from gVisor's")
		}
		if ip.FragmentOffset() != g.FragmentOffset()/8 || ip.Fragmented() != (g.More() || g.FragmentOffset() != 0) {
			t.Fatalf("fragment: offset %d %v, gVisor %d more %v", ip.FragmentOffset(), ip.Fragmented(), g.FragmentOffset(), g.More())
		}
	}

	a, ok := ParseARP(p)
	if want := header.ARP(p).IsValid(); ok != want {
		t.Fatalf("ParseARP ok %v, gVisor's IsValid %v: %x", ok, want, p)
	}
	if ok {
		g := header.ARP(p)
		sha, spa, tha, tpa := a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP()
		if a.Op() != uint16(g.Op()) || !bytes.Equal(sha[:], g.HardwareAddressSender()) ||
			!bytes.Equal(spa[:], g.ProtocolAddressSender()) || !bytes.Equal(tha[:], g.HardwareAddressTarget()) ||
			!bytes.Equal(tpa[:], g.ProtocolAddressTarget()) {
			t.Fatal("ARP fields differ from gVisor's")
		}
	}
}

// frame builds an Ethernet frame, tagged when vlan is not 0.
func frame(typ uint16, vlan uint16, payload ...byte) []byte {
	b := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1}
	if vlan != 0 {
		b = binary.BigEndian.AppendUint16(b, TypeVLAN)
		b = binary.BigEndian.AppendUint16(b, vlan)
	}
	return append(binary.BigEndian.AppendUint16(b, typ), payload...)
}

var (
	ipv4UDP = []byte{0x45, 0, 0, 28, 0, 1, 0x20, 0, 64, ProtoUDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0, 68, 0, 67, 0, 8, 0, 0, 0xee, 0xee} // 28 bytes and two of Ethernet padding; more fragments
	arpRequest = []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2}
)

func TestViews(t *testing.T) {
	e, ok := ParseEthernet(frame(TypeIPv4, 0x2005, ipv4UDP...))
	if !ok || !e.Tagged || e.VLAN() != 5 || e.Type != TypeIPv4 || len(e.Payload) != len(ipv4UDP) {
		t.Fatalf("tagged frame: %+v %v", e, ok)
	}
	ip, ok := ParseIPv4(e.Payload)
	if !ok || len(ip.Packet) != 28 || ip.HeaderLen() != 20 || len(ip.Payload()) != 8 || ip.Proto() != ProtoUDP ||
		ip.Src() != [4]byte{10, 0, 0, 1} || ip.Dst() != [4]byte{10, 0, 0, 2} || ip.TTL() != 64 ||
		ip.FragmentOffset() != 0 || !ip.Fragmented() {
		t.Fatalf("IPv4 view: %+v %v", ip, ok)
	}
	if _, ok := ParseEthernet(frame(TypeVLAN, 0)[:15]); ok {
		t.Error("a tag cut short parsed")
	}
	a, ok := ParseARP(arpRequest)
	if !ok || a.Op() != ARPRequest || a.SenderMAC() != [6]byte{2, 0, 0, 0, 0, 1} || a.SenderIP() != [4]byte{10, 0, 0, 1} || a.TargetIP() != [4]byte{10, 0, 0, 2} {
		t.Fatalf("ARP view of %x: %v", arpRequest, ok)
	}
	for name, p := range map[string][]byte{
		"IPv6 in an IPv4 header": append([]byte{0x65}, ipv4UDP[1:]...),
		"header length 16":       append([]byte{0x44}, ipv4UDP[1:]...),
		"total over the bytes":   ipv4UDP[:27],
		"total under the header": append([]byte{0x46, 0, 0, 23}, ipv4UDP[4:]...),
	} {
		if _, ok := ParseIPv4(p); ok {
			t.Errorf("%s: parsed", name)
		}
		checkViews(t, frame(TypeIPv4, 0, p...))
	}
	checkViews(t, frame(TypeARP, 7, arpRequest...))
	if _, ok := ParseARP(append([]byte{0, 6}, arpRequest[2:]...)); ok {
		t.Error("ARP over IEEE 802 hardware parsed")
	}
}

func FuzzViews(f *testing.F) {
	f.Add(frame(TypeIPv4, 0, ipv4UDP...))
	f.Add(frame(TypeIPv4, 0x2005, ipv4UDP...))
	f.Add(frame(TypeARP, 0, arpRequest...))
	f.Fuzz(checkViews)
}
