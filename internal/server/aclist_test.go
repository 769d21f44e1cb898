package server

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestACListMatching(t *testing.T) {
	a := netip.MustParseAddr
	list := acListFromModel(&config.Hub{AcList: []config.AcEntry{
		{Deny: true, Priority: 10, IP: a("10.0.0.0"), Mask: a("255.0.0.0")},
		{Deny: false, Priority: 10, IP: a("10.1.2.3")},
		{Deny: true, Priority: 5, IP: a("2001:db8::"), Mask: a("ffff:ffff::")},
		{Deny: false, Priority: 20, IP: a("0.0.0.0"), Mask: a("0.0.0.0")},
	}})
	if list[0].Priority != 5 || list[1].Deny || !list[2].Deny || list[3].ID != 4 {
		t.Fatalf("order: %+v", list)
	}
	for ip, denied := range map[string]bool{
		"10.1.2.3": false, // allow before deny at equal priority
		"10.9.9.9": true, "192.0.2.1": false, "2001:db8::5": true, "2001:db9::5": false,
		"::ffff:10.9.9.9": true, // an IPv4 client on a dual-stack socket
	} {
		if got := acDenied(list, a(ip)); got != denied {
			t.Errorf("%s: denied %v, want %v", ip, got, denied)
		}
	}
}

func TestACListRefusesLogin(t *testing.T) {
	srv, addr := testServer(t)
	d := srv.Dispatcher()
	set := func(entries ...acEntry) *pack.Pack {
		p := acListPack("DEFAULT", entries)
		return call(t, d, serverAdm, "SetAcList", p)
	}
	login := func() error {
		_, c, err := client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw"})
		if err == nil {
			c.Raw.Close()
		}
		return err
	}
	if err := login(); err != nil {
		t.Fatalf("login without a list: %v", err)
	}
	out := set(acEntry{Deny: true, Priority: 100, IP: netip.MustParseAddr("127.0.0.0"), Mask: netip.MustParseAddr("255.0.0.0")})
	if out.Int("NumItem") != 1 || out.IntAt("Id", 0) != 1 || out.IPAt("SubnetMask", 0).String() != "255.0.0.0" {
		t.Fatalf("SetAcList answered %v", out.Elements())
	}
	if err := login(); !errors.Is(err, vpnerr.IPAddressDenied) {
		t.Fatalf("login from a denied address: %v, want error 109", err)
	}
	// An allow entry of higher priority (lower number) lets 127.0.0.1 in.
	set(acEntry{Deny: true, Priority: 100, IP: netip.MustParseAddr("127.0.0.0"), Mask: netip.MustParseAddr("255.0.0.0")},
		acEntry{Priority: 1, IP: netip.MustParseAddr("127.0.0.1")})
	if err := login(); err != nil {
		t.Fatalf("login from an allowed address: %v", err)
	}
	got := call(t, d, hubAdm("DEFAULT"), "GetAcList", params("HubName", "DEFAULT"))
	if got.Int("NumItem") != 2 || got.IPAt("IpAddress", 0).String() != "127.0.0.1" || got.IntAt("Deny", 1) != 1 {
		t.Errorf("GetAcList: %v", got.Elements())
	}
	call(t, d, serverAdm, "SetHubAdminOptions", params("HubName", "DEFAULT", "Name", "no_change_access_control_list", "Value", 1))
	wantCode(t, d, hubAdm("DEFAULT"), "SetAcList", acListPack("DEFAULT", nil), vpnerr.NotEnoughRight)
	bad := acListPack("DEFAULT", []acEntry{{IP: netip.MustParseAddr("10.0.0.1"), Mask: netip.MustParseAddr("ffff::")}})
	wantCode(t, d, serverAdm, "SetAcList", bad, vpnerr.InvalidParameter)

	call(t, d, serverAdm, "Flush", params())
	root, err := config.Load(filepath.Join(srv.dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	// where SoftEther keeps it (Server.c, SiWriteHubDb)
	acl := root.Folder("VirtualHUB").Folder("DEFAULT").Folder("SecurityAccountDatabase").Folder("IPAccessControlList")
	if f := acl.Folder("Acl2"); f == nil || !f.GetBool("Deny") || f.GetString("IpAddress") != "127.0.0.0" || f.GetString("NetMask") != "255.0.0.0" {
		t.Errorf("on disk: %+v", acl)
	}
}

// TestACListJSONPrefixLengthMask sends the access list of SoftEther's own
// JSON-RPC sample client: an IPv6 entry whose mask is a prefix length
// ("8"), which is not an address. The real vpnserver takes it with the mask
// 0.0.0.0, and then the entry matches every IPv6 address; ethervpn answers
// and enforces the same, and stores it as the real vpnserver does.
func TestACListJSONPrefixLengthMask(t *testing.T) {
	srv, d, _ := openAdmin(t)
	in, err := admin.JSONToPack([]byte(`{"HubName_str":"DEFAULT","ACList":[
		{"Deny_bool":true,"IpAddress_ip":"192.168.100.2","Priority_u32":100},
		{"Deny_bool":false,"IpAddress_ip":"192.168.100.3","Masked_bool":true,"SubnetMask_ip":"255.255.255.0","Priority_u32":200},
		{"Deny_bool":true,"IpAddress_ip":"fe80::","Masked_bool":true,"SubnetMask_ip":"8","Priority_u32":300}]}`))
	if err != nil {
		t.Fatal(err)
	}
	call(t, d, serverAdm, "SetAcList", in)
	got := call(t, d, serverAdm, "GetAcList", params("HubName", "DEFAULT"))
	if got.Int("NumItem") != 3 || got.IPAt("IpAddress", 2).String() != "fe80::" || got.IntAt("Masked", 2) != 1 ||
		got.IPAt("SubnetMask", 2).String() != "0.0.0.0" || got.IntAt("Priority", 2) != 300 {
		t.Fatalf("GetAcList: %v", got.Elements())
	}
	h := srv.hubs["DEFAULT"]
	for ip, denied := range map[string]bool{"192.168.100.2": true, "192.168.100.3": false, "fe80::1": true, "2001:db8::1": true, "10.0.0.1": false} {
		if h.sourceDenied(netip.MustParseAddr(ip)) != denied {
			t.Errorf("%s: denied %v, want %v", ip, !denied, denied)
		}
	}
	// An entry with only one record and no mask at all (the JSON layer
	// drops "8", so no SubnetMask element exists) is taken the same way.
	in, _ = admin.JSONToPack([]byte(`{"HubName_str":"DEFAULT","ACList":[{"Deny_bool":true,"IpAddress_ip":"fe80::","Masked_bool":true,"SubnetMask_ip":"8","Priority_u32":1}]}`))
	if got := call(t, d, serverAdm, "SetAcList", in); got.Int("NumItem") != 1 || got.IPAt("SubnetMask", 0).String() != "0.0.0.0" {
		t.Fatalf("SetAcList answered %v", got.Elements())
	}
	call(t, d, serverAdm, "Flush", params())
	root, err := config.Load(filepath.Join(srv.dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	f := root.Folder("VirtualHUB").Folder("DEFAULT").Folder("SecurityAccountDatabase").Folder("IPAccessControlList").Folder("Acl1")
	if f == nil || f.GetString("IpAddress") != "fe80::" || f.GetString("NetMask") != "0.0.0.0" {
		t.Errorf("on disk: %+v", f)
	}
}

// softEtherACList is a hub's Source IP Address Limit List as the real
// vpnserver 5.01 writes it after "AcAdd deny /PRIORITY:5 /IP:10.250.0.0/16",
// "AcAdd6 allow /PRIORITY:7 /IP:2001:db8::/32" and
// "AcAdd deny /PRIORITY:9 /IP:127.0.0.0/8".
const softEtherACList = `declare IPAccessControlList
{
	declare Acl1
	{
		bool Deny true
		string IpAddress 10.250.0.0
		string NetMask 255.255.0.0
		uint Priority 5
	}
	declare Acl2
	{
		bool Deny false
		string IpAddress 2001:db8::
		string NetMask ffff:ffff::
		uint Priority 7
	}
	declare Acl3
	{
		bool Deny true
		string IpAddress 127.0.0.0
		string NetMask 255.0.0.0
		uint Priority 9
	}
}
`

// A configuration migrated from SoftEther keeps its Source IP Address Limit
// List: it is listed (GetAcList) and enforced (a login from a denied
// address is refused). ethervpn used to look for the list in the hub's
// folder, where SoftEther does not keep it, and found it empty.
func TestACListMigratedFromSoftEther(t *testing.T) {
	wrapped, err := config.Parse([]byte("declare root\n{\n" + softEtherACList + "}\n"))
	if err != nil {
		t.Fatal(err)
	}
	acl := wrapped.Folder("IPAccessControlList")
	cfg := config.Default()
	hash := sha0.HashPassword("alice", "alicepw")
	cfg.Hub("DEFAULT").Users = append(cfg.Hub("DEFAULT").Users, &config.User{Name: "alice", AuthType: userAuthPassword, PasswordHash: hash[:]})
	root := cfg.ToTree()
	db := root.Folder("VirtualHUB").Folder("DEFAULT").Folder("SecurityAccountDatabase")
	db.Remove("IPAccessControlList")
	db.Folders = append(db.Folders, acl)
	dir := t.TempDir()
	if err := config.Save(filepath.Join(dir, ConfigFile), root); err != nil {
		t.Fatal(err)
	}
	srv, addr := serveDir(t, dir)

	got := call(t, srv.Dispatcher(), serverAdm, "GetAcList", params("HubName", "DEFAULT"))
	if got.Int("NumItem") != 3 || got.IntAt("Deny", 0) != 1 || got.IPAt("IpAddress", 0).String() != "10.250.0.0" ||
		got.IPAt("SubnetMask", 0).String() != "255.255.0.0" || got.IntAt("Priority", 0) != 5 ||
		got.IPAt("IpAddress", 1).String() != "2001:db8::" || got.IntAt("Deny", 1) != 0 {
		t.Fatalf("GetAcList after migration: %v", got.Elements())
	}
	h := srv.hubs["DEFAULT"]
	for ip, denied := range map[string]bool{"10.250.3.4": true, "10.251.0.1": false, "2001:db8::9": false, "127.0.0.1": true} {
		if got := h.sourceDenied(netip.MustParseAddr(ip)); got != denied {
			t.Errorf("%s: denied %v, want %v", ip, got, denied)
		}
	}
	_, c, err := client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	if err == nil {
		c.Raw.Close()
	}
	if !errors.Is(err, vpnerr.IPAddressDenied) {
		t.Fatalf("login from 127.0.0.1, denied by the migrated list: %v, want error 109", err)
	}
}

// serveDir opens the server whose configuration is in dir and serves it on
// a loopback port until the test ends.
func serveDir(t *testing.T, dir string) (*Server, string) {
	t.Helper()
	srv, err := Open(dir, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	return srv, serveLoopback(t, srv).Addr().String()
}
