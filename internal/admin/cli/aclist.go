package cli

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// acListCommands are vpncmd's commands for the hub's Source IP Address
// Limit List (GetAcList / SetAcList): AcList, AcAdd, AcAdd6, AcDel.
func acListCommands() []*command {
	addParams := []param{arg("action", "Specify allow or deny:"), opt("PRIORITY"), opt("IP")}
	return []*command{
		{name: "AcList", needHub: true, run: acList},
		{name: "AcAdd", needHub: true, params: addParams, run: acAdd(false)},
		{name: "AcAdd6", needHub: true, params: addParams, run: acAdd(true)},
		{name: "AcDel", needHub: true, params: []param{arg("id", "ID of the rule to delete:")}, run: acDel},
	}
}

func init() {
	for k, v := range map[string]string{
		"AcList": "Get List of Rule Items of Source IP Address Limit List",
		"AcAdd":  "Add Rule to Source IP Address Limit List (IPv4)",
		"AcAdd6": "Add Rule to Source IP Address Limit List (IPv6)",
		"AcDel":  "Delete Rule from Source IP Address Limit List",
	} {
		commandDesc[k] = v
	}
}

// acRule is one entry of the list as the RPC carries it.
type acRule struct {
	id, priority uint32
	deny         bool
	ip, mask     netip.Addr // mask invalid: the address alone
}

func (s *Session) acRules() ([]acRule, error) {
	out, err := s.call("GetAcList", s.hubPack())
	if err != nil {
		return nil, err
	}
	rules := make([]acRule, out.Count("Id"))
	for i := range rules {
		r := acRule{id: out.IntAt("Id", i), priority: out.IntAt("Priority", i), deny: out.IntAt("Deny", i) != 0, ip: out.IPAt("IpAddress", i)}
		if out.IntAt("Masked", i) != 0 {
			r.mask = out.IPAt("SubnetMask", i)
		}
		rules[i] = r
	}
	return rules, nil
}

// setACRules sends the whole list back, as vpncmd does.
func (s *Session) setACRules(rules []acRule) error {
	in := s.hubPack()
	n := len(rules)
	ids, prio, deny, masked := make([]uint32, n), make([]uint32, n), make([]uint32, n), make([]uint32, n)
	ips, masks := make([]netip.Addr, n), make([]netip.Addr, n)
	for i, r := range rules {
		ids[i], prio[i], ips[i], masks[i] = r.id, r.priority, r.ip, r.mask
		if r.deny {
			deny[i] = 1
		}
		if r.mask.IsValid() {
			masked[i] = 1
		}
	}
	if n > 0 {
		in.AddInts("Id", ids)
		in.AddInts("Deny", deny)
		in.AddInts("Masked", masked)
		in.AddInts("Priority", prio)
	}
	in.AddIPs("IpAddress", ips)
	in.AddIPs("SubnetMask", masks)
	_, err := s.call("SetAcList", in)
	return err
}

func acList(s *Session, _ cmdArgs) error {
	rules, err := s.acRules()
	if err != nil {
		return err
	}
	t := newList(rcol("ID"), rcol("Priority"), col("Action"), col("Contents"))
	for _, r := range rules {
		action := "Pass"
		if r.deny {
			action = "Deny"
		}
		contents := r.ip.String()
		if r.mask.IsValid() {
			contents += "/" + maskString(r.mask)
		}
		t.add(strconv.Itoa(int(r.id)), strconv.Itoa(int(r.priority)), action, contents)
	}
	s.show(t)
	return nil
}

func acAdd(ipv6 bool) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		var deny bool
		switch strings.ToLower(a[""]) {
		case "allow":
		case "deny":
			deny = true
		default:
			return usageError("Specify allow or deny.")
		}
		prio, err := parseUint("The priority", a["PRIORITY"], 1, 1<<32-1)
		if err != nil {
			return err
		}
		var ip, mask netip.Addr
		var ok bool
		if ipv6 {
			ip, mask, ok = parseIPv6Mask(a["IP"])
		} else {
			ip, mask, ok = parseIPMask(a["IP"])
		}
		if !ok {
			if ipv6 {
				return usageError("Specify in the format of \"IPv6 address/prefix length\", such as 2001:db8::/32.")
			}
			return usageError(ipMaskHelp)
		}
		rules, err := s.acRules()
		if err != nil {
			return err
		}
		return s.setACRules(append(rules, acRule{priority: prio, deny: deny, ip: ip, mask: mask}))
	}
}

func acDel(s *Session, a cmdArgs) error {
	id, err := parseUint("The ID", a[""], 1, 1<<32-1)
	if err != nil {
		return err
	}
	rules, err := s.acRules()
	if err != nil {
		return err
	}
	for i, r := range rules {
		if r.id == id {
			return s.setACRules(append(rules[:i], rules[i+1:]...))
		}
	}
	return vpnerr.ObjectNotFound
}

// parseIPv6Mask reads "address/prefix length" or "address/mask".
func parseIPv6Mask(v string) (ip, mask netip.Addr, ok bool) {
	a, m, found := strings.Cut(strings.TrimSpace(v), "/")
	ip, err := netip.ParseAddr(a)
	if !found || err != nil || !ip.Is6() || ip.Is4In6() {
		return ip, mask, false
	}
	if n, err := strconv.Atoi(m); err == nil {
		if n < 0 || n > 128 {
			return ip, mask, false
		}
		var b [16]byte
		for i := range n {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return ip, netip.AddrFrom16(b), true
	}
	mask, err = netip.ParseAddr(m)
	return ip, mask, err == nil && mask.Is6()
}

// maskString shows a mask as its prefix length when it is contiguous, as
// SoftEther's MaskToStr does, else as an address.
func maskString(m netip.Addr) string {
	b := m.AsSlice()
	n, end := 0, false
	for _, x := range b {
		for bit := 0x80; bit > 0; bit >>= 1 {
			switch {
			case int(x)&bit != 0 && end:
				return m.String()
			case int(x)&bit != 0:
				n++
			default:
				end = true
			}
		}
	}
	return strconv.Itoa(n)
}
