package control

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// srvStore keeps the configuration as the text of a file; Save fails
// while fail is set.
type srvStore struct {
	text []byte
	fail bool
}

func (st *srvStore) Load() (*config.Folder, error) { return config.Parse(st.text) }

func (st *srvStore) Save(root *config.Folder) error {
	if st.fail {
		return errors.New("disk full")
	}
	st.text = root.Encode()
	return nil
}

// newSrvOwner is an owner of the default configuration with a hub HUB,
// saved to a srvStore.
func newSrvOwner(t *testing.T) (*Owner, *srvStore) {
	t.Helper()
	cfg := config.Default()
	cfg.Hubs = append(cfg.Hubs, config.NewHub("HUB"))
	st := &srvStore{}
	o := New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := o.Save(); err != nil {
		t.Fatal(err)
	}
	return o, st
}

// srvReloaded is the configuration a new owner would load from st.
func srvReloaded(t *testing.T, st *srvStore) *config.Server {
	t.Helper()
	root, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// srvRefused checks that op fails with want and publishes nothing.
func srvRefused(t *testing.T, o *Owner, want error, op func() error) {
	t.Helper()
	before := o.Current()
	if err := op(); !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if o.Current() != before {
		t.Fatal("a refused change published a new configuration")
	}
}

func TestL3SwitchOperations(t *testing.T) {
	o, st := newSrvOwner(t)
	ip, mask := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("255.255.255.0")
	route := config.L3Route{Network: netip.MustParseAddr("10.1.0.0"), Mask: mask, Gateway: netip.MustParseAddr("10.0.0.2"), Metric: 1}
	if err := o.AddL3Switch("sw"); err != nil {
		t.Fatal(err)
	}
	srvRefused(t, o, vpnerr.Layer3SwExists, func() error { return o.AddL3Switch("SW") })
	srvRefused(t, o, vpnerr.Layer3CantStartSwitch, func() error { return o.SetL3SwitchActive("sw", true) })
	srvRefused(t, o, vpnerr.Layer3SwNotFound, func() error { return o.AddL3If("nope", config.L3Interface{HubName: "HUB"}) })
	if err := o.AddL3If("sw", config.L3Interface{HubName: "HUB", IP: ip, Mask: mask}); err != nil {
		t.Fatal(err)
	}
	srvRefused(t, o, vpnerr.Layer3IfExists, func() error { return o.AddL3If("sw", config.L3Interface{HubName: "hub", IP: ip, Mask: mask}) })
	if err := o.AddL3Table("sw", route); err != nil {
		t.Fatal(err)
	}
	srvRefused(t, o, vpnerr.Layer3TableAddFailed, func() error { return o.AddL3Table("sw", route) })
	if err := o.SetL3SwitchActive("sw", true); err != nil {
		t.Fatal(err)
	}
	// a running switch keeps its interfaces and routes
	srvRefused(t, o, vpnerr.Layer3IfDelFailed, func() error { return o.DelL3If("sw", "HUB") })
	srvRefused(t, o, vpnerr.Layer3TableDelFailed, func() error { return o.DelL3Table("sw", route) })

	got := srvReloaded(t, st).L3Switches
	want := []config.L3Switch{{
		L3SwitchSettings: config.L3SwitchSettings{Name: "sw", Active: true},
		Interfaces:       []config.L3Interface{{HubName: "HUB", IP: ip, Mask: mask}},
		Routes:           []config.L3Route{route},
	}}
	if len(got) != 1 || !got[0].Equal(want[0]) {
		t.Fatalf("saved switches = %+v, want %+v", got, want)
	}

	// a failed save changes nothing
	st.fail = true
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
	st.fail = false

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
	srvRefused(t, o, vpnerr.Layer3SwNotFound, func() error { return o.DelL3Switch("sw") })
	if sw := srvReloaded(t, st).L3Switches; len(sw) != 0 {
		t.Fatalf("saved switches after deleting = %+v", sw)
	}
}

func TestLocalBridgeOperations(t *testing.T) {
	o, st := newSrvOwner(t)
	srvRefused(t, o, vpnerr.InvalidParameter, func() error { return o.AddLocalBridge(config.LocalBridge{HubName: "HUB"}) })
	if err := o.AddLocalBridge(config.LocalBridge{HubName: "HUB", DeviceName: "tap0", TapMode: true}); err != nil {
		t.Fatal(err)
	}
	if err := o.AddLocalBridge(config.LocalBridge{HubName: "hub", DeviceName: "TAP0"}); err != nil {
		t.Fatalf("adding the same pair again: %v", err)
	}
	got := srvReloaded(t, st).LocalBridges.List
	if len(got) != 1 || got[0].DeviceName != "tap0" || !got[0].TapMode || len(got[0].TapMAC) != 6 {
		t.Fatalf("saved bridges = %+v", got)
	}
	srvRefused(t, o, vpnerr.ObjectNotFound, func() error { return o.DeleteLocalBridge("HUB", "eth9") })

	st.fail = true
	before := o.Current()
	if err := o.DeleteLocalBridge("HUB", "tap0"); err == nil {
		t.Fatal("a change that could not be saved succeeded")
	}
	if len(o.Current().LocalBridges.List) != 1 || len(before.LocalBridges.List) != 1 {
		t.Fatal("a failed save removed the bridge")
	}
	st.fail = false
	if err := o.DeleteLocalBridge("HUB", "tap0"); err != nil {
		t.Fatal(err)
	}
	if len(srvReloaded(t, st).LocalBridges.List) != 0 {
		t.Fatal("the deleted bridge is still saved")
	}
}
