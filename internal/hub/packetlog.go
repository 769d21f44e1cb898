package hub

import (
	"net/netip"
	"time"
)

// PacketLogLevel is how much of a frame the hub's packet log records
// (SoftEther's PACKET_LOG_* values).
type PacketLogLevel uint8

// Packet log levels.
const (
	PacketLogNone   PacketLogLevel = 0
	PacketLogHeader PacketLogLevel = 1 // the headers' fields
	PacketLogAll    PacketLogLevel = 2 // and the whole frame in hex
)

// PacketLogLevels are the levels per category (docs/protocol/hub.md#packet-log). A frame belongs to several categories and is logged at the
// highest of their levels.
type PacketLogLevels struct {
	Ethernet PacketLogLevel // every frame
	ARP      PacketLogLevel
	IP       PacketLogLevel // IPv4 and IPv6
	ICMP     PacketLogLevel // ICMPv4 and ICMPv6
	TCP      PacketLogLevel // every TCP segment
	TCPConn  PacketLogLevel // TCP with SYN, FIN or RST, HTTP requests, and DNS queries (UDP)
	UDP      PacketLogLevel
	DHCP     PacketLogLevel // DHCPv4
}

// PacketLog configures the packet log of a hub: which frames, and where
// their records go. Sink is called on the forwarding path and must not
// block: it queues the record (or drops and counts it).
type PacketLog struct {
	Levels         PacketLogLevels
	NoIPv4, NoIPv6 bool // NoIPv4PacketLog / NoIPv6PacketLog (IPv4 includes ARP)
	Sink           func(PacketRecord)
	HeaderBytes    int // how much of a frame a header-level record keeps; 0 = 512
}

// PacketRecord is one logged frame.
type PacketRecord struct {
	Time                     time.Time
	SrcSession, DstSession   string     // DstSession is "" for a flooded frame
	SrcPhysical, DstPhysical netip.Addr // the sessions' client addresses, if any
	Level                    PacketLogLevel
	Length                   int    // the frame's length
	Frame                    []byte // a copy: whole at PacketLogAll, else its first HeaderBytes
}

// SetPacketLog turns the packet log on with pl, or off with nil.
func (h *Hub) SetPacketLog(pl *PacketLog) {
	if pl != nil && pl.HeaderBytes == 0 {
		c := *pl
		c.HeaderBytes = 512
		pl = &c
	}
	h.plog.Store(pl)
}

// underLogCap counts a frame the packet log records against the port's
// MaxLoggedPacketsPerMinute (max) and reports whether it may pass. As in
// SoftEther the cap binds client and bridge-mode sessions only, not
// SecureNAT, local bridges, cascades, layer-3 interfaces or sessions whose
// policy lifts the broadcast limiter. The caller holds p.inMu.
func (p *Port) underLogCap(max int, now int64) bool {
	if max <= 0 || p.pol.NoBroadcastLimiter || (p.kind != KindClient && p.kind != KindBridge) {
		return true
	}
	if now >= p.logWindowEnd {
		p.logWindowEnd, p.logCount = now+int64(time.Minute), 0
	}
	p.logCount++
	return p.logCount <= max
}

// level is the packet-log level of the frame parsed into pk.
func (pl *PacketLog) level(pk *packet) PacketLogLevel {
	lv := &pl.Levels
	l := lv.Ethernet
	up := func(x PacketLogLevel) {
		if x > l {
			l = x
		}
	}
	switch pk.l3 {
	case l3ARP:
		if pl.NoIPv4 {
			return PacketLogNone
		}
		up(lv.ARP)
		return l
	case l3IPv4:
		if pl.NoIPv4 {
			return PacketLogNone
		}
	case l3IPv6:
		if pl.NoIPv6 {
			return PacketLogNone
		}
	default:
		return l
	}
	up(lv.IP)
	if !pk.hasL4 {
		return l
	}
	switch pk.proto {
	case protoICMP, protoICMPv6:
		up(lv.ICMP)
	case protoTCP:
		up(lv.TCP)
		if pk.tcpFlags&(tcpSYN|tcpFIN|tcpRST) != 0 || pk.httpReq {
			up(lv.TCPConn) // an HTTP request counts as a connection too
		}
	case protoUDP:
		up(lv.UDP)
		if pk.dstPort == 53 {
			up(lv.TCPConn) // a DNS query counts as a connection (docs/protocol/hub.md#packet-log)
		}
		if pk.dhcp4 {
			up(lv.DHCP)
		}
	}
	return l
}

// logPacket hands frame b from src to the packet log (dst nil: flooded).
// An HTTP request is kept whole, for its header fields.
func (pl *PacketLog) logPacket(h *Hub, src, dst *Port, b []byte, pk *packet, level PacketLogLevel, now int64) {
	n := len(b)
	if level < PacketLogAll && !pk.httpReq && n > pl.HeaderBytes {
		n = pl.HeaderBytes
	}
	r := PacketRecord{
		Time:        h.wall(now),
		SrcSession:  src.name,
		SrcPhysical: src.physical,
		Level:       level,
		Length:      len(b),
		Frame:       append([]byte(nil), b[:n]...),
	}
	if dst != nil {
		r.DstSession, r.DstPhysical = dst.name, dst.physical
	}
	pl.Sink(r)
}
