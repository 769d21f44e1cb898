package config

import (
	"net"
	"net/netip"
	"strconv"
)

// MAC is a MAC address as a comparable value; the zero value is "none".
type MAC [6]byte

// String writes m the SoftEther way ("5E-00-11-22-33-44").
func (m MAC) String() string { return formatMAC(net.HardwareAddr(m[:])) }

// Access is one rule of a hub's access list (VirtualHUB/<hub>/AccessList/<n>,
// SoftEther Server.c, SiWriteHubAccessCfg). Every field is comparable, so
// two rules compare with == and a field added later is part of it.
type Access struct {
	UniqueID uint32 // UniqueId, ethervpn's stable id of a rule (0: none yet)
	Note     string
	Active   bool
	Priority uint32
	Discard  bool
	IPv6     bool // IsIPv6: the addresses below are the *6 items

	SrcIP, SrcMask netip.Addr // SrcIpAddress(6), SrcSubnetMask(6)
	DstIP, DstMask netip.Addr // DestIpAddress(6), DestSubnetMask(6)

	Protocol                   uint32 // 0 = any, 6 TCP, 17 UDP, ...
	SrcPortStart, SrcPortEnd   uint32
	DstPortStart, DstPortEnd   uint32 // DestPortStart, DestPortEnd
	SrcUsername, DstUsername   string // DestUsername
	CheckSrcMAC                bool
	SrcMAC, SrcMACMask         MAC
	CheckDstMAC                bool
	DstMAC, DstMACMask         MAC
	CheckTCPState, Established bool
	RedirectURL                string // RedirectUrl

	Delay  uint32 // ms
	Jitter uint32 // percent
	Loss   uint32 // percent
}

// addrItems names the address items of a rule of either family.
func (a *Access) addrItems() [4]string {
	if a.IPv6 {
		return [4]string{"SrcIpAddress6", "SrcSubnetMask6", "DestIpAddress6", "DestSubnetMask6"}
	}
	return [4]string{"SrcIpAddress", "SrcSubnetMask", "DestIpAddress", "DestSubnetMask"}
}

func readAccess(f *Folder) Access {
	a := Access{
		UniqueID: f.GetUint("UniqueId"), Note: f.GetString("Note"), Active: f.GetBool("Active"),
		Priority: f.GetUint("Priority"), Discard: f.GetBool("Discard"), IPv6: f.GetBool("IsIPv6"),
		Protocol:     f.GetUint("Protocol"),
		SrcPortStart: f.GetUint("SrcPortStart"), SrcPortEnd: f.GetUint("SrcPortEnd"),
		DstPortStart: f.GetUint("DestPortStart"), DstPortEnd: f.GetUint("DestPortEnd"),
		SrcUsername: f.GetString("SrcUsername"), DstUsername: f.GetString("DestUsername"),
		CheckSrcMAC: f.GetBool("CheckSrcMac"), SrcMAC: getMAC6(f, "SrcMacAddress"), SrcMACMask: getMAC6(f, "SrcMacMask"),
		CheckDstMAC: f.GetBool("CheckDstMac"), DstMAC: getMAC6(f, "DstMacAddress"), DstMACMask: getMAC6(f, "DstMacMask"),
		CheckTCPState: f.GetBool("CheckTcpState"), Established: f.GetBool("Established"),
		RedirectURL: f.GetString("RedirectUrl"),
		Delay:       f.GetUint("Delay"), Jitter: f.GetUint("Jitter"), Loss: f.GetUint("Loss"),
	}
	n := a.addrItems()
	a.SrcIP, a.SrcMask, a.DstIP, a.DstMask = getAddr(f, n[0]), getAddr(f, n[1]), getAddr(f, n[2]), getAddr(f, n[3])
	return a
}

// write puts a into f, changing only the items that differ.
func (a *Access) write(f *Folder) {
	if a.UniqueID != 0 || f.Item("UniqueId") != nil {
		putUint(f, "UniqueId", a.UniqueID)
	}
	putString(f, "Note", a.Note)
	putBool(f, "Active", a.Active)
	putUint(f, "Priority", a.Priority)
	putBool(f, "Discard", a.Discard)
	putBool(f, "IsIPv6", a.IPv6)
	n := a.addrItems()
	for i, v := range [4]netip.Addr{a.SrcIP, a.SrcMask, a.DstIP, a.DstMask} {
		if v.IsValid() || f.Item(n[i]) != nil {
			putAddr(f, n[i], v)
		}
	}
	putUint(f, "Protocol", a.Protocol)
	putUint(f, "SrcPortStart", a.SrcPortStart)
	putUint(f, "SrcPortEnd", a.SrcPortEnd)
	putUint(f, "DestPortStart", a.DstPortStart)
	putUint(f, "DestPortEnd", a.DstPortEnd)
	putString(f, "SrcUsername", a.SrcUsername)
	putString(f, "DestUsername", a.DstUsername)
	putBool(f, "CheckSrcMac", a.CheckSrcMAC)
	putMAC6(f, "SrcMacAddress", a.SrcMAC)
	putMAC6(f, "SrcMacMask", a.SrcMACMask)
	putBool(f, "CheckDstMac", a.CheckDstMAC)
	putMAC6(f, "DstMacAddress", a.DstMAC)
	putMAC6(f, "DstMacMask", a.DstMACMask)
	putBool(f, "CheckTcpState", a.CheckTCPState)
	putBool(f, "Established", a.Established)
	putString(f, "RedirectUrl", a.RedirectURL)
	putUint(f, "Delay", a.Delay)
	putUint(f, "Jitter", a.Jitter)
	putUint(f, "Loss", a.Loss)
}

func readAccessList(hub *Folder) []Access {
	var list []Access
	for _, f := range inNumberOrder(hub.Folder("AccessList"), "") {
		list = append(list, readAccess(f))
	}
	return list
}

// writeAccessList rewrites the hub's AccessList in list order, the rules
// named 1, 2, ... as SoftEther names them. A rule reuses the folder of the
// rule with its UniqueID, or (for rules without one) the folder at its
// position, so items this model does not know survive an edit.
func writeAccessList(hub *Folder, list []Access) {
	acl := hub.Ensure("AccessList")
	old := acl.Folders
	acl.Folders = make([]*Folder, 0, len(list))
	for i := range list {
		var f *Folder
		for j, o := range old {
			if o != nil && (list[i].UniqueID != 0 && o.GetUint("UniqueId") == list[i].UniqueID ||
				list[i].UniqueID == 0 && j == i && o.Item("UniqueId") == nil) {
				f, old[j] = o, nil
				break
			}
		}
		if f == nil {
			f = newAccessFolder()
		}
		f.Name = strconv.Itoa(i + 1)
		list[i].write(f)
		acl.Folders = append(acl.Folders, f)
	}
}

// newAccessFolder returns the folder of a new rule with the items the
// real server writes for every rule, all zero.
func newAccessFolder() *Folder {
	f := NewFolder("")
	for _, n := range []string{"Note", "SrcUsername", "DestUsername", "RedirectUrl"} {
		f.SetString(n, "")
	}
	for _, n := range []string{"Active", "Discard", "IsIPv6", "CheckSrcMac", "CheckDstMac", "CheckTcpState", "Established"} {
		f.SetBool(n, false)
	}
	for _, n := range []string{"Priority", "Protocol", "SrcPortStart", "SrcPortEnd", "DestPortStart", "DestPortEnd", "Delay", "Jitter", "Loss"} {
		f.SetUint(n, 0)
	}
	return f
}

// getMAC6 reads a MAC address item; absent or unparsable is the zero MAC.
func getMAC6(f *Folder, name string) MAC {
	var m MAC
	copy(m[:], getMAC(f, name))
	return m
}

// putMAC6 writes m unless the item already says so (an absent item says
// the zero MAC).
func putMAC6(f *Folder, name string, m MAC) {
	if getMAC6(f, name) != m {
		f.SetString(name, m.String())
	}
}
