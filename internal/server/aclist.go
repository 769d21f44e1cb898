package server

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// maxACEntries bounds a hub's source IP address limit list (MAX_HUB_ACS).
const maxACEntries = 4096

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

// normalizeAC sorts a list as SoftEther keeps it and numbers it.
func normalizeAC(list []acEntry) []acEntry {
	slices.SortStableFunc(list, func(a, b acEntry) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		switch {
		case a.Deny == b.Deny:
			return 0
		case !a.Deny:
			return -1
		}
		return 1
	})
	for i := range list {
		list[i].ID = uint32(i + 1)
		list[i].IP = list[i].IP.WithZone("")
	}
	return list
}

// acListFromModel is the hub's configured list in the order it applies.
func acListFromModel(hc *config.Hub) []acEntry {
	list := make([]acEntry, 0, len(hc.AcList))
	for _, e := range hc.AcList {
		list = append(list, acEntry{Deny: e.Deny, Priority: e.Priority, IP: e.IP, Mask: e.Mask})
	}
	return normalizeAC(list)
}

// acListToModel is a normalized list as the configuration keeps it.
func acListToModel(list []acEntry) []config.AcEntry {
	out := make([]config.AcEntry, 0, len(list))
	for _, e := range list {
		out = append(out, config.AcEntry{Deny: e.Deny, Priority: e.Priority, IP: e.IP, Mask: e.Mask})
	}
	return out
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
	a.lock()
	defer a.unlock()
	h, err := a.hubFor("")
	if err != nil {
		return nil, err
	}
	return acListPack(h.cfg.Name, acListFromModel(h.cfg)), nil
}

// admSetAcList replaces the list (vpncmd's AcAdd and AcDel read it, change
// it and send it back whole).
func admSetAcList(a *adminCall) (*pack.Pack, error) {
	a.lock()
	defer a.unlock()
	h, err := a.hubFor("no_change_access_control_list")
	if err != nil {
		return nil, err
	}
	in := a.in
	n := in.Count("IpAddress")
	if n > maxACEntries {
		return nil, vpnerr.InvalidParameter
	}
	list := make([]acEntry, 0, n)
	for i := range n {
		e := acEntry{Deny: in.IntAt("Deny", i) != 0, Priority: in.IntAt("Priority", i), IP: in.IPAt("IpAddress", i)}
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
			if e.Mask.Is4() != e.IP.Unmap().Is4() {
				if !e.Mask.IsUnspecified() {
					return nil, vpnerr.InvalidParameter // a real mask of the wrong family is a mistake
				}
				a.s.log.Warn("access list entry masked with 0.0.0.0 matches every address of its family, as in SoftEther; give the mask as an address (ffff:ffff:: for /32) to limit it",
					"hub", h.cfg.Name, "ip", e.IP, "priority", e.Priority, "deny", e.Deny)
			}
		}
		list = append(list, e)
	}
	list = normalizeAC(list)
	h.cfg.AcList = acListToModel(list)
	h.acList.Store(&list)
	return acListPack(h.cfg.Name, list), nil
}
