package dhcpd

import (
	"bytes"
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestDORA(t *testing.T) {
	h := newHarness(t, defaultConfig())
	disc := discover(macA, dhcpv4.WithOption(dhcpv4.OptHostName("NT4")))
	off := h.one(disc)
	m := off.msg
	if m.MessageType() != dhcpv4.MessageTypeOffer || addr4(m.YourIPAddr) != ip4("192.168.30.10") {
		t.Fatalf("offer: %v yiaddr %v, want OFFER 192.168.30.10", m.MessageType(), m.YourIPAddr)
	}
	if m.TransactionID != disc.TransactionID || m.ClientHWAddr.String() != macA.String() {
		t.Errorf("xid %v chaddr %v", m.TransactionID, m.ClientHWAddr)
	}
	if got, want := optionOrder(off.raw), []byte{53, 54, 51, 15, 1, 3, 6, 28, 58, 59}; !bytes.Equal(got, want) {
		t.Errorf("option order %v, want %v", got, want)
	}
	if addr4(m.ServerIdentifier()) != serverIP || addr4(m.ServerIPAddr) != serverIP {
		t.Errorf("server id %v siaddr %v", m.ServerIdentifier(), m.ServerIPAddr)
	}
	if m.IPAddressLeaseTime(0) != 7200*time.Second || m.IPAddressRenewalTime(0) != 3600*time.Second ||
		m.IPAddressRebindingTime(0) != 6300*time.Second {
		t.Errorf("times %v %v %v", m.IPAddressLeaseTime(0), m.IPAddressRenewalTime(0), m.IPAddressRebindingTime(0))
	}
	if m.SubnetMask().String() != "ffffff00" || len(m.Router()) != 1 || !m.Router()[0].Equal(net.IPv4(192, 168, 30, 1)) ||
		len(m.DNS()) != 1 || !m.DNS()[0].Equal(net.IPv4(192, 168, 30, 1)) || m.DomainName() != "example.test" ||
		!m.BroadcastAddress().Equal(net.IPv4(192, 168, 30, 255)) {
		t.Errorf("parameters: mask %v router %v dns %v domain %q bcast %v",
			m.SubnetMask(), m.Router(), m.DNS(), m.DomainName(), m.BroadcastAddress())
	}
	if len(h.s.Leases()) != 0 {
		t.Errorf("an offer must not show in the lease table")
	}

	req := requestFor(macA, ip4("192.168.30.10"), serverIP, dhcpv4.WithOption(dhcpv4.OptHostName("NT4")))
	ack := h.one(req)
	if ack.msg.MessageType() != dhcpv4.MessageTypeAck || addr4(ack.msg.YourIPAddr) != ip4("192.168.30.10") ||
		ack.msg.TransactionID != req.TransactionID {
		t.Fatalf("ack: %v %v", ack.msg.MessageType(), ack.msg.YourIPAddr)
	}
	ls := h.s.Leases()
	if len(ls) != 1 {
		t.Fatalf("leases %v", ls)
	}
	l := ls[0]
	if l.ID != 1 || l.MAC.String() != macA.String() || l.IP != ip4("192.168.30.10") || l.Hostname != "NT4" ||
		!l.LeasedAt.Equal(h.now) || !l.Expires.Equal(h.now.Add(7200*time.Second)) {
		t.Errorf("lease %+v", l)
	}
	want := "SecureNAT: The DHCP entry 1 has been created. MAC address: 02-00-00-00-00-01, IP address: 192.168.30.10, host name: NT4, expiration span: 7200 seconds"
	if logs := h.logs.take(); len(logs) != 1 || logs[0] != want {
		t.Errorf("log %q\nwant %q", logs, want)
	}

	// A renewal (RENEWING: ciaddr set, unicast) keeps the entry.
	h.now = h.now.Add(time.Hour)
	ren := newMsg(dhcpv4.MessageTypeRequest, macA, dhcpv4.WithClientIP(net.IPv4(192, 168, 30, 10)))
	rs := h.sendVia(ren, request{srcIP: ip4("192.168.30.10"), dstIP: serverIP})
	if len(rs) != 1 || rs[0].msg.MessageType() != dhcpv4.MessageTypeAck || rs[0].dstIP != ip4("192.168.30.10") ||
		rs[0].dstMAC.String() != macA.String() || addr4(rs[0].msg.ClientIPAddr) != ip4("192.168.30.10") {
		t.Fatalf("renewal: %+v", rs)
	}
	ls = h.s.Leases()
	if len(ls) != 1 || ls[0].ID != 1 || !ls[0].Expires.Equal(h.now.Add(7200*time.Second)) || ls[0].Hostname != "NT4" {
		t.Errorf("after renewal %+v", ls)
	}
	if logs := h.logs.take(); len(logs) != 0 {
		t.Errorf("renewal logged %q", logs)
	}
}

func TestSameMACGetsSameAddress(t *testing.T) {
	h := newHarness(t, defaultConfig())
	if ip := h.lease(macA); ip != ip4("192.168.30.10") {
		t.Fatalf("A got %v", ip)
	}
	if ip := h.lease(macB); ip != ip4("192.168.30.11") {
		t.Fatalf("B got %v", ip)
	}
	// A's RELEASE is ignored, as on SoftEther: the lease stays until it
	// expires (nothing shows that A sent it).
	h.logs.take()
	h.none(newMsg(dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(net.IPv4(192, 168, 30, 10)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP.AsSlice()))))
	if ls := h.s.Leases(); len(ls) != 2 || ls[0].MAC.String() != macA.String() {
		t.Fatalf("after release: %+v", ls)
	}
	if logs := h.logs.takeInfo(); len(logs) != 0 {
		t.Errorf("log %q", logs)
	}
	if ip := h.lease(macC); ip != ip4("192.168.30.12") {
		t.Fatalf("new client C got %v, want a fresh address", ip)
	}
	if ip := h.lease(macA); ip != ip4("192.168.30.10") {
		t.Fatalf("returning A got %v", ip)
	}
	if ls := h.s.Leases(); len(ls) != 3 || ls[0].ID != 1 || ls[2].ID != 3 {
		t.Errorf("lease IDs %+v", ls)
	}

	// After expiry as well.
	h.now = h.now.Add(7200 * time.Second)
	h.logs.take()
	h.s.ExpireNow()
	if ls := h.s.Leases(); len(ls) != 0 {
		t.Fatalf("leases after expiry: %+v", ls)
	}
	logs := h.logs.take()
	if len(logs) != 3 || !strings.HasPrefix(logs[0], "SecureNAT: The DHCP entry 1 has expired and has been deleted. MAC address: 02-00-00-00-00-01") {
		t.Errorf("expiry logs %q", logs)
	}
	if ip := h.lease(macD); ip != ip4("192.168.30.13") {
		t.Fatalf("new client D got %v", ip)
	}
	for _, c := range []struct {
		mac net.HardwareAddr
		ip  string
	}{{macB, "192.168.30.11"}, {macA, "192.168.30.10"}, {macC, "192.168.30.12"}} {
		if ip := h.lease(c.mac); ip != ip4(c.ip) {
			t.Errorf("%v came back to %v, want %v", c.mac, ip, c.ip)
		}
	}
}

func TestReuseOfEndedBindings(t *testing.T) {
	cfg := defaultConfig()
	cfg.RangeEnd = ip4("192.168.30.11")
	h := newHarness(t, cfg)
	h.lease(macA)
	h.now = h.now.Add(time.Second)
	h.lease(macB)
	h.none(discover(macC))
	// Once A's and then B's leases have expired, C gets the address that
	// has been free longest.
	h.now = h.now.Add(7200 * time.Second)
	if ip := h.lease(macC); ip != ip4("192.168.30.10") {
		t.Fatalf("C got %v, want A's old 192.168.30.10", ip)
	}
	if ip := h.lease(macA); ip != ip4("192.168.30.11") {
		t.Fatalf("A got %v", ip)
	}
}

// TestReleaseDeclineIgnored: RELEASE and DECLINE are ignored, as SoftEther
// ignores them (Virtual.c, VirtualDhcpServer): the hub gives a MAC to the
// session that sends from it last, so one from the holder's MAC may come
// from another session, which must not end the lease or free the address
// for itself (issue 9, red team F8).
func TestReleaseDeclineIgnored(t *testing.T) {
	h := newHarness(t, defaultConfig())
	ipA := h.lease(macA)
	h.logs.take()
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP.AsSlice()))
	msgs := []*dhcpv4.DHCPv4{
		newMsg(dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(ipA.AsSlice()), sid),
		newMsg(dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(ipA.AsSlice())),
		newMsg(dhcpv4.MessageTypeDecline, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ipA.AsSlice())), sid),
		newMsg(dhcpv4.MessageTypeDecline, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ipA.AsSlice()))),
	}
	for _, m := range msgs {
		h.none(m) // from A's MAC
	}
	ls := h.s.Leases()
	if len(ls) != 1 || ls[0].IP != ipA || ls[0].ID != 1 || ls[0].MAC.String() != macA.String() {
		t.Fatalf("after RELEASE and DECLINE from A's MAC the leases are %+v, want A's %v kept", ls, ipA)
	}
	if logs := h.logs.takeInfo(); len(logs) != 0 {
		t.Errorf("logged %q", logs)
	}
	// the address stays A's: another client cannot have it, A keeps it
	if r := h.one(requestFor(macB, ipA, serverIP)); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("B requesting A's address: %v", r.msg.MessageType())
	}
	if ip := h.offerFor(macB); ip == ipA {
		t.Errorf("B offered A's address")
	}
	if ip := h.lease(macA); ip != ipA {
		t.Errorf("A got %v, want %v", ip, ipA)
	}
	// it ends when it expires
	h.now = h.now.Add(7200 * time.Second)
	if ls := h.s.Leases(); len(ls) != 0 {
		t.Errorf("leases after expiry: %+v", ls)
	}
}

func TestNAK(t *testing.T) {
	h := newHarness(t, defaultConfig())
	// D3: an unleased pool address is granted straight away (INIT-REBOOT).
	r := h.one(requestFor(macA, ip4("192.168.30.150"), netip.Addr{}))
	if r.msg.MessageType() != dhcpv4.MessageTypeAck || addr4(r.msg.YourIPAddr) != ip4("192.168.30.150") {
		t.Fatalf("request .150: %v %v", r.msg.MessageType(), r.msg.YourIPAddr)
	}
	for _, c := range []struct {
		name string
		mac  net.HardwareAddr
		ip   string
	}{
		{"outside the subnet", macB, "10.1.1.1"},
		{"leased to another client", macB, "192.168.30.150"},
		{"the server's own address", macB, "192.168.30.1"},
		{"in the subnet, outside the pool", macB, "192.168.30.201"},
		{"the broadcast address", macB, "192.168.30.255"},
	} {
		r := h.one(requestFor(c.mac, ip4(c.ip), serverIP))
		m := r.msg
		if m.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("%s: got %v, want NAK", c.name, m.MessageType())
			continue
		}
		if got := optionOrder(r.raw); !bytes.Equal(got, []byte{53, 54}) {
			t.Errorf("%s: NAK options %v, want [53 54]", c.name, got)
		}
		if addr4(m.YourIPAddr).IsValid() || r.dstIP != bcastIP || r.dstMAC.String() != "ff:ff:ff:ff:ff:ff" {
			t.Errorf("%s: NAK yiaddr %v to %v/%v, want 0 to broadcast", c.name, m.YourIPAddr, r.dstIP, r.dstMAC)
		}
	}
	if ls := h.s.Leases(); len(ls) != 1 {
		t.Errorf("leases %+v", ls)
	}
}

func TestInform(t *testing.T) {
	h := newHarness(t, defaultConfig())
	msg := newMsg(dhcpv4.MessageTypeInform, macA, dhcpv4.WithClientIP(net.IPv4(192, 168, 30, 77)))
	rs := h.sendVia(msg, request{srcIP: ip4("192.168.30.77"), dstIP: bcastIP})
	if len(rs) != 1 {
		t.Fatalf("%d replies", len(rs))
	}
	r := rs[0]
	if r.msg.MessageType() != dhcpv4.MessageTypeAck || addr4(r.msg.YourIPAddr).IsValid() ||
		r.msg.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || r.msg.Options.Has(dhcpv4.OptionRenewTimeValue) {
		t.Errorf("INFORM reply %v yiaddr %v options %v", r.msg.MessageType(), r.msg.YourIPAddr, optionOrder(r.raw))
	}
	if r.dstIP != ip4("192.168.30.77") || r.dstMAC.String() != macA.String() || r.dstPort != 68 {
		t.Errorf("INFORM reply to %v %v :%d", r.dstIP, r.dstMAC, r.dstPort)
	}
	if len(r.msg.Router()) != 1 || len(r.msg.DNS()) != 1 {
		t.Errorf("INFORM reply lacks parameters")
	}
	if len(h.s.Leases()) != 0 {
		t.Errorf("INFORM created a lease")
	}
}

func TestRequestForAnotherServerIgnored(t *testing.T) {
	h := newHarness(t, defaultConfig())
	if ip := h.offerFor(macA); ip != ip4("192.168.30.10") {
		t.Fatalf("offer %v", ip)
	}
	other := ip4("192.168.30.254")
	h.none(requestFor(macA, ip4("192.168.30.10"), other))
	h.none(requestFor(macA, ip4("10.1.1.1"), other)) // no NAK either
	if len(h.s.Leases()) != 0 {
		t.Fatalf("lease created for another server's client")
	}
	// The client took the other offer: its pending offer is gone.
	if ip := h.offerFor(macB); ip != ip4("192.168.30.10") {
		t.Errorf("B offered %v, want the withdrawn 192.168.30.10", ip)
	}
	h.none(newMsg(dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(net.IPv4(192, 168, 30, 10)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(other.AsSlice()))))
}

func TestStaticReservation(t *testing.T) {
	cfg := defaultConfig()
	cfg.Static = map[string]netip.Addr{
		"02-00-00-00-00-09": ip4("192.168.30.250"), // outside the pool
		"02:00:00:00:00:0a": ip4("192.168.30.10"),  // inside the pool
	}
	h := newHarness(t, cfg)
	mac9 := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	mac10 := net.HardwareAddr{2, 0, 0, 0, 0, 10}
	if ip := h.lease(mac9); ip != ip4("192.168.30.250") {
		t.Fatalf("static client got %v", ip)
	}
	if ip := h.lease(macA); ip != ip4("192.168.30.11") {
		t.Fatalf("dynamic client got %v, want .11 (.10 is reserved)", ip)
	}
	for _, ip := range []string{"192.168.30.250", "192.168.30.10"} {
		if r := h.one(requestFor(macB, ip4(ip), serverIP)); r.msg.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("another MAC asking for reserved %s: %v", ip, r.msg.MessageType())
		}
	}
	// The reserved client asking for something else is told no, and then
	// offered its own address.
	if r := h.one(requestFor(mac10, ip4("192.168.30.100"), serverIP)); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("reserved client asking for .100: %v", r.msg.MessageType())
	}
	if ip := h.offerFor(mac10); ip != ip4("192.168.30.10") {
		t.Errorf("reserved client offered %v", ip)
	}
}

func TestPoolExhaustion(t *testing.T) {
	cfg := defaultConfig()
	cfg.RangeEnd = ip4("192.168.30.12")
	h := newHarness(t, cfg)
	for _, m := range []net.HardwareAddr{macA, macB, macC} {
		h.lease(m)
	}
	h.logs.take()
	h.none(discover(macD))
	want := "SecureNAT: The DHCP server has no free IP address for MAC address 02-00-00-00-00-04: the address pool 192.168.30.10-192.168.30.12 is exhausted."
	if logs := h.logs.take(); len(logs) != 1 || logs[0] != want {
		t.Errorf("log %q", logs)
	}
	h.none(discover(macD)) // rate-limited: no second line at once
	if logs := h.logs.take(); len(logs) != 0 {
		t.Errorf("repeated log %q", logs)
	}
	if r := h.one(requestFor(macD, ip4("192.168.30.12"), serverIP)); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("REQUEST in a full pool: %v", r.msg.MessageType())
	}
	if r := h.one(newMsg(dhcpv4.MessageTypeRequest, macD)); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("bare REQUEST in a full pool: %v", r.msg.MessageType())
	}
}

func TestServerAddressesNeverHandedOut(t *testing.T) {
	cfg := defaultConfig()
	cfg.RangeStart = ip4("192.168.30.1")
	cfg.RangeEnd = ip4("192.168.30.4")
	cfg.Gateway = ip4("192.168.30.2")
	cfg.DNS2 = ip4("192.168.30.3")
	h := newHarness(t, cfg)
	if ip := h.lease(macA); ip != ip4("192.168.30.4") {
		t.Fatalf("got %v, want .4", ip)
	}
	h.none(discover(macB))
	for _, ip := range []string{"192.168.30.1", "192.168.30.2", "192.168.30.3"} {
		if r := h.one(requestFor(macB, ip4(ip), serverIP)); r.msg.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("request for %s: %v", ip, r.msg.MessageType())
		}
	}
}

func TestOfferHold(t *testing.T) {
	h := newHarness(t, defaultConfig())
	if ip := h.offerFor(macA); ip != ip4("192.168.30.10") {
		t.Fatalf("A offered %v", ip)
	}
	if ip := h.offerFor(macB); ip != ip4("192.168.30.11") {
		t.Fatalf("B offered %v within the hold", ip)
	}
	if ip := h.offerFor(macA); ip != ip4("192.168.30.10") {
		t.Fatalf("A re-offered %v", ip)
	}
	h.now = h.now.Add(offerHold)
	if ip := h.offerFor(macC); ip != ip4("192.168.30.10") {
		t.Fatalf("C offered %v after the hold", ip)
	}
}

func TestLeaseTimes(t *testing.T) {
	for _, c := range []struct {
		set    time.Duration
		opt    uint32
		t1, t2 time.Duration
		log    string
	}{
		{20 * time.Second, 20, 10 * time.Second, 17500 * time.Millisecond, "expiration span: 20 seconds"},
		{5 * time.Second, 15, 7500 * time.Millisecond, 13125 * time.Millisecond, "expiration span: 15 seconds"},
		{LeaseTimeFromSeconds(0), 0xFFFFFFFF, 0, 0, "expiration span: 4294967 seconds"},
		{LeaseTimeFromSeconds(0xFFFFFFFF), 0xFFFFFFFF, 0, 0, "expiration span: 4294967 seconds"},
	} {
		cfg := defaultConfig()
		cfg.LeaseTime = c.set
		h := newHarness(t, cfg)
		r := h.one(discover(macA))
		lt := r.msg.Options.Get(dhcpv4.OptionIPAddressLeaseTime)
		if len(lt) != 4 || uint32(lt[0])<<24|uint32(lt[1])<<16|uint32(lt[2])<<8|uint32(lt[3]) != c.opt {
			t.Errorf("%v: lease option % x, want %d", c.set, lt, c.opt)
		}
		// T1/T2 are whole seconds: check against the truncated values.
		if got := r.msg.IPAddressRenewalTime(0); got != c.t1.Truncate(time.Second) {
			t.Errorf("%v: T1 %v", c.set, got)
		}
		if got := r.msg.IPAddressRebindingTime(0); got != c.t2.Truncate(time.Second) {
			t.Errorf("%v: T2 %v", c.set, got)
		}
		h.lease(macA)
		if logs := h.logs.take(); len(logs) != 1 || !strings.HasSuffix(logs[0], c.log) {
			t.Errorf("%v: log %q", c.set, logs)
		}
	}
}

func TestLeaseExpiry(t *testing.T) {
	cfg := defaultConfig()
	cfg.LeaseTime = 20 * time.Second
	h := newHarness(t, cfg)
	h.lease(macA)
	h.logs.take()
	h.now = h.now.Add(19 * time.Second)
	h.s.ExpireNow()
	if len(h.s.Leases()) != 1 || len(h.logs.take()) != 0 {
		t.Fatalf("lease ended early")
	}
	h.now = h.now.Add(time.Second)
	h.s.ExpireNow()
	if ls := h.s.Leases(); len(ls) != 0 {
		t.Fatalf("lease still listed: %+v", ls)
	}
	want := "SecureNAT: The DHCP entry 1 has expired and has been deleted. MAC address: 02-00-00-00-00-01, IP address: 192.168.30.10"
	if logs := h.logs.take(); len(logs) != 1 || logs[0] != want {
		t.Errorf("log %q", logs)
	}

	// An infinite lease never ends.
	cfg.LeaseTime = InfiniteLease
	h = newHarness(t, cfg)
	h.lease(macA)
	h.now = h.now.Add(100 * 365 * 24 * time.Hour)
	if ls := h.s.Leases(); len(ls) != 1 || !ls[0].Expires.IsZero() {
		t.Errorf("infinite lease: %+v", ls)
	}
}

func TestReplyAddressing(t *testing.T) {
	h := newHarness(t, defaultConfig())
	// No broadcast flag: unicast to yiaddr at chaddr.
	r := h.one(discover(macA, dhcpv4.WithBroadcast(false)))
	if r.dstIP != ip4("192.168.30.10") || r.dstMAC.String() != macA.String() || r.dstPort != 68 {
		t.Errorf("unicast offer to %v %v :%d", r.dstIP, r.dstMAC, r.dstPort)
	}
	// Broadcast flag: broadcast, and the flag is echoed.
	r = h.one(discover(macA, dhcpv4.WithBroadcast(true)))
	if r.dstIP != bcastIP || r.dstMAC.String() != "ff:ff:ff:ff:ff:ff" || !r.msg.IsBroadcast() {
		t.Errorf("broadcast offer to %v %v flags %x", r.dstIP, r.dstMAC, r.msg.Flags)
	}
	// A relay agent gets the reply on port 67.
	relay := ip4("192.168.30.5")
	msg := discover(macB, dhcpv4.WithGatewayIP(relay.AsSlice()))
	rs := h.sendVia(msg, request{srcIP: relay, dstIP: serverIP})
	if len(rs) != 1 || rs[0].dstIP != relay || rs[0].dstPort != 67 || addr4(rs[0].msg.GatewayIPAddr) != relay {
		t.Errorf("relayed offer: %+v", rs)
	}
}

func TestVLANTagKept(t *testing.T) {
	h := newHarness(t, defaultConfig())
	rs := h.sendVia(discover(macA), request{srcIP: zeroIP, dstIP: bcastIP, tagged: true, vlan: 0x2005})
	if len(rs) != 1 || rs[0].vlan != 0x2005 {
		t.Fatalf("tagged request: %+v", rs)
	}
}

func TestPushRoutesOption(t *testing.T) {
	cfg := defaultConfig()
	cfg.PushRoutes = "10.0.0.0/8/192.168.30.254, 0.0.0.0/0/192.168.30.1"
	h := newHarness(t, cfg)
	r := h.one(discover(macA))
	want := []byte{0x08, 0x0a, 0xc0, 0xa8, 0x1e, 0xfe, 0x00, 0xc0, 0xa8, 0x1e, 0x01}
	if got := r.msg.Options.Get(dhcpv4.OptionClasslessStaticRoute); !bytes.Equal(got, want) {
		t.Errorf("option 121 % x, want % x", got, want)
	}
	if got := r.msg.Options.Get(dhcpv4.GenericOptionCode(249)); !bytes.Equal(got, want) {
		t.Errorf("option 249 % x, want % x", got, want)
	}
	routes := r.msg.ClasslessStaticRoute()
	if len(routes) != 2 || routes[0].Dest.String() != "10.0.0.0/8" || !routes[0].Router.Equal(net.IPv4(192, 168, 30, 254)) {
		t.Errorf("decoded routes %v", routes)
	}
	order := optionOrder(r.raw)
	if order[len(order)-2] != 121 || order[len(order)-1] != 249 {
		t.Errorf("option order %v", order)
	}
}

func TestLongPushRoutesSplit(t *testing.T) {
	var entries []string
	for i := range MaxPushRoutes {
		entries = append(entries, "10."+strconv.Itoa(i)+".1.0/255.255.255.0/192.168.30.1")
	}
	cfg := defaultConfig()
	cfg.PushRoutes = strings.Join(entries, " ")
	h := newHarness(t, cfg)
	r := h.one(discover(macA))
	// 64 routes of 8 bytes: 512 bytes, sent as 255+255+2 (RFC 3396) and
	// joined again by the decoder.
	if got := r.msg.ClasslessStaticRoute(); len(got) != MaxPushRoutes {
		t.Errorf("decoded %d routes", len(got))
	}
}

func TestIgnoredRequests(t *testing.T) {
	h := newHarness(t, defaultConfig())
	h.none(discover(macA, dhcpv4.WithOption(dhcpv4.OptHostName("securenat-abc"))))
	h.none(discover(macA, dhcpv4.WithOption(dhcpv4.OptHostName("SecureNAT_x"))))
	h.none(newMsg(dhcpv4.MessageTypeOffer, macA)) // not a client message
	if len(h.s.Leases()) != 0 {
		t.Fatal("lease created")
	}
}

func TestHostnameSanitised(t *testing.T) {
	h := newHarness(t, defaultConfig())
	h.lease(macA, dhcpv4.WithOption(dhcpv4.OptHostName("evil\r\n2026-01-01 fake line\x00")))
	if ls := h.s.Leases(); ls[0].Hostname != "evil2026-01-01 fake line" {
		t.Errorf("hostname %q", ls[0].Hostname)
	}
}

func TestNotForUs(t *testing.T) {
	h := newHarness(t, defaultConfig())
	var src [6]byte
	copy(src[:], macA)
	payload := discover(macA).ToBytes()
	other := [6]byte{2, 9, 9, 9, 9, 9}
	var smac [6]byte
	copy(smac[:], serverMAC)
	arp := make([]byte, 60)
	copy(arp, broadcastMAC[:])
	arp[12], arp[13] = 0x08, 0x06
	cases := map[string][]byte{
		"arp":               arp,
		"udp to port 53":    buildFrame(src, broadcastMAC, false, 0, zeroIP, bcastIP, 68, 53, 1, payload),
		"unicast elsewhere": buildFrame(src, other, false, 0, zeroIP, bcastIP, 68, 67, 1, payload),
		"ip elsewhere":      buildFrame(src, broadcastMAC, false, 0, zeroIP, ip4("192.168.30.2"), 68, 67, 1, payload),
		"from ourselves":    buildFrame(smac, broadcastMAC, false, 0, serverIP, bcastIP, 68, 67, 1, payload),
		"short":             arp[:20],
	}
	bad := buildFrame(src, broadcastMAC, false, 0, zeroIP, bcastIP, 68, 67, 1, payload)
	bad[14+10] ^= 1 // IP header checksum
	cases["bad ip checksum"] = bad
	frag := buildFrame(src, broadcastMAC, false, 0, zeroIP, bcastIP, 68, 67, 1, payload)
	frag[14+6] = 0x20 // MF
	cases["fragment"] = frag
	for name, f := range cases {
		out, ok := h.s.HandleFrame(f, nil)
		if ok || len(out) != 0 {
			t.Errorf("%s: taken", name)
		}
	}
	// Non-DHCP frames cost nothing.
	frame := cases["udp to port 53"]
	out := make([][]byte, 0, 4)
	if n := testing.AllocsPerRun(100, func() { out, _ = h.s.HandleFrame(frame, out[:0]) }); n != 0 {
		t.Errorf("%v allocations per non-DHCP frame", n)
	}
	// Garbage to port 67 is swallowed without a reply.
	junk := buildFrame(src, broadcastMAC, false, 0, zeroIP, bcastIP, 68, 67, 1, []byte("hello"))
	if out, ok := h.s.HandleFrame(junk, nil); !ok || len(out) != 0 {
		t.Errorf("junk to port 67: %v %d", ok, len(out))
	}
}

func TestNewValidation(t *testing.T) {
	for _, c := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"no server IP", func(c *Config) { c.ServerIP = netip.Addr{} }, "server IP"},
		{"bad mask", func(c *Config) { c.Mask = ip4("255.0.255.0") }, "contiguous"},
		{"tiny subnet", func(c *Config) { c.Mask = ip4("255.255.255.254") }, "no room"},
		{"IPv6 range", func(c *Config) { c.RangeStart = ip4("2001:db8::1") }, "not an IPv4 range"},
		{"no MAC", func(c *Config) { c.ServerMAC = nil }, "server MAC"},
		{"IPv6 DNS", func(c *Config) { c.DNS2 = ip4("::1") }, "second DNS"},
		{"bad routes", func(c *Config) { c.PushRoutes = "10.0.0.0/8" }, "network/mask/gateway"},
		{"bad static MAC", func(c *Config) { c.Static = map[string]netip.Addr{"xx": ip4("192.168.30.5")} }, "static"},
		{"static outside", func(c *Config) { c.Static = map[string]netip.Addr{"02-00-00-00-00-01": ip4("10.0.0.1")} }, "not a host address"},
		{"static server", func(c *Config) { c.Static = map[string]netip.Addr{"02-00-00-00-00-01": serverIP} }, "server, gateway"},
		{"static twice", func(c *Config) {
			c.Static = map[string]netip.Addr{"02-00-00-00-00-01": ip4("192.168.30.5"), "02:00:00:00:00:02": ip4("192.168.30.5")}
		}, "reserved for both"},
	} {
		cfg := defaultConfig()
		c.modify(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := New(defaultConfig()); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestParseMAC(t *testing.T) {
	for _, s := range []string{"00-AC-85-40-B5-50", "00:ac:85:40:b5:50", "00ac.8540.b550", "00ac8540b550", " 00-ac-85-40-b5-50 "} {
		m, err := ParseMAC(s)
		if err != nil || FormatMAC(m[:]) != "00-AC-85-40-B5-50" {
			t.Errorf("%q: %v %v", s, FormatMAC(m[:]), err)
		}
	}
	for _, s := range []string{"", "00-AC-85-40-B5", "00:00:5e:00:53:01:02:03", "zzac8540b550"} {
		if _, err := ParseMAC(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestLeasesSorted(t *testing.T) {
	h := newHarness(t, defaultConfig())
	for _, m := range []net.HardwareAddr{macD, macC, macB, macA} {
		h.lease(m)
	}
	ls := h.s.Leases()
	if !slices.IsSortedFunc(ls, func(a, b Lease) int { return cmp.Compare(a.ID, b.ID) }) || len(ls) != 4 {
		t.Errorf("leases %+v", ls)
	}
}

func TestReconfigureKeepsLeases(t *testing.T) {
	h := newHarness(t, defaultConfig())
	h.lease(macA)
	cfg := defaultConfig()
	cfg.RangeStart = ip4("192.168.30.100")
	cfg.Gateway = ip4("192.168.30.254")
	cfg.Log, cfg.Clock = h.s.cfg.log, h.s.cfg.clock
	bad := cfg
	bad.Mask = ip4("255.0.255.0")
	if err := h.s.Reconfigure(bad); err == nil {
		t.Fatal("invalid configuration accepted")
	}
	if err := h.s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if ls := h.s.Leases(); len(ls) != 1 || ls[0].IP != ip4("192.168.30.10") {
		t.Fatalf("leases after reconfigure %+v", ls)
	}
	r := h.one(discover(macB))
	if addr4(r.msg.YourIPAddr) != ip4("192.168.30.100") || !r.msg.Router()[0].Equal(net.IPv4(192, 168, 30, 254)) {
		t.Errorf("new client offered %v router %v", r.msg.YourIPAddr, r.msg.Router())
	}
	// A's address is outside the new pool: its renewal is refused.
	if r := h.one(requestFor(macA, ip4("192.168.30.10"), netip.Addr{})); r.msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("renewal outside the new pool: %v", r.msg.MessageType())
	}
}

// TestPoolOutsideTheHostSubnet: as on SoftEther, the pool may lie in
// another subnet than the virtual host (SecureNAT serving DHCP for a
// bridged LAN); the clients get that subnet's broadcast address. An end
// before the start is a pool of one.
func TestPoolOutsideTheHostSubnet(t *testing.T) {
	cfg := defaultConfig()
	cfg.RangeStart, cfg.RangeEnd = ip4("10.0.0.10"), ip4("10.0.0.5")
	cfg.Gateway, cfg.DNS = ip4("10.0.0.1"), ip4("10.0.0.1")
	h := newHarness(t, cfg)
	r := h.one(discover(macA))
	if addr4(r.msg.YourIPAddr) != ip4("10.0.0.10") || !r.msg.Router()[0].Equal(net.IPv4(10, 0, 0, 1)) {
		t.Fatalf("offered %v router %v", r.msg.YourIPAddr, r.msg.Router())
	}
	if b := r.msg.Options.Get(dhcpv4.OptionBroadcastAddress); !net.IP(b).Equal(net.IPv4(10, 0, 0, 255)) {
		t.Errorf("broadcast option %v, want 10.0.0.255", net.IP(b))
	}
	if ip := h.lease(macA); ip != ip4("10.0.0.10") {
		t.Fatalf("leased %v", ip)
	}
	h.none(discover(macB)) // the pool of one is taken
}

func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, defaultConfig())
	var src [6]byte
	copy(src[:], macA)
	frame := buildFrame(src, broadcastMAC, false, 0, zeroIP, bcastIP, 68, 67, 1, discover(macA).ToBytes())
	cfg := defaultConfig()
	cfg.Log, cfg.Clock = h.s.cfg.log, h.s.cfg.clock
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			if err := h.s.Reconfigure(cfg); err != nil {
				t.Error(err)
				return
			}
			h.s.ExpireNow()
		}
	}()
	for range 200 {
		if out, ok := h.s.HandleFrame(frame, nil); !ok || len(out) != 1 {
			t.Fatalf("DISCOVER: %v, %d replies", ok, len(out))
		}
		_ = h.s.Leases()
	}
	<-done
}

// TestLeasesKeyedOnSourceMAC: as in SoftEther (Virtual.c, VirtualDhcpServer
// takes the frame's source MAC, never chaddr), a lease belongs to the
// Ethernet source of the request. One station varying chaddr must not
// lease the whole pool: it holds one lease, and others still get theirs.
func TestLeasesKeyedOnSourceMAC(t *testing.T) {
	h := newHarness(t, defaultConfig())
	bcast := request{srcIP: zeroIP, dstIP: bcastIP}
	for i := range 300 {
		chaddr := net.HardwareAddr{0x02, 0xee, 0, 0, byte(i >> 8), byte(i)}
		rs := h.sendFrom(macA, discover(chaddr), bcast)
		if len(rs) != 1 {
			t.Fatalf("DISCOVER %d: %d replies", i, len(rs))
		}
		ip := addr4(rs[0].msg.YourIPAddr)
		rs = h.sendFrom(macA, requestFor(chaddr, ip, serverIP), bcast)
		if len(rs) != 1 || rs[0].msg.MessageType() != dhcpv4.MessageTypeAck {
			t.Fatalf("REQUEST %d for %v: %+v", i, ip, rs)
		}
		// The reply still names the chaddr the client asked with, as
		// SoftEther's does, and goes to the station that asked.
		if got := rs[0].msg.ClientHWAddr.String(); got != chaddr.String() {
			t.Fatalf("reply chaddr %v, want %v", got, chaddr)
		}
	}
	ls := h.s.Leases()
	if len(ls) != 1 || ls[0].MAC.String() != macA.String() {
		t.Fatalf("one source MAC with 300 chaddrs holds %d leases (%+v), want 1 for %v", len(ls), ls, macA)
	}
	if ip := h.lease(macB); !ip.IsValid() || ip == ls[0].IP {
		t.Fatalf("another client got %v", ip)
	}
}

// TestForgedReleaseDeclineIgnored: RELEASE and DECLINE naming another
// client's chaddr change nothing, from any station.
func TestForgedReleaseDeclineIgnored(t *testing.T) {
	h := newHarness(t, defaultConfig())
	ipA := h.lease(macA)
	h.logs.take()
	bcast := request{srcIP: zeroIP, dstIP: bcastIP}
	sid := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverIP.AsSlice()))
	// From B's station, RELEASE and DECLINE in A's name.
	h.sendFrom(macB, newMsg(dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(ipA.AsSlice()), sid), bcast)
	h.sendFrom(macB, newMsg(dhcpv4.MessageTypeDecline, macA,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(ipA.AsSlice())), sid), bcast)
	if ls := h.s.Leases(); len(ls) != 1 || ls[0].IP != ipA || ls[0].MAC.String() != macA.String() {
		t.Fatalf("after a forged RELEASE and DECLINE the leases are %+v, want A's %v", ls, ipA)
	}
	if logs := h.logs.takeInfo(); len(logs) != 0 {
		t.Errorf("forged messages logged %q", logs)
	}
	// B cannot take A's address either.
	if r := h.sendFrom(macB, requestFor(macA, ipA, serverIP), bcast); len(r) != 1 || r[0].msg.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("B requesting A's address in A's name: %+v", r)
	}
	// Nor from A's own station (a session sending from A's MAC).
	h.sendFrom(macA, newMsg(dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(ipA.AsSlice()), sid), bcast)
	if ls := h.s.Leases(); len(ls) != 1 || ls[0].IP != ipA {
		t.Errorf("a RELEASE from A's MAC left %+v", ls)
	}
	if logs := h.logs.take(); len(logs) != 1 || !strings.HasPrefix(logs[0], "DEBUG SecureNAT: DHCP RELEASE ignored") {
		t.Errorf("logs %q, want one debug line", logs)
	}
}

// A server that takes over a segment (a farm's dynamic hub on another
// node) with the leases the first one granted gives each client its
// address back, and new clients fresh ones.
func TestRestoredLeasesKeepAddresses(t *testing.T) {
	cfg := defaultConfig()
	var granted []Lease
	cfg.OnLease = func(l Lease) { granted = append(granted, l) }
	first := newHarness(t, cfg)
	first.lease(macA)
	first.lease(macB)
	first.lease(macA) // a renewal is told too
	if len(granted) != 3 || granted[2].IP != ip4("192.168.30.10") || granted[2].ID != 1 {
		t.Fatalf("leases told: %+v", granted)
	}
	// The newest record of each client counts.
	cfg = defaultConfig()
	cfg.Restore = granted
	second := newHarness(t, cfg)
	second.now = first.now
	if ls := second.s.Leases(); len(ls) != 2 {
		t.Fatalf("restored leases: %+v", ls)
	}
	if ip := second.lease(macC); ip != ip4("192.168.30.12") {
		t.Fatalf("a new client got %v, want a fresh address", ip)
	}
	if ip := second.lease(macB); ip != ip4("192.168.30.11") {
		t.Fatalf("B got %v back, want its address", ip)
	}
	if ls := second.s.Leases(); ls[len(ls)-1].ID != 3 {
		t.Errorf("lease numbering did not go on from the restored leases: %+v", ls)
	}
	// Expired leases come back ended: the client still gets its address first.
	cfg.Restore = granted
	third := newHarness(t, cfg)
	third.now = first.now.Add(3 * time.Hour)
	if ls := third.s.Leases(); len(ls) != 0 {
		t.Fatalf("expired leases restored as active: %+v", ls)
	}
	if ip := third.lease(macB); ip != ip4("192.168.30.11") {
		t.Fatalf("B got %v after its lease ended, want its old address", ip)
	}
	// A lease outside the segment is dropped.
	cfg.Restore = []Lease{{ID: 9, MAC: macD, IP: ip4("10.0.0.5"), LeasedAt: first.now}}
	if ls := newHarness(t, cfg).s.Leases(); len(ls) != 0 {
		t.Fatalf("a lease outside the subnet was restored: %+v", ls)
	}
}
