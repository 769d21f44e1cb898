package server

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/openvpn"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Administration of the native protocols (OpenVPN, SSTP, WireGuard): the
// PACK shapes of SoftEther Admin.c (InRpcPorts, InRpcProtoOptions,
// InOpenVpnSstpConfig, InRpcWgk and their Out functions), translated to
// the operations of internal/control.

// admGetPortsUDP answers the UDP ports (RPC_PORTS: Ports[]).
func admGetPortsUDP(a *adminCall) (*pack.Pack, error) {
	var ports []uint32
	a.s.ctl.View(func(cur *config.Server) {
		for _, p := range cur.PortsUDP {
			ports = append(ports, uint32(p))
		}
	})
	out := pack.New()
	out.AddInts("Ports", ports) // none: no element, as SoftEther's OutRpcPorts
	return out, nil
}

// admSetPortsUDP sets the UDP ports.
func admSetPortsUDP(a *adminCall) (*pack.Pack, error) {
	ports := make([]uint32, a.in.Count("Ports"))
	for i := range ports {
		ports[i] = a.in.IntAt("Ports", i)
	}
	return echoOr(a, a.s.ctl.SetPortsUDP(ports))
}

// encodeProtoValue is an option's Value as SoftEther sends it (Admin.c,
// OutRpcProtoOptions, which copies the value's memory): a string with its
// trailing NUL, a uint32 as four bytes in the sender's memory order, which
// is little-endian on every platform SoftEther runs on, and a bool as
// sizeof(bool) bytes: one since SoftEther took C's bool (commit 61ccaed4,
// August 2020), four (an unsigned int, MayaType.h) in 5.01 and before,
// which is what wideBool asks for.
func encodeProtoValue(o control.ProtoOption, wideBool bool) []byte {
	switch o.Type {
	case config.OptionString:
		return append([]byte(o.Str), 0)
	case config.OptionBool:
		var v byte
		if o.Bool {
			v = 1
		}
		if wideBool {
			return []byte{v, 0, 0, 0}
		}
		return []byte{v}
	case config.OptionUint32:
		return binary.LittleEndian.AppendUint32(nil, o.Uint)
	}
	return nil
}

// decodeProtoValue reads an option's Value of type typ (Admin.c,
// InRpcProtoOptions): a string ends at its first NUL (or the data's end),
// a bool is one byte or four (5.01's), a uint32 four little-endian bytes. A value of
// another size or an unknown type is vpnerr.InvalidParameter.
func decodeProtoValue(name string, typ uint32, v []byte) (control.ProtoOption, error) {
	o := control.ProtoOption{Name: name, Type: typ}
	switch typ {
	case config.OptionString:
		if i := slices.Index(v, 0); i >= 0 {
			v = v[:i]
		}
		o.Str = string(v)
	case config.OptionBool:
		switch len(v) { // one byte, or four from 5.01 (see encodeProtoValue)
		case 1:
			o.Bool = v[0] != 0
		case 4:
			o.Bool = binary.LittleEndian.Uint32(v) != 0
		default:
			return o, vpnerr.InvalidParameter
		}
	case config.OptionUint32:
		if len(v) != 4 {
			return o, vpnerr.InvalidParameter
		}
		o.Uint = binary.LittleEndian.Uint32(v)
	default:
		return o, vpnerr.InvalidParameter
	}
	return o, nil
}

// protoOptionsPack is RPC_PROTO_OPTIONS: Protocol, then Name[], Type[]
// and Value[] (DATA) per option.
func protoOptionsPack(protocol string, opts []control.ProtoOption, wideBool bool) *pack.Pack {
	out := pack.New()
	out.AddStr("Protocol", protocol)
	names, types := make([]string, len(opts)), make([]uint32, len(opts))
	values := make([][]byte, len(opts))
	for i, o := range opts {
		names[i], types[i], values[i] = o.Name, o.Type, encodeProtoValue(o, wideBool)
	}
	out.AddStrs("Name", names)
	out.AddInts("Type", types)
	out.AddElement(pack.Element{Name: "Value", Type: pack.TypeData, Blobs: values})
	return out
}

// admGetProtoOptions answers the options of the protocol named in
// Protocol; an unknown protocol is vpnerr.InvalidParameter.
func admGetProtoOptions(a *adminCall) (*pack.Pack, error) {
	var (
		name string
		opts []control.ProtoOption
		err  error
	)
	a.s.ctl.View(func(cur *config.Server) { name, opts, err = control.ProtoOptionList(cur.Proto, a.in.Str("Protocol")) })
	if err != nil {
		return nil, err
	}
	legacy := legacyOptionClient(a.c)
	if legacy {
		opts = slices.DeleteFunc(opts, func(o control.ProtoOption) bool { return o.Type == config.OptionUint32 })
	}
	return protoOptionsPack(name, opts, legacy), nil
}

// legacyOptionClient reports whether the caller is a vpncmd of 5.01 or
// before (build 9674; 4.x builds are 9xxx too, 5.02 restarted at 5180).
// It reads a bool Value as four bytes, and it predates the uint32 options
// (SoftEther commit 4b05de1a, 2021): it skips their Value when it sends
// the options back, so its SetProtoOptions request would declare more
// values than it holds and could not be read. Such a client is answered
// with four-byte bools and without the uint32 options, which it can
// neither show nor set. ethervpn cmd says it is build 9674 too, but
// knows them.
func legacyOptionClient(c admin.Caller) bool {
	return c.Via == "rpc" && c.ClientBuild >= 9000 && c.Client != admin.ClientString
}

// admSetProtoOptions sets the options given (all of them, or none when
// one is unknown or of the wrong type).
func admSetProtoOptions(a *adminCall) (*pack.Pack, error) {
	values, _ := a.in.Lookup("Value")
	opts := make([]control.ProtoOption, a.in.Count("Name"))
	for i := range opts {
		var v []byte
		if values.Type == pack.TypeData && i < len(values.Blobs) {
			v = values.Blobs[i]
		}
		o, err := decodeProtoValue(a.in.StrAt("Name", i), a.in.IntAt("Type", i), v)
		if err != nil {
			return nil, err
		}
		opts[i] = o
	}
	return echoOr(a, a.s.ctl.SetProtoOptions(a.in.Str("Protocol"), opts))
}

// admGetOpenVpnSstpConfig answers whether OpenVPN and SSTP are on
// (OPENVPN_SSTP_CONFIG).
func admGetOpenVpnSstpConfig(a *adminCall) (*pack.Pack, error) {
	var p config.ProtoOptions
	a.s.ctl.View(func(cur *config.Server) { p = cur.Proto })
	out := pack.New()
	out.AddBool("EnableOpenVPN", p.OpenVPN.Enabled)
	out.AddBool("EnableSSTP", p.SSTP.Enabled)
	return out, nil
}

// admSetOpenVpnSstpConfig switches OpenVPN and SSTP on or off.
func admSetOpenVpnSstpConfig(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.SetOpenVpnSstp(a.in.Bool("EnableOpenVPN"), a.in.Bool("EnableSSTP")))
}

// wgkIn reads RPC_WGK: Key[], Hub[], User[].
func wgkIn(in *pack.Pack) []config.WireGuardKey {
	keys := make([]config.WireGuardKey, in.Count("Key"))
	for i := range keys {
		keys[i] = config.WireGuardKey{Key: in.StrAt("Key", i), Hub: in.StrAt("Hub", i), User: in.StrAt("User", i)}
	}
	return keys
}

// admAddWgk adds WireGuard peers (all or none).
func admAddWgk(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.AddWireGuardKeys(wgkIn(a.in)))
}

// admDeleteWgk removes WireGuard peers by key (all or none).
func admDeleteWgk(a *adminCall) (*pack.Pack, error) {
	var keys []string
	for _, k := range wgkIn(a.in) {
		keys = append(keys, k.Key)
	}
	return echoOr(a, a.s.ctl.DeleteWireGuardKeys(keys))
}

// admEnumWgk lists the WireGuard peers.
func admEnumWgk(a *adminCall) (*pack.Pack, error) {
	var keys []config.WireGuardKey
	a.s.ctl.View(func(cur *config.Server) { keys = cur.WireGuardKeys }) // published: never changed
	out := pack.New()
	k, h, u := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, e := range keys {
		k[i], h[i], u[i] = e.Key, e.Hub, e.User
	}
	out.AddStrs("Key", k)
	out.AddStrs("Hub", h)
	out.AddStrs("User", u)
	return out, nil
}

// admMakeOpenVpnConfigFile answers client configuration files for OpenVPN
// (SoftEther Admin.c, StMakeOpenVpnConfigFile): a zip in the Buffer of an
// RPC_READ_LOG_FILE (FilePath, ServerName and Offset empty), with a tun
// and a tap file that name this server, the port chosen as SoftEther
// chooses it and the server's certificate. OpenVPN must be on
// (vpnerr.OpenVPNIsNotEnabled); a VPN Bridge has no OpenVPN server.
func admMakeOpenVpnConfigFile(a *adminCall) (*pack.Pack, error) {
	var (
		cur     *config.Server
		enabled bool
	)
	a.s.ctl.View(func(c *config.Server) { cur, enabled = c, c.Proto.OpenVPN.Enabled }) // published: never changed
	if !enabled {
		return nil, vpnerr.OpenVPNIsNotEnabled
	}
	open := a.s.listening()
	proto, port := control.OpenVPNClientEndpoint(cur, func(p uint16) bool { return open[p] })
	machine, _ := os.Hostname()
	cc := openvpn.ClientConfig{
		Host: serverAddress(), Port: int(port), Proto: proto,
		CACert: cur.CertDER, Machine: machine, Time: time.Now(),
	}
	zip, err := cc.Zip()
	if err != nil {
		return nil, err
	}
	out := pack.New()
	out.AddStr("FilePath", "")
	out.AddStr("ServerName", "")
	out.AddInt("Offset", 0)
	out.AddData("Buffer", zip)
	return out, nil
}

// serverAddress is the address a client configuration file names: one of
// this machine's addresses, a public one first (SoftEther asks a web
// service for its global address, GetCurrentGlobalIP; ethervpn asks
// nobody), else a private one, else the host name.
func serverAddress() string {
	var addrs []netip.Addr
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		as, _ := ifc.Addrs()
		for _, x := range as {
			if p, err := netip.ParsePrefix(x.String()); err == nil {
				addrs = append(addrs, p.Addr())
			}
		}
	}
	if a, ok := pickServerAddress(addrs); ok {
		return a.String()
	}
	host, _ := os.Hostname()
	return host
}

// pickServerAddress chooses among the machine's addresses: a global
// IPv4 address that is not private, then a private IPv4 address, then a
// global IPv6 address (most clients reach IPv4 more surely).
func pickServerAddress(addrs []netip.Addr) (netip.Addr, bool) {
	rank := func(a netip.Addr) int {
		switch {
		case !a.IsGlobalUnicast():
			return 0
		case a.Is4() && !a.IsPrivate():
			return 4
		case a.Is4():
			return 3
		case !a.IsPrivate():
			return 2
		}
		return 1
	}
	var best netip.Addr
	for _, a := range addrs {
		if rank(a) > rank(best) {
			best = a
		}
	}
	return best, best.IsValid() && rank(best) > 0
}
