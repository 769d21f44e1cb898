package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
)

// maxUserListFile bounds an access list's include:/exclude: file (§11.5).
const maxUserListFile = 1 << 20

// hubTreeFolder returns the hub's folder in the configuration tree as it
// stands, or nil. Unlike hubFolderLocked it does not write the model into
// the tree first, so it may run while the server is being built. The
// caller holds s.mu.
func (s *Server) hubTreeFolder(name string) *config.Folder {
	return s.cfg.Tree.Folder("VirtualHUB").Folder(name)
}

// dataPathOptions sets the hub options of §8.1 that the forwarding path
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

// ApplyAccessLists puts the hub's configured access list (the folders
// VirtualHUB/<hub>/AccessList/<id>) into effect on its forwarding path,
// replacing the rules it had. The caller holds s.mu.
func (s *Server) ApplyAccessLists(h *Hub) {
	var rules []hub.AccessRule
	if acl := s.hubTreeFolder(h.cfg.Name).Folder("AccessList"); acl != nil {
		rules = make([]hub.AccessRule, 0, len(acl.Folders))
		for _, f := range acl.Folders {
			r := accessRule(f)
			r.SrcUserList = s.userList(h, r.SrcUsername)
			r.DstUserList = s.userList(h, r.DstUsername)
			rules = append(rules, r)
		}
	}
	h.SetAccessList(rules)
}

// accessRule reads one AccessList/<id> folder (admin-interfaces.md §6.4.8).
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

// userList reads the names of an "include:FILE" or "exclude:FILE" user
// field (§11.5); it returns nil for plain names. A relative FILE is in the
// server's directory. A file that cannot be read lists nobody.
func (s *Server) userList(h *Hub, field string) []string {
	low := strings.ToLower(field)
	if !strings.HasPrefix(low, "include:") && !strings.HasPrefix(low, "exclude:") {
		return nil
	}
	name := strings.TrimSpace(field[len("include:"):])
	if name != "" && !filepath.IsAbs(name) {
		name = filepath.Join(s.dir, name)
	}
	names, err := readUserList(name)
	if err != nil {
		s.log.Warn("access list: cannot read the user list file", "hub", h.cfg.Name, "file", name, "err", err)
	}
	return names
}

// readUserList reads one user name per line, skipping blank lines and
// comments (#, // or ;), from at most maxUserListFile bytes of path.
func readUserList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUserListFile))
	if err != nil {
		return nil, err
	}
	return parseUserList(data), nil
}

// parseUserList splits a user list file's contents into names.
func parseUserList(data []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxUserListFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") || strings.HasPrefix(line, ";") {
			continue
		}
		names = append(names, line)
	}
	return names
}

// vlanID is policy VLanId as the hub takes it: 1-4095, anything else none.
func vlanID(v uint32) uint16 {
	if v > 4095 {
		return 0
	}
	return uint16(v)
}
