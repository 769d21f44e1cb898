package config

import (
	"net/netip"
	"strconv"
)

// AcEntry is one entry of a hub's Source IP Address Limit List (SoftEther's
// AC list, vpncmd AcAdd): a client address, or a network when Mask is
// valid, to allow or deny. All fields are comparable, so two entries
// compare with ==, and a field added later is part of that comparison.
type AcEntry struct {
	Deny     bool
	Priority uint32     // lower first
	IP       netip.Addr // IPv4 or IPv6, without a zone
	Mask     netip.Addr // invalid: IP alone
}

// The list lives in the hub's SecurityAccountDatabase folder as
// IPAccessControlList/Acl<n> (SoftEther Server.c, SiWriteHubDb and
// SiWriteAcList). ethervpn up to issue 10 wrote (and read) it one level
// too high, directly in the hub folder; readAcList still reads that
// place when the right one has no entry, and writeAcList removes it, so
// such a file migrates on its next save.
const acListFolder = "IPAccessControlList"

// readAcList reads a hub folder's AC list in file order. An entry whose
// address does not parse is skipped, as the real server does (its
// CfgGetIp leaves the address zero, and a zero entry matches nobody).
func readAcList(hub *Folder) (list []AcEntry, legacy bool) {
	f := hub.Folder("SecurityAccountDatabase").Folder(acListFolder)
	if len(f.subfolders()) == 0 {
		if old := hub.Folder(acListFolder); len(old.subfolders()) > 0 {
			f, legacy = old, true
		}
	}
	for _, ff := range inNumberOrder(f, "Acl") {
		ip, err := netip.ParseAddr(ff.GetString("IpAddress"))
		if err != nil {
			continue
		}
		e := AcEntry{Deny: ff.GetBool("Deny"), Priority: ff.GetUint("Priority"), IP: ip.WithZone("")}
		if m, err := netip.ParseAddr(ff.GetString("NetMask")); err == nil {
			e.Mask = m.WithZone("")
		}
		list = append(list, e)
	}
	return list, legacy
}

// writeAcList replaces the hub folder's AC list with list, numbered from
// Acl1 in list order as SoftEther writes it, and drops the legacy folder.
func writeAcList(hub *Folder, list []AcEntry) {
	hub.Remove(acListFolder)
	child(hub, "SecurityAccountDatabase", func(db *Folder) {
		f := db.Folder(acListFolder)
		if f == nil {
			f = db.Ensure(acListFolder)
		}
		f.Folders = f.Folders[:0]
		for i, e := range list {
			ff := NewFolder("Acl" + strconv.Itoa(i+1))
			ff.SetBool("Deny", e.Deny)
			ff.SetUint("Priority", e.Priority)
			ff.SetString("IpAddress", e.IP.String())
			if e.Mask.IsValid() {
				ff.SetString("NetMask", e.Mask.String())
			}
			f.Folders = append(f.Folders, ff)
		}
	})
}
