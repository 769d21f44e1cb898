package server

import (
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Settings that are stored in the configuration and returned as the spec
// says: the virtual layer-3 switch, the hub administration options (the
// admin methods check them, hubadmin.go applies them at login), the access
// lists and the local bridge list, which acl.go and localbridge.go put
// into effect. They are
// kept in the configuration tree itself (in the real server's folder
// layout, so the real vpnserver reads them) and every change is logged as
// not yet in effect where that matters for security.

// --- access lists (docs/protocol/admin.md#access-lists, docs/protocol/config.md#accounts-access-lists-and-cascades) ---

// value i of element name, whatever its type (nil if absent).
func valueAt(p *pack.Pack, name string, i int) (e pack.Element, ok bool) {
	e, ok = p.Lookup(name)
	return e, ok && i < e.Len()
}

func intAt(p *pack.Pack, name string, i int) uint32 {
	if e, ok := valueAt(p, name, i); ok && e.Type == pack.TypeInt {
		return uint32(e.Ints[i])
	}
	return 0
}

func dataAt(p *pack.Pack, name string, i int) []byte {
	if e, ok := valueAt(p, name, i); ok && e.Type == pack.TypeData {
		return e.Blobs[i]
	}
	return nil
}

func strAt(p *pack.Pack, name string, i int) string {
	if e, ok := valueAt(p, name, i); ok && (e.Type == pack.TypeStr || e.Type == pack.TypeUniStr) {
		return e.Strs[i]
	}
	return ""
}

// ip4At reads value i of an IP field (IPv4 INT form).
func ip4At(p *pack.Pack, name string, i int) netip.Addr {
	v := intAt(p, name, i)
	return netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}

// macAt reads value i of a MAC field; anything but 6 bytes is no MAC.
func macAt(p *pack.Pack, name string, i int) config.MAC {
	var m config.MAC
	if b := dataAt(p, name, i); len(b) == 6 {
		m = config.MAC(b)
	}
	return m
}

// accessAt reads rule i of an ACCESS (list) request. A rule carries the
// addresses of its family: the IP fields of an IPv4 rule, the DATA(16)
// "*6" fields of an IPv6 one.
func accessAt(p *pack.Pack, i int) config.Access {
	u := func(name string) uint32 { return intAt(p, name, i) }
	b := func(name string) bool { return intAt(p, name, i) != 0 }
	r := config.Access{
		Note: strAt(p, "Note", i), Active: b("Active"), Priority: u("Priority"), Discard: b("Discard"), IPv6: b("IsIPv6"),
		Protocol:     u("Protocol"),
		SrcPortStart: u("SrcPortStart"), SrcPortEnd: u("SrcPortEnd"), DstPortStart: u("DestPortStart"), DstPortEnd: u("DestPortEnd"),
		SrcUsername: strAt(p, "SrcUsername", i), DstUsername: strAt(p, "DestUsername", i),
		CheckSrcMAC: b("CheckSrcMac"), SrcMAC: macAt(p, "SrcMacAddress", i), SrcMACMask: macAt(p, "SrcMacMask", i),
		CheckDstMAC: b("CheckDstMac"), DstMAC: macAt(p, "DstMacAddress", i), DstMACMask: macAt(p, "DstMacMask", i),
		CheckTCPState: b("CheckTcpState"), Established: b("Established"), RedirectURL: strAt(p, "RedirectUrl", i),
		Delay: u("Delay"), Jitter: u("Jitter"), Loss: u("Loss"),
	}
	addr := func(name string) netip.Addr {
		if !r.IPv6 {
			return ip4At(p, name, i)
		}
		if d := dataAt(p, name+"6", i); len(d) == 16 {
			return netip.AddrFrom16([16]byte(d))
		}
		return netip.IPv6Unspecified()
	}
	r.SrcIP, r.SrcMask = addr("SrcIpAddress"), addr("SrcSubnetMask")
	r.DstIP, r.DstMask = addr("DestIpAddress"), addr("DestSubnetMask")
	return r
}

// accessRow adds one stored rule, numbered id, to a list. Both address
// forms are sent, those of the other family as SoftEther fills them.
func accessRow(l *list, r config.Access, id int) {
	v4 := func(a netip.Addr, mask bool) netip.Addr {
		switch {
		case r.IPv6 && mask:
			return netip.AddrFrom4([4]byte{255, 255, 255, 255})
		case r.IPv6:
			return netip.AddrFrom4([4]byte{223, 255, 255, 253}) // SoftEther's placeholder in IPv6 rules
		case !a.Is4():
			return netip.IPv4Unspecified()
		}
		return a
	}
	v6 := func(a netip.Addr) []byte {
		var b [16]byte
		if r.IPv6 && a.IsValid() {
			b = a.As16()
		}
		return b[:]
	}
	l.row()
	l.int("Id", uint32(id))
	l.int("UniqueId", r.UniqueID)
	l.uni("Note", r.Note)
	l.bool("Active", r.Active)
	l.int("Priority", r.Priority)
	l.bool("Discard", r.Discard)
	l.bool("IsIPv6", r.IPv6)
	l.ip("SrcIpAddress", v4(r.SrcIP, false))
	l.ip("SrcSubnetMask", v4(r.SrcMask, true))
	l.ip("DestIpAddress", v4(r.DstIP, false))
	l.ip("DestSubnetMask", v4(r.DstMask, true))
	l.data("SrcIpAddress6", v6(r.SrcIP))
	l.data("SrcSubnetMask6", v6(r.SrcMask))
	l.data("DestIpAddress6", v6(r.DstIP))
	l.data("DestSubnetMask6", v6(r.DstMask))
	l.int("Protocol", r.Protocol)
	l.int("SrcPortStart", r.SrcPortStart)
	l.int("SrcPortEnd", r.SrcPortEnd)
	l.int("DestPortStart", r.DstPortStart)
	l.int("DestPortEnd", r.DstPortEnd)
	l.str("SrcUsername", r.SrcUsername)
	l.str("DestUsername", r.DstUsername)
	l.bool("CheckSrcMac", r.CheckSrcMAC)
	l.data("SrcMacAddress", r.SrcMAC[:])
	l.data("SrcMacMask", r.SrcMACMask[:])
	l.bool("CheckDstMac", r.CheckDstMAC)
	l.data("DstMacAddress", r.DstMAC[:])
	l.data("DstMacMask", r.DstMACMask[:])
	l.bool("CheckTcpState", r.CheckTCPState)
	l.bool("Established", r.Established)
	l.str("RedirectUrl", r.RedirectURL)
	l.int("Delay", r.Delay)
	l.int("Jitter", r.Jitter)
	l.int("Loss", r.Loss)
}

func admAddAccess(a *adminCall) (*pack.Pack, error) {
	if err := a.s.ctl.AddAccess(a.actor(), a.hub, accessAt(a.in, 0), userLists{a.s}); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admDeleteAccess(a *adminCall) (*pack.Pack, error) {
	if err := a.s.ctl.DeleteAccess(a.actor(), a.hub, a.in.Int("Id")); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admEnumAccess(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		out.AddStr("HubName", h.Name)
		l := newList(out)
		for i, r := range h.AccessList {
			accessRow(l, r, i+1)
		}
		l.done()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func admSetAccessList(a *adminCall) (*pack.Pack, error) {
	n := a.in.Count("Protocol")
	if n > control.MaxAccessLists {
		return nil, vpnerr.TooManyAccessList // before reading them all
	}
	rules := make([]config.Access, n)
	for i := range rules {
		rules[i] = accessAt(a.in, i)
	}
	if err := a.s.ctl.SetAccessList(a.actor(), a.hub, rules, userLists{a.s}); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

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

// --- hub administration options (docs/protocol/admin.md#hub-admin-options) ---

func adminOptionsPack(hubName string, get func(string) uint32) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", hubName)
	out.AddInt("NumItem", uint32(len(control.HubAdminOptionNames)))
	l := newList(out)
	for _, n := range control.HubAdminOptionNames {
		l.row()
		l.str("Name", n)
		l.int("Value", get(n))
		l.uni("Descrption", n) // sic
	}
	l.done()
	return out
}

func admGetHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	var out *pack.Pack
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		out = adminOptionsPack(h.Name, h.AdminOption)
		return nil
	})
	return out, err
}

func admGetDefaultHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	return adminOptionsPack("", func(string) uint32 { return 0 }), nil
}

func admSetHubAdminOptions(a *adminCall) (*pack.Pack, error) {
	h, err := a.s.ctl.SetHubAdminOptions(a.actor(), a.hub, namedValues(a.in))
	if err != nil {
		return nil, err
	}
	return adminOptionsPack(h.Name, h.AdminOption), nil
}

// namedValues reads the Name and Value lists of an RPC_ADMIN_OPTION.
func namedValues(in *pack.Pack) []config.AdminOption {
	opts := make([]config.AdminOption, in.Count("Name"))
	for i := range opts {
		opts[i] = config.AdminOption{Name: in.StrAt("Name", i), Value: in.IntAt("Value", i)}
	}
	return opts
}
