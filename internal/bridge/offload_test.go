package bridge

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// superFrame builds an Ethernet frame carrying one oversized TCP (or UDP)
// segment as the kernel hands it over with GSO: lengths of the whole
// thing and a partial checksum.
func superFrame(ipv6, tcp bool, payload []byte) []byte {
	f := make([]byte, 14)
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	l4len := 8
	proto := byte(17)
	if tcp {
		l4len, proto = 32, 6 // 12 bytes of options
	}
	if ipv6 {
		binary.BigEndian.PutUint16(f[12:], 0x86dd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4len+len(payload)))
		ip[6], ip[7] = proto, 64
		ip[8], ip[23] = 0xfd, 1
		ip[24], ip[39] = 0xfd, 2
		f = append(f, ip...)
	} else {
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len+len(payload)))
		binary.BigEndian.PutUint16(ip[4:], 0xfffe) // the ID wraps while segmenting
		ip[8], ip[9] = 64, proto
		copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
		f = append(f, ip...)
	}
	l4 := make([]byte, l4len)
	binary.BigEndian.PutUint16(l4, 40000)
	binary.BigEndian.PutUint16(l4[2:], 5001)
	if tcp {
		binary.BigEndian.PutUint32(l4[4:], 0xfffffff0) // the sequence wraps too
		l4[12] = 8 << 4
		l4[13] = 0x80 | 0x08 | 0x01 | 0x10 // CWR, PSH, FIN, ACK
		l4[20] = 1                         // NOP options
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(l4len+len(payload)))
	}
	f = append(f, l4...)
	return append(f, payload...)
}

// collect runs a segmenter that copies every segment it emits.
func collect(t *testing.T, f []byte, h vnetHdr, tag uint32) ([][]byte, error) {
	t.Helper()
	var out [][]byte
	s := segmenter{
		alloc: func(n int) []byte { return make([]byte, n) },
		emit:  func(b []byte) { out = append(out, b) },
	}
	err := s.segment(f, h, tag)
	return out, err
}

// verify checks the IP and transport checksums of a wire frame.
func verify(t *testing.T, f []byte) (l4 int, tcp bool) {
	t.Helper()
	l3, ipv6, ok := l3Offset(f)
	if !ok {
		t.Fatalf("no IP header")
	}
	var proto byte
	if ipv6 {
		l4, proto = l3+40, f[l3+6]
		if got := int(binary.BigEndian.Uint16(f[l3+4:])); got != len(f)-l4 {
			t.Errorf("IPv6 payload length %d, want %d", got, len(f)-l4)
		}
	} else {
		l4, proto = l3+20, f[l3+9]
		if got := int(binary.BigEndian.Uint16(f[l3+2:])); got != len(f)-l3 {
			t.Errorf("IPv4 total length %d, want %d", got, len(f)-l3)
		}
		if fold(sum(f[l3:l4], 0)) != 0xffff {
			t.Errorf("bad IPv4 header checksum")
		}
	}
	tcp = proto == 6
	if fold(sum(f[l4:], pseudoHeader(f, l3, l4, ipv6, tcp))) != 0xffff {
		t.Errorf("bad transport checksum")
	}
	return l4, tcp
}

func TestSegment(t *testing.T) {
	payload := make([]byte, 5000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name      string
		ipv6, tcp bool
		gso       uint8
	}{
		{"tcp4", false, true, gsoTCPv4},
		{"tcp6", true, true, gsoTCPv6 | gsoECN},
		{"udp4", false, false, gsoUDPL4},
		{"udp6", true, false, gsoUDPL4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := superFrame(tc.ipv6, tc.tcp, payload)
			l3, _, _ := l3Offset(f)
			l4 := l3 + 20
			if tc.ipv6 {
				l4 = l3 + 40
			}
			const mss = 1400
			h := vnetHdr{flags: vnetNeedsCsum, gsoType: tc.gso, gsoSize: mss, csumStart: uint16(l4)}
			for _, tag := range []uint32{0, 0x8100_2005} {
				segs, err := collect(t, f, h, tag)
				if err != nil {
					t.Fatal(err)
				}
				if len(segs) != 4 {
					t.Fatalf("%d segments, want 4", len(segs))
				}
				var got []byte
				for i, s := range segs {
					if tag != 0 {
						if binary.BigEndian.Uint32(s[12:]) != tag || !bytes.Equal(s[:12], f[:12]) {
							t.Fatalf("segment %d: VLAN tag not inserted: % x", i, s[:18])
						}
						s = append(append([]byte{}, s[:12]...), s[16:]...)
					}
					off, tcp := verify(t, s)
					hl := 8
					if tcp {
						hl = int(s[off+12]>>4) * 4
						seq := binary.BigEndian.Uint32(s[off+4:])
						if want := 0xfffffff0 + uint32(i*mss); seq != want {
							t.Errorf("segment %d: seq %#x, want %#x", i, seq, want)
						}
						flags, last := s[off+13], i == len(segs)-1
						if (flags&0x01 != 0) != last || (flags&0x08 != 0) != last || (flags&0x80 != 0) != (i == 0) {
							t.Errorf("segment %d: flags %#x", i, flags)
						}
					}
					if !tc.ipv6 {
						if id := binary.BigEndian.Uint16(s[l3+4:]); id != uint16(0xfffe+i) {
							t.Errorf("segment %d: IP ID %#x", i, id)
						}
					}
					if len(s)-off-hl > mss {
						t.Errorf("segment %d carries %d bytes", i, len(s)-off-hl)
					}
					got = append(got, s[off+hl:]...)
				}
				if !bytes.Equal(got, payload) {
					t.Errorf("payload not preserved")
				}
			}
		})
	}
}

func TestSegmentRejects(t *testing.T) {
	f := superFrame(false, true, make([]byte, 3000))
	for _, h := range []vnetHdr{
		{gsoType: gsoTCPv4, gsoSize: 0, csumStart: 34},
		{gsoType: gsoTCPv4, gsoSize: 1000, csumStart: 20},
		{gsoType: gsoTCPv4, gsoSize: 1000, csumStart: 4000},
		{gsoType: gsoUDP, gsoSize: 1000, csumStart: 34},
	} {
		if _, err := collect(t, f, h, 0); err == nil {
			t.Errorf("%+v: accepted", h)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	// A UDP datagram as sent with checksum offload: the checksum field
	// holds the pseudo-header sum, the rest is left to the NIC.
	f := superFrame(false, false, []byte("hello, bridge"))
	f[14+2], f[14+3] = 0, byte(len(f)-14) // fix the IP total length
	f[14+10], f[14+11] = 0, 0
	binary.BigEndian.PutUint16(f[14+10:], ^fold(sum(f[14:34], 0)))
	binary.BigEndian.PutUint16(f[34+4:], uint16(len(f)-34))
	binary.BigEndian.PutUint16(f[34+6:], fold(pseudoHeader(f, 14, 34, false, false)))
	if err := completeChecksum(f, 34, 6); err != nil {
		t.Fatal(err)
	}
	verify(t, f)
	if completeChecksum(f, 34, len(f)) == nil || completeChecksum(f, -1, 0) == nil {
		t.Error("out-of-range checksum offsets accepted")
	}
}

func TestVLANTag(t *testing.T) {
	ctrl := make([]byte, ctrlLen)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
	h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
	h.SetLen(unix.CmsgLen(sizeofAuxdata))
	aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&ctrl[unix.CmsgLen(0)]))
	if vlanTag(ctrl) != 0 {
		t.Error("tag without TP_STATUS_VLAN_VALID")
	}
	aux.Status, aux.Vlan_tci = unix.TP_STATUS_VLAN_VALID, 0x2005
	if got := vlanTag(ctrl); got != 0x8100_2005 {
		t.Errorf("tag %#x", got)
	}
	aux.Status |= unix.TP_STATUS_VLAN_TPID_VALID
	aux.Vlan_tpid = 0x88a8
	if got := vlanTag(ctrl); got != 0x88a8_2005 {
		t.Errorf("QinQ tag %#x", got)
	}
	if vlanTag(ctrl[:8]) != 0 {
		t.Error("truncated control message read")
	}
}

func TestOwnDHCPFilter(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	req := superFrame(false, false, make([]byte, 240))
	copy(req[6:], mac)
	binary.BigEndian.PutUint16(req[34:], 68)
	binary.BigEndian.PutUint16(req[36:], 67)
	if !isOwnDHCP(req, mac, true) {
		t.Error("own DHCP request not recognised")
	}
	if isOwnDHCP(req, net.HardwareAddr{2, 0, 0, 0, 0, 8}, true) {
		t.Error("another host's DHCP request filtered")
	}
	reply := superFrame(false, false, make([]byte, 240))
	copy(reply[0:], mac)
	binary.BigEndian.PutUint16(reply[34:], 67)
	binary.BigEndian.PutUint16(reply[36:], 68)
	if !isOwnDHCP(reply, mac, false) || isOwnDHCP(reply, mac, true) {
		t.Error("DHCP reply direction")
	}
}

func FuzzOffload(f *testing.F) {
	f.Add(superFrame(false, true, make([]byte, 3000)), uint8(gsoTCPv4), uint16(1400), uint16(34), uint16(16))
	f.Add(superFrame(true, false, make([]byte, 3000)), uint8(gsoUDPL4), uint16(1200), uint16(54), uint16(6))
	f.Add([]byte{1, 2, 3}, uint8(0), uint16(0), uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, frame []byte, gso uint8, size, start, off uint16) {
		h := vnetHdr{flags: vnetNeedsCsum, gsoType: gso, gsoSize: size, csumStart: start, csumOffst: off}
		s := segmenter{
			alloc: func(k int) []byte { return make([]byte, k) },
			emit:  func([]byte) {},
		}
		s.segment(frame, h, 0x81000001)
		completeChecksum(frame, int(start), int(off))
		vlanTag(frame)
		isOwnDHCP(frame, net.HardwareAddr{0, 0, 0, 0, 0, 0}, true)
		isOwnDHCP(frame, net.HardwareAddr{0, 0, 0, 0, 0, 0}, false)
	})
}
