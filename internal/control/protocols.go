package control

import (
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// The native protocols' settings: the UDP ports, each protocol's options
// and the WireGuard peers (SoftEther Admin.c, StSetPortsUDP,
// StSetProtoOptions, StSetOpenVpnSstpConfig, StAddWgk, StDeleteWgk). Only
// the server administrator changes them (the method table says so).

// SetPortsUDP sets the UDP ports the native protocols listen on: each
// 1-65535 (else nothing changes), once each, in the order given, as
// SoftEther's StSetPortsUDP keeps them (AddIntDistinct; the file is read
// back sorted).
func (o *Owner) SetPortsUDP(ports []uint32) error {
	list := make([]uint16, 0, len(ports))
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return vpnerr.InvalidParameter
		}
		if !slices.Contains(list, uint16(p)) {
			list = append(list, uint16(p))
		}
	}
	return o.Update(func(next *config.Server) error {
		next.PortsUDP = list
		return nil
	})
}

// ProtoOption is one option of a protocol as the ProtoOptions RPC carries
// it: its name, its type (config.OptionString, OptionBool, OptionUint32)
// and the value of that type.
type ProtoOption struct {
	Name string
	Type uint32
	Str  string
	Bool bool
	Uint uint32
}

// optionDef names one option and where it lives in the model: field
// returns a *string, *bool or *uint32, which also gives its type.
type optionDef struct {
	name  string
	field func(p *config.ProtoOptions) any
}

// protocols are the protocol containers and their options, each list in
// the order SoftEther answers them (by name, case-insensitively: its
// option list is sorted by ProtoOptionCompare), names spelt as SoftEther
// spells them (Proto_OpenVPN.c, OvsOptions; Proto_WireGuard.c, WgsOptions;
// Proto.c, ProtoContainerNew adds "Enabled").
var protocols = []struct {
	name    string
	options []optionDef
}{
	{"OpenVPN", []optionDef{
		{"DefaultClientOption", func(p *config.ProtoOptions) any { return &p.OpenVPN.DefaultClientOption }},
		{"Enabled", func(p *config.ProtoOptions) any { return &p.OpenVPN.Enabled }},
		{"Obfuscation", func(p *config.ProtoOptions) any { return &p.OpenVPN.Obfuscation }},
		{"ObfuscationMask", func(p *config.ProtoOptions) any { return &p.OpenVPN.ObfuscationMask }},
		{"PingSendInterval", func(p *config.ProtoOptions) any { return &p.OpenVPN.PingSendInterval }},
		{"PushDummyIPv4AddressOnL2Mode", func(p *config.ProtoOptions) any { return &p.OpenVPN.PushDummyIPv4AddressOnL2Mode }},
		{"Timeout", func(p *config.ProtoOptions) any { return &p.OpenVPN.Timeout }},
	}},
	{"SSTP", []optionDef{
		{"Enabled", func(p *config.ProtoOptions) any { return &p.SSTP.Enabled }},
	}},
	{"WireGuard", []optionDef{
		{"Enabled", func(p *config.ProtoOptions) any { return &p.WireGuard.Enabled }},
		{"PresharedKey", func(p *config.ProtoOptions) any { return &p.WireGuard.PresharedKey }},
		{"PrivateKey", func(p *config.ProtoOptions) any { return &p.WireGuard.PrivateKey }},
	}},
}

// protocolOptions returns the options of the protocol called name
// (case-insensitive, as SoftEther's ProtoContainerCompare) and its name as
// SoftEther spells it; an unknown protocol is vpnerr.InvalidParameter, as
// in StGetProtoOptions.
func protocolOptions(name string) (string, []optionDef, error) {
	for _, p := range protocols {
		if strings.EqualFold(p.name, name) {
			return p.name, p.options, nil
		}
	}
	return "", nil, vpnerr.InvalidParameter
}

// ProtoOptionList returns the options of protocol in p, in SoftEther's
// order, and the protocol's name as SoftEther spells it.
func ProtoOptionList(p config.ProtoOptions, protocol string) (string, []ProtoOption, error) {
	name, defs, err := protocolOptions(protocol)
	if err != nil {
		return "", nil, err
	}
	out := make([]ProtoOption, len(defs))
	for i, d := range defs {
		out[i] = ProtoOption{Name: d.name}
		switch v := d.field(&p).(type) {
		case *string:
			out[i].Type, out[i].Str = config.OptionString, *v
		case *bool:
			out[i].Type, out[i].Bool = config.OptionBool, *v
		case *uint32:
			out[i].Type, out[i].Uint = config.OptionUint32, *v
		}
	}
	return name, out, nil
}

// SetProtoOptions sets options of protocol. An unknown option, or one
// given with another type, is vpnerr.InvalidParameter, as in SoftEther's
// StSetProtoOptions; unlike it (which keeps the options set before the
// bad one) nothing then changes. WireGuard keys must be keys (32 bytes in
// base64; the pre-shared key may be empty), since the server could not
// use any other value.
func (o *Owner) SetProtoOptions(protocol string, opts []ProtoOption) error {
	_, defs, err := protocolOptions(protocol)
	if err != nil {
		return err
	}
	return o.Update(func(next *config.Server) error {
		p := next.Proto
		for _, opt := range opts {
			i := slices.IndexFunc(defs, func(d optionDef) bool { return strings.EqualFold(d.name, opt.Name) })
			if i < 0 {
				return vpnerr.InvalidParameter
			}
			switch v := defs[i].field(&p).(type) {
			case *string:
				if opt.Type != config.OptionString {
					return vpnerr.InvalidParameter
				}
				*v = opt.Str
			case *bool:
				if opt.Type != config.OptionBool {
					return vpnerr.InvalidParameter
				}
				*v = opt.Bool
			case *uint32:
				if opt.Type != config.OptionUint32 {
					return vpnerr.InvalidParameter
				}
				*v = opt.Uint
			}
		}
		// a key that changes must be usable; one sent back unchanged (vpncmd
		// sends every option back) is left as it is
		wg, was := p.WireGuard, next.Proto.WireGuard
		if _, err := config.ParseWireGuardKey(wg.PrivateKey); err != nil && wg.PrivateKey != was.PrivateKey {
			return vpnerr.InvalidParameter
		}
		if _, err := config.ParseWireGuardKey(wg.PresharedKey); err != nil && wg.PresharedKey != "" && wg.PresharedKey != was.PresharedKey {
			return vpnerr.InvalidParameter
		}
		next.Proto = p
		return nil
	})
}

// SetOpenVpnSstp switches OpenVPN and SSTP on or off (the Enabled option
// of each; SoftEther Admin.c, StSetOpenVpnSstpConfig).
func (o *Owner) SetOpenVpnSstp(openVPN, sstp bool) error {
	return o.Update(func(next *config.Server) error {
		next.Proto.OpenVPN.Enabled, next.Proto.SSTP.Enabled = openVPN, sstp
		return nil
	})
}

// AddWireGuardKeys adds peers to WireGuardKeyList: all of them, or none
// when a key is empty or no key (vpnerr.InvalidParameter) or is already
// there, even twice in keys (vpnerr.ObjectExists), as SoftEther's StAddWgk
// refuses them. Keys compare exactly (base64 is case-sensitive). The hub
// and user need not exist yet, as in SoftEther: the login checks them.
func (o *Owner) AddWireGuardKeys(keys []config.WireGuardKey) error {
	for _, k := range keys {
		if _, err := config.ParseWireGuardKey(k.Key); err != nil {
			return vpnerr.InvalidParameter
		}
	}
	return o.Update(func(next *config.Server) error {
		list := slices.Clone(next.WireGuardKeys)
		for _, k := range keys {
			if slices.ContainsFunc(list, func(e config.WireGuardKey) bool { return e.Key == k.Key }) {
				return vpnerr.ObjectExists
			}
			list = append(list, k)
		}
		config.SortWireGuardKeys(list)
		next.WireGuardKeys = list
		return nil
	})
}

// DeleteWireGuardKeys removes the peers with these keys: all of them, or
// none when one is not there (vpnerr.ObjectNotFound), as SoftEther's
// StDeleteWgk.
func (o *Owner) DeleteWireGuardKeys(keys []string) error {
	return o.Update(func(next *config.Server) error {
		list := slices.Clone(next.WireGuardKeys)
		for _, k := range keys {
			i := slices.IndexFunc(list, func(e config.WireGuardKey) bool { return e.Key == k })
			if i < 0 {
				return vpnerr.ObjectNotFound
			}
			list = slices.Delete(list, i, i+1)
		}
		next.WireGuardKeys = list
		return nil
	})
}

// OpenVPNDefaultPort is OpenVPN's own UDP port, which a client
// configuration file names when PortsUDP has it (SoftEther
// Proto_OpenVPN.h, OPENVPN_UDP_PORT).
const OpenVPNDefaultPort = 1194

// OpenVPNClientEndpoint is the protocol and port a client configuration
// file names, chosen as SoftEther's StMakeOpenVpnConfigFile chooses them:
// UDP on 1194 when PortsUDP has it, else on the first UDP port; with no
// UDP port, TCP on the first enabled SSL-VPN listener that is open (open
// reports whether the server listens on a port); else UDP 1194.
func OpenVPNClientEndpoint(s *config.Server, open func(port uint16) bool) (proto string, port uint16) {
	if len(s.PortsUDP) > 0 {
		if slices.Contains(s.PortsUDP, OpenVPNDefaultPort) {
			return "udp", OpenVPNDefaultPort
		}
		return "udp", s.PortsUDP[0]
	}
	for _, l := range s.Listeners {
		if l.Enabled && open(l.Port) {
			return "tcp", l.Port
		}
	}
	return "udp", OpenVPNDefaultPort
}
