package cli

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// Virtual layer-3 switch commands (Router*), with vpncmd's names,
// parameters, prompts and output (texts from its English string table,
// checked against vpncmd 5.01 and the real vpnserver).

// Texts of vpncmd's address evaluators.
const (
	ipMaskHelp = "Specify in the format of \"IPv4 address/mask\". \n" +
		"Specify the IPv4 address by separating the decimal values using dots such as \"192.168.0.1\". For the mask, either specify decimal values separated by dots such as \"255.255.255.0\", or you can specify the bit length of mask using a decimal value such as 24. \n" +
		"To specify a standalone host, specify the mask as either \"255.255.255.255\" or \"32\". \n" +
		"(Example)\n 192.168.0.1/24\n 192.168.0.1/255.255.255.0\n192.168.0.5/255.255.255.255\n\n"
	ipSubnetHelp = "Specify in the format of \"IPv4 address/subnet mask\". \n" +
		"Specify the IPv4 address by separating the decimal values using dots such as \"192.168.0.1\". For the subnet mask, either specify decimal values separated by dots such as \"255.255.255.0\", or you can specify the bit length of subnet mask using a decimal value such as 24. \n" +
		"To specify a standalone host, specify the subnet mask as either \"255.255.255.255\" or \"32\". \n" +
		"(Example)\n 192.168.0.1/24\n 192.168.0.1/255.255.255.0\n192.168.0.5/255.255.255.255\n\n"
	notNetworkAddr = "The specified IP address is not a network address."
)

// routerCommands are registered with the others in commands.go.
func routerCommands() []*command {
	req := func(n, prompt string) param { return param{name: n, prompt: prompt, required: true} }
	name := arg("name", "Name of Virtual Layer 3 Switch:")
	tableParams := []param{name, req("NETWORK", "Network Address/Subnet Mask:"),
		req("GATEWAY", "Gateway Address:"), req("METRIC", "Metric Value:")}
	return []*command{
		{name: "RouterList", run: routerList},
		{name: "RouterAdd", params: []param{arg("name", "Name of Virtual Layer 3 Switch to Create:")}, run: routerCall("AddL3Switch")},
		{name: "RouterDelete", params: []param{arg("name", "Name of Virtual Layer 3 Switch to Delete:")}, run: routerCall("DelL3Switch")},
		{name: "RouterStart", params: []param{arg("name", "Name of Virtual Layer 3 Switch to Start:")}, run: routerCall("StartL3Switch")},
		{name: "RouterStop", params: []param{arg("name", "Name of Virtual Layer 3 Switch to Stop:")}, run: routerCall("StopL3Switch")},
		{name: "RouterIfList", params: []param{name}, run: routerIfList},
		{name: "RouterIfAdd", params: []param{name, req("HUB", "Destination Virtual Hub Name of Virtual Interface:"),
			req("IP", "IP Address/Subnet Mask:")}, run: routerIfAdd},
		{name: "RouterIfDel", params: []param{name, req("HUB", "Destination Virtual Hub Name of Virtual Interface:")}, run: routerIfDel},
		{name: "RouterTableList", params: []param{name}, run: routerTableList},
		{name: "RouterTableAdd", params: tableParams, run: routerTable("AddL3Table")},
		{name: "RouterTableDel", params: tableParams, run: routerTable("DelL3Table")},
	}
}

func init() {
	for k, v := range map[string]string{
		"RouterList":      "Get List of Virtual Layer 3 Switches",
		"RouterAdd":       "Define New Virtual Layer 3 Switch",
		"RouterDelete":    "Delete Virtual Layer 3 Switch",
		"RouterStart":     "Start Virtual Layer 3 Switch Operation",
		"RouterStop":      "Stop Virtual Layer 3 Switch Operation",
		"RouterIfList":    "Get List of Interfaces Registered on the Virtual Layer 3 Switch",
		"RouterIfAdd":     "Add Virtual Interface to Virtual Layer 3 Switch",
		"RouterIfDel":     "Delete Virtual Interface of Virtual Layer 3 Switch",
		"RouterTableList": "Get List of Routing Tables of Virtual Layer 3 Switch ", // sic
		"RouterTableAdd":  "Add Routing Table Entry for Virtual Layer 3 Switch",
		"RouterTableDel":  "Delete Routing Table Entry of Virtual Layer 3 Switch",
	} {
		commandDesc[k] = v
	}
}

func l3Pack(name string) *pack.Pack {
	p := pack.New()
	p.AddStr("Name", name)
	return p
}

func routerCall(method string) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		_, err := s.call(method, l3Pack(a[""]))
		return err
	}
}

func routerList(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumL3Switch", pack.New())
	if err != nil {
		return err
	}
	t := newList(col("Layer 3 Switch Name"), col("Running Status"), rcol("Interfaces"), rcol("Routing Tables"))
	for i := range count(p, "Name") {
		status := "Stop"
		if u64At(p, "Active", i) != 0 {
			status = "Start (Error) " // sic: vpncmd's text ends in a space
			if u64At(p, "Online", i) != 0 {
				status = "Start (Running)"
			}
		}
		t.add(strAt(p, "Name", i), status, dec(u64At(p, "NumInterfaces", i)), dec(u64At(p, "NumTables", i)))
	}
	s.show(t)
	return nil
}

func routerIfList(s *Session, a cmdArgs) error {
	p, err := s.call("EnumL3If", l3Pack(a[""]))
	if err != nil {
		return err
	}
	t := newList(col("IP Address"), col("Subnet Mask"), col("Virtual Hub Name"))
	for i := range count(p, "HubName") {
		t.add(ipAt(p, "IpAddress", i).String(), ipAt(p, "SubnetMask", i).String(), strAt(p, "HubName", i))
	}
	s.show(t)
	return nil
}

func routerIfAdd(s *Session, a cmdArgs) error {
	ip, mask, ok := parseIPMask(a["IP"])
	if !ok {
		return usageError(ipMaskHelp)
	}
	p := l3Pack(a[""])
	p.AddStr("HubName", a["HUB"])
	p.AddIP("IpAddress", ip)
	p.AddIP("SubnetMask", mask)
	_, err := s.call("AddL3If", p)
	return err
}

func routerIfDel(s *Session, a cmdArgs) error {
	p := l3Pack(a[""])
	p.AddStr("HubName", a["HUB"])
	_, err := s.call("DelL3If", p)
	return err
}

func routerTableList(s *Session, a cmdArgs) error {
	p, err := s.call("EnumL3Table", l3Pack(a[""]))
	if err != nil {
		return err
	}
	t := newList(col("Network Address"), col("Subnet Mask"), col("Gateway Address"), rcol("Metric"))
	for i := range count(p, "NetworkAddress") {
		t.add(ipAt(p, "NetworkAddress", i).String(), ipAt(p, "SubnetMask", i).String(),
			ipAt(p, "GatewayAddress", i).String(), dec(u64At(p, "Metric", i)))
	}
	s.show(t)
	return nil
}

// routerTable runs AddL3Table or DelL3Table with /NETWORK, /GATEWAY and
// /METRIC checked as vpncmd checks them.
func routerTable(method string) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		netw, mask, ok := parseIPMask(a["NETWORK"])
		if !ok {
			return usageError(ipSubnetHelp)
		}
		if netip.PrefixFrom(netw, maskLen(mask)).Masked().Addr() != netw {
			return usageError(notNetworkAddr)
		}
		gw, err := netip.ParseAddr(strings.TrimSpace(a["GATEWAY"]))
		if err != nil || !gw.Is4() {
			return usageError("The IP address is invalid: " + a["GATEWAY"])
		}
		metric, err := strconv.ParseUint(strings.TrimSpace(a["METRIC"]), 10, 32)
		if err != nil || metric < 1 {
			return usageError("You must specify an integer that is not less than 1.")
		}
		p := l3Pack(a[""])
		p.AddIP("NetworkAddress", netw)
		p.AddIP("SubnetMask", mask)
		p.AddIP("GatewayAddress", gw)
		p.AddInt("Metric", uint32(metric))
		_, err = s.call(method, p)
		return err
	}
}

// parseIPMask reads "a.b.c.d/mask" with the mask dotted or as a bit length.
func parseIPMask(v string) (ip, mask netip.Addr, ok bool) {
	a, m, found := strings.Cut(strings.TrimSpace(v), "/")
	ip, err := netip.ParseAddr(a)
	if !found || err != nil || !ip.Is4() {
		return ip, mask, false
	}
	if n, err := strconv.Atoi(m); err == nil {
		if n < 0 || n > 32 {
			return ip, mask, false
		}
		var b [4]byte
		for i := range n {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return ip, netip.AddrFrom4(b), true
	}
	mask, err = netip.ParseAddr(m)
	if err != nil || !mask.Is4() || maskLen(mask) < 0 {
		return ip, mask, false
	}
	return ip, mask, true
}

// maskLen is the prefix length of a contiguous IPv4 mask, or -1.
func maskLen(m netip.Addr) int {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		v <<= 1
		n++
	}
	if v != 0 {
		return -1
	}
	return n
}
