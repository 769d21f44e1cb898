package l3

import (
	"encoding/binary"
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// Ethernet and IPv4 constants used by the router.
const (
	ethHeader  = 14
	beaconPort = 7
	errorTTL   = 64  // TTL of generated ICMP errors and beacons
	echoTTL    = 255 // TTL of echo replies (docs/protocol/hub.md#layer-3-switch)
)

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// beaconText is the beacon payload, NUL included (docs/protocol/hub.md#layer-3-switch).
var beaconText = []byte("PacketiX VPN Virtual Layer-3 Switch Beacon\x00")

func u32(a netip.Addr) uint32 { return binary.BigEndian.Uint32(a.AsSlice()) }

func ipv4u32(a [4]byte) uint32 { return binary.BigEndian.Uint32(a[:]) }

// handle routes one frame that arrived on interface in. Called under s.mu.
func (s *Switch) handle(in int, b []byte, now int64, out *outbox) {
	if len(b) < ethHeader {
		return
	}
	f := &s.ifs[in]
	dst, src := [6]byte(b[0:6]), [6]byte(b[6:12])
	bcast := dst == broadcastMAC
	if src == f.mac || !bcast && dst != f.mac {
		return
	}
	switch binary.BigEndian.Uint16(b[12:]) {
	case ether.TypeARP:
		s.handleARP(in, b[ethHeader:], now, out)
	case ether.TypeIPv4:
		s.handleIPv4(in, src, bcast, b[ethHeader:], now, out)
	}
}

// handleARP learns senders inside the interface subnet and answers requests
// for the interface address. No proxy ARP.
func (s *Switch) handleARP(in int, p []byte, now int64, out *outbox) {
	a, ok := ether.ParseARP(p)
	if !ok {
		return
	}
	f := &s.ifs[in]
	sha, spa, tpa := a.SenderMAC(), ipv4u32(a.SenderIP()), ipv4u32(a.TargetIP())
	s.learn(in, spa, sha, now, out)
	if a.Op() == ether.ARPRequest && tpa == f.ip && spa != 0 {
		if fr := out.take(in, ethHeader+28); fr != nil {
			writeARP(fr, sha, f.mac, ether.ARPReply, f.ip, sha, spa)
		}
	}
}

// learn records ip → mac if ip is a host of interface in's subnet, and sends
// the packets that were waiting for it.
func (s *Switch) learn(in int, ip uint32, mac [6]byte, now int64, out *outbox) {
	f := &s.ifs[in]
	if !f.contains(ip) || ip == f.ip || ip == f.net || ip == f.bcast || mac == broadcastMAC || mac[0]&1 != 0 {
		return
	}
	s.arp[ip] = arpEntry{mac: mac, expires: now + int64(arpLifetime)}
	if _, ok := s.waits[ip]; !ok {
		return
	}
	delete(s.waits, ip)
	keep := s.pend[:0]
	for _, p := range s.pend {
		if p.nh != ip {
			keep = append(keep, p)
			continue
		}
		copy(p.buf[0:6], mac[:])
		if fr := out.take(p.ifc, p.n); fr != nil {
			copy(fr, p.buf[:p.n])
		} else {
			s.drops++
		}
		s.free = append(s.free, p)
	}
	clear(s.pend[len(keep):])
	s.pend = keep
}

// handleIPv4 routes an IPv4 packet (docs/protocol/hub.md#layer-3-switch forwarding).
func (s *Switch) handleIPv4(in int, srcMAC [6]byte, bcast bool, b []byte, now int64, out *outbox) {
	ip, ok := ether.ParseIPv4(b)
	if !ok || ether.Checksum(ip.Header(), 0) != 0xffff { // a valid header sums to all ones
		return
	}
	p, ihl, tot := ip.Packet, ip.HeaderLen(), len(ip.Packet)
	src, dst := ipv4u32(ip.Src()), ipv4u32(ip.Dst())
	s.learn(in, src, srcMAC, now, out)
	if bcast { // L2 broadcasts are never routed
		return
	}
	if s.isMine(dst) {
		if ip.Proto() == ether.ProtoICMP && tot >= ihl+8 && p[ihl] == 8 && !ip.Fragmented() {
			s.echoReply(dst, p, ihl, now, out)
		}
		return
	}
	if ip.TTL() <= 1 {
		s.icmpError(in, p, ihl, 11, 0, now, out)
		return
	}
	oi, nh, ok := s.lookupRoute(dst)
	if !ok {
		s.icmpError(in, p, ihl, 3, 0, now, out)
		return
	}
	s.emit(oi, nh, p, true, now, out)
}

func (s *Switch) isMine(ip uint32) bool {
	for i := range s.ifs {
		if s.ifs[i].ip == ip {
			return true
		}
	}
	return false
}

// lookupRoute finds the outgoing interface and next hop for dst: a connected
// subnet first (interfaces in hub-name order), else the best static route
// whose gateway is on a connected subnet.
func (s *Switch) lookupRoute(dst uint32) (ifc int, nextHop uint32, ok bool) {
	if i := s.connected(dst); i >= 0 {
		return i, dst, true
	}
	for _, r := range s.routes {
		if dst&r.mask != r.net {
			continue
		}
		if i := s.connected(r.gw); i >= 0 {
			return i, r.gw, true
		}
	}
	return 0, 0, false
}

func (s *Switch) connected(ip uint32) int {
	for i := range s.ifs {
		if s.ifs[i].contains(ip) {
			return i
		}
	}
	return -1
}

// emit sends IPv4 packet p out of interface oi to next hop nh, decrementing
// its TTL if decTTL, or queues it until nh is resolved.
func (s *Switch) emit(oi int, nh uint32, p []byte, decTTL bool, now int64, out *outbox) {
	n := ethHeader + len(p)
	if n > ether.MaxFrameSize {
		s.drops++ // no fragmentation (docs/protocol/hub.md#layer-3-switch)
		return
	}
	f := &s.ifs[oi]
	var fr []byte
	switch e, ok := s.arp[nh]; {
	case nh == f.bcast:
		if fr = out.take(oi, n); fr != nil {
			copy(fr, broadcastMAC[:])
		}
	case ok && e.expires > now:
		if fr = out.take(oi, n); fr != nil {
			copy(fr, e.mac[:])
		}
	default:
		pp := s.allocPending()
		if pp == nil {
			s.drops++
			return
		}
		*pp = pendingPkt{nh: nh, ifc: oi, deadline: now + int64(pendingLife), n: n}
		fr = pp.buf[:n]
		s.pend = append(s.pend, pp)
		if _, waiting := s.waits[nh]; !waiting {
			s.waits[nh] = arpWait{ifc: oi, start: now, last: now}
			s.sendARPRequest(oi, nh, out)
		}
	}
	if fr == nil {
		s.drops++
		return
	}
	copy(fr[6:12], f.mac[:])
	binary.BigEndian.PutUint16(fr[12:], ether.TypeIPv4)
	ip := fr[ethHeader:]
	copy(ip, p)
	if decTTL {
		// RFC 1624 incremental update: TTL is the high byte of word 4.
		ip[8]--
		sum := uint32(binary.BigEndian.Uint16(ip[10:])) + 0x0100
		binary.BigEndian.PutUint16(ip[10:], uint16(sum+sum>>16))
	}
}

func (s *Switch) allocPending() *pendingPkt {
	if n := len(s.free); n > 0 {
		p := s.free[n-1]
		s.free = s.free[:n-1]
		return p
	}
	if s.npend == maxPending {
		return nil
	}
	s.npend++
	return new(pendingPkt)
}

// poll runs the timers: ARP retries and give-up, waiting-packet expiry, ARP
// entry expiry and beacons. Called under s.mu.
func (s *Switch) poll(now int64, out *outbox) {
	for ip, w := range s.waits {
		switch {
		case now-w.start >= int64(arpGiveUp):
			delete(s.waits, ip)
		case now-w.last >= int64(arpRetry):
			w.last = now
			s.waits[ip] = w
			s.sendARPRequest(w.ifc, ip, out)
		}
	}
	keep := s.pend[:0]
	for _, p := range s.pend {
		if p.deadline > now {
			keep = append(keep, p)
			continue
		}
		s.drops++
		s.free = append(s.free, p)
	}
	clear(s.pend[len(keep):])
	s.pend = keep
	for ip, e := range s.arp {
		if e.expires <= now {
			delete(s.arp, ip)
		}
	}
	for i := range s.ifs {
		if f := &s.ifs[i]; now >= f.nextBeacon {
			f.nextBeacon = now + int64(beaconInterval)
			s.sendBeacon(i, out)
		}
	}
}

func (s *Switch) sendARPRequest(oi int, ip uint32, out *outbox) {
	f := &s.ifs[oi]
	if fr := out.take(oi, ethHeader+28); fr != nil {
		writeARP(fr, broadcastMAC, f.mac, ether.ARPRequest, f.ip, [6]byte{}, ip)
	}
}

// sendBeacon broadcasts the UDP beacon to the interface's directed
// broadcast and announces the interface with a broadcast ARP reply.
func (s *Switch) sendBeacon(i int, out *outbox) {
	f := &s.ifs[i]
	ip := s.scratch[:20+8+len(beaconText)]
	s.ipHeader(ip, ether.ProtoUDP, errorTTL, f.ip, f.bcast)
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], beaconPort)
	binary.BigEndian.PutUint16(udp[2:], beaconPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	binary.BigEndian.PutUint16(udp[6:], 0)
	copy(udp[8:], beaconText)
	binary.BigEndian.PutUint16(udp[6:], transportChecksum(ip, udp, ether.ProtoUDP))
	if fr := out.take(i, ethHeader+len(ip)); fr != nil {
		writeEth(fr, broadcastMAC, f.mac, ether.TypeIPv4)
		copy(fr[ethHeader:], ip)
	}
	if fr := out.take(i, ethHeader+28); fr != nil {
		writeARP(fr, broadcastMAC, f.mac, ether.ARPReply, f.ip, broadcastMAC, f.bcast)
	}
}

// echoReply answers an echo request to interface address me.
func (s *Switch) echoReply(me uint32, p []byte, ihl int, now int64, out *outbox) {
	payload := p[ihl:]
	if 20+len(payload) > ether.MaxFrameSize-ethHeader {
		return
	}
	src := binary.BigEndian.Uint32(p[12:])
	ip := s.scratch[:20+len(payload)]
	s.ipHeader(ip, ether.ProtoICMP, echoTTL, me, src)
	icmp := ip[20:]
	copy(icmp, payload)
	icmp[0] = 0
	binary.BigEndian.PutUint16(icmp[2:], 0)
	binary.BigEndian.PutUint16(icmp[2:], ^ether.Checksum(icmp, 0))
	s.send(ip, now, out)
}

// icmpError sends an ICMP error about packet p, which arrived on interface
// in, back to its source, from that interface's address. Like any router it
// stays quiet about ICMP errors, fragments after the first and packets from
// addresses that cannot be answered.
func (s *Switch) icmpError(in int, p []byte, ihl int, typ, code byte, now int64, out *outbox) {
	src := binary.BigEndian.Uint32(p[12:])
	if binary.BigEndian.Uint16(p[6:])&0x1fff != 0 || src == 0 || src>>28 >= 14 || src>>24 == 127 {
		return
	}
	if p[9] == ether.ProtoICMP && (len(p) < ihl+1 || p[ihl] != 0 && p[ihl] != 8) {
		return
	}
	if f := &s.ifs[in]; src == f.bcast {
		return
	}
	quote := p[:min(len(p), ihl+8)]
	ip := s.scratch[:20+8+len(quote)]
	s.ipHeader(ip, ether.ProtoICMP, errorTTL, s.ifs[in].ip, src)
	icmp := ip[20:]
	icmp[0], icmp[1] = typ, code
	clear(icmp[2:8])
	copy(icmp[8:], quote)
	binary.BigEndian.PutUint16(icmp[2:], ^ether.Checksum(icmp, 0))
	s.send(ip, now, out)
}

// send routes a packet the switch generated itself.
func (s *Switch) send(ip []byte, now int64, out *outbox) {
	if oi, nh, ok := s.lookupRoute(binary.BigEndian.Uint32(ip[16:])); ok {
		s.emit(oi, nh, ip, false, now, out)
	}
}

// ipHeader writes a 20-byte IPv4 header for len(ip) bytes with checksum.
func (s *Switch) ipHeader(ip []byte, proto, ttl byte, src, dst uint32) {
	s.ipID++
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[4:], s.ipID)
	binary.BigEndian.PutUint16(ip[6:], 0)
	ip[8], ip[9] = ttl, proto
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint32(ip[12:], src)
	binary.BigEndian.PutUint32(ip[16:], dst)
	binary.BigEndian.PutUint16(ip[10:], ^ether.Checksum(ip[:20], 0))
}

func writeEth(fr []byte, dst, src [6]byte, typ uint16) {
	copy(fr[0:6], dst[:])
	copy(fr[6:12], src[:])
	binary.BigEndian.PutUint16(fr[12:], typ)
}

func writeARP(fr []byte, ethDst, sha [6]byte, op uint16, spa uint32, tha [6]byte, tpa uint32) {
	writeEth(fr, ethDst, sha, ether.TypeARP)
	a := fr[ethHeader:]
	binary.BigEndian.PutUint16(a[0:], 1)
	binary.BigEndian.PutUint16(a[2:], ether.TypeIPv4)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], op)
	copy(a[8:14], sha[:])
	binary.BigEndian.PutUint32(a[14:], spa)
	copy(a[18:24], tha[:])
	binary.BigEndian.PutUint32(a[24:], tpa)
}

// transportChecksum is the UDP/TCP checksum of seg inside IPv4 packet ip.
func transportChecksum(ip, seg []byte, proto byte) uint16 {
	c := ^ether.Checksum(seg, ether.PseudoSum(ip, false, proto, len(seg)))
	if c == 0 {
		c = 0xffff // UDP's 0 means "no checksum"; all ones is the same sum
	}
	return c
}
