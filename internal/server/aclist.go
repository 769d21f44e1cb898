package server

import (
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// acEntry is one entry of a hub's Source IP Address Limit List (SoftEther's
// AC list): a client address, or a network when Mask is set, to allow or
// deny. Entries are kept in priority order (lower first; at equal priority
// allow before deny) and numbered from 1 in that order.
type acEntry struct {
	ID       uint32
	Deny     bool
	Priority uint32
	IP       netip.Addr
	Mask     netip.Addr // invalid: IP alone
}

// matches reports whether ip falls under the entry. A mask of the other
// family than the entry's address masks every bit away, as in SoftEther
// (Hub.c, IsIpMaskedByAc: IPToUINT and IPAnd6 give zero for it), so such an
// entry matches every address of its family.
func (e acEntry) matches(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if ip.Is4() != e.IP.Is4() {
		return false
	}
	if !e.Mask.IsValid() {
		return ip == e.IP.WithZone("")
	}
	a, b, m := ip.AsSlice(), e.IP.AsSlice(), e.Mask.AsSlice()
	if len(m) != len(a) {
		return true
	}
	for i := range a {
		if a[i]&m[i] != b[i]&m[i] {
			return false
		}
	}
	return true
}

// acDenied applies a list to a client address: the first matching entry
// decides; no match allows.
func acDenied(list []acEntry, ip netip.Addr) bool {
	for _, e := range list {
		if e.matches(ip) {
			return e.Deny
		}
	}
	return false
}

// acListFromModel is the hub's configured list in the order it applies,
// numbered from 1.
func acListFromModel(hc *config.Hub) []acEntry {
	sorted := control.SortAcList(hc.AcList)
	list := make([]acEntry, len(sorted))
	for i, e := range sorted {
		list[i] = acEntry{ID: uint32(i + 1), Deny: e.Deny, Priority: e.Priority, IP: e.IP, Mask: e.Mask}
	}
	return list
}

// applyACList puts the hub's list from the configuration into effect. The
// caller holds s.mu or is building the server.
func (s *Server) applyACList(h *Hub) {
	list := acListFromModel(h.cfg)
	h.acList.Store(&list)
}

// sourceDenied reports whether the hub's list refuses a client at ip.
func (h *Hub) sourceDenied(ip netip.Addr) bool {
	l := h.acList.Load()
	return l != nil && acDenied(*l, ip)
}

// acListPack is the RPC_AC_LIST answer (group ACList in JSON-RPC).
func acListPack(hubName string, list []acEntry) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", hubName)
	out.AddInt("NumItem", uint32(len(list)))
	l := newList(out)
	for _, e := range list {
		l.row()
		l.int("Id", e.ID)
		l.bool("Deny", e.Deny)
		l.ip("IpAddress", e.IP)
		l.bool("Masked", e.Mask.IsValid())
		l.ip("SubnetMask", e.Mask)
		l.int("Priority", e.Priority)
	}
	l.done()
	return out
}

func admGetAcList(a *adminCall) (*pack.Pack, error) {
	var out *pack.Pack
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		out = acListPack(h.Name, acListFromModel(h))
		return nil
	})
	return out, err
}

// admSetAcList replaces the list (vpncmd's AcAdd and AcDel read it, change
// it and send it back whole).
func admSetAcList(a *adminCall) (*pack.Pack, error) {
	in := a.in
	n := in.Count("IpAddress")
	if n > control.MaxAcEntries {
		return nil, vpnerr.InvalidParameter // before reading them all
	}
	list := make([]config.AcEntry, 0, n)
	for i := range n {
		e := config.AcEntry{Deny: in.IntAt("Deny", i) != 0, Priority: in.IntAt("Priority", i), IP: in.IPAt("IpAddress", i)}
		if !e.IP.IsValid() {
			return nil, vpnerr.InvalidParameter
		}
		if in.IntAt("Masked", i) != 0 {
			e.Mask = in.IPAt("SubnetMask", i)
			if !e.Mask.IsValid() {
				// No mask, as when a JSON-RPC client sends a prefix length
				// ("8") that is not an address: the real vpnserver reads
				// 0.0.0.0 (SoftEther Pack.c, JsonToPack drops the field;
				// PackGetIpEx gives zero) and takes the entry.
				e.Mask = netip.IPv4Unspecified()
			}
		}
		list = append(list, e)
	}
	h, err := a.s.ctl.SetAcList(a.actor(), a.hub, list)
	if err != nil {
		return nil, err
	}
	for _, e := range h.AcList {
		if e.Mask.IsValid() && e.Mask.Is4() != e.IP.Unmap().Is4() {
			a.s.log.Warn("access list entry masked with 0.0.0.0 matches every address of its family, as in SoftEther; give the mask as an address (ffff:ffff:: for /32) to limit it",
				"hub", h.Name, "ip", e.IP, "priority", e.Priority, "deny", e.Deny)
		}
	}
	return acListPack(h.Name, acListFromModel(h)), nil
}
