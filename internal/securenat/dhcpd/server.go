// Package dhcpd is SecureNAT's virtual DHCP server: it answers DHCPv4
// requests that reach the virtual host's Ethernet port with reply frames,
// and keeps the lease table shown by "DhcpTable".
//
// It follows SoftEther 5.01 where clients or admins can see it (address
// choice: lowest free pool address, same address for a returning MAC;
// option order 53, 54, 51, 15, 1, 3, 6 then 121/249; the lease-creation
// log line) and RFC 2131 where SoftEther is weak (see docs/protocol/securenat.md#dhcp-server):
//
//   - REQUESTs naming another server (option 54) are ignored;
//   - the server's own, gateway and DNS addresses are never handed out;
//   - static reservations by MAC (Config.Static);
//   - replies carry T1/T2 (58/59) and the broadcast address (28), NAKs no
//     subnet mask, and are addressed per RFC 2131 §4.1 (relay, ciaddr,
//     broadcast flag, else unicast to yiaddr at the requesting station).
//
// Leases are keyed on the request frame's Ethernet source MAC, as SoftEther
// keys them, never on chaddr, which any client can forge; so a relay agent's
// clients would share the relay's one lease, as on SoftEther.
//
// RELEASE and DECLINE are ignored, as SoftEther ignores them: a lease runs
// until it expires, and a client that comes back gets the same address. The
// source MAC does not prove who sent them (the hub hands a MAC to whichever
// session sends from it last), so honouring them would let any session end
// another station's lease.
//
// The server is passive: the caller feeds it frames with HandleFrame and
// calls ExpireNow about once a second so that expiries are logged on time.
package dhcpd

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Server is one virtual DHCP server. Its methods are safe for concurrent
// use.
type Server struct {
	mu   sync.Mutex
	cfg  *settings
	t    table
	ipID uint16 // IPv4 identification of the next reply
	// lastExhausted rate-limits the "pool exhausted" log line.
	lastExhausted time.Time
}

// New validates cfg and returns a server whose lease table holds
// cfg.Restore (usually nothing).
func New(cfg Config) (*Server, error) {
	st, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: st, t: newTable()}
	s.restore(cfg.Restore)
	return s, nil
}

// Reconfigure applies a changed configuration to the running server, as
// SoftEther does when an admin changes the SecureNAT options: leases, ended
// bindings and offers are kept. A lease that the new settings would not
// grant (say, outside a shrunk pool) runs until it expires, and its renewal
// is then refused with a NAK. On error the old configuration stays.
func (s *Server) Reconfigure(cfg Config) error {
	st, err := cfg.validate()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = st
	return nil
}

// Leases returns the active leases, ordered by ID. Ended leases and
// pending offers are not listed.
func (s *Server) Leases() []Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(s.cfg.clock())
	return s.leases()
}

// ExpireNow ends the leases (and forgets the offers) whose time is up,
// logging each ended lease. HandleFrame and Leases do it too; the caller's
// one-second timer makes expiry lines appear when the lease ends even on a
// quiet segment.
func (s *Server) ExpireNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(s.cfg.clock())
}

// HandleFrame consumes frame if it is an IPv4/UDP datagram to port 67
// addressed to this server: Ethernet destination broadcast or ServerMAC, IP
// destination 255.255.255.255, the subnet broadcast or ServerIP. It then
// appends the reply frame, if any, to out and returns (out, true); frames
// that are unusable as DHCP requests are consumed without a reply. Any other
// frame returns (out, false) untouched, without allocating. frame is not
// retained.
func (s *Server) HandleFrame(frame []byte, out [][]byte) ([][]byte, bool) {
	var f udpFrame
	if !parseUDP(frame, &f) || f.dstPort != serverPort {
		return out, false
	}
	// Only port-67 frames get here, so taking the lock costs the data path
	// nothing; it guards s.cfg against Reconfigure.
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cfg
	if (f.dst != broadcastMAC && f.dst != c.serverMAC) || f.src == c.serverMAC {
		return out, false
	}
	if f.dstIP != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && f.dstIP != c.broadcast && f.dstIP != c.serverIP {
		return out, false
	}
	req, err := dhcpv4.FromBytes(f.payload)
	if err != nil || req.OpCode != dhcpv4.OpcodeBootRequest ||
		req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
		return out, true
	}
	if reply := s.handle(&f, req); reply != nil {
		out = append(out, reply)
	}
	return out, true
}

// handle runs one request and returns the reply frame (nil for none).
func (s *Server) handle(f *udpFrame, req *dhcpv4.DHCPv4) []byte {
	now := s.cfg.clock()
	s.sweep(now)
	hostname := cleanHostname(req.HostName())
	if hasPrefixFold(hostname, "securenat-") || hasPrefixFold(hostname, "securenat_") {
		return nil // another SecureNAT's kernel-mode stack asking its own server
	}
	// Leases belong to the station that sent the frame, as in SoftEther
	// (Virtual.c, VirtualDhcpServer uses the frame's source MAC, never
	// chaddr): keyed on chaddr, one session could lease the whole pool by
	// varying it, or release and decline other clients' leases. The hub
	// vouches for the source MAC (a client-mode session may use only a few).
	mac := f.src
	serverID := addr4(req.ServerIdentifier())
	forOther := serverID.IsValid() && serverID != s.cfg.serverIP

	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		ip := s.allocate(mac, addr4(req.RequestedIPAddress()))
		if !ip.IsValid() {
			s.logExhausted(mac, now)
			return nil
		}
		s.setOffer(mac, ip, now)
		return s.reply(f, req, dhcpv4.MessageTypeOffer, ip)

	case dhcpv4.MessageTypeRequest:
		if forOther {
			s.dropOffer(mac) // the client chose another server's offer
			return nil
		}
		requested := addr4(req.RequestedIPAddress())
		if !requested.IsValid() {
			requested = addr4(req.ClientIPAddr)
		}
		if !requested.IsValid() {
			requested = nonZero(f.srcIP)
		}
		var ip netip.Addr
		if requested.IsValid() {
			if s.available(mac, requested) {
				ip = requested
			}
		} else {
			ip = s.allocate(mac, netip.Addr{})
		}
		if !ip.IsValid() {
			return s.reply(f, req, dhcpv4.MessageTypeNak, netip.Addr{})
		}
		b := s.commit(mac, ip, hostname, now)
		if s.cfg.onLease != nil {
			s.cfg.onLease(b.lease())
		}
		return s.reply(f, req, dhcpv4.MessageTypeAck, ip)

	case dhcpv4.MessageTypeRelease, dhcpv4.MessageTypeDecline:
		// Ignored, as SoftEther does (Virtual.c, VirtualDhcpServer answers
		// only DISCOVER, REQUEST and INFORM). A session may send from a
		// MAC another station uses (the hub then moves the MAC to it), so
		// nothing shows that the lease holder sent them; freeing the lease
		// would let one session end another's and take its address. The
		// lease expires on its own; the client gets the same address back.
		s.cfg.log.Debug("SecureNAT: DHCP "+req.MessageType().String()+" ignored: leases end only when they expire",
			slog.String("mac", FormatMAC(mac[:])), slog.String("ciaddr", addr4(req.ClientIPAddr).String()),
			slog.String("requested", addr4(req.RequestedIPAddress()).String()))
		return nil

	case dhcpv4.MessageTypeInform:
		return s.reply(f, req, dhcpv4.MessageTypeAck, netip.Addr{})
	}
	return nil
}

// reply builds the reply frame. yiaddr is the address given (invalid for
// INFORM and NAK).
func (s *Server) reply(f *udpFrame, req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, yiaddr netip.Addr) []byte {
	c := s.cfg
	inform := req.MessageType() == dhcpv4.MessageTypeInform
	nak := typ == dhcpv4.MessageTypeNak
	withLease := !inform && !nak

	p := make([]byte, 240, 576)
	p[0] = byte(dhcpv4.OpcodeBootReply)
	p[1] = byte(req.HWType)
	p[2] = 6
	copy(p[4:8], req.TransactionID[:])
	flags := req.Flags
	giaddr := addr4(req.GatewayIPAddr)
	if nak && giaddr.IsValid() {
		flags |= 0x8000 // RFC 2131 §4.3.2: the relay must broadcast a NAK
	}
	p[10], p[11] = byte(flags>>8), byte(flags)
	if !nak && (inform || typ == dhcpv4.MessageTypeAck) {
		copy(p[12:16], req.ClientIPAddr.To4())
	}
	putAddr(p[16:20], yiaddr)
	putAddr(p[20:24], c.serverIP) // SoftEther puts its own address in siaddr
	putAddr(p[24:28], giaddr)
	copy(p[28:34], req.ClientHWAddr)
	copy(p[236:240], []byte{99, 130, 83, 99}) // magic cookie

	p = appendOption(p, dhcpv4.OptionDHCPMessageType, []byte{byte(typ)})
	p = appendOption(p, dhcpv4.OptionServerIdentifier, addrBytes(c.serverIP))
	if !nak {
		if withLease {
			p = appendOption(p, dhcpv4.OptionIPAddressLeaseTime, seconds(c.lease))
		}
		if c.domain != "" {
			p = appendOption(p, dhcpv4.OptionDomainName, []byte(c.domain))
		}
		p = appendOption(p, dhcpv4.OptionSubnetMask, addrBytes(c.mask))
		if c.gateway.IsValid() {
			p = appendOption(p, dhcpv4.OptionRouter, addrBytes(c.gateway))
		}
		if len(c.dns) > 0 {
			var d []byte
			for _, a := range c.dns {
				d = append(d, addrBytes(a)...)
			}
			p = appendOption(p, dhcpv4.OptionDomainNameServer, d)
		}
		p = appendOption(p, dhcpv4.OptionBroadcastAddress, addrBytes(c.broadcast))
		if withLease && c.lease > 0 {
			p = appendOption(p, dhcpv4.OptionRenewTimeValue, seconds(c.lease/2))
			p = appendOption(p, dhcpv4.OptionRebindingTimeValue, seconds(c.lease/8*7)) // divided first: 2^32 s times 7 overflows a Duration
		}
		if c.routes != nil {
			p = appendOption(p, dhcpv4.OptionClasslessStaticRoute, c.routes)
			p = appendOption(p, msStaticRoutes, c.routes)
		}
	}
	p = append(p, byte(dhcpv4.OptionEnd))
	for len(p) < minDHCPSize {
		p = append(p, 0)
	}

	dstMAC, dstIP, dstPort := s.destination(f, req, nak, yiaddr)
	s.ipID++
	return buildFrame(c.serverMAC, dstMAC, f.tagged, f.tci, c.serverIP, dstIP, serverPort, dstPort, s.ipID, p)
}

// msStaticRoutes is Microsoft's pre-RFC code for classless routes; SoftEther
// sends it alongside option 121 with the same data.
var msStaticRoutes = dhcpv4.GenericOptionCode(249)

// destination addresses a reply per RFC 2131 §4.1: to a relay agent; else
// to ciaddr; else (INFORM only) to the request's source address, as
// SoftEther does; NAKs and replies to clients that set the broadcast flag
// are broadcast; anything else goes to yiaddr at the MAC that asked.
func (s *Server) destination(f *udpFrame, req *dhcpv4.DHCPv4, nak bool, yiaddr netip.Addr) ([6]byte, netip.Addr, uint16) {
	bcast := netip.AddrFrom4([4]byte{255, 255, 255, 255})
	port := f.srcPort
	if port == 0 {
		port = clientPort
	}
	if gi := addr4(req.GatewayIPAddr); gi.IsValid() {
		return f.src, gi, serverPort
	}
	if nak {
		return broadcastMAC, bcast, port
	}
	if ci := addr4(req.ClientIPAddr); ci.IsValid() {
		return f.src, ci, port
	}
	if req.MessageType() == dhcpv4.MessageTypeInform && nonZero(f.srcIP).IsValid() {
		return f.src, f.srcIP, port
	}
	if req.IsBroadcast() || !yiaddr.IsValid() {
		return broadcastMAC, bcast, port
	}
	return f.src, yiaddr, port
}

// appendOption appends one option, split into 255-byte pieces when longer
// (RFC 3396; long push-route lists need it).
func appendOption(p []byte, code dhcpv4.OptionCode, data []byte) []byte {
	for {
		n := min(len(data), 255)
		p = append(p, code.Code(), byte(n))
		p = append(p, data[:n]...)
		data = data[n:]
		if len(data) == 0 {
			return p
		}
	}
}

// seconds encodes a lease duration for options 51/58/59; 0 is infinite.
func seconds(d time.Duration) []byte {
	v := uint32(0xFFFFFFFF)
	if d > 0 {
		v = uint32(d / time.Second)
	}
	return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// addr4 converts a decoded net.IP to an address; nil, malformed and
// 0.0.0.0 become the invalid address.
func addr4(ip []byte) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return nonZero(a.Unmap())
}

func nonZero(a netip.Addr) netip.Addr {
	if !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

func addrBytes(a netip.Addr) []byte {
	b := a.As4()
	return b[:]
}

func putAddr(dst []byte, a netip.Addr) {
	if a.Is4() {
		b := a.As4()
		copy(dst, b[:])
	}
}

// cleanHostname keeps a client-chosen name safe for one log line: valid
// UTF-8, no control characters.
func cleanHostname(h string) string {
	h = strings.ToValidUTF8(h, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimRight(h, "\x00"))
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
