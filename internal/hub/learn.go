package hub

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"
)

// ipKey is the IP table key.
type ipKey = netip.Addr

func hashIP(a netip.Addr) uint64 {
	b := a.As16()
	return binary.LittleEndian.Uint64(b[0:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[8:16])
}

// refreshGranularity bounds how often a known entry's timestamp is rewritten:
// a store per frame would bounce the entry's cache line between the cores
// that look it up. Ageing works in seconds, so this loses nothing.
const refreshGranularity = int64(100 * time.Millisecond)

func refresh[K comparable](e *entry[K], now int64) {
	if now-e.updated.Load() >= refreshGranularity {
		e.updated.Store(now)
	}
}

// macAlive reports whether a MAC entry may still be used: not aged out ([GO]:
// age is checked on lookup too) and owned by an attached port.
func (h *Hub) macAlive(e *entry[uint64], now int64) bool {
	o := e.owner.Load()
	return o != nil && !o.closed.Load() && now-e.updated.Load() < int64(h.o().MACAgeing)
}

// learnMAC runs docs/protocol/hub.md#mac-table's learning for the source of pk sent by p. It reports
// false when the frame must be dropped.
func (h *Hub) learnMAC(p *Port, pk *packet, now int64) bool {
	key := macKey(pk.src, pk.vlan)
	e := h.macs.get(key)
	if e != nil && e.owner.Load() == p && h.macAlive(e, now) {
		refresh(e, now) // the common case: no lock taken
		return true
	}
	if e == nil || !h.macAlive(e, now) {
		h.purgeMACsIfDue(now)
	}

	s := h.macs.shard(key)
	s.mu.Lock()
	e = s.m[key]
	var prev *Port
	if e != nil {
		prev = e.owner.Load()
	}
	switch {
	case e != nil && prev == p: // refreshed concurrently or aged out and reused
		e.updated.Store(now)
		s.mu.Unlock()
		return true

	case e != nil && h.macAlive(e, now): // owned by another live port: a move
		if p.pol.CheckMAC && now-e.updated.Load() < int64(exclusiveTime) {
			s.mu.Unlock()
			return false // SoftEther drops silently here
		}
		e.owner.Store(p)
		e.created.Store(now)
		e.updated.Store(now)
		prev.nMAC.Add(-1)
		p.nMAC.Add(1)
		s.mu.Unlock()
		h.logMACRegist(p, pk.src, pk.vlan)
		return true
	}

	// New address (or a dead entry that this port takes over).
	if limit := p.pol.macLimit(); limit > 0 && int(p.nMAC.Load()) >= limit {
		s.mu.Unlock()
		h.logMACLimit(p, pk.src, limit)
		return false
	}
	if e != nil { // dead entry: reuse its slot
		if prev != nil {
			prev.nMAC.Add(-1)
		}
		e.owner.Store(p)
		e.created.Store(now)
		e.updated.Store(now)
		p.nMAC.Add(1)
		s.mu.Unlock()
		if h.o().LogNewMACs {
			h.logMACRegist(p, pk.src, pk.vlan)
		}
		return true
	}
	if h.macs.n.Load() >= int64(h.o().MaxMACEntries) {
		s.mu.Unlock()
		return false
	}
	e = &entry[uint64]{key: key, id: h.macs.ids.Add(1)}
	e.owner.Store(p)
	e.created.Store(now)
	e.updated.Store(now)
	s.m[key] = e
	h.macs.n.Add(1)
	p.nMAC.Add(1)
	s.mu.Unlock()
	if h.o().LogNewMACs {
		h.logMACRegist(p, pk.src, pk.vlan)
	}
	return true
}

// purgeMACsIfDue removes aged-out MAC entries, at most once per second, when a
// new address shows up (SoftEther's lazy expiry, docs/protocol/hub.md#mac-table).
func (h *Hub) purgeMACsIfDue(now int64) {
	last := h.lastPurge.Load()
	if now-last < int64(time.Second) && last != 0 || !h.lastPurge.CompareAndSwap(last, now) {
		return
	}
	h.macs.deleteIf(func(e *entry[uint64]) bool { return !h.macAlive(e, now) }, dropOwnedMAC)
}

func dropOwnedMAC(e *entry[uint64]) {
	if o := e.owner.Load(); o != nil {
		o.nMAC.Add(-1)
	}
}

func dropOwnedIP(e *entry[ipKey]) {
	if o := e.owner.Load(); o != nil {
		if e.key.Is4() {
			o.nIPv4.Add(-1)
		} else {
			o.nIPv6.Add(-1)
		}
	}
}

// removeOwned deletes every table entry owned by p.
func (h *Hub) removeOwned(p *Port) {
	h.macs.deleteIf(func(e *entry[uint64]) bool { return e.owner.Load() == p }, dropOwnedMAC)
	h.ips.deleteIf(func(e *entry[ipKey]) bool { return e.owner.Load() == p }, dropOwnedIP)
}

// ipAlive reports whether an IP entry is still valid.
func (h *Hub) ipAlive(e *entry[ipKey], now int64) bool {
	o := e.owner.Load()
	age := h.o().IPAgeing
	if e.dhcp.Load() {
		age = h.o().DHCPIPAgeing
	}
	return o != nil && !o.closed.Load() && now-e.updated.Load() < int64(age)
}

// tracked reports whether an address goes into the IP table (docs/protocol/hub.md#ip-table).
func (h *Hub) tracked(ip netip.Addr) bool {
	if ip.Is4() {
		return !h.o().ManageOnlyPrivateIP || isPrivate4(ip)
	}
	return ip.IsLinkLocalUnicast() // ManageOnlyLocalUnicastIPv6, SoftEther's default
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// isPrivate4 is SoftEther's private-address test: RFC 1918, link-local and
// carrier-grade NAT space.
func isPrivate4(ip netip.Addr) bool {
	return ip.IsPrivate() || ip.IsLinkLocalUnicast() || cgnat.Contains(ip)
}

var (
	ip4Zero  = netip.AddrFrom4([4]byte{})
	ip4Bcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// learnIP runs the IPv6 and IPv4 learning of docs/protocol/hub.md#forwarding-steps steps 9-10 for a frame from
// p. It reports false when the frame must be dropped.
func (h *Hub) learnIP(p *Port, pk *packet, now int64) bool {
	ip := pk.srcIP
	switch pk.l3 {
	case l3IPv4, l3ARP:
		if pk.dhcp4 || ip == ip4Zero || ip == ip4Bcast {
			return true
		}
		return h.learnAddr(p, pk, ip, &p.nIPv4, p.pol.ipv4Limit(), p.pol.NoRouting, now)
	case l3IPv6:
		if !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast() {
			return true // unspecified, loopback, multicast
		}
		limit := p.pol.ipv6Limit()
		if pk.icmp6Is(133) || pk.icmp6Is(134) || pk.dhcp6() {
			limit = 0 // router discovery and DHCPv6 never hit the cap
		}
		return h.learnAddr(p, pk, ip, &p.nIPv6, limit, false, now)
	}
	return true
}

// learnAddr is docs/protocol/hub.md#ip-table's learning algorithm for one source address.
func (h *Hub) learnAddr(p *Port, pk *packet, ip netip.Addr, count *atomic.Int32, limit int, routing bool, now int64) bool {
	e := h.ips.get(ip)
	if e != nil && h.ipAlive(e, now) {
		owner := e.owner.Load()
		if owner == p {
			refresh(e, now)
			if e.mac.Load() != pk.src {
				e.mac.Store(pk.src)
			}
			return true
		}
		if p.pol.CheckIP && ip.Is4() && now-e.updated.Load() < int64(exclusiveTime) {
			h.logIPConflict(p, ip, owner, e)
			return false
		}
		h.putIP(p, ip, pk.src, false, now)
		return true
	}
	// Not in the table. The cap is checked even for untracked addresses, so a
	// session at its cap cannot source public addresses either (docs/protocol/hub.md#ip-table).
	if limit > 0 && int(count.Load()) >= limit {
		h.logIPLimit(p, ip, int(count.Load()), limit, routing)
		return false
	}
	if h.tracked(ip) {
		h.putIP(p, ip, pk.src, false, now)
	}
	return true
}

// putIP creates or takes over the IP entry for ip on behalf of p.
func (h *Hub) putIP(p *Port, ip netip.Addr, mac uint64, dhcp bool, now int64) (created bool) {
	s := h.ips.shard(ip)
	s.mu.Lock()
	e := s.m[ip]
	if e == nil {
		if h.ips.n.Load() >= int64(h.o().MaxIPEntries) {
			s.mu.Unlock()
			h.evictIP(ip, now)
			s.mu.Lock()
			if e = s.m[ip]; e == nil && h.ips.n.Load() >= int64(h.o().MaxIPEntries) {
				s.mu.Unlock()
				return false
			}
		}
	}
	if e == nil {
		e = &entry[ipKey]{key: ip, id: h.ips.ids.Add(1)}
		s.m[ip] = e
		h.ips.n.Add(1)
		created = true
	} else if o := e.owner.Load(); o != nil {
		dropOwnedIP(e)
	}
	e.owner.Store(p)
	if ip.Is4() {
		p.nIPv4.Add(1)
	} else {
		p.nIPv6.Add(1)
	}
	e.created.Store(now)
	e.updated.Store(now)
	e.dhcp.Store(dhcp)
	e.mac.Store(mac)
	s.mu.Unlock()
	return created
}

// evictSample is how many entries of a full IP table evictIP looks at to
// choose the one to evict.
const evictSample = 8

// evictIP makes room in a full IP table for ip, with work bounded per call:
// a client sending from ever new source addresses must not make each of its
// frames scan the table. Expired entries are purged from the whole table at
// most once per second, as the MAC table's are (purgeMACsIfDue); otherwise
// one entry of the shard that ip goes to (or of the next one that has any)
// is evicted: an expired one met first, else the least recently updated of
// up to evictSample (Go's map order makes them a random sample). ([GO]:
// SoftEther evicts the entry that sorts last by address, after scanning the
// whole table.)
func (h *Hub) evictIP(ip netip.Addr, now int64) {
	// Not in the hub's first second: nothing can have expired yet.
	last := h.lastIPPurge.Load()
	if now-last >= int64(time.Second) && h.lastIPPurge.CompareAndSwap(last, now) &&
		h.ips.deleteIf(func(e *entry[ipKey]) bool { return !h.ipAlive(e, now) }, dropOwnedIP) > 0 {
		return
	}
	first := int(hashIP(ip) % tableShards)
	for i := range tableShards {
		s := &h.ips.shards[(first+i)%tableShards]
		s.mu.Lock()
		var victim *entry[ipKey]
		seen := 0
		for _, e := range s.m {
			if !h.ipAlive(e, now) {
				victim = e
				break
			}
			if victim == nil || e.updated.Load() < victim.updated.Load() {
				victim = e
			}
			if seen++; seen == evictSample {
				break
			}
		}
		if victim != nil {
			delete(s.m, victim.key)
			h.ips.n.Add(-1)
			dropOwnedIP(victim)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// snoopDHCP records the address a DHCP ACK hands out (docs/protocol/hub.md#dhcp-snooping), owned by the
// session that holds the client's MAC on VLAN 0. The entry's MAC is chaddr
// ([GO]: SoftEther stores the ACK's destination MAC).
func (h *Hub) snoopDHCP(p *Port, pk *packet, now int64) {
	const bootReply, dhcpACK = 2, 5
	if pk.bootpOp != bootReply || pk.dhcpType != dhcpACK || pk.htype != 1 || pk.hlen != 6 ||
		pk.yiaddr == ip4Zero || pk.yiaddr == ip4Bcast {
		return
	}
	e := h.macs.get(macKey(pk.chaddr, 0))
	if e == nil || !h.macAlive(e, now) {
		return
	}
	client := e.owner.Load()
	if h.putIP(client, pk.yiaddr, pk.chaddr, true, now) && client != p {
		h.logRegistDHCP(p, pk, client)
	}
}
