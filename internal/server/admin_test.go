package server

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

var (
	loopback   = netip.MustParseAddr("127.0.0.1")
	remoteAddr = netip.MustParseAddr("192.0.2.7")
	serverAdm  = admin.Caller{ServerAdmin: true, Remote: loopback, Via: "test"}
)

func hubAdm(hub string) admin.Caller {
	return admin.Caller{Hub: hub, Remote: remoteAddr, Via: "test"}
}

// openAdmin opens a server in a temporary directory.
func openAdmin(t testing.TB) (*Server, admin.Dispatcher, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s, s.Dispatcher(), dir
}

// uni marks a UNISTR value for params.
type uni string

// params builds a request PACK from name/value pairs (string -> STR, uni -> UNISTR,
// uint32 -> INT, bool -> INT, []byte -> DATA, netip.Addr -> IP).
func params(kv ...any) *pack.Pack {
	p := pack.New()
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			p.AddStr(name, v)
		case uni:
			p.AddUniStr(name, string(v))
		case int:
			p.AddInt(name, uint32(v))
		case bool:
			p.AddBool(name, v)
		case []byte:
			p.AddData(name, v)
		case netip.Addr:
			p.AddIP(name, v)
		default:
			panic("params: unsupported type")
		}
	}
	return p
}

func call(t *testing.T, d admin.Dispatcher, c admin.Caller, method string, in *pack.Pack) *pack.Pack {
	t.Helper()
	out, err := d.Call(context.Background(), c, method, in)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return out
}

func wantCode(t *testing.T, d admin.Dispatcher, c admin.Caller, method string, in *pack.Pack, want vpnerr.Error) {
	t.Helper()
	_, err := d.Call(context.Background(), c, method, in)
	var got vpnerr.Error
	if !errors.As(err, &got) || got != want {
		t.Errorf("%s: error %v, want code %d", method, err, uint32(want))
	}
}

func TestAdminHubLifecycle(t *testing.T) {
	_, d, _ := openAdmin(t)
	out := call(t, d, serverAdm, "CreateHub", params("HubName", "HUB1", "AdminPasswordPlainText", "hubpass", "Online", true))
	if got := hex.EncodeToString(out.Data("HashedPassword")); got != "a11fc7853551c6eaab4a1dbe6421a46a009b397f" {
		t.Errorf("HashedPassword = %s", got)
	}
	if got := hex.EncodeToString(out.Data("SecurePassword")); got != "48734fda8746843e2799880e6b5d3546ee350d41" {
		t.Errorf("SecurePassword = %s", got)
	}
	wantCode(t, d, serverAdm, "CreateHub", params("HubName", "hub1"), vpnerr.HubAlreadyExists)
	wantCode(t, d, serverAdm, "CreateHub", params("HubName", "bad/name"), vpnerr.InvalidParameter)
	wantCode(t, d, serverAdm, "CreateHub", params("HubName", ".dot"), vpnerr.InvalidParameter)
	wantCode(t, d, serverAdm, "CreateHub", params("HubName", "X", "HubType", 1), vpnerr.InvalidParameter)

	list := call(t, d, serverAdm, "EnumHub", pack.New())
	if n := list.Count("HubName"); n != 2 || list.StrAt("HubName", 0) != "DEFAULT" || list.StrAt("HubName", 1) != "HUB1" {
		t.Errorf("EnumHub: %d hubs %q %q", n, list.StrAt("HubName", 0), list.StrAt("HubName", 1))
	}
	st := call(t, d, serverAdm, "GetHubStatus", params("HubName", "hub1"))
	if st.Str("HubName") != "HUB1" || !st.Bool("Online") {
		t.Errorf("GetHubStatus: name %q online %v; want the canonical name, online", st.Str("HubName"), st.Bool("Online"))
	}
	g := call(t, d, serverAdm, "GetHub", params("HubName", "HUB1"))
	if !isZero(g.Data("HashedPassword")) || len(g.Data("HashedPassword")) != 20 {
		t.Error("GetHub disclosed the password hash")
	}
	call(t, d, serverAdm, "SetHubOnline", params("HubName", "HUB1", "Online", false))
	if st := call(t, d, serverAdm, "GetHubStatus", params("HubName", "HUB1")); st.Bool("Online") {
		t.Error("hub still online after SetHubOnline false")
	}
	call(t, d, serverAdm, "DeleteHub", params("HubName", "HUB1"))
	wantCode(t, d, serverAdm, "DeleteHub", params("HubName", "HUB1"), vpnerr.HubNotFound)
	wantCode(t, d, serverAdm, "GetHubStatus", params("HubName", "HUB1"), vpnerr.HubNotFound)
}

func TestAdminRights(t *testing.T) {
	_, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "A", "Online", true))
	call(t, d, serverAdm, "CreateHub", params("HubName", "B", "Online", true))
	ha := hubAdm("A")

	// Server-only methods refuse hub admins.
	for _, m := range []string{"CreateHub", "DeleteHub", "CreateListener", "DeleteListener", "EnableListener",
		"SetServerPassword", "SetServerCipher", "SetServerCert", "GetConfig", "SetConfig", "Flush"} {
		wantCode(t, d, ha, m, params("HubName", "A", "Port", 7777), vpnerr.NotEnoughRight)
	}
	// Hub methods: own hub fine, other hub refused, empty hub 52 for a hub
	// admin and 38 for the server admin (the order of docs/protocol/admin.md#rights).
	hubMethods := []string{"GetHubStatus", "GetHub", "EnumUser", "EnumGroup", "EnumSession", "EnumMacTable",
		"EnumIpTable", "EnumNAT", "EnumDHCP", "GetSecureNATStatus", "GetHubLog"}
	for _, m := range hubMethods {
		call(t, d, ha, m, params("HubName", "a"))
		wantCode(t, d, ha, m, params("HubName", "B"), vpnerr.NotEnoughRight)
		wantCode(t, d, ha, m, pack.New(), vpnerr.NotEnoughRight)
		wantCode(t, d, serverAdm, m, pack.New(), vpnerr.InvalidParameter)
	}
	call(t, d, ha, "GetSecureNATOption", params("RpcHubName", "A"))
	wantCode(t, d, ha, "GetSecureNATOption", params("RpcHubName", "B", "HubName", "A"), vpnerr.NotEnoughRight)

	// A hub admin sees only its own hub.
	if l := call(t, d, ha, "EnumHub", pack.New()); l.Count("HubName") != 1 || l.StrAt("HubName", 0) != "A" {
		t.Errorf("hub admin EnumHub: %d hubs", l.Count("HubName"))
	}
	// and no private key.
	if c := call(t, d, ha, "GetServerCert", pack.New()); c.Has("Key") || len(c.Data("Cert")) == 0 {
		t.Error("GetServerCert for a hub admin: want the certificate without the key")
	}
	if c := call(t, d, serverAdm, "GetServerCert", pack.New()); len(c.Data("Key")) == 0 {
		t.Error("GetServerCert for the server admin: no key")
	}
	wantCode(t, d, serverAdm, "NoSuchMethod", pack.New(), vpnerr.NotSupported)
}

func TestAdminHubAdminOptions(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "A", "Online", true))
	if err := s.ctl.Update(func(next *config.Server) error {
		next.EditHub("A").SetAdminOption("no_change_users", 1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, d, hubAdm("A"), "CreateUser", params("HubName", "A", "Name", "u", "AuthType", 0), vpnerr.NotEnoughRight)
	call(t, d, serverAdm, "CreateUser", params("HubName", "A", "Name", "u", "AuthType", 0))
}

func TestAdminUsersAndGroups(t *testing.T) {
	_, d, _ := openAdmin(t)
	ha := hubAdm("DEFAULT")
	wantCode(t, d, ha, "CreateUser", params("HubName", "DEFAULT", "Name", "u1", "GroupName", "nogroup", "AuthType", 1, "Auth_Password", "x"), vpnerr.GroupNotFound)
	call(t, d, ha, "CreateGroup", params("HubName", "DEFAULT", "Name", "staff"))
	wantCode(t, d, ha, "CreateGroup", params("HubName", "DEFAULT", "Name", "STAFF"), vpnerr.GroupAlreadyExists)
	out := call(t, d, ha, "CreateUser", params("HubName", "DEFAULT", "Name", "u1", "GroupName", "staff", "AuthType", 1, "Auth_Password", "secret1"))
	if got := hex.EncodeToString(out.Data("HashedKey")); got != "017d7b706dd974c6bf56e39463d7618e39450769" {
		t.Errorf("HashedKey = %s", got)
	}
	if got := hex.EncodeToString(out.Data("NtLmSecureHash")); got != "b39a61f16a4e11fa80580241f1d4aae8" {
		t.Errorf("NtLmSecureHash = %s", got)
	}
	wantCode(t, d, ha, "CreateUser", params("HubName", "DEFAULT", "Name", "U1", "AuthType", 0), vpnerr.UserAlreadyExists)
	wantCode(t, d, ha, "CreateUser", params("HubName", "DEFAULT", "Name", "SecureNAT", "AuthType", 0), vpnerr.InvalidParameter)
	wantCode(t, d, ha, "CreateUser", params("HubName", "DEFAULT", "Name", "bad!name", "AuthType", 0), vpnerr.InvalidParameter)
	wantCode(t, d, ha, "CreateUser", params("HubName", "DEFAULT", "Name", "*", "AuthType", 4), vpnerr.NotSupportedAuthOnOpensource)
	wantCode(t, d, ha, "CreateUser", params("HubName", "DEFAULT", "Name", "c", "AuthType", 2), vpnerr.NotSupportedAuthOnOpensource)

	// vpncmd's UserPolicySet: GetUser, then SetUser with the whole echo.
	u := call(t, d, ha, "GetUser", params("HubName", "DEFAULT", "Name", "U1"))
	if u.Str("Name") != "u1" || u.Str("GroupName") != "staff" || u.Has("UsePolicy") {
		t.Errorf("GetUser: name %q group %q policy %v", u.Str("Name"), u.Str("GroupName"), u.Has("UsePolicy"))
	}
	u.AddStr("function_name", "SetUser")
	u.AddBool("UsePolicy", true)
	addPolicy(u, &config.Policy{Access: true, MaxConnection: 2, TimeOut: 20})
	call(t, d, ha, "SetUser", u)
	u = call(t, d, ha, "GetUser", params("HubName", "DEFAULT", "Name", "u1"))
	if !u.Bool("UsePolicy") || u.Int("policy:MaxConnection") != 2 || hex.EncodeToString(u.Data("HashedKey")) != "017d7b706dd974c6bf56e39463d7618e39450769" {
		t.Errorf("after SetUser: policy %v MaxConnection %d, hash kept %x", u.Bool("UsePolicy"), u.Int("policy:MaxConnection"), u.Data("HashedKey"))
	}
	wantCode(t, d, ha, "SetUser", params("HubName", "DEFAULT", "Name", "ghost", "AuthType", 0), vpnerr.ObjectNotFound)

	users := call(t, d, ha, "EnumUser", params("HubName", "DEFAULT"))
	if users.Count("Name") != 1 || users.StrAt("Name", 0) != "u1" || users.IntAt("AuthType", 0) != 1 {
		t.Errorf("EnumUser: %d users", users.Count("Name"))
	}
	groups := call(t, d, ha, "EnumGroup", params("HubName", "DEFAULT"))
	if groups.Count("Name") != 1 || groups.IntAt("NumUsers", 0) != 1 {
		t.Errorf("EnumGroup: %d groups, %d members", groups.Count("Name"), groups.IntAt("NumUsers", 0))
	}
	call(t, d, ha, "DeleteGroup", params("HubName", "DEFAULT", "Name", "staff"))
	if u := call(t, d, ha, "GetUser", params("HubName", "DEFAULT", "Name", "u1")); u.Str("GroupName") != "" {
		t.Errorf("user still in deleted group %q", u.Str("GroupName"))
	}
	call(t, d, ha, "DeleteUser", params("HubName", "DEFAULT", "Name", "U1"))
	wantCode(t, d, ha, "DeleteUser", params("HubName", "DEFAULT", "Name", "u1"), vpnerr.ObjectNotFound)
}

// natOption returns a complete SetSecureNATOption request.
func natOption(hub string, ip string) *pack.Pack {
	a := netip.MustParseAddr
	return params("RpcHubName", hub, "MacAddress", []byte{0, 0x0c, 0xb7, 0, 0, 1},
		"Ip", a(ip), "Mask", a("255.255.255.0"), "UseNat", true, "Mtu", 1500,
		"NatTcpTimeout", 1800, "NatUdpTimeout", 60, "UseDhcp", true,
		"DhcpLeaseIPStart", a("10.20.0.100"), "DhcpLeaseIPEnd", a("10.20.0.199"), "DhcpSubnetMask", a("255.255.255.0"),
		"DhcpExpireTimeSpan", 7200, "DhcpGatewayAddress", a("10.20.0.1"), "DhcpDnsServerAddress", a("10.20.0.1"),
		"DhcpDnsServerAddress2", a("0.0.0.0"), "DhcpDomainName", "vpn.example", "SaveLog", true,
		"ApplyDhcpPushRoutes", true, "DhcpPushRoutes", "10.0.0.0/8/10.20.0.254")
}

func TestAdminSecureNAT(t *testing.T) {
	_, d, _ := openAdmin(t)
	ha := hubAdm("DEFAULT")
	call(t, d, ha, "SetSecureNATOption", natOption("DEFAULT", "10.20.0.1"))
	o := call(t, d, ha, "GetSecureNATOption", params("RpcHubName", "default"))
	if o.Str("RpcHubName") != "DEFAULT" || o.IP("Ip").String() != "10.20.0.1" || o.Str("DhcpDomainName") != "vpn.example" ||
		o.Int("NatTcpTimeout") != 1800 || o.Str("DhcpPushRoutes") != "10.0.0.0/8/10.20.0.254" || !o.Bool("ApplyDhcpPushRoutes") {
		t.Errorf("GetSecureNATOption after Set: %v %v %q %d %q", o.Str("RpcHubName"), o.IP("Ip"), o.Str("DhcpDomainName"), o.Int("NatTcpTimeout"), o.Str("DhcpPushRoutes"))
	}
	wantCode(t, d, ha, "SetSecureNATOption", natOption("DEFAULT", "10.20.0.0"), vpnerr.InvalidParameter) // network address
	bad := natOption("DEFAULT", "10.20.0.1")
	bad.AddData("MacAddress", make([]byte, 6))
	wantCode(t, d, ha, "SetSecureNATOption", bad, vpnerr.InvalidParameter)
	bad = natOption("DEFAULT", "10.20.0.1")
	bad.AddIP("Mask", netip.MustParseAddr("255.0.255.0"))
	wantCode(t, d, ha, "SetSecureNATOption", bad, vpnerr.InvalidParameter)
	bad = natOption("DEFAULT", "10.20.0.1")
	bad.AddStr("DhcpPushRoutes", "10.0.0.0/x/1.2.3.4")
	wantCode(t, d, ha, "SetSecureNATOption", bad, vpnerr.InvalidParameter)

	call(t, d, ha, "EnableSecureNAT", params("HubName", "DEFAULT"))
	if st := call(t, d, ha, "GetHubStatus", params("HubName", "DEFAULT")); !st.Bool("SecureNATEnabled") {
		t.Error("SecureNATEnabled false after EnableSecureNAT")
	}
	for _, m := range []string{"EnumNAT", "EnumDHCP"} {
		if out := call(t, d, ha, m, params("HubName", "DEFAULT")); out.Int("NumItem") != 0 || out.Str("HubName") != "DEFAULT" {
			t.Errorf("%s: NumItem %d HubName %q", m, out.Int("NumItem"), out.Str("HubName"))
		}
	}
	call(t, d, ha, "DisableSecureNAT", params("HubName", "DEFAULT"))
}

func TestAdminListeners(t *testing.T) {
	s, d, _ := openAdmin(t)
	// Run serves the configured listeners: one on a free loopback port,
	// and 443 configured but disabled (so the test stays off real ports).
	first := freePort(t)
	s.mu.Lock()
	s.cfg.ListenIP = "127.0.0.1"
	s.cfg.Listeners = []config.Listener{{Port: 443}, {Port: uint16(first), Enabled: true}}
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitServing(t, s)
	for i := 0; ; i++ { // Run opens it just after it begins to serve
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(first), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i == 50 {
			t.Fatalf("the configured listener does not accept: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A free port for the new listener.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()

	wantCode(t, d, serverAdm, "CreateListener", params("Port", 0, "Enable", true), vpnerr.InvalidParameter)
	wantCode(t, d, serverAdm, "CreateListener", params("Port", 443, "Enable", true), vpnerr.ListenerAlreadyExists)
	call(t, d, serverAdm, "CreateListener", params("Port", port, "Enable", true))
	dial := func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("new listener does not accept: %v", err)
	}
	l := call(t, d, serverAdm, "EnumListener", pack.New())
	found := false
	for i := range l.Count("Ports") {
		if l.IntAt("Ports", i) == uint32(port) {
			found = l.IntAt("Enables", i) == 1 && l.IntAt("Errors", i) == 0
		}
	}
	if !found {
		t.Errorf("EnumListener does not list port %d as enabled without error", port)
	}
	call(t, d, serverAdm, "EnableListener", params("Port", port, "Enable", false))
	if err := dial(); err == nil {
		t.Error("disabled listener still accepts")
	}
	call(t, d, serverAdm, "DeleteListener", params("Port", port))
	wantCode(t, d, serverAdm, "DeleteListener", params("Port", port), vpnerr.ListenerNotFound)
	wantCode(t, d, serverAdm, "EnableListener", params("Port", port, "Enable", true), vpnerr.ListenerNotFound)
}

func waitServing(t *testing.T, s *Server) {
	t.Helper()
	for range 100 {
		s.mu.Lock()
		ok := s.adm.serving
		s.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("server did not start serving")
}

// TestAdminPersistence checks that every change reaches the file on disk
// and survives a restart.
func TestAdminPersistence(t *testing.T) {
	_, d, dir := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "P1", "AdminPasswordPlainText", "hubpw", "Online", true, "MaxSession", 7))
	call(t, d, serverAdm, "CreateUser", params("HubName", "P1", "Name", "alice", "AuthType", 1, "Auth_Password", "pw", "Realname", uni("Alice")))
	call(t, d, serverAdm, "SetSecureNATOption", natOption("P1", "10.20.0.1"))
	call(t, d, serverAdm, "EnableSecureNAT", params("HubName", "P1"))
	call(t, d, serverAdm, "SetServerPassword", params("PlainTextPassword", "adminpw"))
	call(t, d, serverAdm, "SetServerCipher", params("String", "ecdhe-rsa-aes128-gcm-sha256"))
	call(t, d, serverAdm, "DeleteHub", params("HubName", "DEFAULT"))

	root, err := config.Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	want := sha0.AdminHash("adminpw")
	if string(cfg.AdminPasswordHash) != string(want[:]) || cfg.CipherName != "ECDHE-RSA-AES128-GCM-SHA256" {
		t.Errorf("server settings not saved: hash %x cipher %q", cfg.AdminPasswordHash, cfg.CipherName)
	}
	if len(cfg.Hubs) != 1 || cfg.Hubs[0].Name != "P1" || cfg.Hubs[0].MaxSession != 7 {
		t.Fatalf("hubs on disk: %+v", cfg.Hubs)
	}
	h := cfg.Hubs[0]
	if u := h.User("alice"); u == nil || u.AuthType != 1 || u.RealName != "Alice" {
		t.Errorf("user on disk: %+v", u)
	}
	if !h.SecureNAT.Enabled || h.SecureNAT.IP.String() != "10.20.0.1" || h.SecureNAT.DHCPDomain != "vpn.example" {
		t.Errorf("SecureNAT on disk: %+v", h.SecureNAT)
	}

	// A restarted server sees the same.
	s2, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	u := call(t, s2.Dispatcher(), serverAdm, "GetUser", params("HubName", "p1", "Name", "ALICE"))
	if hex.EncodeToString(u.Data("HashedKey")) != func() string { h := sha0.HashPassword("alice", "pw"); return hex.EncodeToString(h[:]) }() {
		t.Error("password hash lost across a restart")
	}
}

func TestAdminConfigGetSet(t *testing.T) {
	_, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "KEEP", "Online", true))
	conf := call(t, d, serverAdm, "GetConfig", pack.New())
	if conf.Str("FileName") != ConfigFile || len(conf.Data("FileData")) == 0 {
		t.Fatal("GetConfig: empty")
	}
	data := conf.Data("FileData")
	call(t, d, serverAdm, "DeleteHub", params("HubName", "KEEP"))
	wantCode(t, d, serverAdm, "SetConfig", params("FileName", "x", "FileData", []byte("declare root {")), vpnerr.InvalidParameter)
	call(t, d, serverAdm, "SetConfig", params("FileName", "x", "FileData", data))
	call(t, d, serverAdm, "GetHubStatus", params("HubName", "KEEP"))
	if f := call(t, d, serverAdm, "Flush", pack.New()); f.Int("IntValue") == 0 {
		t.Error("Flush reported 0 bytes")
	}
}

func TestAdminMisc(t *testing.T) {
	_, d, _ := openAdmin(t)
	if out := call(t, d, hubAdm("DEFAULT"), "Test", params("IntValue", 77)); out.Str("StrValue") != "77" {
		t.Errorf("Test: StrValue %q", out.Str("StrValue"))
	}
	caps := call(t, d, hubAdm("DEFAULT"), "GetCaps", pack.New())
	if caps.Int("caps_b_vpn3") != 1 || caps.Count("CapsName") != len(capabilities) {
		t.Errorf("GetCaps: b_vpn3 %d, %d names", caps.Int("caps_b_vpn3"), caps.Count("CapsName"))
	}
	info := call(t, d, hubAdm("DEFAULT"), "GetServerInfo", pack.New())
	if info.Int("ServerBuildInt") < 5180 {
		t.Errorf("ServerBuildInt %d < 5180", info.Int("ServerBuildInt"))
	}
	wantCode(t, d, serverAdm, "SetServerCipher", params("String", "RC4-MD5"), vpnerr.CipherNotSupported)
	wantCode(t, d, serverAdm, "SetServerCipher", params("String", ""), vpnerr.InvalidParameter)
	call(t, d, serverAdm, "GetServerStatus", pack.New())
}

func TestAdminStoredSettings(t *testing.T) {
	_, d, dir := openAdmin(t)
	ha := hubAdm("DEFAULT")
	rule := func(prio int, discard bool, note string) *pack.Pack {
		return params("HubName", "DEFAULT", "Priority", prio, "Discard", discard, "Note", uni(note), "Active", true,
			"Protocol", 6, "DestPortStart", 80, "SrcIpAddress", netip.MustParseAddr("10.0.0.0"),
			"SrcSubnetMask", netip.MustParseAddr("255.0.0.0"))
	}
	call(t, d, ha, "AddAccess", rule(200, true, "second"))
	call(t, d, ha, "AddAccess", rule(100, true, "first"))
	l := call(t, d, ha, "EnumAccess", params("HubName", "DEFAULT"))
	if l.Count("Protocol") != 2 || strAt(l, "Note", 0) != "first" || intAt(l, "Id", 1) != 2 ||
		intAt(l, "DestPortEnd", 0) != 80 || ip4At(l, "SrcIpAddress", 0).String() != "10.0.0.0" {
		t.Errorf("EnumAccess: %d rules, first %q, ids %d/%d", l.Count("Protocol"), strAt(l, "Note", 0), intAt(l, "Id", 0), intAt(l, "Id", 1))
	}
	call(t, d, ha, "DeleteAccess", params("HubName", "DEFAULT", "Id", 1))
	wantCode(t, d, ha, "DeleteAccess", params("HubName", "DEFAULT", "Id", 5), vpnerr.ObjectNotFound)
	if l := call(t, d, ha, "EnumAccess", params("HubName", "DEFAULT")); l.Count("Protocol") != 1 || strAt(l, "Note", 0) != "second" {
		t.Errorf("after DeleteAccess: %d rules", l.Count("Protocol"))
	}

	wantCode(t, d, ha, "AddLocalBridge", params("HubNameLB", "DEFAULT", "DeviceName", "eth9"), vpnerr.NotEnoughRight)
	call(t, d, serverAdm, "AddLocalBridge", params("HubNameLB", "DEFAULT", "DeviceName", "eth9", "TapMode", true))
	if l := call(t, d, ha, "EnumLocalBridge", pack.New()); l.Int("NumItem") != 1 || l.StrAt("DeviceName", 0) != "eth9" {
		t.Errorf("EnumLocalBridge: %d", l.Int("NumItem"))
	}
	call(t, d, serverAdm, "AddL3Switch", params("Name", "sw1"))
	wantCode(t, d, serverAdm, "AddL3Switch", params("Name", "SW1"), vpnerr.Layer3SwExists)
	call(t, d, serverAdm, "AddL3If", params("Name", "sw1", "HubName", "DEFAULT",
		"IpAddress", netip.MustParseAddr("10.1.0.1"), "SubnetMask", netip.MustParseAddr("255.255.255.0")))
	wantCode(t, d, serverAdm, "AddL3Table", params("Name", "sw1", "NetworkAddress", netip.MustParseAddr("10.2.0.1"),
		"SubnetMask", netip.MustParseAddr("255.255.255.0"), "GatewayAddress", netip.MustParseAddr("10.1.0.254")), vpnerr.InvalidParameter)
	call(t, d, serverAdm, "AddL3Table", params("Name", "sw1", "NetworkAddress", netip.MustParseAddr("10.2.0.0"),
		"SubnetMask", netip.MustParseAddr("255.255.255.0"), "GatewayAddress", netip.MustParseAddr("10.1.0.254"), "Metric", 1))
	call(t, d, serverAdm, "StartL3Switch", params("Name", "sw1"))

	call(t, d, serverAdm, "SetHubAdminOptions", params("HubName", "DEFAULT", "Name", "no_change_groups", "Value", 1))
	wantCode(t, d, ha, "CreateGroup", params("HubName", "DEFAULT", "Name", "g"), vpnerr.NotEnoughRight)
	wantCode(t, d, ha, "SetHubAdminOptions", params("HubName", "DEFAULT", "Name", "no_change_groups", "Value", 0), vpnerr.NotEnoughRight)

	// All of it is in the file, in the real server's layout.
	root, err := config.Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	hubF := root.Folder("VirtualHUB").Folder("DEFAULT")
	if r := hubF.Folder("AccessList").Folder("1"); r == nil || r.GetString("Note") != "second" || r.GetString("SrcIpAddress") != "10.0.0.0" {
		t.Errorf("access list on disk: %+v", r)
	}
	if hubF.Folder("AdminOption").GetUint("no_change_groups") != 1 {
		t.Error("admin option not on disk")
	}
	if b := root.Folder("LocalBridgeList").Folder("LocalBridge0"); b == nil || b.GetString("DeviceName") != "eth9" || !b.GetBool("TapMode") {
		t.Errorf("local bridge on disk: %+v", b)
	}
	sw := root.Folder("VirtualLayer3SwitchList").Folder("sw1")
	if sw == nil || sw.Folder("InterfaceList").Folder("Interface0").GetString("IpAddress") != "10.1.0.1" ||
		sw.Folder("RoutingTable").Folder("Entry0").GetString("NetworkAddress") != "10.2.0.0" {
		t.Errorf("L3 switch on disk: %+v", sw)
	}
}

// FuzzAdminCall feeds arbitrary request PACKs to every method: a request
// gets an answer or a SoftEther error, never a panic.
func FuzzAdminCall(f *testing.F) {
	methods := make([]string, 0, len(adminMethods))
	for m := range adminMethods {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	f.Add(uint16(0), natOption("DEFAULT", "10.20.0.1").Encode(nil))
	f.Add(uint16(1), params("HubName", "DEFAULT", "Name", "x", "AuthType", 1, "HashedKey", []byte{1}).Encode(nil))
	f.Add(uint16(2), params("HubName", "DEFAULT", "Protocol", 6, "DhcpPushRoutes", "1/2/3,,/").Encode(nil))
	f.Add(uint16(3), []byte{0, 0, 0, 0})
	_, d, _ := openAdmin(f)
	f.Fuzz(func(t *testing.T, m uint16, b []byte) {
		in, err := pack.Decode(b)
		if err != nil {
			return
		}
		method := methods[int(m)%len(methods)]
		if method == "SETCONFIG" || method == "DELETEHUB" {
			return // they would only tear down the fixture
		}
		for _, c := range []admin.Caller{serverAdm, hubAdm("DEFAULT")} {
			out, err := d.Call(context.Background(), c, method, in)
			var code vpnerr.Error
			if err != nil && !errors.As(err, &code) {
				t.Fatalf("%s: error %v is not a SoftEther error", method, err)
			}
			if err == nil && out == nil {
				t.Fatalf("%s: no answer and no error", method)
			}
		}
	})
}

// A method that panics in the middle of a change must not wedge the
// server: the call fails with an internal error, nothing changed, and the
// owner's and the runtime's locks are free.
func TestAdminPanicReleasesLock(t *testing.T) {
	s, d, _ := openAdmin(t)
	adminMethods["TESTPANIC"] = adminMethod{right: rightServer, fn: func(a *adminCall) (*pack.Pack, error) {
		return nil, a.s.ctl.Update(func(next *config.Server) error {
			next.EditHub("DEFAULT").Online = false
			panic("boom")
		})
	}}
	defer delete(adminMethods, "TESTPANIC")
	wantCode(t, d, serverAdm, "TestPanic", pack.New(), vpnerr.InternalError)
	done := make(chan struct{})
	go func() {
		s.mu.Lock()
		s.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the server lock is still held after the method panicked")
	}
	call(t, d, serverAdm, "CreateUser", params("HubName", "DEFAULT", "Name", "after", "AuthType", 0))
	if !s.ctl.Current().Hub("DEFAULT").Online {
		t.Fatal("the change that panicked was kept")
	}
}

// Hand-written configurations may lack folders the real server always
// writes; the status of such a hub must still be readable.
func TestHubStatusWithoutAccessListFolder(t *testing.T) {
	_, d, _ := openAdmin(t)
	text := call(t, d, serverAdm, "GetConfig", pack.New()).Data("FileData")
	root, err := config.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	root.Folder("VirtualHUB").Folder("DEFAULT").Remove("AccessList")
	call(t, d, serverAdm, "SetConfig", params("FileData", root.Encode()))
	out := call(t, d, serverAdm, "GetHubStatus", params("HubName", "DEFAULT"))
	if out.Int("NumAccessLists") != 0 {
		t.Fatalf("NumAccessLists = %d", out.Int("NumAccessLists"))
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
