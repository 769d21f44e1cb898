package config

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
)

// Syslog is ServerConfiguration/SyslogSettings: where the server sends
// its logs by syslog (SoftEther Server.c, SiWriteSysLog). Comparable.
type Syslog struct {
	SaveType uint32 // 0 off, 1 server log, 2 + hub security logs, 3 + packet logs
	HostName string
	Port     uint32
}

// KeepConnect is the keep-alive of ServerConfiguration (UseKeepConnect,
// KeepConnectHost, ...): a packet sent now and then so that NAT mappings
// in front of the server stay open. Comparable.
type KeepConnect struct {
	Use      bool
	Host     string
	Port     uint32
	Protocol uint32 // 0 TCP, 1 UDP
	Interval uint32 // seconds
}

// ServerOptions are the ServerConfiguration items the server reads for its
// limits and housekeeping. Comparable.
type ServerOptions struct {
	DisableDosProtection            bool
	MaxConnectionsPerIP             uint32
	MaxUnestablishedConnections     uint32
	AutoDeleteCheckDiskFreeSpaceMin uint64 // bytes
	AutoDeleteCheckIntervalSecs     uint32
}

// sortL3 puts switches in the order the file keeps them (by name).
func sortL3(list []L3Switch) {
	slices.SortStableFunc(list, func(a, b L3Switch) int { return compareNames(a.Name, b.Name) })
}

// L3Switch is one virtual layer-3 switch (VirtualLayer3SwitchList/<name>,
// SoftEther Server.c, SiWriteL3Switchs). Equal compares it whole.
type L3Switch struct {
	L3SwitchSettings
	Interfaces []L3Interface // InterfaceList/Interface<n>
	Routes     []L3Route     // RoutingTable/Entry<n>
}

// L3SwitchSettings are the scalar settings of a layer-3 switch: new
// scalar fields go here, where == covers them.
type L3SwitchSettings struct {
	Name   string
	Active bool
}

// L3Interface is a switch's interface on a hub. Comparable.
type L3Interface struct {
	HubName  string
	IP, Mask netip.Addr // IpAddress, SubnetMask
}

// L3Route is one static route of a switch. Comparable.
type L3Route struct {
	Network, Mask, Gateway netip.Addr // NetworkAddress, SubnetMask, GatewayAddress
	Metric                 uint32
}

// SameDestination reports whether o routes the same network through the
// same gateway (whatever its metric): a switch holds one such route, as
// SoftEther's L3AddTable refuses a second.
func (r L3Route) SameDestination(o L3Route) bool {
	return r.Network == o.Network && r.Mask == o.Mask && r.Gateway == o.Gateway
}

// Equal reports whether two switches are the same: the comparable
// settings with ==, the lists element by element with ==. A new field
// must be scalar (in L3SwitchSettings) or a list of comparable values
// added here; TestEqualCoversEveryField checks that none is missed.
func (s L3Switch) Equal(o L3Switch) bool {
	return s.L3SwitchSettings == o.L3SwitchSettings &&
		slices.Equal(s.Interfaces, o.Interfaces) && slices.Equal(s.Routes, o.Routes)
}

// Clone returns a copy of s that shares no memory with it.
func (s L3Switch) Clone() L3Switch {
	s.Interfaces, s.Routes = slices.Clone(s.Interfaces), slices.Clone(s.Routes)
	return s
}

// Equal reports whether two local bridges have the same settings.
// TestEqualCoversEveryField checks that it covers every field.
func (b LocalBridge) Equal(o LocalBridge) bool {
	return bytes.Equal(b.TapMAC, o.TapMAC) && b.HubName == o.HubName && b.DeviceName == o.DeviceName &&
		b.NoPromiscuousMode == o.NoPromiscuousMode && b.MonitorMode == o.MonitorMode &&
		b.LimitBroadcast == o.LimitBroadcast && b.TapMode == o.TapMode
}

// Clone returns a copy of b that shares no memory with it.
func (b LocalBridge) Clone() LocalBridge {
	b.TapMAC = slices.Clone(b.TapMAC)
	return b
}

// Bridges is the LocalBridgeList folder. Equal compares it whole.
type Bridges struct {
	List                   []LocalBridge
	DoNotDisableOffloading bool
}

// Equal reports whether two bridge lists are the same, in order.
func (b Bridges) Equal(o Bridges) bool {
	return b.DoNotDisableOffloading == o.DoNotDisableOffloading && slices.EqualFunc(b.List, o.List, LocalBridge.Equal)
}

func (b Bridges) clone() Bridges {
	b.List = slices.Clone(b.List)
	for i := range b.List {
		b.List[i] = b.List[i].Clone()
	}
	return b
}

// serverParts are the snapshots behind Server.loaded (see hubParts).
type serverParts struct {
	syslog      Syslog
	keepConnect KeepConnect
	options     ServerOptions
	l3          []L3Switch
	bridges     Bridges
}

func readSyslog(sc *Folder) Syslog {
	f := sc.Folder("SyslogSettings")
	return Syslog{SaveType: f.GetUint("SaveType"), HostName: f.GetString("HostName"), Port: f.GetUint("Port")}
}

func (l Syslog) write(sc *Folder) {
	child(sc, "SyslogSettings", func(f *Folder) {
		putUint(f, "SaveType", l.SaveType)
		putString(f, "HostName", l.HostName)
		putUint(f, "Port", l.Port)
	})
}

func readKeepConnect(sc *Folder) KeepConnect {
	return KeepConnect{
		Use: sc.GetBool("UseKeepConnect"), Host: sc.GetString("KeepConnectHost"), Port: sc.GetUint("KeepConnectPort"),
		Protocol: sc.GetUint("KeepConnectProtocol"), Interval: sc.GetUint("KeepConnectInterval"),
	}
}

func (k KeepConnect) write(sc *Folder) {
	putBool(sc, "UseKeepConnect", k.Use)
	putString(sc, "KeepConnectHost", k.Host)
	putUint(sc, "KeepConnectPort", k.Port)
	putUint(sc, "KeepConnectProtocol", k.Protocol)
	putUint(sc, "KeepConnectInterval", k.Interval)
}

func readServerOptions(sc *Folder) ServerOptions {
	return ServerOptions{
		DisableDosProtection:            sc.GetBool("DisableDosProtection"),
		MaxConnectionsPerIP:             sc.GetUint("MaxConnectionsPerIP"),
		MaxUnestablishedConnections:     sc.GetUint("MaxUnestablishedConnections"),
		AutoDeleteCheckDiskFreeSpaceMin: sc.GetUint64("AutoDeleteCheckDiskFreeSpaceMin"),
		AutoDeleteCheckIntervalSecs:     sc.GetUint("AutoDeleteCheckIntervalSecs"),
	}
}

func (o ServerOptions) write(sc *Folder) {
	putBool(sc, "DisableDosProtection", o.DisableDosProtection)
	putUint(sc, "MaxConnectionsPerIP", o.MaxConnectionsPerIP)
	putUint(sc, "MaxUnestablishedConnections", o.MaxUnestablishedConnections)
	putUint64(sc, "AutoDeleteCheckDiskFreeSpaceMin", o.AutoDeleteCheckDiskFreeSpaceMin)
	putUint(sc, "AutoDeleteCheckIntervalSecs", o.AutoDeleteCheckIntervalSecs)
}

func readL3Switches(root *Folder) []L3Switch {
	var out []L3Switch
	for _, f := range root.Folder("VirtualLayer3SwitchList").subfolders() {
		sw := L3Switch{L3SwitchSettings: L3SwitchSettings{Name: f.Name, Active: f.GetBool("Active")}}
		for _, x := range inNumberOrder(f.Folder("InterfaceList"), "Interface") {
			sw.Interfaces = append(sw.Interfaces, L3Interface{
				HubName: x.GetString("HubName"), IP: getAddr(x, "IpAddress"), Mask: getAddr(x, "SubnetMask"),
			})
		}
		for _, x := range inNumberOrder(f.Folder("RoutingTable"), "Entry") {
			sw.Routes = append(sw.Routes, L3Route{
				Network: getAddr(x, "NetworkAddress"), Mask: getAddr(x, "SubnetMask"),
				Gateway: getAddr(x, "GatewayAddress"), Metric: x.GetUint("Metric"),
			})
		}
		out = append(out, sw)
	}
	sortL3(out)
	return out
}

// writeL3Switches makes VirtualLayer3SwitchList hold list. A switch keeps
// its folder (and what the model does not know in it); its interfaces
// and routes are rewritten as Interface<n> and Entry<n>, as SoftEther
// writes them.
func writeL3Switches(root *Folder, list []L3Switch) {
	child(root, "VirtualLayer3SwitchList", func(sl *Folder) {
		old := sl.Folders
		sl.Folders = make([]*Folder, 0, len(list))
		for _, sw := range list {
			var f *Folder
			for j, o := range old {
				if o != nil && strings.EqualFold(o.Name, sw.Name) {
					f, old[j] = o, nil
					break
				}
			}
			if f == nil {
				f = NewFolder(sw.Name)
				f.SetBool("Active", sw.Active)
			}
			f.Name = sw.Name
			putBool(f, "Active", sw.Active)
			il, rt := f.Ensure("InterfaceList"), f.Ensure("RoutingTable")
			il.Folders, rt.Folders = il.Folders[:0], rt.Folders[:0]
			for i, x := range sw.Interfaces {
				g := NewFolder(numbered("Interface", i))
				g.SetString("HubName", x.HubName)
				g.SetString("IpAddress", addrText(x.IP))
				g.SetString("SubnetMask", addrText(x.Mask))
				il.Folders = append(il.Folders, g)
			}
			for i, r := range sw.Routes {
				g := NewFolder(numbered("Entry", i))
				g.SetString("GatewayAddress", addrText(r.Gateway))
				g.SetUint("Metric", r.Metric)
				g.SetString("NetworkAddress", addrText(r.Network))
				g.SetString("SubnetMask", addrText(r.Mask))
				rt.Folders = append(rt.Folders, g)
			}
			sl.Folders = append(sl.Folders, f)
		}
	})
}

func cloneL3(list []L3Switch) []L3Switch {
	out := slices.Clone(list)
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out
}

// writeBridges makes LocalBridgeList hold b. A bridge keeps its folder
// (found by hub and device) and what the model does not know in it; a new
// one is called LocalBridge<n> with the first free n, as SoftEther names
// them.
func writeBridges(root *Folder, b Bridges) {
	child(root, "LocalBridgeList", func(bl *Folder) {
		putBool(bl, "DoNotDisableOffloading", b.DoNotDisableOffloading)
		old := bl.Folders
		bl.Folders = make([]*Folder, 0, len(b.List))
		for _, br := range b.List {
			var f *Folder
			for j, o := range old {
				if o != nil && strings.EqualFold(o.GetString("HubName"), br.HubName) && strings.EqualFold(o.GetString("DeviceName"), br.DeviceName) {
					f, old[j] = o, nil
					break
				}
			}
			if f == nil {
				f = NewFolder("")
				for _, n := range []string{"LimitBroadcast", "MonitorMode", "NoPromiscuousMode", "TapMode"} {
					f.SetBool(n, false)
				}
			}
			putString(f, "HubName", br.HubName)
			putString(f, "DeviceName", br.DeviceName)
			putBool(f, "NoPromiscuousMode", br.NoPromiscuousMode)
			putBool(f, "MonitorMode", br.MonitorMode)
			putBool(f, "LimitBroadcast", br.LimitBroadcast)
			putBool(f, "TapMode", br.TapMode)
			if br.TapMode && len(br.TapMAC) == 6 {
				putMAC(f, "TapMacAddress", br.TapMAC)
			}
			bl.Folders = append(bl.Folders, f)
		}
		// entries the reader skips (no hub or device name) stay as they were
		for _, o := range old {
			if o != nil && (o.GetString("HubName") == "" || o.GetString("DeviceName") == "") {
				bl.Folders = append(bl.Folders, o)
			}
		}
		// named by position, as SoftEther writes them (Server.c,
		// SiWriteLocalBridges), so that they read back in this order
		for i, f := range bl.Folders {
			f.Name = numbered("LocalBridge", i)
		}
	})
}
