package testrig

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// ServerConfig describes the vpn_server.config the rig writes for a server
// under test. The same text is loaded by the real vpnserver and by ethervpn,
// which is what makes every scenario runnable against both.
type ServerConfig struct {
	// Port is the single TCP listener (VPN sessions and, for the real
	// vpnserver, vpncmd administration).
	Port int
	// AdminPassword is the server administrator password ("" = none).
	AdminPassword string
	// Hubs are the Virtual Hubs, all created online.
	Hubs []HubConfig
}

// HubConfig is one Virtual Hub in a ServerConfig.
type HubConfig struct {
	Name     string
	Password string // hub administrator password
	// Type is the hub's kind in a server farm: 0 standalone, 1 static,
	// 2 dynamic (VirtualHUB/<name>/Type).
	Type  int
	Users []UserConfig
	// SecureNAT, when non-nil, enables SecureNAT on the hub.
	SecureNAT *SecureNATConfig
	// PacketLog turns the packet log on with SoftEther's default levels
	// (TCP connections and DHCP at header level).
	PacketLog bool
}

// UserConfig is one user of a hub.
type UserConfig struct {
	Name string
	// Password is the login password (AuthType 1); ignored when Anonymous.
	Password  string
	Anonymous bool
	// Policy, when non-nil, gives the user its own policy folder. Values are
	// bool or int; items not listed get SoftEther's defaults for a new user
	// policy (Access true, MaxConnection 32, TimeOut 20). A folder with only
	// the listed items would deny access, because absent items load as zero.
	Policy map[string]any
}

// Render returns the configuration in SoftEther's text format (UTF-8 BOM,
// banner, CRLF, TAB indentation, items sorted before folders).
//
// Everything that would make a server reach out of its namespace is off:
// DDNS, NAT traversal, keep-alive, UDP listeners, OpenVPN/SSTP, IPsec, and
// the kernel-mode / raw-IP SecureNAT variants.
func (c *ServerConfig) Render() []byte {
	root := &cfgFolder{name: "root"}
	root.item("uint", "ConfigRevision", "1")
	root.item("bool", "IPsecMessageDisplayed", "true")
	root.item("string", "Region", "")

	ddns := root.folder("DDnsClient")
	ddns.item("bool", "Disabled", "true")

	ipsec := root.folder("IPsec")
	ipsec.item("bool", "EtherIP_IPsec", "false")
	ipsec.item("string", "IPsec_Secret", "vpn")
	ipsec.item("string", "L2TP_DefaultHub", "")
	ipsec.item("bool", "L2TP_IPsec", "false")
	ipsec.item("bool", "L2TP_Raw", "false")

	l := root.folder("ListenerList").folder("Listener0")
	l.item("bool", "DisableDos", "false")
	l.item("bool", "Enabled", "true")
	l.item("uint", "Port", strconv.Itoa(c.Port))

	sc := root.folder("ServerConfiguration")
	sc.item("uint", "AutoSaveConfigSpan", "300")
	sc.item("bool", "DisableNatTraversal", "true")
	sc.item("bool", "EnableVpnAzure", "false")
	sc.item("bool", "UseKeepConnect", "false")
	sc.item("string", "PortsUDP", "")
	sc.item("uint", "ServerType", "0")
	if c.AdminPassword != "" {
		sc.byteItem("HashedPassword", sha0.Sum([]byte(c.AdminPassword)))
	}
	proto := sc.folder("Proto")
	proto.folder("OpenVPN").item("bool", "Enabled", "false")
	proto.folder("SSTP").item("bool", "Enabled", "false")

	hubs := root.folder("VirtualHUB")
	for _, h := range c.Hubs {
		renderHub(hubs.folder(h.Name), h)
	}

	var b strings.Builder
	b.WriteString("\ufeff# Software Configuration File\r\n# ---------------------------\r\n# \r\n" +
		"# Written by ethervpn's test rig (internal/testrig).\r\n# \r\n")
	root.write(&b, 0)
	return []byte(b.String())
}

func renderHub(f *cfgFolder, h HubConfig) {
	f.byteItem("HashedPassword", sha0.Sum([]byte(h.Password)))
	f.item("bool", "Online", "true")
	f.byteItem("SecurePassword", sha0.Sum([]byte(h.Password+"ADMINISTRATOR")))
	f.item("uint", "Type", strconv.Itoa(h.Type))

	opt := f.folder("Option")
	opt.item("bool", "DisableIpRawModeSecureNAT", "true")
	opt.item("bool", "DisableKernelModeSecureNAT", "true")
	opt.item("bool", "ManageOnlyPrivateIP", "true")
	opt.item("bool", "NoMacAddressLog", "true")
	opt.item("uint", "FloodingSendQueueBufferQuota", "33554432")

	// The real server writes this folder for every hub, even when empty.
	f.folder("AccessList")

	logs := f.folder("LogSetting")
	logs.item("bool", "SaveSecurityLog", "true")
	logs.item("uint", "SecurityLogSwitchType", "4")
	logs.item("bool", "SavePacketLog", strconv.FormatBool(h.PacketLog))
	logs.item("uint", "PacketLogSwitchType", "4")
	if h.PacketLog {
		logs.item("uint", "PACKET_LOG_TCP_CONN", "1")
		logs.item("uint", "PACKET_LOG_DHCP", "1")
	}

	renderSecureNAT(f.folder("SecureNAT"), h.SecureNAT)

	users := f.folder("SecurityAccountDatabase").folder("UserList")
	for _, u := range h.Users {
		uf := users.folder(u.Name)
		uf.item("string", "Note", "")
		uf.item("string", "RealName", "")
		uf.item("uint", "NumLogin", "0")
		if u.Anonymous {
			uf.item("uint", "AuthType", "0")
		} else {
			uf.item("uint", "AuthType", "1")
			uf.byteItem("AuthPassword", sha0.HashPassword(u.Name, u.Password))
		}
		if u.Policy != nil {
			renderPolicy(uf.folder("Policy"), u.Policy)
		}
	}
}

func renderPolicy(f *cfgFolder, p map[string]any) {
	all := map[string]any{"Access": true, "MaxConnection": 32, "TimeOut": 20}
	for k, v := range p {
		all[k] = v
	}
	for k, v := range all {
		switch v := v.(type) {
		case bool:
			f.item("bool", k, strconv.FormatBool(v))
		case int:
			f.item("uint", k, strconv.Itoa(v))
		default:
			panic(fmt.Sprintf("testrig: policy %s has unsupported type %T", k, v))
		}
	}
}

// cfgFolder is a node of the configuration tree while it is being rendered.
type cfgFolder struct {
	name    string
	items   []cfgItem
	folders []*cfgFolder
}

type cfgItem struct{ typ, name, value string }

func (f *cfgFolder) item(typ, name, value string) {
	f.items = append(f.items, cfgItem{typ, name, value})
}

func (f *cfgFolder) byteItem(name string, v [20]byte) {
	f.item("byte", name, base64.StdEncoding.EncodeToString(v[:]))
}

// folder returns the sub-folder name, creating it on first use.
func (f *cfgFolder) folder(name string) *cfgFolder {
	for _, s := range f.folders {
		if s.name == name {
			return s
		}
	}
	s := &cfgFolder{name: name}
	f.folders = append(f.folders, s)
	return s
}

// write emits the folder like the real server does: items sorted
// case-insensitively, a blank line, then the sub-folders sorted the same way.
func (f *cfgFolder) write(b *strings.Builder, depth int) {
	ind := strings.Repeat("\t", depth)
	fmt.Fprintf(b, "%sdeclare %s\r\n%s{\r\n", ind, cfgEscape(f.name), ind)
	sort.SliceStable(f.items, func(i, j int) bool {
		return strings.ToUpper(f.items[i].name) < strings.ToUpper(f.items[j].name)
	})
	sort.SliceStable(f.folders, func(i, j int) bool {
		return strings.ToUpper(f.folders[i].name) < strings.ToUpper(f.folders[j].name)
	})
	for _, it := range f.items {
		v := it.value
		if it.typ == "string" {
			v = cfgEscape(v)
		}
		fmt.Fprintf(b, "%s\t%s %s %s\r\n", ind, it.typ, cfgEscape(it.name), v)
	}
	if len(f.items) > 0 && len(f.folders) > 0 {
		b.WriteString("\r\n")
	}
	for _, s := range f.folders {
		s.write(b, depth+1)
	}
	fmt.Fprintf(b, "%s}\r\n", ind)
}

// cfgEscape applies the config format's escaping: control bytes, space, TAB
// and '$' become $XX; the empty string is a lone '$'.
func cfgEscape(s string) string {
	if s == "" {
		return "$"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c == '$' {
			fmt.Fprintf(&b, "$%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
