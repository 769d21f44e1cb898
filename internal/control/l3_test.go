package control

import (
	"net/netip"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// serverOwner is an owner of the default configuration with a hub HUB,
// saved to the returned store.
func serverOwner(t *testing.T) (*Owner, *memStore) {
	t.Helper()
	cfg := config.Default()
	cfg.Hubs = append(cfg.Hubs, config.NewHub("HUB"))
	return ownerOf(t, cfg)
}

func TestL3SwitchOperations(t *testing.T) {
	o, st := serverOwner(t)
	ip, mask := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("255.255.255.0")
	route := config.L3Route{Network: netip.MustParseAddr("10.1.0.0"), Mask: mask, Gateway: netip.MustParseAddr("10.0.0.2"), Metric: 1}
	if err := o.AddL3Switch("sw"); err != nil {
		t.Fatal(err)
	}
	refused(t, o, vpnerr.Layer3SwExists, func() error { return o.AddL3Switch("SW") })
	refused(t, o, vpnerr.Layer3CantStartSwitch, func() error { return o.SetL3SwitchActive("sw", true) })
	refused(t, o, vpnerr.Layer3SwNotFound, func() error { return o.AddL3If("nope", config.L3Interface{HubName: "HUB"}) })
	if err := o.AddL3If("sw", config.L3Interface{HubName: "HUB", IP: ip, Mask: mask}); err != nil {
		t.Fatal(err)
	}
	refused(t, o, vpnerr.Layer3IfExists, func() error { return o.AddL3If("sw", config.L3Interface{HubName: "hub", IP: ip, Mask: mask}) })
	if err := o.AddL3Table("sw", route); err != nil {
		t.Fatal(err)
	}
	refused(t, o, vpnerr.Layer3TableAddFailed, func() error { return o.AddL3Table("sw", route) })
	if err := o.SetL3SwitchActive("sw", true); err != nil {
		t.Fatal(err)
	}
	// a running switch keeps its interfaces and routes
	refused(t, o, vpnerr.Layer3IfDelFailed, func() error { return o.DelL3If("sw", "HUB") })
	refused(t, o, vpnerr.Layer3TableDelFailed, func() error { return o.DelL3Table("sw", route) })

	got := loadStore(t, st).L3Switches
	want := []config.L3Switch{{
		L3SwitchSettings: config.L3SwitchSettings{Name: "sw", Active: true},
		Interfaces:       []config.L3Interface{{HubName: "HUB", IP: ip, Mask: mask}},
		Routes:           []config.L3Route{route},
	}}
	if len(got) != 1 || !got[0].Equal(want[0]) {
		t.Fatalf("saved switches = %+v, want %+v", got, want)
	}

	// a failed save changes nothing
	st.full = true
	before := o.Current()
	if err := o.SetL3SwitchActive("sw", false); err == nil {
		t.Fatal("a change that could not be saved succeeded")
	}
	if sw := o.Current().L3Switches; len(sw) != 1 || !sw[0].Active {
		t.Fatalf("after a failed save the switch is %+v", sw)
	}
	if !before.L3Switches[0].Active {
		t.Fatal("the published configuration was changed in place")
	}
	st.full = false

	if err := o.SetL3SwitchActive("sw", false); err != nil {
		t.Fatal(err)
	}
	if !before.L3Switches[0].Active {
		t.Fatal("a change changed the configuration published before it in place")
	}
	for _, op := range []func() error{
		func() error { return o.DelL3Table("sw", route) },
		func() error { return o.DelL3If("sw", "hub") },
		func() error { return o.DelL3Switch("SW") },
	} {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	refused(t, o, vpnerr.Layer3SwNotFound, func() error { return o.DelL3Switch("sw") })
	if sw := loadStore(t, st).L3Switches; len(sw) != 0 {
		t.Fatalf("saved switches after deleting = %+v", sw)
	}
}

func TestLocalBridgeOperations(t *testing.T) {
	o, st := serverOwner(t)
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.AddLocalBridge(config.LocalBridge{HubName: "HUB"}) })
	if err := o.AddLocalBridge(config.LocalBridge{HubName: "HUB", DeviceName: "tap0", TapMode: true}); err != nil {
		t.Fatal(err)
	}
	if err := o.AddLocalBridge(config.LocalBridge{HubName: "hub", DeviceName: "TAP0"}); err != nil {
		t.Fatalf("adding the same pair again: %v", err)
	}
	got := loadStore(t, st).LocalBridges.List
	if len(got) != 1 || got[0].DeviceName != "tap0" || !got[0].TapMode || len(got[0].TapMAC) != 6 {
		t.Fatalf("saved bridges = %+v", got)
	}
	refused(t, o, vpnerr.ObjectNotFound, func() error { return o.DeleteLocalBridge("HUB", "eth9") })

	st.full = true
	before := o.Current()
	if err := o.DeleteLocalBridge("HUB", "tap0"); err == nil {
		t.Fatal("a change that could not be saved succeeded")
	}
	if len(o.Current().LocalBridges.List) != 1 || len(before.LocalBridges.List) != 1 {
		t.Fatal("a failed save removed the bridge")
	}
	st.full = false
	if err := o.DeleteLocalBridge("HUB", "tap0"); err != nil {
		t.Fatal(err)
	}
	if len(loadStore(t, st).LocalBridges.List) != 0 {
		t.Fatal("the deleted bridge is still saved")
	}
}
