package server

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// dataPathOptions sets the hub options of docs/protocol/hub.md#hub-options that the forwarding path
// implements from the hub's configured options. The caller holds s.mu or
// is building the server.
func (s *Server) dataPathOptions(opt *hub.Options, hc *config.Hub) {
	// One budget bounds the queued frames of all hubs together, so that
	// sessions that stop reading cannot take the server's memory hub by hub.
	if s.queues == nil {
		s.queues = hub.NewQueueBudget(hub.DefaultQueueBudget)
	}
	opt.QueueBudget = s.queues
	o := &hc.Options
	opt.AdjustTCPMSS = int(o.AdjustTcpMssValue)
	opt.DisableAdjustTCPMSS = o.DisableAdjustTcpMss
	opt.ApplyAccessListOnARP = o.ApplyIPv4AccessListOnArpPacket
	opt.Filters = hub.Filters{
		PPPoE: o.FilterPPPoE, OSPF: o.FilterOSPF, IPv4: o.FilterIPv4,
		IPv6: o.FilterIPv6, NonIP: o.FilterNonIP, BPDU: o.FilterBPDU,
	}
	opt.ManageOnlyPrivateIP = o.ManageOnlyPrivateIP
	opt.LogNewMACs = !o.NoMacAddressLog
	opt.StormThreshold = int(o.BroadcastStormDetectionThreshold)
	opt.MaxLoggedPacketsPerMinute = int(o.MaxLoggedPacketsPerMinute)
	opt.PrivacyPassBroadcasts = !o.DropBroadcastsInPrivacyFilterMode
	opt.PrivacyPassARP = !o.DropArpInPrivacyFilterMode
	opt.PrivacyAllowSameUser = o.AllowSameUserInPrivacyFilterMode
	opt.DisableCheckMACOnLocalBridge = o.DisableCheckMacOnLocalBridge
	if v := o.VlanTypeId; v != 0 && v <= 0xffff {
		opt.VLANTypeID = uint16(v)
	}
}

// aclApply orders the updates of a hub's access list in effect: the rules
// are taken from the configuration under the server lock, their user list
// files read without it, and an older snapshot never replaces a newer one.
type aclApply struct {
	gen       atomic.Uint64 // snapshots taken
	mu        sync.Mutex    // guards installed and the preloaded lists; held only briefly
	installed uint64        // gen of the rules in effect
	// checked is the list whose user list files an administrator's change
	// had read before it was saved, lists what they held: the install
	// that follows the change takes them instead of reading them again.
	checked []config.Access
	lists   map[string][]string
}

// preload keeps the user list files read for list (see aclApply.checked).
func (a *aclApply) preload(list []config.Access, lists map[string][]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.checked, a.lists = list, lists
}

// takePreloaded returns, and forgets, the user list files preloaded for
// list, or nil.
func (a *aclApply) takePreloaded(list []config.Access) map[string][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	lists := a.lists
	if !slices.Equal(a.checked, list) {
		lists = nil
	}
	a.checked, a.lists = nil, nil
	return lists
}

// aclSnapshot is a hub's configured access list before its user list
// files are read.
type aclSnapshot struct {
	gen uint64
	cfg []config.Access // as configured; never changed
}

// accessListLocked takes a snapshot of the hub's configured access list.
// The caller holds s.mu.
func (s *Server) accessListLocked(h *Hub) aclSnapshot {
	return aclSnapshot{gen: h.aclApply.gen.Add(1), cfg: h.cfg.AccessList}
}

// installAccessList reads the user list files the snapshot's rules name
// and puts the rules into effect on the hub's forwarding path, unless a
// newer snapshot is already in effect. The caller must not hold s.mu:
// logins, sessions and admin calls go on while files are read and the
// rules compiled. Rules over the bounds on user list files
// (maxUserListFiles, maxUserListNames) list nobody, with a warning: an
// administrator's change beyond them was refused before it was saved
// (userLists.CheckList), so only a list loaded from the configuration
// gets there.
func (s *Server) installAccessList(h *Hub, snap aclSnapshot) {
	lists := userListLoader{s: s, hub: h.Name(), read: h.aclApply.takePreloaded(snap.cfg)}
	rules := make([]hub.AccessRule, len(snap.cfg))
	for i, c := range snap.cfg {
		r := accessRule(c)
		r.SrcUserList = lists.list(r.SrcUsername)
		r.DstUserList = lists.list(r.DstUsername)
		rules[i] = r
	}
	h.aclApply.mu.Lock()
	defer h.aclApply.mu.Unlock()
	if snap.gen <= h.aclApply.installed {
		return
	}
	h.aclApply.installed = snap.gen
	h.SetAccessList(rules)
}

// ApplyAccessLists puts the hub's configured access list into effect,
// replacing the rules it had. The caller must not hold s.mu.
func (s *Server) ApplyAccessLists(h *Hub) {
	s.mu.Lock()
	snap := s.accessListLocked(h)
	s.mu.Unlock()
	s.installAccessList(h, snap)
}

// userLists is the owner's check of the user list files that an
// administrator's access list names (control.UserLists).
type userLists struct{ s *Server }

// CheckField refuses a user list file outside the user-list directory.
func (u userLists) CheckField(field string) error {
	if _, _, err := u.s.userListFile(field); err != nil {
		return fmt.Errorf("%v (%w)", err, vpnerr.InvalidParameter)
	}
	return nil
}

// CheckList reads the user list files of a hub's new access list and
// refuses it when they go beyond the bounds. It runs under the owner's
// lock, never under s.mu. What it read is kept for the install that
// follows the change, so that each file is read once.
func (u userLists) CheckList(hubName string, list []config.Access) error {
	lists := userListLoader{s: u.s, hub: hubName, strict: true}
	for _, r := range list {
		lists.list(r.SrcUsername)
		lists.list(r.DstUsername)
	}
	if lists.err != nil {
		return fmt.Errorf("%v (%w)", lists.err, vpnerr.InvalidParameter)
	}
	if h := u.s.LookupHub(hubName); h != nil {
		h.aclApply.preload(list, lists.read)
	}
	return nil
}

// accessRule is a configured rule (docs/protocol/config.md#accounts-access-lists-and-cascades)
// as the forwarding path takes it. Unreadable addresses read as "any", as
// missing items do.
func accessRule(c config.Access) hub.AccessRule {
	r := hub.AccessRule{
		Priority:      c.Priority,
		RedirectURL:   c.RedirectURL,
		Discard:       c.Discard,
		Active:        c.Active,
		IPv6:          c.IPv6,
		SrcPortStart:  port16(c.SrcPortStart),
		SrcPortEnd:    port16(c.SrcPortEnd),
		DstPortStart:  port16(c.DstPortStart),
		DstPortEnd:    port16(c.DstPortEnd),
		SrcUsername:   c.SrcUsername,
		DstUsername:   c.DstUsername,
		CheckSrcMAC:   c.CheckSrcMAC,
		CheckDstMAC:   c.CheckDstMAC,
		CheckTCPState: c.CheckTCPState,
		Established:   c.Established,
		Delay:         time.Duration(min(c.Delay, 10000)) * time.Millisecond,
		Jitter:        int(min(c.Jitter, 100)),
		Loss:          int(min(c.Loss, 100)),
		SrcIP:         c.SrcIP, SrcMask: c.SrcMask,
		DstIP: c.DstIP, DstMask: c.DstMask,
		SrcMAC: c.SrcMAC, SrcMACMask: c.SrcMACMask,
		DstMAC: c.DstMAC, DstMACMask: c.DstMACMask,
	}
	if c.Protocol <= 255 {
		r.Protocol = uint8(c.Protocol)
	} else {
		r.Active = false // no IP protocol has such a number: the rule cannot match
	}
	return r
}

func port16(v uint32) uint16 { return uint16(min(v, 65535)) }

// vlanID is policy VLanId as the hub takes it: 1-4095, anything else none.
func vlanID(v uint32) uint16 {
	if v > 4095 {
		return 0
	}
	return uint16(v)
}
