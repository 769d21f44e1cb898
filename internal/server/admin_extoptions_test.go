package server

import (
	"path/filepath"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// extValue returns the value of option name in a GetHubExtOptions answer.
func extValue(t *testing.T, out interface {
	Count(string) int
	StrAt(string, int) string
	IntAt(string, int) uint32
}, name string) uint32 {
	t.Helper()
	for i := range out.Count("Name") {
		if out.StrAt("Name", i) == name {
			return out.IntAt("Value", i)
		}
	}
	t.Fatalf("option %s not listed", name)
	return 0
}

func TestAdminHubExtOptions(t *testing.T) {
	s, d, dir := openAdmin(t)
	out := call(t, d, serverAdm, "GetHubExtOptions", params("HubName", "DEFAULT"))
	if n := out.Count("Name"); n != len(extOptions) || out.Int("NumItem") != uint32(n) {
		t.Fatalf("%d options listed (NumItem %d), want %d", n, out.Int("NumItem"), len(extOptions))
	}
	// A new hub's values, including the two renamed items and the hex one.
	for name, want := range map[string]uint32{
		"NoAddressPollingIPv4": 0, "ManageOnlyPrivateIP": 1, "FilterIPv6": 0,
		"VlanTypeId": 0x8100, "FloodingSendQueueBufferQuota": 33554432,
	} {
		if got := extValue(t, out, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}

	out = call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT",
		"Name", "FilterIPv6", "Value", 1))
	if extValue(t, out, "FilterIPv6") != 1 {
		t.Fatal("SetHubExtOptions did not answer the new value")
	}
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "VlanTypeId", "Value", 0x88a8))
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "NoAddressPollingIPv4", "Value", 1))
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "NoSuchOption", "Value", 1))
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "ManageOnlyPrivateIP", "Value", 0))
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "BroadcastStormDetectionThreshold", "Value", 100))
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "NoMacAddressLog", "Value", 0))
	if got := s.LookupHub("DEFAULT").Options().Filters; got != (hub.Filters{IPv6: true}) {
		t.Errorf("filters in effect: %+v, want IPv6 only", got)
	}
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "ManageOnlyPrivateIP", "Value", 0))
	if s.LookupHub("DEFAULT").Options().ManageOnlyPrivateIP {
		t.Error("ManageOnlyPrivateIP 0 did not take effect at once")
	}

	// A hub admin may, until the server admin forbids it.
	ha := hubAdm("DEFAULT")
	call(t, d, ha, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "FilterPPPoE", "Value", 1))
	call(t, d, serverAdm, "SetHubAdminOptions", params("HubName", "DEFAULT", "Name", "deny_hub_admin_change_ext_option", "Value", 1))
	wantCode(t, d, ha, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "FilterPPPoE", "Value", 0), vpnerr.NotEnoughRight)
	if extValue(t, call(t, d, ha, "GetHubExtOptions", params("HubName", "DEFAULT")), "FilterPPPoE") != 1 {
		t.Error("a refused change was applied")
	}

	// On disk as the real server writes them.
	call(t, d, serverAdm, "Flush", params())
	root, err := config.Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	opt := root.Folder("VirtualHUB").Folder("DEFAULT").Folder("Option")
	if !opt.GetBool("FilterIPv6") || !opt.GetBool("FilterPPPoE") || !opt.GetBool("NoArpPolling") || opt.GetString("VlanTypeId") != "0x88a8" {
		t.Errorf("Option folder on disk: %+v", opt)
	}

	// And the filters are back in effect after a restart.
	s2, err := Open(dir, s.log)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.LookupHub("DEFAULT").Options().Filters; got != (hub.Filters{IPv6: true, PPPoE: true}) {
		t.Errorf("filters after a restart: %+v", got)
	}
	// The other data-path options take effect when the hub starts.
	if o := s2.LookupHub("DEFAULT").Options(); o.ManageOnlyPrivateIP || o.StormThreshold != 100 || !o.LogNewMACs ||
		o.VLANTypeID != 0x88a8 || o.PrivacyPassBroadcasts {
		t.Errorf("hub options after a restart: %+v", o)
	}
}
