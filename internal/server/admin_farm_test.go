package server

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"testing"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// A standalone server answers the farm methods as SoftEther's standalone
// server does (Admin.c): GetFarmSetting says standalone, the member list
// and member info are the controller's (46), the connection status a
// member's (55), SetFarmSetting is refused, and hubs are standalone only.
func TestFarmMethodsStandalone(t *testing.T) {
	_, d, _ := openAdmin(t)
	p := call(t, d, serverAdm, "GetFarmSetting", params())
	if p.Int("ServerType") != 0 || p.Int("Weight") != 100 || p.Bool("ControllerOnly") || p.Count("Ports") != 0 {
		t.Errorf("GetFarmSetting: %v", p)
	}
	if !p.Has("PublicIp@ipv6_bool") || !p.Has("MemberPassword") {
		t.Errorf("GetFarmSetting lacks RPC_FARM's elements: %v", p)
	}
	if p := call(t, d, serverAdm, "GetServerInfo", params()); p.Int("ServerType") != 0 {
		t.Errorf("GetServerInfo ServerType %d", p.Int("ServerType"))
	}
	for method, want := range map[string]vpnerr.Error{
		"EnumFarmMember": vpnerr.NotFarmController, "GetFarmInfo": vpnerr.NotFarmController,
		"GetFarmConnectionStatus": vpnerr.NotFarmMember, "SetFarmSetting": vpnerr.NotSupported,
	} {
		if _, err := d.Call(context.Background(), serverAdm, method, params("ServerType", 1)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", method, err, want)
		}
	}
	if _, err := d.Call(context.Background(), hubAdm("DEFAULT"), "SetFarmSetting", params()); !errors.Is(err, vpnerr.NotEnoughRight) {
		t.Errorf("SetFarmSetting by a hub admin: %v", err)
	}
	for _, typ := range []int{1, 2, 3} {
		if _, err := d.Call(context.Background(), serverAdm, "CreateHub", params("HubName", "X", "HubType", typ, "AdminPasswordPlainText", "x")); !errors.Is(err, vpnerr.InvalidParameter) {
			t.Errorf("CreateHub type %d on a standalone server: %v", typ, err)
		}
		if _, err := d.Call(context.Background(), serverAdm, "SetHub", params("HubName", "DEFAULT", "HubType", typ)); !errors.Is(err, vpnerr.InvalidParameter) {
			t.Errorf("SetHub type %d on a standalone server: %v", typ, err)
		}
	}
	if p := call(t, d, serverAdm, "GetHub", params("HubName", "DEFAULT")); p.Int("HubType") != 0 {
		t.Errorf("GetHub HubType %d", p.Int("HubType"))
	}
}

func TestMemberIDStable(t *testing.T) {
	if memberID("node-a") != memberID("node-a") || memberID("node-a") == memberID("node-b") || memberID("") == 0 {
		t.Error("member ids are not a stable, distinct, non-zero hash of the name")
	}
}

func TestEndpointAddr(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.5:2379": "10.0.0.5:2379", "https://10.0.0.6:23790": "10.0.0.6:23790",
		"10.0.0.7:2379": "10.0.0.7:2379", "http://etcd.example:2379": "0.0.0.0:2379",
		"http://[::1]:2379": "::1:2379", "10.0.0.8": "10.0.0.8:2379",
	} {
		ip, port := endpointAddr([]string{in})
		if got := ip.String() + ":" + strconv.FormatUint(uint64(port), 10); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if ip, port := endpointAddr(nil); ip != netip.IPv4Unspecified() || port != 0 {
		t.Errorf("no endpoint: %v %d", ip, port)
	}
}
