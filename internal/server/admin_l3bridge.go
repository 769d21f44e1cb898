package server

import (
	"net"
	"net/netip"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// The local bridge and virtual layer-3 switch methods. The bridges run in
// localbridge.go, the switches in l3.go.

// --- local bridges (docs/protocol/admin.md#local-bridges, docs/protocol/config.md#local-bridges) ---

func admAddLocalBridge(a *adminCall) (*pack.Pack, error) {
	b := config.LocalBridge{HubName: a.in.Str("HubNameLB"), DeviceName: a.in.Str("DeviceName"), TapMode: a.in.Bool("TapMode")}
	if err := a.s.ctl.AddLocalBridge(b); err != nil {
		return nil, err
	}
	a.s.log.Info("local bridge added", "hub", b.HubName, "device", b.DeviceName, "tap", b.TapMode)
	return echo(a.in), nil
}

func admDeleteLocalBridge(a *adminCall) (*pack.Pack, error) {
	hubName, device := a.in.Str("HubNameLB"), a.in.Str("DeviceName")
	if err := a.s.ctl.DeleteLocalBridge(hubName, device); err != nil {
		return nil, err
	}
	a.s.log.Info("local bridge deleted", "hub", hubName, "device", device)
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

func admAddL3Switch(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	if !validName(name, false) {
		return nil, vpnerr.InvalidParameter
	}
	return echoOr(a, a.s.ctl.AddL3Switch(name))
}

func admDelL3Switch(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.DelL3Switch(a.in.Str("Name")))
}

// admStartL3Switch marks the switch active and runs it; it comes online
// once all its hubs are online.
func admStartL3Switch(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.SetL3SwitchActive(a.in.Str("Name"), true))
}

func admStopL3Switch(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.SetL3SwitchActive(a.in.Str("Name"), false))
}

// echoOr answers a change method: err, or the request echoed.
func echoOr(a *adminCall, err error) (*pack.Pack, error) {
	if err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admEnumL3Switch(a *adminCall) (*pack.Pack, error) {
	var sws []config.L3Switch
	a.s.ctl.View(func(cur *config.Server) { sws = cur.L3Switches }) // published: never changed
	out := pack.New()
	out.AddInt("NumItem", uint32(len(sws)))
	l := newList(out)
	for _, sw := range sws {
		l.row()
		l.str("Name", sw.Name)
		l.int("NumInterfaces", uint32(len(sw.Interfaces)))
		l.int("NumTables", uint32(len(sw.Routes)))
		// Active is "started" (even while a hub is missing), as on SoftEther.
		l.bool("Active", sw.Active)
		l.bool("Online", a.s.l3Online(sw.Name))
	}
	l.done()
	return out, nil
}

func admAddL3If(a *adminCall) (*pack.Pack, error) {
	ip, mask := v4(a.in, "IpAddress"), v4(a.in, "SubnetMask")
	if !control.ValidHost(ip, mask) {
		return nil, vpnerr.InvalidParameter
	}
	x := config.L3Interface{HubName: a.in.Str("HubName"), IP: ip, Mask: mask}
	return echoOr(a, a.s.ctl.AddL3If(a.in.Str("Name"), x))
}

func admDelL3If(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.DelL3If(a.in.Str("Name"), a.in.Str("HubName")))
}

func admEnumL3If(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.L3Switch(a.in.Str("Name"), func(sw *config.L3Switch) error {
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
		return nil
	})
	if err != nil {
		return nil, err
	}
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
	bits := control.MaskLen(mask)
	if bits < 0 || netip.PrefixFrom(netw, bits).Masked().Addr() != netw || gw.IsUnspecified() || gw.IsMulticast() {
		return nil, vpnerr.InvalidParameter
	}
	route := config.L3Route{Network: netw, Mask: mask, Gateway: gw, Metric: a.in.Int("Metric")}
	return echoOr(a, a.s.ctl.AddL3Table(a.in.Str("Name"), route))
}

func admDelL3Table(a *adminCall) (*pack.Pack, error) {
	route := config.L3Route{Network: v4(a.in, "NetworkAddress"), Mask: v4(a.in, "SubnetMask"), Gateway: v4(a.in, "GatewayAddress")}
	return echoOr(a, a.s.ctl.DelL3Table(a.in.Str("Name"), route))
}

func admEnumL3Table(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.L3Switch(a.in.Str("Name"), func(sw *config.L3Switch) error {
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
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
