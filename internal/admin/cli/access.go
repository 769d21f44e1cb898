package cli

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/pack"
)

// accessCommands are vpncmd's access-list commands that read, switch and
// delete rules (EnumAccess, SetAccessList, DeleteAccess): AccessList,
// AccessEnable, AccessDisable and AccessDelete. (Rules are added with the
// real vpncmd's AccessAdd, JSON-RPC or the configuration.)
func accessCommands() []*command {
	id := []param{arg("id", "ID of the rule:")}
	return []*command{
		{name: "AccessList", needHub: true, run: accessList},
		{name: "AccessEnable", needHub: true, params: id, run: accessActive(true)},
		{name: "AccessDisable", needHub: true, params: id, run: accessActive(false)},
		{name: "AccessDelete", needHub: true, params: id, run: accessDelete},
	}
}

func init() {
	for k, v := range map[string]string{
		"AccessList":    "Get Access List Rule List ", // sic, with vpncmd's trailing space
		"AccessEnable":  "Enable Access List Rule",
		"AccessDisable": "Disable Access List Rule",
		"AccessDelete":  "Delete Rule from Access List",
	} {
		commandDesc[k] = v
	}
}

func accessList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumAccess", s.hubPack())
	if err != nil {
		return err
	}
	t := newList(rcol("ID"), col("Action"), col("Status"), rcol("Priority"), rcol("Unique ID"), col("Contents"), col("Memo"))
	for i := range p.Count("Protocol") {
		action, status := "Pass", "Enable"
		if p.IntAt("Discard", i) != 0 {
			action = "Discard"
		}
		if p.IntAt("Active", i) == 0 {
			status = "Disable"
		}
		t.add(strconv.Itoa(int(p.IntAt("Id", i))), action, status, strconv.Itoa(int(p.IntAt("Priority", i))),
			strconv.Itoa(int(p.IntAt("UniqueId", i))), accessContents(p, i), strAtPack(p, "Note", i))
	}
	s.show(t)
	return nil
}

// accessActive switches a rule on or off: like vpncmd it reads the list,
// changes the rule and sends the whole list back.
func accessActive(on bool) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		id, err := parseUint("The ID", a[""], 1, 1<<32-1)
		if err != nil {
			return err
		}
		p, err := s.call("EnumAccess", s.hubPack())
		if err != nil {
			return err
		}
		n := p.Count("Protocol")
		active := make([]uint32, n)
		found := false
		for i := range n {
			active[i] = p.IntAt("Active", i)
			if p.IntAt("Id", i) == id {
				active[i], found = 0, true
				if on {
					active[i] = 1
				}
			}
		}
		if !found {
			return admin.ErrObjectNotFound
		}
		p.Delete("Active")
		p.AddInts("Active", active)
		_, err = s.call("SetAccessList", p)
		return err
	}
}

func accessDelete(s *Session, a cmdArgs) error {
	id, err := parseUint("The ID", a[""], 1, 1<<32-1)
	if err != nil {
		return err
	}
	in := s.hubPack()
	in.AddInt("Id", id)
	_, err = s.call("DeleteAccess", in)
	return err
}

func strAtPack(p *pack.Pack, name string, i int) string {
	if e, ok := p.Lookup(name); ok && i < len(e.Strs) {
		return e.Strs[i]
	}
	return ""
}

// accessContents describes rule i of an EnumAccess answer as SoftEther's
// GetAccessListStr does, e.g. "(ipv4) SrcIPv4=10.0.0.0/8, Protocol=ICMPv4".
func accessContents(p *pack.Pack, i int) string {
	var parts []string
	add := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	l3 := false
	v6 := p.IntAt("IsIPv6", i) != 0
	if !v6 {
		for _, d := range []struct{ name, ip, mask string }{{"SrcIPv4", "SrcIpAddress", "SrcSubnetMask"}, {"DstIPv4", "DestIpAddress", "DestSubnetMask"}} {
			ip, mask := p.IPAt(d.ip, i), p.IPAt(d.mask, i)
			if !ip.IsUnspecified() || !mask.IsUnspecified() {
				add("%s=%s/%s", d.name, ip, maskString(mask))
				l3 = true
			}
		}
	} else {
		for _, d := range []struct{ name, ip, mask string }{{"SrcIPv6", "SrcIpAddress6", "SrcSubnetMask6"}, {"DstIPv6", "DestIpAddress6", "DestSubnetMask6"}} {
			ip, mask := ip6At(p, d.ip, i), ip6At(p, d.mask, i)
			if !ip.IsUnspecified() || !mask.IsUnspecified() {
				add("%s=%s/%s", d.name, ip, maskString(mask))
				l3 = true
			}
		}
	}
	if proto := p.IntAt("Protocol", i); proto != 0 {
		if name, ok := protocolNames[proto]; ok {
			add("Protocol=%s", name)
		} else {
			add("Protocol=(%d)", proto)
		}
		l3 = true
	}
	for _, d := range []struct{ name, start, end string }{{"SrcPort", "SrcPortStart", "SrcPortEnd"}, {"DstPort", "DestPortStart", "DestPortEnd"}} {
		if start, end := p.IntAt(d.start, i), p.IntAt(d.end, i); start != 0 {
			if end == start {
				add("%s=%d", d.name, start)
			} else {
				add("%s=%d-%d", d.name, start, end)
			}
			l3 = true
		}
	}
	if u := strAtPack(p, "SrcUsername", i); u != "" {
		add("SrcUser=%s", u)
	}
	if u := strAtPack(p, "DestUsername", i); u != "" {
		add("DstUser=%s", u)
	}
	for _, d := range []struct{ name, check, mac, mask string }{{"SrcMac", "CheckSrcMac", "SrcMacAddress", "SrcMacMask"}, {"DstMac", "CheckDstMac", "DstMacAddress", "DstMacMask"}} {
		if p.IntAt(d.check, i) != 0 {
			add("%s=%s/%s", d.name, macAt(p, d.mac, i), macAt(p, d.mask, i))
		}
	}
	if p.IntAt("CheckTcpState", i) != 0 {
		if p.IntAt("Established", i) != 0 {
			add("Established")
		} else {
			add("Unestablished")
		}
		l3 = true
	}
	if p.IntAt("Discard", i) == 0 {
		for _, name := range []string{"Delay", "Jitter", "Loss"} {
			if v := p.IntAt(name, i); v >= 1 {
				add("%s=%d", name, v)
			}
		}
	}
	if u := strAtPack(p, "RedirectUrl", i); u != "" {
		add("RedirectUrl=%s", u)
	}
	prefix := "(ether) "
	switch {
	case l3 && v6:
		prefix = "(ipv6) "
	case l3:
		prefix = "(ipv4) "
	}
	if len(parts) == 0 {
		return prefix + "*"
	}
	return prefix + strings.Join(parts, ", ")
}

// protocolNames are the IP protocols SoftEther's rule text names.
var protocolNames = map[uint32]string{1: "ICMPv4", 3: "GGP", 6: "TCP", 8: "EGP", 12: "PUP", 17: "UDP", 20: "HMP",
	22: "XNS-IDP", 27: "RDP", 58: "ICMPv6", 66: "RVD"}

// ip6At reads a 16-byte DATA address column.
func ip6At(p *pack.Pack, name string, i int) netip.Addr {
	if e, ok := p.Lookup(name); ok && i < len(e.Blobs) && len(e.Blobs[i]) == 16 {
		return netip.AddrFrom16([16]byte(e.Blobs[i]))
	}
	return netip.IPv6Unspecified()
}

// macAt reads a 6-byte DATA MAC column as SoftEther writes a MAC:
// 00-11-22-33-44-55.
func macAt(p *pack.Pack, name string, i int) string {
	if e, ok := p.Lookup(name); ok && i < len(e.Blobs) && len(e.Blobs[i]) == 6 {
		return strings.ToUpper(strings.ReplaceAll(net.HardwareAddr(e.Blobs[i]).String(), ":", "-"))
	}
	return "00-00-00-00-00-00"
}
