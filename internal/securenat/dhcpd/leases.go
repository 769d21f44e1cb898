package dhcpd

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"time"
)

// Lease is one committed lease, as SoftEther's "DhcpTable" lists it.
type Lease struct {
	ID       uint32 // 1, 2, … in order of creation; kept across renewals
	LeasedAt time.Time
	Expires  time.Time // zero for an infinite lease
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string // the client's host-name option (12), if any
}

// binding ties a MAC to an address. Once the lease expires the binding is kept, inactive, so that the client gets the same address
// when it comes back and other clients get fresh addresses first. There is
// at most one binding per address, so their number is bounded by the pool
// size plus the static reservations.
type binding struct {
	mac      [6]byte
	ip       netip.Addr
	hostname string
	id       uint32
	leasedAt time.Time
	expires  time.Time // lease end (zero = infinite); when it ended, if inactive
	active   bool
}

type offer struct {
	ip      netip.Addr
	expires time.Time
}

// table is the server's state. It is not safe for concurrent use; Server
// guards it with a mutex.
type table struct {
	byMAC   map[[6]byte]*binding
	byIP    map[netip.Addr]*binding
	offers  map[[6]byte]offer
	offered map[netip.Addr][6]byte
	nextID  uint32
	// nextSweep is the earliest time something may expire; sweeps before
	// it have nothing to do.
	nextSweep time.Time
}

func newTable() table {
	return table{
		byMAC:   make(map[[6]byte]*binding),
		byIP:    make(map[netip.Addr]*binding),
		offers:  make(map[[6]byte]offer),
		offered: make(map[netip.Addr][6]byte),
	}
}

// available reports whether ip may be given to mac now (expired leases
// and offers have been swept).
func (s *Server) available(mac [6]byte, ip netip.Addr) bool {
	c := s.cfg
	if !ip.Is4() || !c.subnet.Contains(ip) || ip == c.subnet.Addr() || ip == c.broadcast {
		return false
	}
	if owner, ok := c.staticIP[ip]; ok && owner != mac {
		return false
	}
	if reserved, ok := c.static[mac]; ok {
		if ip != reserved {
			return false
		}
	} else if c.excluded[ip] || ip.Less(c.start) || c.end.Less(ip) {
		return false
	}
	if b := s.t.byIP[ip]; b != nil && b.active && b.mac != mac {
		return false
	}
	if owner, ok := s.t.offered[ip]; ok && owner != mac {
		return false
	}
	return true
}

// allocate picks the address to offer mac (invalid if none is free):
// its static reservation; else the requested address if it may have it;
// else the address it holds or held; else the address offered to it; else
// the lowest pool address never bound; else the pool address whose last
// binding ended longest ago.
func (s *Server) allocate(mac [6]byte, requested netip.Addr) netip.Addr {
	if ip, ok := s.cfg.static[mac]; ok {
		if s.available(mac, ip) {
			return ip
		}
		return netip.Addr{}
	}
	if requested.IsValid() && s.available(mac, requested) {
		return requested
	}
	if b := s.t.byMAC[mac]; b != nil && s.available(mac, b.ip) {
		return b.ip
	}
	if o, ok := s.t.offers[mac]; ok && s.available(mac, o.ip) {
		return o.ip
	}
	for ip := s.cfg.start; ; ip = ip.Next() {
		if s.t.byIP[ip] == nil && s.available(mac, ip) {
			return ip
		}
		if ip == s.cfg.end {
			break
		}
	}
	var best *binding
	for _, b := range s.t.byIP {
		if b.active || !s.available(mac, b.ip) {
			continue
		}
		if best == nil || b.expires.Before(best.expires) ||
			(b.expires.Equal(best.expires) && b.ip.Less(best.ip)) {
			best = b
		}
	}
	if best == nil {
		return netip.Addr{}
	}
	return best.ip
}

// setOffer remembers that ip was offered to mac, for offerHold.
func (s *Server) setOffer(mac [6]byte, ip netip.Addr, now time.Time) {
	s.dropOffer(mac)
	exp := now.Add(offerHold)
	s.t.offers[mac] = offer{ip: ip, expires: exp}
	s.t.offered[ip] = mac
	s.wakeAt(exp)
}

func (s *Server) dropOffer(mac [6]byte) {
	if o, ok := s.t.offers[mac]; ok {
		delete(s.t.offers, mac)
		if s.t.offered[o.ip] == mac {
			delete(s.t.offered, o.ip)
		}
	}
}

// forget removes a binding entirely.
func (s *Server) forget(b *binding) {
	if s.t.byMAC[b.mac] == b {
		delete(s.t.byMAC, b.mac)
	}
	if s.t.byIP[b.ip] == b {
		delete(s.t.byIP, b.ip)
	}
}

// commit makes (or renews) the lease of ip for mac and returns it. A
// renewal of the active lease keeps its ID and logs nothing; any other
// commit creates entry number nextID and logs it as SoftEther does.
func (s *Server) commit(mac [6]byte, ip netip.Addr, hostname string, now time.Time) *binding {
	s.dropOffer(mac)
	var exp time.Time
	if s.cfg.lease > 0 {
		exp = now.Add(s.cfg.lease)
		s.wakeAt(exp)
	}
	if b := s.t.byMAC[mac]; b != nil && b.ip == ip && b.active {
		b.expires = exp
		if hostname != "" {
			b.hostname = hostname
		}
		return b
	}
	if b := s.t.byMAC[mac]; b != nil {
		s.forget(b) // the client moved to another address
	}
	if b := s.t.byIP[ip]; b != nil {
		s.forget(b) // an ended binding of another client
	}
	s.t.nextID++
	b := &binding{mac: mac, ip: ip, hostname: hostname, id: s.t.nextID, leasedAt: now, expires: exp, active: true}
	s.t.byMAC[mac] = b
	s.t.byIP[ip] = b
	s.logCreated(b)
	return b
}

func (s *Server) wakeAt(t time.Time) {
	if s.t.nextSweep.IsZero() || t.Before(s.t.nextSweep) {
		s.t.nextSweep = t
	}
}

// sweep ends expired leases (logging each) and drops expired offers.
func (s *Server) sweep(now time.Time) {
	if s.t.nextSweep.IsZero() || now.Before(s.t.nextSweep) {
		return
	}
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var ended []*binding
	for _, b := range s.t.byMAC {
		if !b.active || b.expires.IsZero() {
			continue
		}
		if now.Before(b.expires) {
			later(b.expires)
			continue
		}
		b.active = false
		ended = append(ended, b)
	}
	// Log in ID order so that the log reads the same on every run.
	slices.SortFunc(ended, func(a, b *binding) int { return cmp.Compare(a.id, b.id) })
	for _, b := range ended {
		s.logExpired(b)
	}
	for mac, o := range s.t.offers {
		if now.Before(o.expires) {
			later(o.expires)
			continue
		}
		s.dropOffer(mac)
	}
	s.t.nextSweep = next
}

// leases lists the active leases by ID.
func (s *Server) leases() []Lease {
	var out []Lease
	for _, b := range s.t.byMAC {
		if b.active {
			out = append(out, b.lease())
		}
	}
	slices.SortFunc(out, func(a, b Lease) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// lease is b as a Lease.
func (b *binding) lease() Lease {
	return Lease{
		ID:       b.id,
		LeasedAt: b.leasedAt,
		Expires:  b.expires,
		MAC:      net.HardwareAddr(append([]byte(nil), b.mac[:]...)),
		IP:       b.ip,
		Hostname: b.hostname,
	}
}

// restore fills the table with leases granted before, the newest first
// winning an address or MAC; those that ended are kept as ended bindings
// (the client gets its address back first). Leases not in this segment
// are dropped.
func (s *Server) restore(leases []Lease) {
	leases = slices.Clone(leases)
	slices.SortFunc(leases, func(a, b Lease) int { return b.LeasedAt.Compare(a.LeasedAt) })
	now := s.cfg.clock()
	for _, l := range leases {
		var mac [6]byte
		if len(l.MAC) != len(mac) || !s.cfg.subnet.Contains(l.IP) || l.IP == s.cfg.serverIP {
			continue
		}
		copy(mac[:], l.MAC)
		if owner, ok := s.cfg.staticIP[l.IP]; ok && owner != mac {
			continue // reserved for another client since
		}
		if s.t.byMAC[mac] != nil || s.t.byIP[l.IP] != nil {
			continue // a newer lease has the address or the client
		}
		b := &binding{mac: mac, ip: l.IP, hostname: l.Hostname, id: l.ID, leasedAt: l.LeasedAt, expires: l.Expires,
			active: l.Expires.IsZero() || now.Before(l.Expires)}
		s.t.byMAC[mac], s.t.byIP[l.IP] = b, b
		s.t.nextID = max(s.t.nextID, l.ID)
		if b.active && !b.expires.IsZero() {
			s.wakeAt(b.expires)
		}
	}
}
