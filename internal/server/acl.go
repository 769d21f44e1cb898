package server

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// hubTreeFolder returns the hub's folder in the configuration tree as it
// stands, or nil. Unlike hubFolderLocked it does not write the model into
// the tree first, so it may run while the server is being built. The
// caller holds s.mu.
func (s *Server) hubTreeFolder(name string) *config.Folder {
	return s.cfg.Tree.Folder("VirtualHUB").Folder(name)
}

// dataPathOptions sets the hub options of docs/protocol/hub.md#hub-options that the forwarding path
// implements from the hub's Option folder (a new hub's values for missing
// items). The caller holds s.mu.
func (s *Server) dataPathOptions(opt *hub.Options, hubName string) {
	// One budget bounds the queued frames of all hubs together, so that
	// sessions that stop reading cannot take the server's memory hub by hub.
	if s.queues == nil {
		s.queues = hub.NewQueueBudget(hub.DefaultQueueBudget)
	}
	opt.QueueBudget = s.queues
	o := s.hubTreeFolder(hubName).Folder("Option")
	on := func(name string) bool { return hubOption(o, name) != 0 }
	opt.AdjustTCPMSS = int(hubOption(o, "AdjustTcpMssValue"))
	opt.DisableAdjustTCPMSS = on("DisableAdjustTcpMss")
	opt.ApplyAccessListOnARP = on("ApplyIPv4AccessListOnArpPacket")
	opt.Filters = hub.Filters{
		PPPoE: on("FilterPPPoE"), OSPF: on("FilterOSPF"), IPv4: on("FilterIPv4"),
		IPv6: on("FilterIPv6"), NonIP: on("FilterNonIP"), BPDU: on("FilterBPDU"),
	}
	opt.ManageOnlyPrivateIP = on("ManageOnlyPrivateIP")
	opt.LogNewMACs = !on("NoMacAddressLog")
	opt.StormThreshold = int(hubOption(o, "BroadcastStormDetectionThreshold"))
	opt.MaxLoggedPacketsPerMinute = int(hubOption(o, "MaxLoggedPacketsPerMinute"))
	opt.PrivacyPassBroadcasts = !on("DropBroadcastsInPrivacyFilterMode")
	opt.PrivacyPassARP = !on("DropArpInPrivacyFilterMode")
	opt.PrivacyAllowSameUser = on("AllowSameUserInPrivacyFilterMode")
	opt.DisableCheckMACOnLocalBridge = on("DisableCheckMacOnLocalBridge")
	if v := hubOption(o, "VlanTypeId"); v != 0 && v <= 0xffff {
		opt.VLANTypeID = uint16(v)
	}
}

// aclApply orders the updates of a hub's access list in effect: the rules
// are read from the configuration under the server lock, their user list
// files without it, and an older snapshot never replaces a newer one.
type aclApply struct {
	gen       atomic.Uint64 // snapshots taken
	mu        sync.Mutex    // guards installed; held only for the swap
	installed uint64        // gen of the rules in effect
}

// aclSnapshot is a hub's configured access list before its user list
// files are read.
type aclSnapshot struct {
	gen   uint64
	rules []hub.AccessRule
}

// accessListLocked takes a snapshot of the hub's configured access list
// (the folders VirtualHUB/<hub>/AccessList/<id>). The caller holds s.mu.
func (s *Server) accessListLocked(h *Hub) aclSnapshot {
	snap := aclSnapshot{gen: h.aclApply.gen.Add(1)}
	if acl := s.hubTreeFolder(h.cfg.Name).Folder("AccessList"); acl != nil {
		snap.rules = make([]hub.AccessRule, 0, len(acl.Folders))
		for _, f := range acl.Folders {
			snap.rules = append(snap.rules, accessRule(f))
		}
	}
	return snap
}

// installAccessList reads the user list files the snapshot's rules name
// and puts the rules into effect on the hub's forwarding path, unless a
// newer snapshot is already in effect. The caller must not hold s.mu:
// logins, sessions and admin calls go on while files are read and the
// rules compiled.
//
// When strict (an administrator changes the list) an access list whose
// user list files go beyond the bounds (maxUserListFiles,
// maxUserListNames) is not put into effect: the error says which bound, and
// the list in effect stays. Otherwise (a list loaded from the
// configuration) the rules over the bounds list nobody, with a warning.
func (s *Server) installAccessList(h *Hub, snap aclSnapshot, strict bool) error {
	lists := userListLoader{s: s, hub: h.Name(), strict: strict}
	for i := range snap.rules {
		r := &snap.rules[i]
		r.SrcUserList = lists.list(r.SrcUsername)
		r.DstUserList = lists.list(r.DstUsername)
	}
	if lists.err != nil {
		return lists.err
	}
	h.aclApply.mu.Lock()
	defer h.aclApply.mu.Unlock()
	if snap.gen <= h.aclApply.installed {
		return nil
	}
	h.aclApply.installed = snap.gen
	h.SetAccessList(snap.rules)
	return nil
}

// ApplyAccessLists puts the hub's configured access list into effect,
// replacing the rules it had. The caller must not hold s.mu.
func (s *Server) ApplyAccessLists(h *Hub) {
	s.mu.Lock()
	snap := s.accessListLocked(h)
	s.mu.Unlock()
	s.installAccessList(h, snap, false)
}

// prepareRule applies to an access-list entry that an administrator adds
// the hub administration options SoftEther applies then, whoever the
// administrator is (Admin.c, StAddAccess and StSetAccessList):
// no_delay_jitter_packet_loss zeroes Delay, Jitter and Loss, and
// no_access_list_include_file clears include:/exclude: user fields. A user
// list file outside the user-list directory is refused. hubFolder is the
// hub's configuration folder; the caller holds s.mu.
func (s *Server) prepareRule(hubFolder, rule *config.Folder) error {
	opts := hubFolder.Folder("AdminOption")
	if opts.GetUint("no_delay_jitter_packet_loss") != 0 {
		rule.SetUint("Delay", 0)
		rule.SetUint("Jitter", 0)
		rule.SetUint("Loss", 0)
	}
	noInclude := opts.GetUint("no_access_list_include_file") != 0
	for _, name := range []string{"SrcUsername", "DestUsername"} {
		field := rule.GetString(name)
		if noInclude && isUserListField(field) {
			rule.SetString(name, "")
			continue
		}
		if _, _, err := s.userListFile(field); err != nil {
			return fmt.Errorf("%v (%w)", err, vpnerr.InvalidParameter)
		}
	}
	return nil
}

// accessRule reads one AccessList/<id> folder (docs/protocol/config.md#accounts-access-lists-and-cascades).
// Unreadable addresses read as "any", as missing items do.
func accessRule(f *config.Folder) hub.AccessRule {
	r := hub.AccessRule{
		Priority:      f.GetUint("Priority"),
		RedirectURL:   f.GetString("RedirectUrl"),
		Discard:       f.GetBool("Discard"),
		Active:        f.GetBool("Active"),
		IPv6:          f.GetBool("IsIPv6"),
		SrcPortStart:  port16(f.GetUint("SrcPortStart")),
		SrcPortEnd:    port16(f.GetUint("SrcPortEnd")),
		DstPortStart:  port16(f.GetUint("DestPortStart")),
		DstPortEnd:    port16(f.GetUint("DestPortEnd")),
		SrcUsername:   f.GetString("SrcUsername"),
		DstUsername:   f.GetString("DestUsername"),
		CheckSrcMAC:   f.GetBool("CheckSrcMac"),
		CheckDstMAC:   f.GetBool("CheckDstMac"),
		CheckTCPState: f.GetBool("CheckTcpState"),
		Established:   f.GetBool("Established"),
		Delay:         time.Duration(min(f.GetUint("Delay"), 10000)) * time.Millisecond,
		Jitter:        int(min(f.GetUint("Jitter"), 100)),
		Loss:          int(min(f.GetUint("Loss"), 100)),
	}
	if p := f.GetUint("Protocol"); p <= 255 {
		r.Protocol = uint8(p)
	} else {
		r.Active = false // no IP protocol has such a number: the rule cannot match
	}
	suffix := ""
	if r.IPv6 {
		suffix = "6"
	}
	addr := func(name string) netip.Addr {
		a, _ := netip.ParseAddr(f.GetString(name + suffix))
		return a
	}
	r.SrcIP, r.SrcMask = addr("SrcIpAddress"), addr("SrcSubnetMask")
	r.DstIP, r.DstMask = addr("DestIpAddress"), addr("DestSubnetMask")
	r.SrcMAC, r.SrcMACMask = mac6(f.GetString("SrcMacAddress")), mac6(f.GetString("SrcMacMask"))
	r.DstMAC, r.DstMACMask = mac6(f.GetString("DstMacAddress")), mac6(f.GetString("DstMacMask"))
	return r
}

func port16(v uint32) uint16 { return uint16(min(v, 65535)) }

// mac6 parses a stored MAC ("XX-XX-XX-XX-XX-XX"); anything else is zero.
func mac6(s string) [6]byte {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		return [6]byte{}
	}
	return [6]byte(m)
}

// vlanID is policy VLanId as the hub takes it: 1-4095, anything else none.
func vlanID(v uint32) uint16 {
	if v > 4095 {
		return 0
	}
	return uint16(v)
}
