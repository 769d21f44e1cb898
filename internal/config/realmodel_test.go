package config

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// realConfig has the real vpnserver write a vpn_server.config that uses
// every part of the model: it runs the vpnserver, configures it with
// vpncmd as an administrator would, stops it (it saves on the way out) and
// returns the file's path.
func realConfig(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	r := startRealServer(t, base)
	run := func(args ...string) {
		t.Helper()
		out, err := vpncmdTimeout(r, 30*time.Second, args...)
		if err != nil || strings.Contains(out, "Error occurred") {
			t.Fatalf("vpncmd %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	hub := func(args ...string) { t.Helper(); run(append([]string{"/ADMINHUB:MIG", "/CMD"}, args...)...) }
	run("/CMD", "HubCreate", "MIG", "/PASSWORD:hubpw")
	hub("GroupCreate", "staff", "/REALNAME:Staff", "/NOTE:staff")
	hub("GroupPolicySet", "staff", "/NAME:MaxConnection", "/VALUE:5")
	hub("UserCreate", "alice", "/GROUP:staff", "/REALNAME:Alice", "/NOTE:none")
	hub("UserPasswordSet", "alice", "/PASSWORD:alicepw")
	hub("UserPolicySet", "alice", "/NAME:MaxUpload", "/VALUE:1000000")
	hub("AccessAddEx", "pass", "/MEMO:slowlane", "/PRIORITY:10", "/SRCUSERNAME:alice", "/DESTUSERNAME:",
		"/SRCMAC:00-AC-00-00-00-01/FF-FF-FF-00-00-00", "/DESTMAC:", "/SRCIP:10.0.0.0/8", "/DESTIP:192.168.0.0/16",
		"/PROTOCOL:tcp", "/SRCPORT:1-1000", "/DESTPORT:80", "/TCPSTATE:established", "/DELAY:100", "/JITTER:10", "/LOSS:5")
	hub("AccessAddEx", "pass", "/MEMO:redirect", "/PRIORITY:15", "/SRCUSERNAME:", "/DESTUSERNAME:", "/SRCMAC:", "/DESTMAC:",
		"/SRCIP:0.0.0.0/0", "/DESTIP:0.0.0.0/0", "/PROTOCOL:tcp", "/SRCPORT:", "/DESTPORT:80", "/TCPSTATE:", "/DELAY:0", "/JITTER:0", "/LOSS:0", "/REDIRECTURL:http://portal.example/")
	hub("AccessAdd6", "discard", "/MEMO:v6", "/PRIORITY:20", "/SRCUSERNAME:", "/DESTUSERNAME:", "/SRCMAC:", "/DESTMAC:",
		"/SRCIP:2001:db8::/32", "/DESTIP:::/0", "/PROTOCOL:udp", "/SRCPORT:", "/DESTPORT:53", "/TCPSTATE:")
	hub("AcAdd", "deny", "/PRIORITY:5", "/IP:10.250.0.0/16")
	hub("AcAdd6", "allow", "/PRIORITY:7", "/IP:2001:db8::/32")
	hub("CascadeCreate", "up", "/SERVER:192.0.2.1:443", "/HUB:UP", "/USERNAME:bob")
	hub("CascadePasswordSet", "up", "/PASSWORD:bobpw", "/TYPE:standard")
	hub("SecureNatHostSet", "/MAC:00-AC-11-22-33-44", "/IP:192.168.77.1", "/MASK:255.255.255.0")
	hub("NatSet", "/MTU:1400", "/TCPTIMEOUT:3600", "/UDPTIMEOUT:120", "/LOG:no")
	hub("DhcpSet", "/START:192.168.77.10", "/END:192.168.77.99", "/MASK:255.255.255.0", "/EXPIRE:3600",
		"/GW:192.168.77.1", "/DNS:192.168.77.1", "/DNS2:none", "/DOMAIN:mig.example", "/LOG:yes", "/PUSHROUTE:10.9.0.0/255.255.0.0/192.168.77.1")
	hub("LogEnable", "packet")
	hub("LogSwitchSet", "security", "/SWITCH:hour")
	hub("AdminOptionSet", "max_sessions", "/VALUE:50")
	hub("AdminOptionSet", "no_change_users", "/VALUE:1")
	hub("ExtOptionSet", "NoIpTable", "/VALUE:1")
	hub("ExtOptionSet", "SecureNAT_MaxTcpSessionsPerIp", "/VALUE:77")
	hub("SetMaxSession", "20")
	run("/CMD", "RouterAdd", "L3SW")
	run("/CMD", "RouterIfAdd", "L3SW", "/HUB:MIG", "/IP:192.168.50.1/255.255.255.0")
	run("/CMD", "RouterTableAdd", "L3SW", "/NETWORK:10.77.0.0/255.255.0.0", "/GATEWAY:192.168.50.254", "/METRIC:10")
	run("/CMD", "SyslogEnable", "2", "/HOST:192.0.2.9:1514")
	run("/CMD", "KeepSet", "/HOST:keep.example:80", "/PROTOCOL:udp", "/INTERVAL:30")
	r.stop()
	path := filepath.Join(base, "db", "vpn_server.config")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// vpncmd runs vpncmd like r.vpncmd, but ends it after d: vpncmd asks
// again and again for a parameter it misses, even at the end of its input.
func vpncmdTimeout(r *realServer, d time.Duration, args ...string) (string, error) {
	argv := append([]string{filepath.Join(r.base, "bin", "vpncmd"), "127.0.0.1:5555", "/SERVER"}, args...)
	cmd := r.seExec(argv...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	return out.String(), err
}

// detached is s's model without the tree and the snapshots behind it, so
// that two models read from different trees compare with reflect.DeepEqual.
// Users, groups and cascades are added by hub name, without their folders.
type detachedModel struct {
	Server   Server
	Hubs     []Hub
	Users    map[string][]User
	Groups   map[string][]Group
	Cascades map[string][]Cascade
}

func detach(s *Server) detachedModel {
	d := detachedModel{Server: *s, Users: map[string][]User{}, Groups: map[string][]Group{}, Cascades: map[string][]Cascade{}}
	d.Server.Tree, d.Server.Hubs, d.Server.loaded = nil, nil, serverParts{}
	for _, h := range s.Hubs {
		for _, c := range h.Cascades {
			c := *c
			c.folder = nil
			d.Cascades[h.Name] = append(d.Cascades[h.Name], c)
		}
		for _, u := range h.Users {
			u := *u
			u.folder = nil
			d.Users[h.Name] = append(d.Users[h.Name], u)
		}
		for _, g := range h.Groups {
			g := *g
			g.folder = nil
			d.Groups[h.Name] = append(d.Groups[h.Name], g)
		}
		hc := *h
		hc.folder, hc.loaded, hc.Users, hc.Groups, hc.Cascades = nil, hubParts{}, nil, nil, nil
		d.Hubs = append(d.Hubs, hc)
	}
	return d
}

// sameModel fails the test when two models differ.
func sameModel(t *testing.T, what string, a, b *Server) {
	t.Helper()
	if !a.Equal(b) {
		t.Errorf("%s: Server.Equal reports a difference", what)
	}
	da, db := detach(a), detach(b)
	if !reflect.DeepEqual(da, db) {
		t.Fatalf("%s: the models differ:\n%+v\n%+v", what, da, db)
	}
}

// A configuration the real vpnserver wrote, with every part of the model
// in use, loads into the model with the values vpncmd set; saved and
// loaded again it is the same model; changed through the model and saved,
// it loads in the real vpnserver with the changes visible via vpncmd.
func TestRealServerConfigModel(t *testing.T) {
	needRealServer(t)
	root, err := Load(realConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	orig := root.Encode()
	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	h := s.Hub("MIG")
	if h == nil {
		t.Fatal("hub MIG missing")
	}
	wantAc := []AcEntry{
		{Deny: true, Priority: 5, IP: a("10.250.0.0"), Mask: a("255.255.0.0")},
		{Priority: 7, IP: a("2001:db8::"), Mask: a("ffff:ffff::")},
	}
	if !slices.Equal(h.AcList, wantAc) {
		t.Errorf("AcList %v, want %v", h.AcList, wantAc)
	}
	if len(h.AccessList) != 3 {
		t.Fatalf("AccessList: %+v", h.AccessList)
	}
	r1, r2, r3 := h.AccessList[0], h.AccessList[1], h.AccessList[2]
	if r1.Delay != 100 || r1.Jitter != 10 || r1.Loss != 5 || r1.SrcUsername != "alice" || !r1.CheckSrcMAC ||
		r1.SrcMAC != (MAC{0, 0xac, 0, 0, 0, 1}) || r1.SrcIP != a("10.0.0.0") || r1.DstMask != a("255.255.0.0") ||
		r1.Protocol != 6 || r1.SrcPortEnd != 1000 || r1.DstPortStart != 80 || !r1.CheckTCPState || r1.Established {
		t.Errorf("rule 1: %+v", r1)
	}
	if r2.RedirectURL != "http://portal.example/" || r2.Priority != 15 {
		t.Errorf("rule 2: %+v", r2)
	}
	if !r3.IPv6 || !r3.Discard || r3.SrcIP != a("2001:db8::") || r3.SrcMask != a("ffff:ffff::") || r3.Protocol != 17 || r3.DstPortEnd != 53 {
		t.Errorf("rule 3: %+v", r3)
	}
	if h.AdminOption("max_sessions") != 50 || h.AdminOption("no_change_users") != 1 || len(h.AdminOptions) < 40 {
		t.Errorf("AdminOptions: %v", h.AdminOptions)
	}
	if !h.Options.NoIpTable || h.Options.SecureNAT_MaxTcpSessionsPerIp != 77 || h.Options.VlanTypeId != 0x8100 ||
		!h.Options.ManageOnlyPrivateIP || h.MaxSession != 20 {
		t.Errorf("Options: %+v", h.Options)
	}
	if h.Log.SecurityLogSwitchType != 3 || !h.LogPacket || h.Log.PacketLog.DHCP != 1 {
		t.Errorf("Log: %+v", h.Log)
	}
	if len(s.L3Switches) != 1 || !s.L3Switches[0].Equal(L3Switch{
		L3SwitchSettings: L3SwitchSettings{Name: "L3SW"},
		Interfaces:       []L3Interface{{HubName: "MIG", IP: a("192.168.50.1"), Mask: a("255.255.255.0")}},
		Routes:           []L3Route{{Network: a("10.77.0.0"), Mask: a("255.255.0.0"), Gateway: a("192.168.50.254"), Metric: 10}},
	}) {
		t.Errorf("L3Switches: %+v", s.L3Switches)
	}
	if s.Syslog != (Syslog{SaveType: 2, HostName: "192.0.2.9", Port: 1514}) {
		t.Errorf("Syslog: %+v", s.Syslog)
	}
	if !s.KeepConnect.Use || s.KeepConnect.Host != "keep.example" || s.KeepConnect.Interval != 30 {
		t.Errorf("KeepConnect: %+v", s.KeepConnect)
	}
	if s.Options.MaxConnectionsPerIP != 256 || s.Options.AutoDeleteCheckIntervalSecs != 300 {
		t.Errorf("Options: %+v", s.Options)
	}
	if g := h.Group("staff"); g == nil || g.Policy == nil || g.Policy.MaxConnection != 5 {
		t.Errorf("group staff: %+v", g)
	}
	if u := h.User("alice"); u == nil || u.GroupName != "staff" || u.Policy == nil || u.Policy.MaxUpload != 1000000 {
		t.Errorf("user alice: %+v", u)
	}
	if c := h.Cascades; len(c) != 1 || c[0].AccountName != "up" || c[0].Username != "bob" || c[0].Port != 443 {
		t.Errorf("cascades: %+v", c)
	}
	if n := h.SecureNAT; n.MTU != 1400 || n.DHCPDomain != "mig.example" || n.DHCPPushRoutes == "" {
		t.Errorf("SecureNAT: %+v", n)
	}

	// unchanged: the tree is written back as it was, and reads as the same model
	if got := s.ToTree().Encode(); !bytes.Equal(got, orig) {
		t.Fatal("an unchanged model changed the real server's file")
	}
	again, err := Parse(s.ToTree().Encode())
	if err != nil {
		t.Fatal(err)
	}
	s2, err := FromTree(again)
	if err != nil {
		t.Fatal(err)
	}
	sameModel(t, "load, save, load", s, s2)

	// changed through the model: every part is written and reads back the same
	h2 := s2.Hub("MIG")
	h2.AcList = append(h2.AcList, AcEntry{Deny: true, Priority: 9, IP: a("192.0.2.77")})
	h2.AccessList[0].Delay, h2.AccessList[0].Note = 200, "slower"
	h2.AccessList = append(h2.AccessList, Access{Note: "new", Active: true, Priority: 30, Discard: true,
		SrcIP: a("172.16.0.0"), SrcMask: a("255.240.0.0"), DstIP: a("0.0.0.0"), DstMask: a("0.0.0.0"), Protocol: 1})
	h2.SetAdminOption("max_users", 99)
	h2.Options.NoIpTable, h2.Options.AdjustTcpMssValue, h2.Options.VlanTypeId = false, 1300, 0x88a8
	h2.Log.PacketLogSwitchType = 5
	s2.L3Switches[0].Routes = append(s2.L3Switches[0].Routes, L3Route{Network: a("10.78.0.0"), Mask: a("255.255.0.0"), Gateway: a("192.168.50.253"), Metric: 3})
	s2.L3Switches = append(s2.L3Switches, L3Switch{L3SwitchSettings: L3SwitchSettings{Name: "SECOND"}})
	s2.Syslog = Syslog{SaveType: 1, HostName: "192.0.2.10", Port: 514}
	s2.KeepConnect.Interval = 45
	s2.Options.MaxConnectionsPerIP = 100
	s2.LocalBridges.DoNotDisableOffloading = true
	h2.Cascade("up").Hostname = "192.0.2.2"
	h2.AddCascade(NewCascade("down", "192.0.2.3", 5555, "DOWN", "carol"))
	out := s2.ToTree().Encode()
	s3, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromTree(s3)
	if err != nil {
		t.Fatal(err)
	}
	sameModel(t, "changed, save, load", s2, back)

	// the real vpnserver loads our output with the changes
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "db", "vpn_server.config"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRealServer(t, base)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"/ADMINHUB:MIG", "/CMD", "AcList"}, []string{"Deny|10.250.0.0/16", "Deny|192.0.2.77", "Pass|2001:db8::/32"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "AccessList"}, []string{"slower", "SrcIPv4=172.16.0.0/12,Protocol=ICMPv4", "http://portal.example/", "SrcIPv6=2001:db8::/32"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "AdminOptionList"}, []string{"Item|max_users\nValue|99\n"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "ExtOptionList"}, []string{"Item|AdjustTcpMssValue\nValue|1300\n", "Item|VlanTypeId\nValue|34984\n", "Item|NoIpTable\nValue|0\n"}},
		{[]string{"/CMD", "RouterList"}, []string{"L3SW", "SECOND"}},
		{[]string{"/CMD", "RouterTableList", "L3SW"}, []string{"10.78.0.0", "192.168.50.253"}},
		{[]string{"/CMD", "RouterIfList", "L3SW"}, []string{"192.168.50.1", "MIG"}},
		{[]string{"/CMD", "SyslogGet"}, []string{"192.0.2.10"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "UserGet", "alice"}, []string{"|Alice\n", "GroupName|staff\n"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "GroupGet", "staff"}, []string{"|Staff\n"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "CascadeList"}, []string{"SettingName|up\n", "DestinationVPNServer|192.0.2.2\n", "SettingName|down\n", "DestinationVPNServer|192.0.2.3\n"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "SecureNatHostGet"}, []string{"00-AC-11-22-33-44", "192.168.77.1"}},
		{[]string{"/ADMINHUB:MIG", "/CMD", "DhcpGet"}, []string{"mig.example", "192.168.77.99"}},
	} {
		got, err := vpncmdTimeout(r, 30*time.Second, c.args...)
		if err != nil {
			t.Fatalf("vpncmd %v: %v\n%s", c.args, err, got)
		}
		got = strings.NewReplacer(" ", "", "\r", "").Replace(got) // vpncmd pads its tables
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("vpncmd %v: no %q in\n%s", c.args, w, got)
			}
		}
	}
	r.stop()
}
