package native

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// The adapter's DHCP client (SoftEther IPC.c, IPCDhcpAllocateIP,
// IPCDhcpRenewIP, IPCDhcpFreeIP, IPCBuildDhcpRequestOptions). Messages are
// built and parsed with github.com/insomniacslk/dhcp; DHCP is not the data
// path, so they may allocate.

type dhcpPhase int

const (
	phaseDiscover dhcpPhase = iota // DISCOVER sent, waiting for an OFFER
	phaseRequest                   // REQUEST sent for the offer, waiting for the ACK
	phaseBound                     // leased; renewal at renewAt
	phaseRenew                     // REQUEST unicast to the server, waiting for the ACK
	phaseRebind                    // REQUEST broadcast to any server, waiting for the ACK
	phaseReleased                  // RELEASE sent; nothing more
)

type dhcpClient struct {
	phase            dhcpPhase
	xid              uint32
	nextSend, giveUp time.Time
	interval         time.Duration
	offer, server    [4]byte
	renewAt          time.Time
	rebindAt         time.Time
	expireAt         time.Time
}

// deadline is when the client needs to act next.
func (c *dhcpClient) deadline() time.Time {
	switch c.phase {
	case phaseBound:
		return c.renewAt
	case phaseReleased:
		return time.Now().Add(time.Hour)
	}
	if c.nextSend.Before(c.giveUp) {
		return c.nextSend
	}
	return c.giveUp
}

// resendInterval is SoftEther's retransmission interval for a wait of
// timeout (IPCSendDhcpRequest): a third of it less 100 ms, at most 3 s.
func resendInterval(timeout time.Duration) time.Duration {
	return min(maxResend, max(time.Millisecond, timeout/3-100*time.Millisecond))
}

// paramRequestList is the parameter request list SoftEther's IPC sends
// (IPCBuildDhcpRequestOptions), 121 (classless routes) among them.
var paramRequestList = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask, dhcpv4.OptionDomainName, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionNetBIOSOverTCPIPNameServer, dhcpv4.OptionNetBIOSOverTCPIPNodeType, dhcpv4.OptionNetBIOSOverTCPIPScope,
	dhcpv4.OptionPerformRouterDiscovery, dhcpv4.OptionStaticRoutingTable, dhcpv4.OptionClasslessStaticRoute,
	dhcpv4.GenericOptionCode(249), dhcpv4.OptionVendorSpecificInformation,
}

// startDiscover begins a lease from scratch; under mu.
func (a *Adapter) startDiscover(now time.Time) {
	c := &a.dhcp
	c.phase = phaseDiscover
	c.xid = a.rng.Uint32()
	c.giveUp = now.Add(a.cfg.DiscoverTimeout)
	c.interval = resendInterval(a.cfg.DiscoverTimeout)
	c.nextSend = now.Add(c.interval)
	a.sendDHCP(dhcpv4.MessageTypeDiscover, now)
}

// dhcpTick retransmits, renews, rebinds and gives up on time; under mu.
func (a *Adapter) dhcpTick(now time.Time) {
	c := &a.dhcp
	switch c.phase {
	case phaseReleased:
		return
	case phaseBound:
		if now.Before(c.renewAt) {
			return
		}
		c.phase = phaseRenew
		c.xid = a.rng.Uint32()
		c.giveUp = c.rebindAt
		c.interval = min(max((c.rebindAt.Sub(c.renewAt))/4, 500*time.Millisecond), time.Minute)
		c.nextSend = now.Add(c.interval)
		a.sendDHCP(dhcpv4.MessageTypeRequest, now)
		return
	}
	if !now.Before(c.giveUp) {
		switch c.phase {
		case phaseDiscover:
			a.failOrRetry(ErrNoOffer, now)
		case phaseRequest:
			a.failOrRetry(ErrNoAck, now)
		case phaseRenew: // T2: ask any server
			c.phase = phaseRebind
			c.giveUp = c.expireAt
			c.nextSend = now.Add(c.interval)
			a.sendDHCP(dhcpv4.MessageTypeRequest, now)
		case phaseRebind:
			a.lose(now)
		}
		return
	}
	if !now.Before(c.nextSend) {
		c.nextSend = now.Add(c.interval)
		typ := dhcpv4.MessageTypeRequest
		if c.phase == phaseDiscover {
			typ = dhcpv4.MessageTypeDiscover
		}
		a.sendDHCP(typ, now)
	}
}

// failOrRetry ends Open with err while it waits, and after a lost lease
// starts over; under mu.
func (a *Adapter) failOrRetry(err error, now time.Time) {
	if a.opened != nil {
		a.dhcp.phase = phaseReleased
		a.failOpen(err)
		return
	}
	a.startDiscover(now)
}

// lose drops the lease (NAK or expiry) and asks for a new one; under mu.
func (a *Adapter) lose(now time.Time) {
	a.setAddr(Lease{}, false)
	a.notifyLease(Lease{}, false)
	a.startDiscover(now)
}

func (a *Adapter) notifyLease(l Lease, ok bool) {
	if f := a.cfg.LeaseChanged; f != nil {
		a.notify = append(a.notify, func() { f(l, ok) })
	}
}

// releaseLocked sends a RELEASE for the lease and forgets it; under mu.
func (a *Adapter) releaseLocked() {
	c := &a.dhcp
	if c.phase >= phaseBound && c.phase != phaseReleased {
		c.xid = a.rng.Uint32()
		a.sendDHCP(dhcpv4.MessageTypeRelease, time.Now())
		a.flushLocked()
	}
	c.phase = phaseReleased
	a.setAddr(Lease{}, false)
}

// handleDHCP takes a DHCP message to the client port, from srcMAC and
// srcIP; under mu.
func (a *Adapter) handleDHCP(b []byte, srcMAC [6]byte, srcIP [4]byte, now time.Time) {
	m, err := dhcpv4.FromBytes(b)
	c := &a.dhcp
	if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || uint32(binary.BigEndian.Uint32(m.TransactionID[:])) != c.xid ||
		!bytes.Equal(m.ClientHWAddr, a.mac[:]) {
		return
	}
	typ := m.MessageType()
	switch {
	case c.phase == phaseDiscover && typ == dhcpv4.MessageTypeOffer:
		l, err := leaseOf(m)
		if err != nil {
			return // SoftEther drops an offer without address, server or mask
		}
		c.offer, c.server = l.Addr.Addr().As4(), l.Server.As4()
		c.phase = phaseRequest
		c.giveUp = now.Add(RequestTimeout)
		c.interval = resendInterval(RequestTimeout)
		c.nextSend = now.Add(c.interval)
		a.sendDHCP(dhcpv4.MessageTypeRequest, now)
	case (c.phase == phaseRequest || c.phase == phaseRenew || c.phase == phaseRebind) && typ == dhcpv4.MessageTypeAck:
		l, err := leaseOf(m)
		if err != nil || (c.phase == phaseRequest && l.Addr.Addr().As4() != c.offer) {
			return
		}
		renewed := c.phase != phaseRequest
		old := a.lease
		c.phase = phaseBound
		c.server = l.Server.As4()
		c.renewAt, c.rebindAt, c.expireAt = now.Add(l.T1), now.Add(l.T2), now.Add(l.Duration)
		a.setAddr(l, true)
		if srcIP == c.server {
			// The server answered itself: renewals go to this MAC
			// without asking ARP first.
			a.associate(srcIP, srcMAC, now)
		}
		switch {
		case a.opened != nil:
			a.failOpen(nil)
		case !renewed || !leaseEqual(old, l):
			a.notifyLease(l, true)
		}
		if renewed {
			a.stats.renewals.Add(1)
		}
	case typ == dhcpv4.MessageTypeNak && c.phase == phaseRequest:
		a.failOrRetry(ErrNak, now)
	case typ == dhcpv4.MessageTypeNak && (c.phase == phaseRenew || c.phase == phaseRebind):
		a.lose(now)
	}
}

// leaseOf reads a lease from an OFFER or ACK, with SoftEther's checks
// (IPCDhcpAllocateIP): a unicast client address, a server identifier and a
// subnet mask; a lease time of 0 (none) is DefaultLease and one shorter
// than MinLease is MinLease.
func leaseOf(m *dhcpv4.DHCPv4) (Lease, error) {
	var l Lease
	ip, ok := addr4(m.YourIPAddr)
	if !ok || !validUnicast(ip) {
		return l, fmt.Errorf("native: DHCP offers no unicast address (%v)", m.YourIPAddr)
	}
	srv, ok := addr4(m.ServerIdentifier())
	if !ok || !validUnicast(srv) {
		return l, fmt.Errorf("native: DHCP message without a server identifier")
	}
	mask := m.SubnetMask()
	ones, bits := mask.Size()
	if bits != 32 || ones == 0 {
		return l, fmt.Errorf("native: DHCP message without a valid subnet mask (%v)", mask)
	}
	l.Addr = netip.PrefixFrom(ip, ones)
	l.Server = srv
	if rs := m.Router(); len(rs) > 0 {
		if gw, ok := addr4(rs[0]); ok && !gw.IsUnspecified() {
			l.Gateway = gw
		}
	}
	for _, d := range m.DNS() {
		if a, ok := addr4(d); ok && !a.IsUnspecified() {
			l.DNS = append(l.DNS, a)
		}
	}
	l.Domain = m.DomainName()
	for _, r := range m.ClasslessStaticRoute() {
		dst, ok1 := addr4(r.Dest.IP)
		gw, ok2 := addr4(r.Router)
		ones, bits := r.Dest.Mask.Size()
		if ok1 && ok2 && bits == 32 {
			l.Routes = append(l.Routes, Route{Dest: netip.PrefixFrom(dst, ones).Masked(), Gateway: gw})
		}
	}
	l.Duration = m.IPAddressLeaseTime(0)
	if l.Duration <= 0 {
		l.Duration = DefaultLease
	}
	l.Duration = max(l.Duration, MinLease)
	// RFC 2131 4.4.5: T1 0.5 and T2 0.875 of the lease unless given.
	// Divided first: a lease of up to 2^32 s times 7 overflows a Duration.
	rebind := l.Duration / 8 * 7
	l.T1 = m.IPAddressRenewalTime(l.Duration / 2)
	l.T2 = m.IPAddressRebindingTime(rebind)
	if l.T2 <= 0 || l.T2 > l.Duration {
		l.T2 = rebind
	}
	if l.T1 <= 0 || l.T1 > l.T2 {
		l.T1 = min(l.Duration/2, l.T2)
	}
	return l, nil
}

func addr4(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return a, false
	}
	a = a.Unmap()
	return a, a.Is4()
}

func validUnicast(a netip.Addr) bool {
	return a.Is4() && !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func leaseEqual(a, b Lease) bool {
	return a.Addr == b.Addr && a.Gateway == b.Gateway && slices.Equal(a.DNS, b.DNS) && a.Domain == b.Domain &&
		slices.Equal(a.Routes, b.Routes) && a.Server == b.Server
}

// sendDHCP builds and queues a DHCP message of the current transaction;
// under mu.
func (a *Adapter) sendDHCP(typ dhcpv4.MessageType, now time.Time) {
	c := &a.dhcp
	var xid dhcpv4.TransactionID
	binary.BigEndian.PutUint32(xid[:], c.xid)
	mods := []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(net.HardwareAddr(a.mac[:])),
		dhcpv4.WithMessageType(typ),
	}
	unicast := false
	switch {
	case typ == dhcpv4.MessageTypeRequest && c.phase == phaseRequest:
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(c.server[:]))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(c.offer[:]))))
	case typ == dhcpv4.MessageTypeRequest: // renewing or rebinding: ciaddr and, as SoftEther, option 50
		mods = append(mods, dhcpv4.WithClientIP(net.IP(a.addr.ip[:])),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(a.addr.ip[:]))))
		unicast = c.phase == phaseRenew
	case typ == dhcpv4.MessageTypeRelease:
		mods = append(mods, dhcpv4.WithClientIP(net.IP(a.addr.ip[:])),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(c.server[:]))))
	}
	if typ != dhcpv4.MessageTypeRelease && a.cfg.Hostname != "" {
		// SoftEther: host name, and "<host name>/<MAC as XX-XX-...>" as the client identifier.
		m := a.mac
		id := fmt.Sprintf("%s/%02X-%02X-%02X-%02X-%02X-%02X", a.cfg.Hostname, m[0], m[1], m[2], m[3], m[4], m[5])
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(a.cfg.Hostname)),
			dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte(id))))
	} else {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, a.mac[:]...))))
	}
	if a.cfg.UserClass != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionUserClassInformation, []byte(a.cfg.UserClass))))
	}
	mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(VendorClass)))
	if typ != dhcpv4.MessageTypeRelease {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptParameterRequestList(paramRequestList...)))
	}
	m, err := dhcpv4.New(mods...)
	if err != nil {
		return
	}
	payload := m.ToBytes()
	var src [4]byte
	dst := [4]byte{255, 255, 255, 255}
	if c.phase >= phaseBound {
		src = a.addr.ip
	}
	if unicast {
		dst = c.server
	}
	p := udpPacket(src, dst, 68, 67, uint16(a.rng.Uint32()), payload)
	if unicast {
		a.sendLocked(p, now) // through ARP to the server
		return
	}
	a.frame(broadcastMAC, ether.TypeIPv4, p)
}

// udpPacket builds an IPv4/UDP packet (TTL 128, as SoftEther's
// IPCBuildDhcpRequest).
func udpPacket(src, dst [4]byte, sport, dport, id uint16, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:6], id)
	p[8], p[9] = 128, ether.ProtoUDP
	copy(p[12:16], src[:])
	copy(p[16:20], dst[:])
	binary.BigEndian.PutUint16(p[10:12], ^ether.Checksum(p[:20], 0))
	u := p[20:]
	binary.BigEndian.PutUint16(u[0:2], sport)
	binary.BigEndian.PutUint16(u[2:4], dport)
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	copy(u[8:], payload)
	cs := ^ether.Checksum(u, ether.PseudoSum(p[:20], false, ether.ProtoUDP, len(u)))
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], cs)
	return p
}
