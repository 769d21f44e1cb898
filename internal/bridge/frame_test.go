package bridge

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/offload"
	ot "github.com/ethervpn/ethervpn/internal/offload/offloadtest"
)

// auxdata builds the control message of a received frame whose VLAN tag
// the kernel took out (tag 0: none).
func auxdata(tag uint32) []byte {
	ctrl := make([]byte, ctrlLen)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
	h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
	h.SetLen(unix.CmsgLen(sizeofAuxdata))
	if tag != 0 {
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&ctrl[unix.CmsgLen(0)]))
		aux.Status = unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID
		aux.Vlan_tci, aux.Vlan_tpid = uint16(tag), uint16(tag>>16)
	}
	return ctrl
}

// receiver is a packetConn with only what frame needs, collecting copies
// of what it passes to the hub.
func receiver(got *[][]byte) *packetConn {
	c := &packetConn{frames: make([][]byte, 0, rxFrames), arena: make([]byte, rxArena)}
	c.input = func(frames [][]byte) {
		for _, f := range frames {
			*got = append(*got, bytes.Clone(f))
		}
	}
	return c
}

// TestFrameOffloadAndTag: a super-frame whose tag the kernel took out
// reaches the hub as tagged wire frames, and a plain frame with a partial
// checksum as a tagged frame with its checksum complete.
func TestFrameOffloadAndTag(t *testing.T) {
	const tag = 0x8100_2005
	payload := ot.RandomPayload(5000)
	want := ot.Stream(ot.Flow{}, 7, 1, payload, 1400)
	// The super-frame: the first segment's headers, all the payload, the
	// lengths of the whole and the pseudo-header sum as checksum.
	super := append(bytes.Clone(want[0][:54]), payload...)
	binary.BigEndian.PutUint16(super[16:], uint16(len(super)-14))
	super[24], super[25] = 0, 0
	binary.BigEndian.PutUint16(super[24:], ^ot.Checksum(super[14:34], 0))
	super[34+13] |= ot.PSH // the last segment's flags
	binary.BigEndian.PutUint16(super[34+16:], ot.PseudoSum(super[14:], false, 6, len(super)-34))
	h := offload.VnetHdr{Flags: offload.NeedsCsum, GSOType: offload.GSOTCPv4, HdrLen: 54, GSOSize: 1400, CsumStart: 34, CsumOffset: 16}
	msg := make([]byte, offload.VnetHdrLen, offload.VnetHdrLen+len(super))
	h.Encode(msg)
	msg = append(msg, super...)

	var got [][]byte
	c := receiver(&got)
	c.frame(msg, auxdata(tag))
	c.flush()
	if c.bad != 0 || len(got) != len(want) {
		t.Fatalf("%d frames to the hub, want %d (%d bad)", len(got), len(want), c.bad)
	}
	for i, f := range got {
		if binary.BigEndian.Uint32(f[12:]) != tag {
			t.Fatalf("frame %d: no tag: % x", i, f[:18])
		}
		if untagged := append(bytes.Clone(f[:12]), f[16:]...); !bytes.Equal(untagged, want[i]) {
			t.Fatalf("frame %d:\n got % x\nwant % x", i, untagged, want[i])
		}
	}

	// A plain frame with a partial checksum.
	udp := ot.Flow{UDP: true}.Frame(0, 3, 0, []byte("hello, bridge"))
	partial := bytes.Clone(udp)
	binary.BigEndian.PutUint16(partial[34+6:], ot.PseudoSum(partial[14:], false, 17, len(partial)-34))
	msg = make([]byte, offload.VnetHdrLen)
	offload.VnetHdr{Flags: offload.NeedsCsum, CsumStart: 34, CsumOffset: 6}.Encode(msg)
	got = nil
	c.frame(append(msg, partial...), auxdata(tag))
	c.flush()
	if len(got) != 1 || !bytes.Equal(append(bytes.Clone(got[0][:12]), got[0][16:]...), udp) ||
		binary.BigEndian.Uint32(got[0][12:]) != tag {
		t.Fatalf("frames to the hub %x, want %x tagged", got, udp)
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
	req := ot.Flow{UDP: true}.Frame(0, 0, 0, make([]byte, 240))
	copy(req[6:], mac)
	binary.BigEndian.PutUint16(req[34:], 68)
	binary.BigEndian.PutUint16(req[36:], 67)
	if !isOwnDHCP(req, mac, true) {
		t.Error("own DHCP request not recognised")
	}
	if isOwnDHCP(req, net.HardwareAddr{2, 0, 0, 0, 0, 8}, true) {
		t.Error("another host's DHCP request filtered")
	}
	reply := ot.Flow{UDP: true}.Frame(0, 0, 0, make([]byte, 240))
	copy(reply[0:], mac)
	binary.BigEndian.PutUint16(reply[34:], 67)
	binary.BigEndian.PutUint16(reply[36:], 68)
	if !isOwnDHCP(reply, mac, false) || isOwnDHCP(reply, mac, true) {
		t.Error("DHCP reply direction")
	}
}

// FuzzFrame feeds received messages (virtio header and frame, with or
// without a VLAN tag in the control data) through the bridge's receive
// path and its DHCP filter: nothing may panic, and segments of a
// super-frame are wire frames.
func FuzzFrame(f *testing.F) {
	for _, fl := range []ot.Flow{{}, {IPv6: true, UDP: true}} {
		frame := fl.Frame(1, 2, ot.ACK, make([]byte, 3000))
		l4 := 34
		gso := uint8(offload.GSOTCPv4)
		if fl.IPv6 {
			l4, gso = 54, offload.GSOUDPL4
		}
		msg := make([]byte, offload.VnetHdrLen)
		offload.VnetHdr{Flags: offload.NeedsCsum, GSOType: gso, GSOSize: 1200, CsumStart: uint16(l4), CsumOffset: 16}.Encode(msg)
		f.Add(append(msg, frame...), uint32(0x8100_0001))
	}
	f.Add([]byte{1, 2, 3}, uint32(0))
	f.Fuzz(func(t *testing.T, msg []byte, tag uint32) {
		if len(msg) < offload.VnetHdrLen+14 {
			return
		}
		var got [][]byte
		c := receiver(&got)
		c.frame(msg, auxdata(tag))
		c.flush()
		// Segments are wire frames; a plain frame goes on as it came
		// (the hub judges its size).
		if offload.DecodeVnetHdr(msg).GSOType != offload.GSONone {
			for _, fr := range got {
				if len(fr) > offload.MaxSegmentLen {
					t.Fatalf("a segment of %d bytes for the hub", len(fr))
				}
			}
		}
		isOwnDHCP(msg, net.HardwareAddr{0, 0, 0, 0, 0, 0}, true)
		isOwnDHCP(msg, net.HardwareAddr{0, 0, 0, 0, 0, 0}, false)
	})
}
