package server

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// The local bridge and virtual layer-3 switch methods. The bridges run in
// localbridge.go, the switches in l3.go.

// --- local bridges (docs/protocol/admin.md#local-bridges, docs/protocol/config.md#local-bridges) ---

// findBridge is the index of the hub's bridge to device in list, or -1.
func findBridge(list []config.LocalBridge, hubName, device string) int {
	return slices.IndexFunc(list, func(b config.LocalBridge) bool {
		return strings.EqualFold(b.HubName, hubName) && strings.EqualFold(b.DeviceName, device)
	})
}

func admAddLocalBridge(a *adminCall) (*pack.Pack, error) {
	device, hubName := a.in.Str("DeviceName"), a.in.Str("HubNameLB")
	if device == "" || hubName == "" {
		return nil, vpnerr.InvalidParameter
	}
	s := a.s
	a.lock()
	bl := &s.cfg.LocalBridges
	if findBridge(bl.List, hubName, device) >= 0 {
		a.unlock()
		return echo(a.in), nil // as SoftEther: adding the same pair again is a no-op
	}
	b := config.LocalBridge{HubName: hubName, DeviceName: device, TapMode: a.in.Bool("TapMode")}
	if b.TapMode {
		b.TapMAC = config.DefaultSecureNAT().MAC // 00:AC + random, as our other virtual MACs
	}
	bl.List = append(bl.List, b)
	a.unlock()
	s.ApplyLocalBridges()
	s.log.Info("local bridge added", "hub", hubName, "device", device, "tap", b.TapMode)
	return echo(a.in), nil
}

func admDeleteLocalBridge(a *adminCall) (*pack.Pack, error) {
	device, hubName := a.in.Str("DeviceName"), a.in.Str("HubNameLB")
	if device == "" || hubName == "" {
		return nil, vpnerr.InvalidParameter
	}
	s := a.s
	a.lock()
	bl := &s.cfg.LocalBridges
	i := findBridge(bl.List, hubName, device)
	if i < 0 {
		a.unlock()
		return nil, vpnerr.ObjectNotFound
	}
	bl.List = slices.Delete(bl.List, i, i+1)
	a.unlock()
	s.ApplyLocalBridges() // stops it (a TAP the server made disappears)
	s.log.Info("local bridge deleted", "hub", hubName, "device", device)
	return echo(a.in), nil
}

// admEnumLocalBridge lists the configured bridges with their state from
// the running ones: Online = running (the server serves and the hub
// exists), Active = the device is open and attached to the hub.
func admEnumLocalBridge(a *adminCall) (*pack.Pack, error) {
	bridges := a.s.LocalBridges()
	out := pack.New()
	out.AddInt("NumItem", uint32(len(bridges)))
	l := newList(out)
	for _, b := range bridges {
		l.row()
		l.str("DeviceName", b.DeviceName)
		l.str("HubNameLB", b.HubName)
		l.bool("Online", b.Session != "")
		l.bool("Active", b.Active)
		l.bool("TapMode", b.TapMode)
	}
	l.done()
	return out, nil
}

func admEnumEthernet(a *adminCall) (*pack.Pack, error) {
	ifs, _ := net.Interfaces()
	out := pack.New()
	l := newList(out)
	n := 0
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || len(i.HardwareAddr) != 6 {
			continue
		}
		n++
		l.row()
		l.str("DeviceName", i.Name)
		l.uni("NetworkConnectionName", i.Name)
	}
	out.AddInt("NumItem", uint32(n))
	l.done()
	return out, nil
}

func admGetBridgeSupport(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	out.AddBool("IsBridgeSupportedOs", true)
	out.AddBool("IsWinPcapNeeded", false)
	return out, nil
}

// --- virtual layer-3 switch (docs/protocol/admin.md#layer-3-switches, docs/protocol/config.md#layer-3-switches) ---

// l3Locked returns the named switch of the model, or nil; the caller holds
// s.mu and may change it in place.
func (s *Server) l3Locked(name string) *config.L3Switch {
	i := slices.IndexFunc(s.cfg.L3Switches, func(sw config.L3Switch) bool { return strings.EqualFold(sw.Name, name) })
	if i < 0 {
		return nil
	}
	return &s.cfg.L3Switches[i]
}

func admAddL3Switch(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	if !validName(name, false) {
		return nil, vpnerr.InvalidParameter
	}
	s := a.s
	a.lock()
	defer a.unlock()
	if s.l3Locked(name) != nil {
		return nil, vpnerr.Layer3SwExists
	}
	s.cfg.L3Switches = append(s.cfg.L3Switches, config.L3Switch{L3SwitchSettings: config.L3SwitchSettings{Name: name}})
	return echo(a.in), nil
}

func admDelL3Switch(a *adminCall) (*pack.Pack, error) {
	s := a.s
	a.lock()
	n := len(s.cfg.L3Switches)
	s.cfg.L3Switches = slices.DeleteFunc(s.cfg.L3Switches, func(sw config.L3Switch) bool { return strings.EqualFold(sw.Name, a.in.Str("Name")) })
	found := len(s.cfg.L3Switches) < n
	a.unlock()
	if !found {
		return nil, vpnerr.Layer3SwNotFound
	}
	s.ApplyL3Switches() // stops it
	return echo(a.in), nil
}

// admStartL3Switch marks the switch active and runs it; it comes online
// once all its hubs are online.
func admStartL3Switch(a *adminCall) (*pack.Pack, error) {
	s := a.s
	a.lock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		a.unlock()
		return nil, vpnerr.Layer3SwNotFound
	}
	if len(sw.Interfaces) == 0 {
		a.unlock()
		return nil, vpnerr.Layer3CantStartSwitch
	}
	sw.Active = true
	a.unlock()
	s.ApplyL3Switches()
	return echo(a.in), nil
}

func admStopL3Switch(a *adminCall) (*pack.Pack, error) {
	s := a.s
	a.lock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		a.unlock()
		return nil, vpnerr.Layer3SwNotFound
	}
	sw.Active = false
	a.unlock()
	s.ApplyL3Switches()
	return echo(a.in), nil
}

func admEnumL3Switch(a *adminCall) (*pack.Pack, error) {
	s := a.s
	a.lock()
	defer a.unlock()
	out := pack.New()
	sws := s.cfg.L3Switches
	out.AddInt("NumItem", uint32(len(sws)))
	l := newList(out)
	for _, sw := range sws {
		l.row()
		l.str("Name", sw.Name)
		l.int("NumInterfaces", uint32(len(sw.Interfaces)))
		l.int("NumTables", uint32(len(sw.Routes)))
		// Active is "started" (even while a hub is missing), as on SoftEther.
		l.bool("Active", sw.Active)
		l.bool("Online", s.l3Online(sw.Name))
	}
	l.done()
	return out, nil
}

func admAddL3If(a *adminCall) (*pack.Pack, error) {
	ip, mask := v4(a.in, "IpAddress"), v4(a.in, "SubnetMask")
	if !validHost(ip, mask) {
		return nil, vpnerr.InvalidParameter
	}
	hubName := a.in.Str("HubName")
	s := a.s
	a.lock()
	defer a.unlock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		return nil, vpnerr.Layer3SwNotFound
	}
	if hubName == "" || sw.Active { // changed only while stopped (docs/protocol/hub.md#layer-3-switch)
		return nil, vpnerr.Layer3IfAddFailed
	}
	if slices.ContainsFunc(sw.Interfaces, func(x config.L3Interface) bool { return strings.EqualFold(x.HubName, hubName) }) {
		return nil, vpnerr.Layer3IfExists
	}
	sw.Interfaces = append(sw.Interfaces, config.L3Interface{HubName: hubName, IP: ip, Mask: mask})
	return echo(a.in), nil
}

func admDelL3If(a *adminCall) (*pack.Pack, error) {
	s := a.s
	a.lock()
	defer a.unlock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		return nil, vpnerr.Layer3SwNotFound
	}
	i := slices.IndexFunc(sw.Interfaces, func(x config.L3Interface) bool { return strings.EqualFold(x.HubName, a.in.Str("HubName")) })
	if i < 0 || sw.Active {
		return nil, vpnerr.Layer3IfDelFailed
	}
	sw.Interfaces = slices.Delete(sw.Interfaces, i, i+1)
	return echo(a.in), nil
}

func admEnumL3If(a *adminCall) (*pack.Pack, error) {
	s := a.s
	a.lock()
	defer a.unlock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		return nil, vpnerr.Layer3SwNotFound
	}
	out := pack.New()
	out.AddStr("Name", sw.Name)
	out.AddInt("NumItem", uint32(len(sw.Interfaces)))
	l := newList(out)
	for _, x := range sw.Interfaces {
		l.row()
		l.str("HubName", x.HubName)
		l.ip("IpAddress", orV4Zero(x.IP))
		l.ip("SubnetMask", orV4Zero(x.Mask))
	}
	l.done()
	return out, nil
}

// orV4Zero is a, or 0.0.0.0 when a is not an IPv4 address (an item that
// was missing or did not parse).
func orV4Zero(a netip.Addr) netip.Addr {
	if !a.Is4() {
		return netip.IPv4Unspecified()
	}
	return a
}

func admAddL3Table(a *adminCall) (*pack.Pack, error) {
	netw, mask, gw := v4(a.in, "NetworkAddress"), v4(a.in, "SubnetMask"), v4(a.in, "GatewayAddress")
	bits := maskBits(mask)
	if bits < 0 || netip.PrefixFrom(netw, bits).Masked().Addr() != netw || gw.IsUnspecified() || gw.IsMulticast() {
		return nil, vpnerr.InvalidParameter
	}
	s := a.s
	a.lock()
	defer a.unlock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		return nil, vpnerr.Layer3SwNotFound
	}
	route := config.L3Route{Network: netw, Mask: mask, Gateway: gw, Metric: a.in.Int("Metric")}
	if slices.ContainsFunc(sw.Routes, route.SameDestination) || sw.Active {
		return nil, vpnerr.Layer3TableAddFailed
	}
	sw.Routes = append(sw.Routes, route)
	return echo(a.in), nil
}

func admDelL3Table(a *adminCall) (*pack.Pack, error) {
	route := config.L3Route{Network: v4(a.in, "NetworkAddress"), Mask: v4(a.in, "SubnetMask"), Gateway: v4(a.in, "GatewayAddress")}
	s := a.s
	a.lock()
	defer a.unlock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		return nil, vpnerr.Layer3SwNotFound
	}
	i := slices.IndexFunc(sw.Routes, route.SameDestination)
	if i < 0 || sw.Active {
		return nil, vpnerr.Layer3TableDelFailed
	}
	sw.Routes = slices.Delete(sw.Routes, i, i+1)
	return echo(a.in), nil
}

func admEnumL3Table(a *adminCall) (*pack.Pack, error) {
	s := a.s
	a.lock()
	defer a.unlock()
	sw := s.l3Locked(a.in.Str("Name"))
	if sw == nil {
		return nil, vpnerr.Layer3SwNotFound
	}
	out := pack.New()
	out.AddStr("Name", sw.Name)
	out.AddInt("NumItem", uint32(len(sw.Routes)))
	l := newList(out)
	for _, r := range sw.Routes {
		l.row()
		l.ip("NetworkAddress", orV4Zero(r.Network))
		l.ip("SubnetMask", orV4Zero(r.Mask))
		l.ip("GatewayAddress", orV4Zero(r.Gateway))
		l.int("Metric", r.Metric)
	}
	l.done()
	return out, nil
}
