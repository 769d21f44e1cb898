package config

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

func loadReal(t *testing.T) (*Server, []byte) {
	t.Helper()
	b := readFixture(t)
	root, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func hash(b [20]byte) []byte { return b[:] }

// The fixture was made by the real vpnserver 5.01 (see testdata/README):
// server password testadmin, hub TESTHUB (password testhubpw) with group
// staff, password user alice (alicepw, policy MaxUpload 1000000), anonymous
// user guest, SecureNAT enabled with defaults.
func TestModelRealFile(t *testing.T) {
	s, orig := loadReal(t)
	if !bytes.Equal(s.AdminPasswordHash, hash(sha0.AdminHash("testadmin"))) {
		t.Error("server admin hash is not SHA0(testadmin)")
	}
	if s.ListenIP != "0.0.0.0" || s.CipherName != "~DEFAULT~" || len(s.CertDER) == 0 || len(s.KeyDER) == 0 {
		t.Errorf("server settings: %q %q cert %d key %d", s.ListenIP, s.CipherName, len(s.CertDER), len(s.KeyDER))
	}
	var ports []uint16
	for _, l := range s.Listeners {
		if !l.Enabled || l.DisableDos {
			t.Errorf("listener %+v", l)
		}
		ports = append(ports, l.Port)
	}
	if want := []uint16{443, 992, 1194, 5555}; !slicesEqual(ports, want) {
		t.Errorf("listener ports %v, want %v", ports, want)
	}
	if len(s.Hubs) != 2 || s.Hub("default") == nil {
		t.Fatalf("hubs: %d", len(s.Hubs))
	}
	h := s.Hub("testhub")
	if h == nil || h.Name != "TESTHUB" || !h.Online || !h.LogSecurity || !h.LogPacket || h.MaxSession != 0 || h.NoEnum {
		t.Fatalf("TESTHUB: %+v", h)
	}
	if !bytes.Equal(h.HashedPassword, hash(sha0.AdminHash("testhubpw"))) ||
		!bytes.Equal(h.SecurePassword, hash(sha0.AdminHash("testhubpwADMINISTRATOR"))) {
		t.Error("hub password hashes do not match testhubpw")
	}
	if g := h.Group("STAFF"); g == nil || g.RealName != "Staff Group" || g.Policy != nil {
		t.Errorf("group staff: %+v", g)
	}

	alice := h.User("ALICE")
	if alice == nil {
		t.Fatal("no user alice")
	}
	if alice.AuthType != 1 || !bytes.Equal(alice.PasswordHash, hash(sha0.HashPassword("alice", "alicepw"))) {
		t.Errorf("alice auth: type %d hash %x", alice.AuthType, alice.PasswordHash)
	}
	if len(alice.NTLMHash) != 16 || alice.GroupName != "staff" || alice.RealName != "Alice Example" || alice.Note != "test user $1" {
		t.Errorf("alice: %+v", alice)
	}
	if want := time.UnixMilli(1795209357983 + 32400000).UTC(); !alice.CreatedTime.Equal(want) || !alice.ExpireTime.IsZero() {
		t.Errorf("alice times: created %v expire %v", alice.CreatedTime, alice.ExpireTime)
	}
	wantPolicy := DefaultPolicy()
	wantPolicy.MaxUpload = 1000000
	if alice.Policy == nil || *alice.Policy != wantPolicy {
		t.Errorf("alice policy %+v", alice.Policy)
	}
	if guest := h.User("guest"); guest == nil || guest.AuthType != 0 || guest.Policy != nil || guest.PasswordHash != nil {
		t.Errorf("guest: %+v", guest)
	}

	n := h.SecureNAT
	addr := netip.MustParseAddr
	if !n.Enabled || !n.SaveLog || n.MAC.String() != "5e:bd:35:5b:98:3a" || n.IP != addr("192.168.30.1") ||
		n.Mask != addr("255.255.255.0") || !n.NatEnabled || n.MTU != 1500 || n.TCPTimeout != 1800 ||
		n.UDPTimeout != 60 || !n.DHCPEnabled || n.DHCPStart != addr("192.168.30.10") ||
		n.DHCPEnd != addr("192.168.30.200") || n.DHCPGateway != addr("192.168.30.1") ||
		n.DHCPDNS != addr("192.168.30.1") || n.DHCPDNS2 != addr("0.0.0.0") || n.DHCPExpire != 7200 ||
		n.DHCPDomain != "" || n.DHCPPushRoutes != "" {
		t.Errorf("SecureNAT: %+v", n)
	}
	if s.Hub("DEFAULT").SecureNAT.Enabled {
		t.Error("DEFAULT hub SecureNAT should be disabled")
	}

	// an unmodified model writes the file back unchanged
	if got := s.ToTree().Encode(); !bytes.Equal(got, orig) {
		t.Fatalf("ToTree of the unmodified model changed the file:\n%s", firstDiff(got, orig))
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Items and folders the model does not know survive a change and a rewrite.
func TestUnknownItemsSurvive(t *testing.T) {
	text := string(readFixture(t))
	// inject adds text after the first "after" that follows the TESTHUB
	// folder's start (or the file's start for root items)
	inject := func(after, add string) {
		from := 0
		if !strings.HasPrefix(after, "declare root") {
			from = strings.Index(text, "declare TESTHUB")
		}
		i := strings.Index(text[from:], after)
		if i < 0 {
			t.Fatalf("fixture lacks %q", after)
		}
		i += from + len(after)
		text = text[:i] + add + text[i:]
	}
	inject("declare root\r\n{\r\n", "\tstring FutureRootItem hello\r\n\tdeclare FutureFolder\r\n\t{\r\n\t\tuint X 7\r\n\t}\r\n")
	inject("declare TESTHUB\r\n\t\t{\r\n", "\t\t\tbool FutureHubFlag true\r\n")
	inject("declare alice\r\n\t\t\t\t\t{\r\n", "\t\t\t\t\t\tstring FutureUserItem x$20y\r\n")
	inject("declare VirtualRouter\r\n\t\t\t\t{\r\n", "\t\t\t\t\tuint FutureNat 9\r\n")
	inject("uint MaxUpload 1000000\r\n", "\t\t\t\t\t\t\tuint FuturePolicy 3\r\n")
	root, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Hub("TESTHUB")
	alice := h.User("alice")
	alice.RealName = "Alice Changed"
	alice.PasswordHash = hash(sha0.HashPassword("alice", "newpw"))
	alice.Policy.MaxDownload = 5
	h.SecureNAT.TCPTimeout = 3600
	s.Listeners = append(s.Listeners, Listener{Port: 8443, Enabled: true})

	back, err := Parse(s.ToTree().Encode())
	if err != nil {
		t.Fatal(err)
	}
	hub := back.Folder("VirtualHUB").Folder("TESTHUB")
	user := hub.Folder("SecurityAccountDatabase").Folder("UserList").Folder("alice")
	checks := []struct {
		what      string
		got, want any
	}{
		{"root item", back.GetString("FutureRootItem"), "hello"},
		{"root folder", back.Folder("FutureFolder").GetUint("X"), uint32(7)},
		{"hub item", hub.GetBool("FutureHubFlag"), true},
		{"user item", user.GetString("FutureUserItem"), "x y"},
		{"nat item", hub.Folder("SecureNAT").Folder("VirtualRouter").GetUint("FutureNat"), uint32(9)},
		{"policy item", user.Folder("Policy").GetUint("FuturePolicy"), uint32(3)},
		{"changed name", user.GetString("RealName"), "Alice Changed"},
		{"changed hash", string(user.GetBytes("AuthPassword")), string(hash(sha0.HashPassword("alice", "newpw")))},
		{"changed policy", user.Folder("Policy").GetUint("MaxDownload"), uint32(5)},
		{"changed nat", hub.Folder("SecureNAT").Folder("VirtualRouter").GetUint("NatTcpTimeout"), uint32(3600)},
		{"new listener", back.Folder("ListenerList").Folder("Listener4").GetUint("Port"), uint32(8443)},
		{"untouched", user.GetUint64("CreatedTime"), uint64(1795209357983)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestDeleteAndRename(t *testing.T) {
	s, _ := loadReal(t)
	if !s.RemoveHub("default") {
		t.Fatal("RemoveHub(default) = false")
	}
	h := s.Hub("TESTHUB")
	h.Name = "RENAMED"
	h.User("alice").Name = "bob"
	h.RemoveUser("guest")
	h.RemoveGroup("staff")
	s.Listeners = s.Listeners[1:] // drop 443

	back, err := Parse(s.ToTree().Encode())
	if err != nil {
		t.Fatal(err)
	}
	vh := back.Folder("VirtualHUB")
	if len(vh.Folders) != 1 || vh.Folder("RENAMED") == nil {
		t.Fatalf("hubs after delete/rename: %v", names(vh.Folders))
	}
	db := vh.Folder("RENAMED").Folder("SecurityAccountDatabase")
	if got := names(db.Folder("UserList").Folders); !slicesEqual(got, []string{"bob"}) {
		t.Errorf("users: %v", got)
	}
	if got := names(db.Folder("GroupList").Folders); len(got) != 0 {
		t.Errorf("groups: %v", got)
	}
	// the renamed user keeps its hash (SoftEther salts with the user name,
	// so the caller must set a new one; the model does not guess)
	if u := db.Folder("UserList").Folder("bob"); len(u.GetBytes("AuthPassword")) != 20 {
		t.Error("renamed user lost its data")
	}
	ll := back.Folder("ListenerList")
	if len(ll.Folders) != 3 || ll.Folder("Listener0") != nil || ll.Folder("Listener1").GetUint("Port") != 992 {
		t.Errorf("listeners: %v", names(ll.Folders))
	}
}

func names(fs []*Folder) []string {
	var n []string
	for _, f := range fs {
		n = append(n, f.Name)
	}
	return n
}

func TestDefault(t *testing.T) {
	s := Default()
	root := s.Tree
	sc := root.Folder("ServerConfiguration")
	if sc.Item("ServerCert") != nil || sc.Item("ServerKey") != nil {
		t.Error("default config must not carry a certificate")
	}
	if !IsEmptyPasswordHash(s.AdminPasswordHash) {
		t.Error("default admin password must be empty")
	}
	if !root.Folder("DDnsClient").GetBool("Disabled") || !sc.GetBool("DisableNatTraversal") || sc.GetBool("UseKeepConnect") {
		t.Error("DDNS / NAT traversal / keep-alive must be off")
	}
	if sc.GetUint("AutoSaveConfigSpan") != 300 || sc.GetString("PortsUDP") == "" || sc.Folder("GlobalParams").GetUint("MAX_MAC_TABLES") != 65536 {
		t.Error("fresh-server defaults missing")
	}
	var ports []uint16
	for _, l := range s.Listeners {
		ports = append(ports, l.Port)
	}
	if !slicesEqual(ports, []uint16{443, 992, 5555}) {
		t.Errorf("listeners %v", ports)
	}
	h := s.Hub("DEFAULT")
	if len(s.Hubs) != 1 || h == nil || !h.Online || len(h.Users) != 0 || h.SecureNAT.Enabled {
		t.Fatalf("hubs: %+v", s.Hubs)
	}
	// what Default's tree says is what its model says
	again, err := Parse(root.Encode())
	if err != nil {
		t.Fatal(err)
	}
	s2, err := FromTree(again)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.ToTree().Encode(); !bytes.Equal(got, root.Encode()) {
		t.Fatalf("Default does not round-trip:\n%s", firstDiff(got, root.Encode()))
	}
	hubFolder := again.Folder("VirtualHUB").Folder("DEFAULT")
	if hubFolder.GetUint64("CreatedTime") == 0 {
		t.Error("new hub has no creation time")
	}
}

func TestNewHubIsComplete(t *testing.T) {
	s := Default()
	h := NewHub("VPN")
	u := NewUser("carol")
	u.AuthType = 1
	u.PasswordHash = hash(sha0.HashPassword("carol", "pw"))
	p := DefaultPolicy()
	p.MaxConnection = 4
	u.Policy = &p
	h.Users = append(h.Users, u)
	h.Groups = append(h.Groups, NewGroup("g"))
	s.Hubs = append(s.Hubs, h)

	back, err := Parse(s.ToTree().Encode())
	if err != nil {
		t.Fatal(err)
	}
	hub := back.Folder("VirtualHUB").Folder("VPN")
	for _, path := range []string{"Option", "AdminOption", "LogSetting", "SecureNAT/VirtualHost",
		"SecureNAT/VirtualRouter", "SecureNAT/VirtualDhcpServer", "SecurityAccountDatabase/UserList",
		"SecurityAccountDatabase/GroupList", "SecurityAccountDatabase/CertList",
		"SecurityAccountDatabase/CrlList", "SecurityAccountDatabase/IPAccessControlList",
		"Traffic/RecvTraffic", "Traffic/SendTraffic", "AccessList", "CascadeList",
		"SecurityAccountDatabase/UserList/carol/Traffic", "SecurityAccountDatabase/GroupList/g/Traffic"} {
		f := hub
		for _, p := range strings.Split(path, "/") {
			f = f.Folder(p)
		}
		if f == nil {
			t.Errorf("new hub lacks %s", path)
		}
	}
	if !bytes.Equal(hub.GetBytes("HashedPassword"), hash(sha0.AdminHash(""))) || !hub.GetBool("Online") {
		t.Error("new hub: wrong password hash or offline")
	}
	if hub.Folder("LogSetting").GetUint("PACKET_LOG_DHCP") != 1 || !hub.Folder("Option").GetBool("ManageOnlyPrivateIP") {
		t.Error("new hub lacks real-server option defaults")
	}
	snat := hub.Folder("SecureNAT")
	mac := snat.Folder("VirtualHost").GetString("VirtualHostMacAddress")
	if !snat.GetBool("Disabled") || !strings.HasPrefix(mac, "00-AC-") || mac == "00-AC-00-00-00-00" {
		t.Errorf("new hub SecureNAT: disabled=%v mac=%s", snat.GetBool("Disabled"), mac)
	}
	if vr := snat.Folder("VirtualRouter"); vr.GetUint("NatTcpTimeout") != 7200 || vr.GetUint("NatUdpTimeout") != 600 {
		t.Error("new hub SecureNAT time-outs are not the DESIGN.md defaults")
	}
	user := hub.Folder("SecurityAccountDatabase").Folder("UserList").Folder("carol")
	if user.GetUint("AuthType") != 1 || len(user.GetBytes("AuthPassword")) != 20 || user.GetUint64("CreatedTime") == 0 {
		t.Error("new user items missing")
	}
	if pol := user.Folder("Policy"); pol == nil || len(pol.Items) != 38 || pol.GetUint("MaxConnection") != 4 || !pol.GetBool("Access") {
		t.Errorf("new user policy incomplete: %v", pol)
	}
	if len(PolicyNames()) != 38 {
		t.Errorf("policy has %d items, want 38", len(PolicyNames()))
	}

	// two new hubs get different MACs
	if a, b := NewHub("a").SecureNAT.MAC, NewHub("b").SecureNAT.MAC; bytes.Equal(a, b) {
		t.Error("DefaultSecureNAT MAC is not random")
	}
}

// A minimal hand-written file (docs/protocol/config.md#minimal-example) loads, and an unchanged model
// does not add the items the file leaves out.
func TestMinimalFile(t *testing.T) {
	in := "declare root\r\n{\r\n\tuint ConfigRevision 1\r\n\r\n" +
		"\tdeclare ListenerList\r\n\t{\r\n\t\tdeclare Listener0\r\n\t\t{\r\n\t\t\tbool Enabled true\r\n\t\t\tuint Port 5555\r\n\t\t}\r\n\t}\r\n" +
		"\tdeclare ServerConfiguration\r\n\t{\r\n\t\tbyte HashedPassword 26KDTH2woEqTBgoNUfFv6JdtxxE=\r\n\t\tuint ServerType 0\r\n\t}\r\n" +
		"\tdeclare VirtualHUB\r\n\t{\r\n\t\tdeclare VPN\r\n\t\t{\r\n\t\t\tbool Online true\r\n\t\t}\r\n\t}\r\n}\r\n"
	root, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := root.Encode()
	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.AdminPasswordHash, hash(sha0.AdminHash("adminpw"))) || len(s.Listeners) != 1 || s.Hub("vpn") == nil {
		t.Fatalf("minimal file read wrongly: %+v", s)
	}
	if got := s.ToTree().Encode(); !bytes.Equal(got, want) {
		t.Fatalf("unchanged minimal model changed the file:\n%s", firstDiff(got, want))
	}
	// a file without ServerConfiguration is rejected
	if _, err := FromTree(NewFolder(RootName)); err != ErrBadConfig {
		t.Errorf("FromTree(empty root) = %v, want ErrBadConfig", err)
	}
}

func TestSETime(t *testing.T) {
	// docs/protocol/admin.md#se-time: config 1795205740841 = 2026-11-21T05:15:40.841Z
	want := time.Date(2026, 11, 21, 5, 15, 40, 841e6, time.UTC)
	if got := fromSETime(1795205740841); !got.Equal(want) {
		t.Errorf("fromSETime = %v, want %v", got, want)
	}
	if got := toSETime(want); got != 1795205740841 {
		t.Errorf("toSETime = %d", got)
	}
	if toSETime(time.Time{}) != 0 || !fromSETime(0).IsZero() {
		t.Error("0 must mean the zero time")
	}
}

func TestAuthTypeSwitch(t *testing.T) {
	s, _ := loadReal(t)
	alice := s.Hub("TESTHUB").User("alice")
	alice.AuthType = 0
	alice.PasswordHash, alice.NTLMHash = nil, nil
	alice.Policy = nil
	back, err := Parse(s.ToTree().Encode())
	if err != nil {
		t.Fatal(err)
	}
	u := back.Folder("VirtualHUB").Folder("TESTHUB").Folder("SecurityAccountDatabase").Folder("UserList").Folder("alice")
	if u.Item("AuthPassword") != nil || u.Item("AuthNtLmSecureHash") != nil || u.Folder("Policy") != nil || u.GetUint("AuthType") != 0 {
		t.Errorf("switching to anonymous left password items: %v", u.Items)
	}
}

// NoHighPriorityProcess is read from ServerConfiguration (false when absent,
// as in the real server) and survives a rewrite untouched.
func TestNoHighPriorityProcess(t *testing.T) {
	d := Default()
	if d.NoHighPriorityProcess {
		t.Fatal("the default config keeps the normal priority; SoftEther's default raises it")
	}
	d.Tree.Folder("ServerConfiguration").SetBool("NoHighPriorityProcess", true)
	s, err := FromTree(d.ToTree())
	if err != nil {
		t.Fatal(err)
	}
	if !s.NoHighPriorityProcess {
		t.Fatal("NoHighPriorityProcess true was not read")
	}
	if !s.ToTree().Folder("ServerConfiguration").GetBool("NoHighPriorityProcess") {
		t.Fatal("NoHighPriorityProcess was lost on rewrite")
	}
}
