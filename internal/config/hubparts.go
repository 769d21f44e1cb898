package config

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// AdminOption is one item of a hub's AdminOption folder: a limit or a
// right of the hub's administrators ("max_users", "no_change_users", ...;
// SoftEther Admin.c, admin_options). Comparable with ==.
type AdminOption struct {
	Name  string
	Value uint32
}

// AdminOption returns the value of the hub's admin option called name
// (case-insensitive); an absent option is 0.
func (h *Hub) AdminOption(name string) uint32 {
	for _, o := range h.AdminOptions {
		if strings.EqualFold(o.Name, name) {
			return o.Value
		}
	}
	return 0
}

// SetAdminOption sets the admin option called name, adding it if absent.
func (h *Hub) SetAdminOption(name string, v uint32) {
	for i, o := range h.AdminOptions {
		if strings.EqualFold(o.Name, name) {
			h.AdminOptions[i].Value = v
			return
		}
	}
	h.AdminOptions = append(h.AdminOptions, AdminOption{Name: name, Value: v})
}

func readAdminOptions(hub *Folder) []AdminOption {
	var list []AdminOption
	if f := hub.Folder("AdminOption"); f != nil {
		for _, it := range f.Items {
			// the first of items spelled alike counts, as in Folder.Item
			if it.Type == Uint && !slices.ContainsFunc(list, func(o AdminOption) bool { return strings.EqualFold(o.Name, it.Name) }) {
				list = append(list, AdminOption{Name: it.Name, Value: uint32(it.Uint)})
			}
		}
	}
	slices.SortStableFunc(list, func(a, b AdminOption) int { return compareNames(a.Name, b.Name) })
	return list
}

// writeAdminOptions makes the AdminOption folder hold list: options not in
// it are removed, the others written where they differ. Items that are
// not numbers (the real server writes none) are kept.
func writeAdminOptions(hub *Folder, list []AdminOption) {
	child(hub, "AdminOption", func(f *Folder) {
		for _, it := range slices.Clone(f.Items) {
			if it.Type == Uint && !slices.ContainsFunc(list, func(o AdminOption) bool { return strings.EqualFold(o.Name, it.Name) }) {
				f.Remove(it.Name)
			}
		}
		for _, o := range list {
			if f.Item(o.Name) == nil || f.GetUint(o.Name) != o.Value {
				f.SetUint(o.Name, o.Value)
			}
		}
	})
}

// LogSetting is a hub's LogSetting folder apart from SaveSecurityLog and
// SavePacketLog (Hub.LogSecurity, Hub.LogPacket). Values are kept as the
// file has them (an absent level is 0, an absent or mistyped switch type
// is daily, as ethervpn has always run such a hub's logs); the consumer
// applies SoftEther's limits. Comparable with ==.
type LogSetting struct {
	SecurityLogSwitchType uint32 // 0 none, 1 second ... 5 month (SoftEther Logging.h, LOG_SWITCH_*)
	PacketLogSwitchType   uint32
	PacketLog             PacketLogLevels
}

// PacketLogLevels are the PACKET_LOG_* items: 0 none, 1 header, 2 all.
type PacketLogLevels struct {
	Ethernet, ARP, IP, ICMP, TCP, TCPConn, UDP, DHCP uint32
}

// items pairs each level with its item name.
func (p *PacketLogLevels) items() [8]struct {
	name string
	v    *uint32
} {
	return [8]struct {
		name string
		v    *uint32
	}{
		{"PACKET_LOG_ETHERNET", &p.Ethernet}, {"PACKET_LOG_ARP", &p.ARP}, {"PACKET_LOG_IP", &p.IP},
		{"PACKET_LOG_ICMP", &p.ICMP}, {"PACKET_LOG_TCP", &p.TCP}, {"PACKET_LOG_TCP_CONN", &p.TCPConn},
		{"PACKET_LOG_UDP", &p.UDP}, {"PACKET_LOG_DHCP", &p.DHCP},
	}
}

func readLogSetting(hub *Folder) LogSetting {
	f := hub.Folder("LogSetting")
	l := LogSetting{
		SecurityLogSwitchType: switchType(f, "SecurityLogSwitchType"),
		PacketLogSwitchType:   switchType(f, "PacketLogSwitchType"),
	}
	for _, it := range l.PacketLog.items() {
		*it.v = f.GetUint(it.name)
	}
	return l
}

// SwitchDaily is the log switch type "a file a day", that of a new hub.
const SwitchDaily = 4

// switchType reads a log switch type item; absent or not a number, it is
// daily. A loaded value stays as it is (the consumer limits it), so that
// an unchanged setting is written back unchanged.
func switchType(logs *Folder, item string) uint32 {
	if it := logs.Item(item); it != nil && it.Type == Uint {
		return uint32(it.Uint)
	}
	return SwitchDaily
}

func (l *LogSetting) write(hub *Folder) {
	child(hub, "LogSetting", func(f *Folder) {
		putUint(f, "SecurityLogSwitchType", l.SecurityLogSwitchType)
		putUint(f, "PacketLogSwitchType", l.PacketLogSwitchType)
		for _, it := range l.PacketLog.items() {
			putUint(f, it.name, *it.v)
		}
	})
}

// numbered names the folders of a list "<prefix>0", "<prefix>1", ...
func numbered(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// inNumberOrder returns the sub-folders of a list whose folders are named
// <prefix><number> (Acl1, Entry0, or just 1, 2 in an access list) in the
// order of their numbers. The file sorts folders by name as text, which
// puts "10" before "2"; the number is the position SoftEther wrote the
// entry at. Folders without such a name come last, in file order.
func inNumberOrder(f *Folder, prefix string) []*Folder {
	num := func(x *Folder) uint64 {
		if len(x.Name) > len(prefix) && strings.EqualFold(x.Name[:len(prefix)], prefix) {
			if n, err := strconv.ParseUint(x.Name[len(prefix):], 10, 32); err == nil {
				return n
			}
		}
		return 1 << 32
	}
	out := slices.Clone(f.subfolders())
	slices.SortStableFunc(out, func(a, b *Folder) int { return cmp.Compare(num(a), num(b)) })
	return out
}

// addrText writes an address as the real server does, and an absent
// (invalid) one as an empty string, which reads back as absent.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
