package farm_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/server"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

var serverAdmin = admin.Caller{ServerAdmin: true, Remote: netip.MustParseAddr("127.0.0.1"), Via: "test"}

// adminCall runs an admin method on srv as the server administrator.
func adminCall(t *testing.T, srv *server.Server, method string, kv ...any) (*pack.Pack, error) {
	t.Helper()
	in := pack.New()
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			in.AddStr(kv[i].(string), v)
		case int:
			in.AddInt(kv[i].(string), uint32(v))
		}
	}
	return srv.Dispatcher().Call(context.Background(), serverAdmin, method, in)
}

func mustCall(t *testing.T, srv *server.Server, method string, kv ...any) *pack.Pack {
	t.Helper()
	p, err := adminCall(t, srv, method, kv...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return p
}

// Any node answers vpncmd's Cluster* methods for the whole farm: the
// members with their load, a member's details by an Id any node gives,
// and its own link to etcd.
func TestFarmAdminMethods(t *testing.T) {
	nodes, addrs := farmWithUser(t, config.HubDynamic)
	a, b := nodes[0], nodes[1]
	login(t, addrs[0]) // places hub H on node c, with one session

	p := mustCall(t, a, "GetFarmSetting")
	if p.Int("ServerType") != 1 || p.Int("Weight") != 100 || p.Bool("ControllerOnly") || p.IP("PublicIp") != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("GetFarmSetting: ServerType %d Weight %d ControllerOnly %v PublicIp %v",
			p.Int("ServerType"), p.Int("Weight"), p.Bool("ControllerOnly"), p.IP("PublicIp"))
	}
	if p := mustCall(t, a, "GetServerInfo"); p.Int("ServerType") != 1 {
		t.Errorf("GetServerInfo: ServerType %d, want 1 (controller)", p.Int("ServerType"))
	}
	if _, err := adminCall(t, a, "SetFarmSetting", "ServerType", 0); !errors.Is(err, vpnerr.NotSupported) {
		t.Errorf("SetFarmSetting: %v, want refused", err)
	}

	// Node c reports its session within a second or two.
	var list *pack.Pack
	if !eventually(5*time.Second, func() bool {
		list = mustCall(t, b, "EnumFarmMember")
		for i := range list.Count("Hostname") {
			if list.StrAt("Hostname", i) == "c" {
				return list.IntAt("NumSessions", i) == 1
			}
		}
		return false
	}) {
		t.Fatalf("EnumFarmMember on b never showed c's session: %v", list)
	}
	var idC uint32
	names := map[string]bool{}
	for i := range list.Count("Hostname") {
		name := list.StrAt("Hostname", i)
		names[name] = true
		if (list.IntAt("Controller", i) != 0) != (name == "b") {
			t.Errorf("member %s: Controller %d; only the node answering (b) is marked", name, list.IntAt("Controller", i))
		}
		if list.IPAt("Ip", i) != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("member %s: Ip %v", name, list.IPAt("Ip", i))
		}
		want := uint32(100000)
		if name == "c" {
			want, idC = 99999, list.IntAt("Id", i) // 100000 × (100000 − 1×100/100) / 100000 (Server.c:1954-1992)
			if list.IntAt("NumHubs", i) != 1 || list.IntAt("NumTcpConnections", i) != 1 {
				t.Errorf("member c: NumHubs %d NumTcpConnections %d, want 1 and 1", list.IntAt("NumHubs", i), list.IntAt("NumTcpConnections", i))
			}
		}
		if name == "probe" {
			continue
		}
		if got := list.IntAt("Point", i); got != want {
			t.Errorf("member %s: Point %d, want %d", name, got, want)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		if !names[n] {
			t.Errorf("EnumFarmMember lacks node %s: %v", n, names)
		}
	}

	// The Id listed by b names c on a too.
	info := mustCall(t, a, "GetFarmInfo", "Id", int(idC))
	if info.Str("Hostname") != "c" || info.Bool("Controller") || info.Int("NumSessions") != 1 || info.Int("Weight") != 100 {
		t.Errorf("GetFarmInfo(c) on a: %v", info)
	}
	if info.Count("HubName") != 1 || info.StrAt("HubName", 0) != "H" || info.IntAt("DynamicHub", 0) != 1 {
		t.Errorf("GetFarmInfo(c): hubs %v", info)
	}
	if info.Count("Ports") != 1 || string(info.Data("ServerCert")) != string(a.Control().Current().CertDER) {
		t.Errorf("GetFarmInfo(c): ports %d, the farm's certificate %v", info.Count("Ports"), len(info.Data("ServerCert")) > 0)
	}
	if _, err := adminCall(t, a, "GetFarmInfo", "Id", 12345); !errors.Is(err, vpnerr.ObjectNotFound) {
		t.Errorf("GetFarmInfo of no member: %v", err)
	}

	// The JSON-RPC shapes of Admin.c's OutRpcEnumFarm and OutRpcFarmInfo.
	for method, p := range map[string]*pack.Pack{"EnumFarmMember": list, "GetFarmInfo": info} {
		j, err := admin.MethodResultJSON(method, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range map[string][]string{
			"EnumFarmMember": {`"FarmMemberList":[{`, `"Controller_bool":`, `"ConnectedTime_dt":"20`, `"Ip_ip":"127.0.0.1"`, `"Hostname_str":"a"`},
			"GetFarmInfo":    {`"HubsList":[{"DynamicHub_bool":true,"HubName_str":"H"}]`, `"Ports_u32":[`, `"ServerCert_bin":"`, `"Controller_bool":false`},
		}[method] {
			if !strings.Contains(string(j), want) {
				t.Errorf("%s JSON lacks %s:\n%s", method, want, j)
			}
		}
	}

	st := mustCall(t, a, "GetFarmConnectionStatus")
	if !st.Bool("Online") || st.Int("NumTry") != 1 || st.Int("NumConnected") != 1 || st.Int("NumFailed") != 0 ||
		st.Int64("StartedTime") == 0 || st.Int64("CurrentConnectedTime") == 0 || st.Int64("FirstConnectedTime") == 0 || st.Int("Port") == 0 {
		t.Errorf("GetFarmConnectionStatus: %v", st)
	}
}

// Hub types: static and dynamic hubs are made and changed on any node and
// shown on all; SecureNAT is refused on a static hub, as SoftEther does.
func TestFarmHubTypes(t *testing.T) {
	nodes, _ := farmWithUser(t, config.HubDynamic)
	a, b := nodes[0], nodes[1]
	if _, err := adminCall(t, a, "CreateHub", "HubName", "S", "HubType", 0, "AdminPasswordPlainText", "x"); !errors.Is(err, vpnerr.InvalidParameter) {
		t.Errorf("CreateHub standalone in a farm: %v, want 38", err)
	}
	mustCall(t, a, "CreateHub", "HubName", "S", "HubType", 1, "AdminPasswordPlainText", "x", "Online", 1)
	mustCall(t, a, "CreateHub", "HubName", "D", "HubType", 2, "AdminPasswordPlainText", "x", "Online", 1)
	typeOn := func(srv *server.Server, hub string) uint32 {
		p, err := adminCall(t, srv, "GetHub", "HubName", hub)
		if err != nil {
			return 99
		}
		return p.Int("HubType")
	}
	if !eventually(2*time.Second, func() bool { return typeOn(b, "S") == 1 && typeOn(b, "D") == 2 }) {
		t.Fatalf("node b: S type %d, D type %d, want 1 and 2", typeOn(b, "S"), typeOn(b, "D"))
	}
	if _, err := adminCall(t, b, "EnableSecureNAT", "HubName", "S"); !errors.Is(err, vpnerr.NotSupported) {
		t.Errorf("SecureNAT on a static hub: %v, want 33", err)
	}
	mustCall(t, b, "EnableSecureNAT", "HubName", "D")
	// A dynamic hub with SecureNAT cannot become static.
	p := mustCall(t, a, "GetHub", "HubName", "D")
	p.AddInt("HubType", 1)
	if _, err := a.Dispatcher().Call(context.Background(), serverAdmin, "SetHub", p); !errors.Is(err, vpnerr.NotSupported) {
		t.Errorf("static with SecureNAT on: %v, want 33", err)
	}
	// The static hub becomes dynamic (vpncmd HubSetDynamic: GetHub, SetHub).
	p = mustCall(t, b, "GetHub", "HubName", "S")
	p.AddInt("HubType", 2)
	if _, err := b.Dispatcher().Call(context.Background(), serverAdmin, "SetHub", p); err != nil {
		t.Fatalf("HubSetDynamic: %v", err)
	}
	if !eventually(2*time.Second, func() bool { return typeOn(a, "S") == 2 }) {
		t.Errorf("node a: S type %d after HubSetDynamic on b, want 2", typeOn(a, "S"))
	}
	hubs := mustCall(t, a, "EnumHub")
	for i := range hubs.Count("HubName") {
		if want := map[string]uint32{"S": 2, "D": 2, "H": 2, "DEFAULT": 2}[hubs.StrAt("HubName", i)]; hubs.IntAt("HubType", i) != want {
			t.Errorf("EnumHub: %s type %d, want %d", hubs.StrAt("HubName", i), hubs.IntAt("HubType", i), want)
		}
	}
	// A hub admin may set its hub but not its type.
	hubAdmin := admin.Caller{Hub: "S", Remote: netip.MustParseAddr("127.0.0.1"), Via: "test"}
	p = mustCall(t, a, "GetHub", "HubName", "S")
	if _, err := a.Dispatcher().Call(context.Background(), hubAdmin, "SetHub", p); err != nil {
		t.Errorf("SetHub by its hub admin, same type: %v", err)
	}
	p.AddInt("HubType", 1)
	if _, err := a.Dispatcher().Call(context.Background(), hubAdmin, "SetHub", p); !errors.Is(err, vpnerr.NotEnoughRight) {
		t.Errorf("SetHub type by a hub admin: %v, want 52", err)
	}
}
