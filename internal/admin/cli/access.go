package cli

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// accessCommands are vpncmd's access-list commands (EnumAccess, AddAccess,
// SetAccessList, DeleteAccess): AccessList, AccessAdd (IPv4 rules),
// AccessEnable, AccessDisable and AccessDelete. (IPv6 and extended rules
// are added with the real vpncmd's AccessAdd6/AccessAddEx, JSON-RPC or the
// configuration.)
func accessCommands() []*command {
	id := []param{arg("id", "ID of the rule:")}
	add := []param{arg("[pass|discard]", "Pass or Discard: "), opt("MEMO"), opt("PRIORITY"),
		opt("SRCUSERNAME"), opt("DESTUSERNAME"), opt("SRCMAC"), opt("DESTMAC"), opt("SRCIP"), opt("DESTIP"),
		opt("PROTOCOL"), opt("SRCPORT"), opt("DESTPORT"), opt("TCPSTATE")}
	return []*command{
		{name: "AccessList", needHub: true, run: accessList},
		{name: "AccessAdd", needHub: true, params: add, run: accessAdd},
		{name: "AccessEnable", needHub: true, params: id, run: accessActive(true)},
		{name: "AccessDisable", needHub: true, params: id, run: accessActive(false)},
		{name: "AccessDelete", needHub: true, params: id, run: accessDelete},
	}
}

func init() {
	for k, v := range map[string]string{
		"AccessList":    "Get Access List Rule List ", // sic, with vpncmd's trailing space
		"AccessAdd":     "Add Access List Rules (IPv4)",
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
			return vpnerr.ObjectNotFound
		}
		p.Delete("Active")
		p.AddInts("Active", active)
		_, err = s.call("SetAccessList", p)
		return err
	}
}

// vpncmd's messages for AccessAdd's parameters.
const (
	protocolHelp = "The protocol is incorrectly specified. Specify either ip, tcp, udp, icmpv4, icmpv6 or a protocol number (0 to 255) for the protocol."
	portHelp     = "The port number or the port number range was incorrectly specified. If specifying only one port number, an integer must be used to specify that port number. If specifying multiple ports, specify the beginning port number and the end port number joined together by a hyphen like \"80-443\"."
	tcpStateHelp = "The TCP connection state specification is invalid. Specify either \"Established\" or \"Unestablished\" and specify TCP when selecting protocol."
	macMaskHelp  = "The MAC address and mask specification is invalid. Use hexadecimal number with the separators, \"-\" or \":\", and without the separators. An example is \"00-AC-84-EA-33-BC/FF-FF-FF-FF-FF-FF\"."
)

// accessAdd is vpncmd's AccessAdd: one IPv4 rule, active, added with
// AddAccess. The parameters are read as vpncmd reads them, except
// /TCPSTATE, whose meaning vpncmd 5.01 inverts.
func accessAdd(s *Session, a cmdArgs) error {
	prio, err := parseUint("The priority", a["PRIORITY"], 1, 1<<32-1)
	if err != nil {
		return usageError("Specify an integer of 1 or higher for the priority.")
	}
	in := s.hubPack()
	in.AddUniStr("Note", a["MEMO"])
	in.AddBool("Active", true)
	in.AddInt("Priority", prio)
	in.AddBool("Discard", !passOrDiscard(a[""]))
	in.AddStr("SrcUsername", a["SRCUSERNAME"])
	in.AddStr("DestUsername", a["DESTUSERNAME"])
	for _, m := range []struct{ param, check, addr, mask string }{
		{"SRCMAC", "CheckSrcMac", "SrcMacAddress", "SrcMacMask"},
		{"DESTMAC", "CheckDstMac", "DstMacAddress", "DstMacMask"},
	} {
		mac, mask, ok := parseMACMask(a[m.param])
		if !ok {
			return usageError(macMaskHelp)
		}
		in.AddBool(m.check, mac != nil)
		in.AddData(m.addr, pad6(mac))
		in.AddData(m.mask, pad6(mask))
	}
	for _, d := range []struct{ param, addr, mask string }{
		{"SRCIP", "SrcIpAddress", "SrcSubnetMask"}, {"DESTIP", "DestIpAddress", "DestSubnetMask"},
	} {
		ip, mask, ok := parseIPMask(a[d.param])
		if !ok {
			return usageError(ipMaskHelp)
		}
		in.AddIP(d.addr, ip)
		in.AddIP(d.mask, mask)
	}
	proto, ok := parseProtocol(a["PROTOCOL"])
	if !ok {
		return usageError(protocolHelp)
	}
	in.AddInt("Protocol", proto)
	for _, p := range []struct{ param, start, end string }{
		{"SRCPORT", "SrcPortStart", "SrcPortEnd"}, {"DESTPORT", "DestPortStart", "DestPortEnd"},
	} {
		start, end, ok := parsePortRange(a[p.param])
		if !ok {
			return usageError(portHelp)
		}
		in.AddInt(p.start, start)
		in.AddInt(p.end, end)
	}
	check, established, ok := parseTCPState(a["TCPSTATE"])
	if !ok {
		return usageError(tcpStateHelp)
	}
	in.AddBool("CheckTcpState", check)
	in.AddBool("Established", established)
	_, err = s.call("AddAccess", in)
	return err
}

// passOrDiscard reads the action as vpncmd does: a non-zero number or a
// word starting with p, y or t passes; anything else discards.
func passOrDiscard(v string) bool {
	if n, err := strconv.Atoi(v); err == nil && n != 0 {
		return true
	}
	v = strings.ToLower(v)
	return strings.HasPrefix(v, "p") || strings.HasPrefix(v, "y") || strings.HasPrefix(v, "t")
}

// parseProtocol reads ip, tcp, udp, icmpv4, icmpv6 (or a prefix of one,
// as vpncmd allows) or a number below 256; empty means any (0).
func parseProtocol(v string) (uint32, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return 0, true
	}
	for _, p := range []struct {
		name  string
		proto uint32
	}{{"ip", 0}, {"tcp", 6}, {"udp", 17}, {"icmpv4", 1}, {"icmpv6", 58}} {
		if strings.HasPrefix(p.name, v) {
			return p.proto, true
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > 255 {
		return 0, false
	}
	return uint32(n), true
}

// parsePortRange reads "80" or "80-443"; empty means any (0-0).
func parsePortRange(v string) (start, end uint32, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, 0, true
	}
	a, b, ranged := strings.Cut(v, "-")
	lo, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 32)
	hi, err2 := lo, error(nil)
	if ranged {
		hi, err2 = strconv.ParseUint(strings.TrimSpace(b), 10, 32)
	}
	if err1 != nil || err2 != nil || lo > hi || hi > 65535 || (lo == 0 && hi != 0) {
		return 0, 0, false
	}
	return uint32(lo), uint32(hi), true
}

// parseTCPState reads Established or Unestablished (or a prefix of
// either, in any case); empty means no check.
func parseTCPState(v string) (check, established, ok bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case v == "":
		return false, false, true
	case strings.HasPrefix("established", v):
		return true, true, true
	case strings.HasPrefix("unestablished", v):
		return true, false, true
	}
	return false, false, false
}

// parseMACMask reads "address/mask"; empty means no check (nil, nil).
func parseMACMask(v string) (mac, mask []byte, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil, true
	}
	a, m, found := strings.Cut(v, "/")
	if !found {
		return nil, nil, false
	}
	mac, ok1 := parseMAC(strings.TrimSpace(a))
	mask, ok2 := parseMAC(strings.TrimSpace(m))
	return mac, mask, ok1 && ok2
}

// pad6 is b, or six zero bytes for nil.
func pad6(b []byte) []byte {
	if b == nil {
		return make([]byte, 6)
	}
	return b
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
