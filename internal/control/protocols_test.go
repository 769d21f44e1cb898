package control

import (
	"slices"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestPortsUDPOperation(t *testing.T) {
	o, st := serverOwner(t)
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.SetPortsUDP([]uint32{1194, 0}) })
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.SetPortsUDP([]uint32{65536}) })
	if err := o.SetPortsUDP([]uint32{5555, 1194, 5555}); err != nil {
		t.Fatal(err)
	}
	if got := o.Current().PortsUDP; !slices.Equal(got, []uint16{5555, 1194}) {
		t.Fatalf("PortsUDP %v, want the order given", got)
	}
	if got := loadStore(t, st).PortsUDP; !slices.Equal(got, []uint16{1194, 5555}) { // read back sorted, as SoftEther
		t.Fatalf("saved PortsUDP %v", got)
	}
	if err := o.SetPortsUDP(nil); err != nil {
		t.Fatal(err)
	}
	if got := loadStore(t, st).PortsUDP; len(got) != 0 {
		t.Fatalf("saved PortsUDP %v, want none", got)
	}
}

func TestProtoOptionOperations(t *testing.T) {
	o, st := serverOwner(t)
	name, list, err := ProtoOptionList(o.Current().Proto, "openvpn")
	if err != nil || name != "OpenVPN" || len(list) != 7 {
		t.Fatalf("ProtoOptionList = %q %+v %v", name, list, err)
	}
	if list[1] != (ProtoOption{Name: "Enabled", Type: config.OptionBool, Bool: true}) ||
		list[6] != (ProtoOption{Name: "Timeout", Type: config.OptionUint32, Uint: 30000}) ||
		list[0].Type != config.OptionString || list[0].Str == "" {
		t.Fatalf("OpenVPN options %+v", list)
	}
	if _, _, err := ProtoOptionList(o.Current().Proto, "IPsec"); err != vpnerr.InvalidParameter {
		t.Fatalf("unknown protocol: %v", err)
	}
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.SetProtoOptions("PPTP", nil) })
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.SetProtoOptions("OpenVPN", []ProtoOption{{Name: "Timeout", Type: config.OptionUint32, Uint: 5}, {Name: "Nope", Type: config.OptionBool}})
	})
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.SetProtoOptions("OpenVPN", []ProtoOption{{Name: "Timeout", Type: config.OptionString, Str: "5"}})
	})
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.SetProtoOptions("WireGuard", []ProtoOption{{Name: "PrivateKey", Type: config.OptionString, Str: "not a key"}})
	})
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.SetProtoOptions("WireGuard", []ProtoOption{{Name: "PresharedKey", Type: config.OptionString, Str: "c2hvcnQ="}})
	})
	if err := o.SetProtoOptions("openvpn", []ProtoOption{
		{Name: "timeout", Type: config.OptionUint32, Uint: 12345},
		{Name: "Obfuscation", Type: config.OptionBool, Bool: true},
		{Name: "ObfuscationMask", Type: config.OptionString, Str: "m"},
	}); err != nil {
		t.Fatal(err)
	}
	psk := "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
	if err := o.SetProtoOptions("WireGuard", []ProtoOption{{Name: "PresharedKey", Type: config.OptionString, Str: psk}}); err != nil {
		t.Fatal(err)
	}
	if err := o.SetOpenVpnSstp(false, true); err != nil {
		t.Fatal(err)
	}
	back := loadStore(t, st).Proto
	want := config.DefaultProtoOptions()
	want.OpenVPN.Timeout, want.OpenVPN.Obfuscation, want.OpenVPN.ObfuscationMask, want.OpenVPN.Enabled = 12345, true, "m", false
	want.WireGuard.PresharedKey = psk
	if back != want {
		t.Fatalf("saved %+v\nwant %+v", back, want)
	}
	if err := o.SetOpenVpnSstp(true, false); err != nil {
		t.Fatal(err)
	}
	if p := loadStore(t, st).Proto; !p.OpenVPN.Enabled || p.SSTP.Enabled {
		t.Fatalf("OpenVPN/SSTP %+v", p)
	}
}

func TestWireGuardKeyOperations(t *testing.T) {
	o, st := serverOwner(t)
	k1 := config.WireGuardKey{Key: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", Hub: "HUB", User: "alice"}
	k2 := config.WireGuardKey{Key: "2c8Ftd6C1ev9lTvsYnxQUEQ1kbpxiM3wcNWtOFNnmGk=", Hub: "DEFAULT", User: "bob"}
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.AddWireGuardKeys([]config.WireGuardKey{{Key: ""}}) })
	refused(t, o, vpnerr.InvalidParameter, func() error { return o.AddWireGuardKeys([]config.WireGuardKey{k1, {Key: "bad"}}) })
	refused(t, o, vpnerr.ObjectExists, func() error { return o.AddWireGuardKeys([]config.WireGuardKey{k1, k1}) })
	if err := o.AddWireGuardKeys([]config.WireGuardKey{k1, k2}); err != nil {
		t.Fatal(err)
	}
	refused(t, o, vpnerr.ObjectExists, func() error { return o.AddWireGuardKeys([]config.WireGuardKey{k2}) })
	if got := loadStore(t, st).WireGuardKeys; !slices.Equal(got, []config.WireGuardKey{k2, k1}) { // by key
		t.Fatalf("saved keys %+v", got)
	}
	refused(t, o, vpnerr.ObjectNotFound, func() error { return o.DeleteWireGuardKeys([]string{k1.Key, "nope"}) })
	if err := o.DeleteWireGuardKeys([]string{k1.Key}); err != nil {
		t.Fatal(err)
	}
	if got := loadStore(t, st).WireGuardKeys; !slices.Equal(got, []config.WireGuardKey{k2}) {
		t.Fatalf("saved keys after delete %+v", got)
	}
}

// The port and protocol of a client configuration file, as SoftEther's
// StMakeOpenVpnConfigFile chooses them.
func TestOpenVPNClientEndpoint(t *testing.T) {
	open := func(ports ...uint16) func(uint16) bool {
		return func(p uint16) bool { return slices.Contains(ports, p) }
	}
	ls := []config.Listener{{Port: 443, Enabled: false}, {Port: 992, Enabled: true}, {Port: 5555, Enabled: true}}
	for _, c := range []struct {
		udp   []uint16
		open  func(uint16) bool
		proto string
		port  uint16
	}{
		{[]uint16{443, 992, 1194, 5555}, open(992), "udp", 1194},
		{[]uint16{5555, 992}, open(992), "udp", 5555},
		{nil, open(443, 992, 5555), "tcp", 992}, // 443 is disabled
		{nil, open(443, 5555), "tcp", 5555},     // 992 failed to open
		{nil, open(), "udp", 1194},
	} {
		s := &config.Server{PortsUDP: c.udp, Listeners: ls}
		if proto, port := OpenVPNClientEndpoint(s, c.open); proto != c.proto || port != c.port {
			t.Errorf("PortsUDP %v: got %s %d, want %s %d", c.udp, proto, port, c.proto, c.port)
		}
	}
}
