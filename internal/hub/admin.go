package hub

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"time"
)

// MACEntry is the admin view of a MAC table row.
type MACEntry struct {
	ID               uint32
	Port             string
	VLAN             uint16
	MAC              net.HardwareAddr
	Created, Updated time.Time
}

// IPEntry is the admin view of an IP table row.
type IPEntry struct {
	ID               uint32
	Port             string
	IP               netip.Addr
	DHCP             bool
	MAC              net.HardwareAddr
	Created, Updated time.Time
}

func hwAddr(m uint64) net.HardwareAddr {
	return net.HardwareAddr{byte(m >> 40), byte(m >> 32), byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// MACTable lists the live MAC table entries, ordered by ID.
func (h *Hub) MACTable() []MACEntry {
	now := h.now()
	var out []MACEntry
	h.macs.each(func(e *entry[uint64]) {
		if !h.macAlive(e, now) {
			return
		}
		out = append(out, MACEntry{
			ID: e.id, Port: e.owner.Load().name, VLAN: uint16(e.key & 0xfff), MAC: hwAddr(e.key >> 16),
			Created: h.wall(e.created.Load()), Updated: h.wall(e.updated.Load()),
		})
	})
	slices.SortFunc(out, func(a, b MACEntry) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// DeleteMAC removes the MAC table entry with the given ID.
func (h *Hub) DeleteMAC(id uint32) bool {
	return h.macs.deleteIf(func(e *entry[uint64]) bool { return e.id == id }, dropOwnedMAC) > 0
}

// IPTable lists the live IP table entries, ordered by ID.
func (h *Hub) IPTable() []IPEntry {
	now := h.now()
	var out []IPEntry
	h.ips.each(func(e *entry[ipKey]) {
		if !h.ipAlive(e, now) {
			return
		}
		out = append(out, IPEntry{
			ID: e.id, Port: e.owner.Load().name, IP: e.key, DHCP: e.dhcp.Load(), MAC: hwAddr(e.mac.Load()),
			Created: h.wall(e.created.Load()), Updated: h.wall(e.updated.Load()),
		})
	})
	slices.SortFunc(out, func(a, b IPEntry) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// DeleteIP removes the IP table entry with the given ID.
func (h *Hub) DeleteIP(id uint32) bool {
	return h.ips.deleteIf(func(e *entry[ipKey]) bool { return e.id == id }, dropOwnedIP) > 0
}
