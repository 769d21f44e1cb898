package server

import (
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Settings that are stored in the configuration and returned as the spec
// says: the hub administration options (the admin methods check them,
// hubadmin.go applies them at login) and the access lists, which acl.go
// puts into effect. They are
// kept in the configuration tree itself (in the real server's folder
// layout, so the real vpnserver reads them) and every change is logged as
// not yet in effect where that matters for security.

// --- access lists (docs/protocol/admin.md#access-lists, docs/protocol/config.md#accounts-access-lists-and-cascades) ---

// value i of element name, whatever its type (nil if absent).
func valueAt(p *pack.Pack, name string, i int) (e pack.Element, ok bool) {
	e, ok = p.Lookup(name)
	return e, ok && i < e.Len()
}

func intAt(p *pack.Pack, name string, i int) uint32 {
	if e, ok := valueAt(p, name, i); ok && e.Type == pack.TypeInt {
		return uint32(e.Ints[i])
	}
	return 0
}

func dataAt(p *pack.Pack, name string, i int) []byte {
	if e, ok := valueAt(p, name, i); ok && e.Type == pack.TypeData {
		return e.Blobs[i]
	}
	return nil
}

func strAt(p *pack.Pack, name string, i int) string {
	if e, ok := valueAt(p, name, i); ok && (e.Type == pack.TypeStr || e.Type == pack.TypeUniStr) {
		return e.Strs[i]
	}
	return ""
}

// ip4At reads value i of an IP field (IPv4 INT form).
func ip4At(p *pack.Pack, name string, i int) netip.Addr {
	v := intAt(p, name, i)
	return netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}

// macAt reads value i of a MAC field; anything but 6 bytes is no MAC.
func macAt(p *pack.Pack, name string, i int) config.MAC {
	var m config.MAC
	if b := dataAt(p, name, i); len(b) == 6 {
		m = config.MAC(b)
	}
	return m
}

// accessAt reads rule i of an ACCESS (list) request. A rule carries the
// addresses of its family: the IP fields of an IPv4 rule, the DATA(16)
// "*6" fields of an IPv6 one.
func accessAt(p *pack.Pack, i int) config.Access {
	u := func(name string) uint32 { return intAt(p, name, i) }
	b := func(name string) bool { return intAt(p, name, i) != 0 }
	r := config.Access{
		Note: strAt(p, "Note", i), Active: b("Active"), Priority: u("Priority"), Discard: b("Discard"), IPv6: b("IsIPv6"),
		Protocol:     u("Protocol"),
		SrcPortStart: u("SrcPortStart"), SrcPortEnd: u("SrcPortEnd"), DstPortStart: u("DestPortStart"), DstPortEnd: u("DestPortEnd"),
		SrcUsername: strAt(p, "SrcUsername", i), DstUsername: strAt(p, "DestUsername", i),
		CheckSrcMAC: b("CheckSrcMac"), SrcMAC: macAt(p, "SrcMacAddress", i), SrcMACMask: macAt(p, "SrcMacMask", i),
		CheckDstMAC: b("CheckDstMac"), DstMAC: macAt(p, "DstMacAddress", i), DstMACMask: macAt(p, "DstMacMask", i),
		CheckTCPState: b("CheckTcpState"), Established: b("Established"), RedirectURL: strAt(p, "RedirectUrl", i),
		Delay: u("Delay"), Jitter: u("Jitter"), Loss: u("Loss"),
	}
	addr := func(name string) netip.Addr {
		if !r.IPv6 {
			return ip4At(p, name, i)
		}
		if d := dataAt(p, name+"6", i); len(d) == 16 {
			return netip.AddrFrom16([16]byte(d))
		}
		return netip.IPv6Unspecified()
	}
	r.SrcIP, r.SrcMask = addr("SrcIpAddress"), addr("SrcSubnetMask")
	r.DstIP, r.DstMask = addr("DestIpAddress"), addr("DestSubnetMask")
	return r
}

// accessRow adds one stored rule, numbered id, to a list. Both address
// forms are sent, those of the other family as SoftEther fills them.
func accessRow(l *list, r config.Access, id int) {
	v4 := func(a netip.Addr, mask bool) netip.Addr {
		switch {
		case r.IPv6 && mask:
			return netip.AddrFrom4([4]byte{255, 255, 255, 255})
		case r.IPv6:
			return netip.AddrFrom4([4]byte{223, 255, 255, 253}) // SoftEther's placeholder in IPv6 rules
		case !a.Is4():
			return netip.IPv4Unspecified()
		}
		return a
	}
	v6 := func(a netip.Addr) []byte {
		var b [16]byte
		if r.IPv6 && a.IsValid() {
			b = a.As16()
		}
		return b[:]
	}
	l.row()
	l.int("Id", uint32(id))
	l.int("UniqueId", r.UniqueID)
	l.uni("Note", r.Note)
	l.bool("Active", r.Active)
	l.int("Priority", r.Priority)
	l.bool("Discard", r.Discard)
	l.bool("IsIPv6", r.IPv6)
	l.ip("SrcIpAddress", v4(r.SrcIP, false))
	l.ip("SrcSubnetMask", v4(r.SrcMask, true))
	l.ip("DestIpAddress", v4(r.DstIP, false))
	l.ip("DestSubnetMask", v4(r.DstMask, true))
	l.data("SrcIpAddress6", v6(r.SrcIP))
	l.data("SrcSubnetMask6", v6(r.SrcMask))
	l.data("DestIpAddress6", v6(r.DstIP))
	l.data("DestSubnetMask6", v6(r.DstMask))
	l.int("Protocol", r.Protocol)
	l.int("SrcPortStart", r.SrcPortStart)
	l.int("SrcPortEnd", r.SrcPortEnd)
	l.int("DestPortStart", r.DstPortStart)
	l.int("DestPortEnd", r.DstPortEnd)
	l.str("SrcUsername", r.SrcUsername)
	l.str("DestUsername", r.DstUsername)
	l.bool("CheckSrcMac", r.CheckSrcMAC)
	l.data("SrcMacAddress", r.SrcMAC[:])
	l.data("SrcMacMask", r.SrcMACMask[:])
	l.bool("CheckDstMac", r.CheckDstMAC)
	l.data("DstMacAddress", r.DstMAC[:])
	l.data("DstMacMask", r.DstMACMask[:])
	l.bool("CheckTcpState", r.CheckTCPState)
	l.bool("Established", r.Established)
	l.str("RedirectUrl", r.RedirectURL)
	l.int("Delay", r.Delay)
	l.int("Jitter", r.Jitter)
	l.int("Loss", r.Loss)
}

func admAddAccess(a *adminCall) (*pack.Pack, error) {
	if err := a.s.ctl.AddAccess(a.actor(), a.hub, accessAt(a.in, 0), userLists{a.s}); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admDeleteAccess(a *adminCall) (*pack.Pack, error) {
	if err := a.s.ctl.DeleteAccess(a.actor(), a.hub, a.in.Int("Id")); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admEnumAccess(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		out.AddStr("HubName", h.Name)
		l := newList(out)
		for i, r := range h.AccessList {
			accessRow(l, r, i+1)
		}
		l.done()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func admSetAccessList(a *adminCall) (*pack.Pack, error) {
	n := a.in.Count("Protocol")
	if n > control.MaxAccessLists {
		return nil, vpnerr.TooManyAccessList // before reading them all
	}
	rules := make([]config.Access, n)
	for i := range rules {
		rules[i] = accessAt(a.in, i)
	}
	if err := a.s.ctl.SetAccessList(a.actor(), a.hub, rules, userLists{a.s}); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

// --- hub administration options (docs/protocol/admin.md#hub-admin-options) ---

func adminOptionsPack(hubName string, get func(string) uint32) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", hubName)
	out.AddInt("NumItem", uint32(len(control.HubAdminOptionNames)))
	l := newList(out)
	for _, n := range control.HubAdminOptionNames {
		l.row()
		l.str("Name", n)
		l.int("Value", get(n))
		l.uni("Descrption", n) // sic
	}
	l.done()
	return out
}

func admGetHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	var out *pack.Pack
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		out = adminOptionsPack(h.Name, h.AdminOption)
		return nil
	})
	return out, err
}

func admGetDefaultHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	return adminOptionsPack("", func(string) uint32 { return 0 }), nil
}

func admSetHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	h, err := a.s.ctl.SetHubAdminOptions(a.actor(), a.hub, namedValues(a.in))
	if err != nil {
		return nil, err
	}
	return adminOptionsPack(h.Name, h.AdminOption), nil
}

// namedValues reads the Name and Value lists of an RPC_ADMIN_OPTION.
func namedValues(in *pack.Pack) []config.AdminOption {
	opts := make([]config.AdminOption, in.Count("Name"))
	for i := range opts {
		opts[i] = config.AdminOption{Name: in.StrAt("Name", i), Value: in.IntAt("Value", i)}
	}
	return opts
}
