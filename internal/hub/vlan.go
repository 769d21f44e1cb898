package hub

import "encoding/binary"

// DefaultVLANTypeID is the TPID the hub inserts and strips (hub option
// VlanTypeId, docs/protocol/hub.md#vlan).
const DefaultVLANTypeID = etherVLAN

// insertVLAN writes frame b with a tag (TPID tpid, VID vid, PCP 0) after the
// MAC addresses into dst and returns it; dst needs len(b)+4 bytes and may be
// b's own buffer. The tag goes in even if b is tagged already (docs/protocol/hub.md#ingress-steps step 3).
func insertVLAN(dst, b []byte, tpid, vid uint16) []byte {
	n := len(b) + 4
	copy(dst[16:n], b[12:]) // first, in case dst and b share a buffer
	copy(dst[:12], b[:12])
	binary.BigEndian.PutUint16(dst[12:14], tpid)
	binary.BigEndian.PutUint16(dst[14:16], vid&0x0fff)
	return dst[:n]
}

// hasVLAN reports whether frame b carries the tag (tpid, vid) outermost.
func hasVLAN(b []byte, tpid, vid uint16) bool {
	return len(b) >= 18 && binary.BigEndian.Uint16(b[12:14]) == tpid &&
		binary.BigEndian.Uint16(b[14:16])&0x0fff == vid
}

// rewriteIngress applies the port's ingress rewrites to frame b (docs/protocol/hub.md#ingress-steps steps
// 1 and 3): the MSS clamp, then the VLAN tag of the port's policy. It works
// in the port's scratch buffer, so b itself is never changed and nothing is
// copied when there is nothing to do.
func (p *Port) rewriteIngress(b []byte) []byte {
	if p.mssIn > 0 {
		if off, _, _ := mssOption(b, p.mssIn); off >= 0 {
			b = p.rw[:copy(p.rw, b)]
			clampMSS(b, p.mssIn)
		}
	}
	if p.pol.VLanID != 0 {
		b = insertVLAN(p.rw, b, p.hub.o().VLANTypeID, p.pol.VLanID)
	}
	return b
}

// egressFrame returns the port's own copy of frame b with the egress
// rewrites applied (docs/protocol/hub.md#delivery-steps steps 5-6), or nil when the port must not get it:
// a port with a VLAN ID receives only frames tagged with that ID, untagged.
// ok is false only for that refusal; a nil frame with ok means b can be
// shared as it is.
func (p *Port) egressFrame(b []byte) (f *Frame, ok bool) {
	vid := p.pol.VLanID
	if vid == 0 {
		if off, _, _ := mssOption(b, p.mssOut); off < 0 {
			return nil, true
		}
		f = newFrame(b)
	} else {
		if !hasVLAN(b, p.hub.o().VLANTypeID, vid) {
			return nil, false
		}
		f = framePool.Get().(*Frame)
		copy(f.buf[:12], b[:12])
		f.n = 12 + copy(f.buf[12:], b[16:])
		f.taken = false
		f.refs = 1 // not shared yet (see Frame.refs)
	}
	if p.mssOut > 0 {
		clampMSS(f.Bytes(), p.mssOut)
	}
	return f, true
}
