package securenat

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/guard"
)

// ICMPMode says how SecureNAT answers echo requests to remote hosts (docs/protocol/securenat.md#icmp).
type ICMPMode string

// The ICMP modes, best first.
const (
	ICMPPingSocket ICMPMode = "ping socket" // unprivileged SOCK_DGRAM/IPPROTO_ICMP (net.ipv4.ping_group_range)
	ICMPRawSocket  ICMPMode = "raw socket"  // root or CAP_NET_RAW
	ICMPDummy      ICMPMode = "dummy reply" // no socket: the virtual host answers every echo itself
	ICMPDisabled   ICMPMode = "disabled"    // NAT is off
)

// probeICMP finds the best ICMP mode this process may use.
func probeICMP() ICMPMode {
	if c, err := icmp.ListenPacket("udp4", "0.0.0.0"); err == nil {
		c.Close()
		return ICMPPingSocket
	}
	if c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0"); err == nil {
		c.Close()
		return ICMPRawSocket
	}
	return ICMPDummy
}

func (n *SecureNAT) logICMPMode() {
	var what string
	switch n.icmp.mode {
	case ICMPPingSocket:
		what = "relayed through unprivileged ping sockets"
	case ICMPRawSocket:
		what = "relayed through raw ICMP sockets"
	default:
		what = "answered by the virtual host itself (dummy replies): this process may open neither ping nor raw ICMP sockets"
	}
	n.logf("NAT_ICMP_MODE", []slog.Attr{slog.String("mode", string(n.icmp.mode))},
		"ICMP echo requests to remote hosts are %s.", what)
}

// icmpTarget maps an echo destination to the address actually pinged.
// Tests point it at loopback; in production it is the identity.
var icmpTarget = func(a netip.Addr) netip.Addr { return a }

// icmpRelay relays ICMP echo requests from clients to remote hosts through
// one host socket per (client, echo id, destination) flow.
type icmpRelay struct {
	n    *SecureNAT
	mode ICMPMode

	mu    sync.Mutex
	flows map[flowKey]*icmpFlow
}

type icmpFlow struct {
	f         *flow
	conn      *icmp.PacketConn
	clientMAC [6]byte
	id        uint16 // the client's echo id

	mu  sync.Mutex // serialises sends (TTL setting)
	ttl int
}

func newICMPRelay(n *SecureNAT) *icmpRelay {
	return &icmpRelay{n: n, mode: probeICMP(), flows: map[flowKey]*icmpFlow{}}
}

// handle acts on an echo request to a host other than the virtual host.
// pkt is the IPv4 packet (header and ICMP message) inside frame.
func (r *icmpRelay) handle(frame, pkt []byte, ip ipv4Info) {
	n := r.n
	msg := pkt[ip.hdrLen:]
	if ether.Checksum(msg, 0) != 0xffff {
		return // docs/protocol/securenat.md#icmp: the checksum must verify
	}
	client := [6]byte(frame[6:12])
	switch {
	case n.cfg.subnet.Contains(ip.dst) || !n.routable(ip.src, ip.dst):
		return // in-subnet echo is not ours to answer (docs/protocol/securenat.md#icmp)
	case ip.ttl <= 1:
		// Traceroute's first hop is the virtual host (docs/protocol/securenat.md#icmp).
		quote := pkt[:min(len(pkt), ip.hdrLen+8)]
		reply := make([]byte, 8+len(quote))
		reply[0] = uint8(header.ICMPv4TimeExceeded)
		copy(reply[8:], quote)
		n.sendICMP(client, n.cfg.ip, ip.src, 128, reply)
		return
	case r.mode == ICMPDummy:
		reply := append([]byte(nil), msg...)
		reply[0] = uint8(header.ICMPv4EchoReply)
		n.sendICMP(client, ip.dst, ip.src, 128, reply)
		return
	}
	id := binary.BigEndian.Uint16(msg[4:6])
	key := flowKey{ProtoICMP, netip.AddrPortFrom(ip.src, id), netip.AddrPortFrom(ip.dst, id)}
	r.mu.Lock()
	fl := r.flows[key]
	r.mu.Unlock()
	if fl == nil {
		if fl = r.open(key, client); fl == nil {
			return
		}
	}
	fl.f.touch()
	fl.send(r.mode, ip.dst, int(ip.ttl)-1, msg)
}

// open creates the flow and its socket and starts its reader.
func (r *icmpRelay) open(key flowKey, clientMAC [6]byte) *icmpFlow {
	network := "udp4"
	if r.mode == ICMPRawSocket {
		network = "ip4:icmp"
	}
	f := r.n.nat.newFlow(ProtoICMP, key.client, key.dest)
	if !r.n.nat.add(f) {
		return nil
	}
	conn, err := icmp.ListenPacket(network, "0.0.0.0")
	if err != nil {
		r.n.nat.remove(f)
		return nil
	}
	conn.IPv4PacketConn().SetControlMessage(ipv4.FlagTTL, true)
	fl := &icmpFlow{f: f, conn: conn, clientMAC: clientMAC, id: key.client.Port()}
	f.setCloser(func() { conn.Close() })
	r.mu.Lock()
	r.flows[key] = fl
	r.mu.Unlock()
	go r.read(fl)
	return fl
}

// send writes the client's echo request to the destination, with the
// client's TTL less one.
func (fl *icmpFlow) send(mode ICMPMode, dst netip.Addr, ttl int, msg []byte) {
	dst = icmpTarget(dst)
	var to net.Addr = &net.IPAddr{IP: dst.AsSlice()}
	if mode == ICMPPingSocket {
		to = &net.UDPAddr{IP: dst.AsSlice()}
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if ttl != fl.ttl {
		fl.conn.IPv4PacketConn().SetTTL(ttl)
		fl.ttl = ttl
	}
	if _, err := fl.conn.WriteTo(msg, to); err == nil {
		fl.f.sent.Add(uint64(len(msg)))
	}
}

// read relays echo replies to the client until the flow is closed.
func (r *icmpRelay) read(fl *icmpFlow) {
	defer guard.Recover(r.n.opt.Log, "SecureNAT ICMP flow", nil)
	defer func() {
		r.mu.Lock()
		delete(r.flows, fl.f.key)
		r.mu.Unlock()
		r.n.nat.remove(fl.f)
	}()
	dst := fl.f.key.dest.Addr()
	target := icmpTarget(dst)
	buf := make([]byte, 64<<10)
	p4 := fl.conn.IPv4PacketConn()
	for {
		nr, cm, peer, err := p4.ReadFrom(buf)
		if err != nil {
			return
		}
		m := buf[:nr]
		if nr < header.ICMPv4MinimumSize || m[0] != uint8(header.ICMPv4EchoReply) {
			continue
		}
		if r.mode == ICMPRawSocket {
			// A raw socket sees every ICMP message of the host.
			from, ok := peer.(*net.IPAddr)
			if !ok || !from.IP.Equal(target.AsSlice()) || binary.BigEndian.Uint16(m[4:6]) != fl.id {
				continue
			}
		}
		// A ping socket replaces the echo id with its own; restore the
		// client's and fix the checksum.
		binary.BigEndian.PutUint16(m[4:6], fl.id)
		m[2], m[3] = 0, 0
		binary.BigEndian.PutUint16(m[2:4], ^ether.Checksum(m, 0))
		ttl := 64
		if cm != nil && cm.TTL > 1 {
			ttl = cm.TTL - 1
		}
		fl.f.touch()
		fl.f.recv.Add(uint64(nr))
		r.n.sendICMP(fl.clientMAC, dst, fl.f.key.client.Addr(), uint8(ttl), m)
	}
}

// sendICMP sends an ICMP message (checksum computed here) from src to the
// client at dst/dstMAC, bypassing the stack.
func (n *SecureNAT) sendICMP(dstMAC [6]byte, src, dst netip.Addr, ttl uint8, msg []byte) {
	if len(msg) < header.ICMPv4MinimumSize || len(msg)+header.IPv4MinimumSize > int(n.cfg.mtu) {
		return
	}
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], ^ether.Checksum(msg, 0))
	frame := make([]byte, header.EthernetMinimumSize+header.IPv4MinimumSize+len(msg))
	copy(frame[0:6], dstMAC[:])
	copy(frame[6:12], n.cfg.mac)
	binary.BigEndian.PutUint16(frame[12:14], uint16(header.IPv4ProtocolNumber))
	iph := header.IPv4(frame[header.EthernetMinimumSize:])
	iph.Encode(&header.IPv4Fields{
		TotalLength: uint16(header.IPv4MinimumSize + len(msg)),
		TTL:         ttl,
		Protocol:    uint8(header.ICMPv4ProtocolNumber),
		SrcAddr:     tcpAddr(src),
		DstAddr:     tcpAddr(dst),
	})
	iph.SetChecksum(^iph.CalculateChecksum())
	copy(frame[header.EthernetMinimumSize+header.IPv4MinimumSize:], msg)
	n.link.appendOut(frame)
}
