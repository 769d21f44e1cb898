package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// The settings of the native protocols (OpenVPN, SSTP, WireGuard) that
// SoftEther's Proto framework serves next to its own SSL-VPN: the UDP
// ports they share, the character between a user and a hub name, each
// protocol's options and the WireGuard peers (SoftEther Server.c,
// SiLoadServerCfg, SiWriteServerCfg, SiLoadProtoCfg, SiWriteProtoCfg and
// the WireGuardKeyList of SiLoadConfigurationCfg).

// DefaultPortsUDP are the UDP ports of a configuration that names none
// (SoftEther Server.h, SERVER_DEF_PORTS_1..4).
var DefaultPortsUDP = []uint16{443, 992, 1194, 5555}

// DefaultUsernameHubSeparator splits "user@hub" (SoftEther Cedar.h,
// DEFAULT_USERNAME_HUB_SEPARATOR).
const DefaultUsernameHubSeparator = "@"

// Option types of the ProtoOptions RPC (SoftEther Proto.h, PROTO_OPTION_*).
const (
	OptionString = 1
	OptionBool   = 2
	OptionUint32 = 3
)

// OpenVPNOptions are ServerConfiguration/Proto/OpenVPN (SoftEther
// Proto_OpenVPN.c, OvsOptions). Comparable.
type OpenVPNOptions struct {
	Enabled                      bool
	DefaultClientOption          string
	Obfuscation                  bool
	ObfuscationMask              string
	PingSendInterval             uint32 // milliseconds
	PushDummyIPv4AddressOnL2Mode bool
	Timeout                      uint32 // milliseconds
}

// SSTPOptions are ServerConfiguration/Proto/SSTP. Comparable.
type SSTPOptions struct {
	Enabled bool
}

// WireGuardOptions are ServerConfiguration/Proto/WireGuard (SoftEther
// Proto_WireGuard.c, WgsOptions). The keys are base64, as wg(8) writes
// them. Comparable.
type WireGuardOptions struct {
	Enabled      bool
	PresharedKey string
	PrivateKey   string
}

// ProtoOptions are the options of the three protocol containers of
// SoftEther Proto.c, ProtoNew. Comparable.
type ProtoOptions struct {
	OpenVPN   OpenVPNOptions
	SSTP      SSTPOptions
	WireGuard WireGuardOptions
}

// WireGuardKey is one entry of WireGuardKeyList: the peer's public key
// (base64, the folder's name) and the hub and user it logs in as.
// Comparable.
type WireGuardKey struct {
	Key, Hub, User string
}

// DefaultProtoOptions are the options a configuration without them has:
// each protocol on (SoftEther Proto.c, ProtoContainerNew adds "Enabled"
// true) and OpenVPN's defaults of OvsOptions. The WireGuard private key is
// made by EnsureWireGuardKey.
func DefaultProtoOptions() ProtoOptions {
	return ProtoOptions{
		OpenVPN: OpenVPNOptions{
			Enabled:                      true,
			DefaultClientOption:          "dev-type tun,link-mtu 1500,tun-mtu 1500,cipher AES-128-CBC,auth SHA1,keysize 128,key-method 2,tls-client",
			PingSendInterval:             3000,
			PushDummyIPv4AddressOnL2Mode: true,
			Timeout:                      30000,
		},
		SSTP:      SSTPOptions{Enabled: true},
		WireGuard: WireGuardOptions{Enabled: true},
	}
}

// protoParts are the snapshots behind Server.loadedProto (see hubParts).
type protoParts struct {
	portsUDP  []uint16
	separator string
	proto     ProtoOptions
	wgKeys    []WireGuardKey
}

// ParsePortsUDP reads a PortsUDP item as SoftEther does (Str.c,
// StrToIntList): numbers separated by spaces, commas, slashes, semicolons
// or tabs, kept sorted and once each; other words are skipped. A number
// that is no port (0, above 65535) is an error, as SoftEther's
// StSetPortsUDP refuses one; the ports are those that are usable.
func ParsePortsUDP(s string) ([]uint16, error) {
	var out []uint16
	var err error
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" ,/;\t", r) }) {
		if strings.TrimLeft(w, "0123456789") != "" {
			continue // not a number: SoftEther's IsNum skips it
		}
		n, e := strconv.ParseUint(w, 10, 16)
		if e != nil || n == 0 {
			if err == nil {
				err = errors.New("config: UDP port " + strconv.Quote(w) + " is not 1-65535")
			}
			continue
		}
		out = append(out, uint16(n))
	}
	return NormalizePorts(out), err
}

// NormalizePorts sorts ports and drops duplicates, as SoftEther keeps its
// PortsUDP list (a sorted int list with distinct entries).
func NormalizePorts(ports []uint16) []uint16 {
	ports = slices.Clone(ports)
	slices.Sort(ports)
	return slices.Compact(ports)
}

// FormatPortsUDP writes ports as SoftEther writes the item (Str.c,
// IntListToStr with ", ").
func FormatPortsUDP(ports []uint16) string {
	var b strings.Builder
	for i, p := range ports {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// readProtocols fills the protocol settings of s from the tree. Missing
// items read as SoftEther's defaults; unusable port words are skipped
// (the real server skips them too) so that an odd file still loads.
func (s *Server) readProtocols(root, sc *Folder) {
	s.PortsUDP = slices.Clone(DefaultPortsUDP)
	if it := sc.Item("PortsUDP"); it != nil && it.Type == String {
		s.PortsUDP, _ = ParsePortsUDP(it.Str) // unusable words are skipped, as the real server skips them
	}
	s.UsernameHubSeparator = DefaultUsernameHubSeparator
	if v := sc.GetString("UsernameHubSeparator"); v != "" {
		// SoftEther Server.c, SiLoadServerCfg: the first character if it is
		// printable ASCII, else the default
		if c := v[0]; c > ' ' && c < 0x7f {
			s.UsernameHubSeparator = v[:1]
		}
	}
	s.Proto = DefaultProtoOptions()
	pf := sc.Folder("Proto")
	ov, st, wg := &s.Proto.OpenVPN, &s.Proto.SSTP, &s.Proto.WireGuard
	if f := pf.Folder("OpenVPN"); f != nil {
		getBoolDefault(f, "Enabled", &ov.Enabled)
		getStringDefault(f, "DefaultClientOption", &ov.DefaultClientOption)
		getBoolDefault(f, "Obfuscation", &ov.Obfuscation)
		getStringDefault(f, "ObfuscationMask", &ov.ObfuscationMask)
		getUintDefault(f, "PingSendInterval", &ov.PingSendInterval)
		getBoolDefault(f, "PushDummyIPv4AddressOnL2Mode", &ov.PushDummyIPv4AddressOnL2Mode)
		getUintDefault(f, "Timeout", &ov.Timeout)
	}
	if f := pf.Folder("SSTP"); f != nil {
		getBoolDefault(f, "Enabled", &st.Enabled)
	}
	if f := pf.Folder("WireGuard"); f != nil {
		getBoolDefault(f, "Enabled", &wg.Enabled)
		getStringDefault(f, "PresharedKey", &wg.PresharedKey)
		getStringDefault(f, "PrivateKey", &wg.PrivateKey)
	}
	s.WireGuardKeys = nil
	for _, f := range root.Folder("WireGuardKeyList").subfolders() {
		s.WireGuardKeys = append(s.WireGuardKeys, WireGuardKey{Key: f.Name, Hub: f.GetString("Hub"), User: f.GetString("User")})
	}
	SortWireGuardKeys(s.WireGuardKeys)
	s.loadedProto = protoParts{
		portsUDP: slices.Clone(s.PortsUDP), separator: s.UsernameHubSeparator,
		proto: s.Proto, wgKeys: slices.Clone(s.WireGuardKeys),
	}
}

// writeProtocols writes the protocol settings that differ from what was
// last read or written; an unchanged part leaves the tree as it was.
func (s *Server) writeProtocols(root, sc *Folder) {
	l := &s.loadedProto
	if !slices.Equal(s.PortsUDP, l.portsUDP) {
		putString(sc, "PortsUDP", FormatPortsUDP(s.PortsUDP))
		l.portsUDP = slices.Clone(s.PortsUDP)
	}
	writeChanged(s.UsernameHubSeparator, &l.separator, func() { putString(sc, "UsernameHubSeparator", s.UsernameHubSeparator) })
	if s.Proto != l.proto {
		pf := sc.Ensure("Proto")
		p := s.Proto
		writeChanged(p.OpenVPN, &l.proto.OpenVPN, func() {
			f := pf.Ensure("OpenVPN")
			setString(f, "DefaultClientOption", p.OpenVPN.DefaultClientOption)
			setBool(f, "Enabled", p.OpenVPN.Enabled)
			setBool(f, "Obfuscation", p.OpenVPN.Obfuscation)
			setString(f, "ObfuscationMask", p.OpenVPN.ObfuscationMask)
			setUint(f, "PingSendInterval", p.OpenVPN.PingSendInterval)
			setBool(f, "PushDummyIPv4AddressOnL2Mode", p.OpenVPN.PushDummyIPv4AddressOnL2Mode)
			setUint(f, "Timeout", p.OpenVPN.Timeout)
		})
		writeChanged(p.SSTP, &l.proto.SSTP, func() { setBool(pf.Ensure("SSTP"), "Enabled", p.SSTP.Enabled) })
		writeChanged(p.WireGuard, &l.proto.WireGuard, func() {
			f := pf.Ensure("WireGuard")
			setBool(f, "Enabled", p.WireGuard.Enabled)
			setString(f, "PresharedKey", p.WireGuard.PresharedKey)
			setString(f, "PrivateKey", p.WireGuard.PrivateKey)
		})
	}
	if !slices.Equal(s.WireGuardKeys, l.wgKeys) {
		writeWireGuardKeys(root, s.WireGuardKeys)
		l.wgKeys = slices.Clone(s.WireGuardKeys)
	}
}

// SortWireGuardKeys puts keys in the order the file keeps their folders
// (by name), so that a list read back equals the list written.
func SortWireGuardKeys(keys []WireGuardKey) {
	slices.SortStableFunc(keys, func(a, b WireGuardKey) int { return compareNames(a.Key, b.Key) })
}

// writeWireGuardKeys makes WireGuardKeyList hold list, one folder per key
// (SoftEther Server.c, SiWriteConfigurationToCfg). A kept key keeps its
// folder and what the model does not know in it.
func writeWireGuardKeys(root *Folder, list []WireGuardKey) {
	kl := root.Ensure("WireGuardKeyList")
	old := kl.Folders
	kl.Folders = make([]*Folder, 0, len(list))
	for _, k := range list {
		var f *Folder
		for j, o := range old {
			if o != nil && o.Name == k.Key {
				f, old[j] = o, nil
				break
			}
		}
		if f == nil {
			f = NewFolder(k.Key)
		}
		setString(f, "Hub", k.Hub)
		setString(f, "User", k.User)
		kl.Folders = append(kl.Folders, f)
	}
}

// The get*Default helpers read an item only when it is there with its
// type, keeping the default otherwise (SoftEther Server.c, SiLoadProtoCfg
// reads only the items it finds).
func getBoolDefault(f *Folder, name string, v *bool) {
	if it := f.typed(name, Bool); it != nil {
		*v = it.Bool
	}
}

func getUintDefault(f *Folder, name string, v *uint32) {
	if it := f.typed(name, Uint); it != nil {
		*v = uint32(it.Uint)
	}
}

func getStringDefault(f *Folder, name string, v *string) {
	if it := f.typed(name, String); it != nil {
		*v = it.Str
	}
}

// The set helpers write an item that is absent or differs: unlike the put
// helpers, an absent item is written even when the value is zero, because
// an absent item reads as its default, which need not be zero.
func setBool(f *Folder, name string, v bool) {
	if it := f.typed(name, Bool); it == nil || it.Bool != v {
		f.SetBool(name, v)
	}
}

func setUint(f *Folder, name string, v uint32) {
	if it := f.typed(name, Uint); it == nil || uint32(it.Uint) != v {
		f.SetUint(name, v)
	}
}

func setString(f *Folder, name, v string) {
	if it := f.typed(name, String); it == nil || it.Str != v {
		f.SetString(name, v)
	}
}

// WireGuardKeyLen is the length of a Curve25519 key.
const WireGuardKeyLen = 32

// ParseWireGuardKey decodes a key written in base64, as wg(8) and
// SoftEther (libsodium's original variant) write it.
func ParseWireGuardKey(s string) ([WireGuardKeyLen]byte, error) {
	var k [WireGuardKeyLen]byte
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != WireGuardKeyLen {
		return k, errors.New("config: a WireGuard key is 32 bytes in base64")
	}
	copy(k[:], b)
	return k, nil
}

// NewWireGuardPrivateKey returns a new random Curve25519 private key in
// base64, clamped as wg genkey makes them.
func NewWireGuardPrivateKey() (string, error) {
	var k [WireGuardKeyLen]byte
	if _, err := rand.Read(k[:]); err != nil {
		return "", err
	}
	k[0] &= 248
	k[31] = k[31]&127 | 64
	return base64.StdEncoding.EncodeToString(k[:]), nil
}

// WireGuardPublicKey returns the public key (base64) of a private key
// (base64), what a client puts in its [Peer] PublicKey.
func WireGuardPublicKey(private string) (string, error) {
	k, err := ParseWireGuardKey(private)
	if err != nil {
		return "", err
	}
	pub, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pub), nil
}

// EnsureWireGuardKey gives the server a WireGuard private key when its
// configuration has none, as SoftEther HEAD makes one the first time the
// options are built (Proto_WireGuard.c, WgsOptionStringValue) and then
// saves it. It reports whether it made one.
func (s *Server) EnsureWireGuardKey() (bool, error) {
	if s.Proto.WireGuard.PrivateKey != "" {
		return false, nil
	}
	k, err := NewWireGuardPrivateKey()
	if err != nil {
		return false, err
	}
	s.Proto.WireGuard.PrivateKey = k
	return true, nil
}
