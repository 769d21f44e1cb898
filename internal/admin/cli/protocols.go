package cli

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// protocolCommands are vpncmd's commands for the native protocols
// (SoftEther Command.c): PortsUDPGet/Set, ProtoOptionsGet/Set and the
// WireGuard key list (WgkAdd, WgkDelete, WgkEnum, which vpncmd 5.01 lacks),
// plus OpenVpnEnable/OpenVpnGet and SstpEnable/SstpGet, which vpncmd had
// until 2020 (Command.c before commit 6b3ac84b) and the same RPC still
// serves.
func protocolCommands() []*command {
	yesNo := func(prompt string) param { return arg("yes|no", prompt) }
	return []*command{
		{name: "PortsUDPGet", run: portsUDPGet},
		{name: "PortsUDPSet", params: []param{arg("ports", "Ports:")}, run: portsUDPSet},
		{name: "ProtoOptionsGet", params: []param{arg("protocol", "Protocol:")}, run: protoOptionsGet},
		{name: "ProtoOptionsSet", params: []param{
			arg("protocol", "Protocol:"),
			{name: "NAME", prompt: "Option:", required: true},
			{name: "VALUE", prompt: "Value:", required: true, allowEmpty: true},
		}, run: protoOptionsSet},
		{name: "OpenVpnEnable", params: []param{yesNo("Enables OpenVPN Clone Server Function (yes / no):")}, run: openVpnSstpEnable("EnableOpenVPN")},
		{name: "OpenVpnGet", run: openVpnSstpGet("EnableOpenVPN", "OpenVPN Clone Server Enabled")},
		{name: "OpenVpnMakeConfig", params: []param{arg("ZIP_FileName", "Output Filename of Setting Files (ZIP compressed file):")}, run: openVpnMakeConfig},
		{name: "SstpEnable", params: []param{yesNo("Enables SSTP VPN Clone Server Function (yes / no):")}, run: openVpnSstpEnable("EnableSSTP")},
		{name: "SstpGet", run: openVpnSstpGet("EnableSSTP", "SSTP VPN Clone Server Enabled")},
		{name: "WgkAdd", params: []param{arg("key", "Key:"),
			{name: "HUB", prompt: "Hub:", required: true, allowEmpty: true},
			{name: "USER", prompt: "User:", required: true, allowEmpty: true},
		}, run: wgkAdd},
		{name: "WgkDelete", params: []param{arg("key", "Key:")}, run: wgkDelete},
		{name: "WgkEnum", run: wgkEnum},
	}
}

func init() {
	for k, v := range map[string]string{
		"PortsUDPGet":       "Lists the UDP ports that the server is listening on",
		"PortsUDPSet":       "Sets the UDP ports that the server should listen on",
		"ProtoOptionsGet":   "Lists the options for the specified protocol",
		"ProtoOptionsSet":   "Sets an option's value for the specified protocol",
		"OpenVpnEnable":     "Enable / Disable OpenVPN Clone Server Function",
		"OpenVpnGet":        "Get the Current Settings of OpenVPN Clone Server Function",
		"OpenVpnMakeConfig": "Generate a Sample Setting File for OpenVPN Client",
		"SstpEnable":        "Enable / Disable Microsoft SSTP VPN Clone Server Function",
		"SstpGet":           "Get the Current Settings of Microsoft SSTP VPN Clone Server Function",
		"WgkAdd":            "Add a WireGuard key",
		"WgkDelete":         "Delete a WireGuard key",
		"WgkEnum":           "List the WireGuard keys",
	} {
		commandDesc[k] = v
	}
}

// optionDescriptions are vpncmd's descriptions of the options
// (strtable_en.stb, CMD_ProtoOptions_Description_<protocol>_<name>).
var optionDescriptions = map[string]string{
	"OpenVPN_DefaultClientOption":          "When OpenVPN is compiled without OCC code, it doesn't send the options string to the server. The original OpenVPN server still works, because the configuration is static. SoftEther VPN is heuristic and wants to support as many different configurations as possible. This option allows to define the string that is sent to clients built without OCC code, so that they can successfully connect.",
	"OpenVPN_Obfuscation":                  "This may help an OpenVPN client bypass firewalls that are aware of the protocol and block it. The same XOR mask has to be applied client-side, otherwise it will not be able to connect with certain obfuscation methods!",
	"OpenVPN_ObfuscationMask":              "Mask used to XOR the bytes in the packet (used for certain obfuscation modes).",
	"OpenVPN_PingSendInterval":             "Interval in milliseconds between each ping packet transmission.",
	"OpenVPN_PushDummyIPv4AddressOnL2Mode": "There's a bug that manifests under certain circumstances on Linux. It causes the OpenVPN client to disconnect unless the TAP device is UP. This option tells the server to push a dummy IPv4 address (RFC7600) to the client, so that the TAP adapter is forced to be UP.",
	"OpenVPN_Timeout":                      "Time in milliseconds after which the session is forcifully interrupted if no packets are received from the client in the meantime.",
}

func portsUDPGet(s *Session, _ cmdArgs) error {
	p, err := s.call("GetPortsUDP", pack.New())
	if err != nil {
		return err
	}
	ports := make([]string, p.Count("Ports"))
	for i := range ports {
		ports[i] = dec(uint64(p.IntAt("Ports", i)))
	}
	t := newStandard()
	t.item("UDP ports", strings.Join(ports, ", "))
	s.show(t)
	return nil
}

// parsePortList reads vpncmd's port list (Command.c, StrToPortList):
// numbers separated by commas or spaces, at least one, none twice. The
// range is the server's to check, as vpncmd leaves it (0 is refused
// there).
func parsePortList(v string) ([]uint32, error) {
	var out []uint32
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.ParseUint(w, 10, 32)
		if err != nil || slices.Contains(out, uint32(n)) {
			return nil, errPortList
		}
		out = append(out, uint32(n))
	}
	if len(out) == 0 {
		return nil, errPortList
	}
	return out, nil
}

var errPortList = usageError(`The port number list specification is invalid. The list must have at least one port number set, and it is also possible to set multiple port numbers. When specifying multiple port numbers, separate them using a comma such as "443,992,8888".`)

func portsUDPSet(s *Session, a cmdArgs) error {
	ports, err := parsePortList(a[""])
	if err != nil {
		return err
	}
	in := pack.New()
	in.AddInts("Ports", ports)
	_, err = s.call("SetPortsUDP", in)
	return err
}

func protoOptions(s *Session, protocol string) (*pack.Pack, error) {
	in := pack.New()
	in.AddStr("Protocol", protocol)
	return s.call("GetProtoOptions", in)
}

// Option types of the ProtoOptions RPC (SoftEther Proto.h).
const (
	optionString = 1
	optionBool   = 2
	optionUint32 = 3
)

func protoOptionsGet(s *Session, a cmdArgs) error {
	p, err := protoOptions(s, a[""])
	if err != nil {
		return err
	}
	values, _ := p.Lookup("Value")
	t := newList(col("Name"), col("Type"), col("Value"), col("Description"))
	for i := range p.Count("Name") {
		name := p.StrAt("Name", i)
		var v []byte
		if values.Type == pack.TypeData && i < len(values.Blobs) {
			v = values.Blobs[i]
		}
		var typ, val string
		switch p.IntAt("Type", i) {
		case optionString:
			typ, val = "String", cString(v)
		case optionBool:
			typ, val = "Boolean", "False"
			if len(v) > 0 && v[0] != 0 {
				val = "True"
			}
		case optionUint32:
			typ = "32 bit unsigned integer"
			if len(v) == 4 {
				val = dec(uint64(binary.LittleEndian.Uint32(v)))
			}
		default:
			continue // as vpncmd, which skips a type it does not know
		}
		t.add(name, typ, val, optionDescriptions[p.Str("Protocol")+"_"+name])
	}
	s.show(t)
	return nil
}

// cString is a NUL-terminated string value.
func cString(v []byte) string {
	if i := slices.Index(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v)
}

// protoOptionsSet changes one option: like vpncmd it reads the protocol's
// options, changes the named one (names are case-insensitive) and sends
// them all back; an unknown name is vpnerr.ObjectNotFound.
func protoOptionsSet(s *Session, a cmdArgs) error {
	p, err := protoOptions(s, a[""])
	if err != nil {
		return err
	}
	values, _ := p.Lookup("Value")
	if values.Type != pack.TypeData || len(values.Blobs) != p.Count("Name") {
		return vpnerr.ProtocolError // not the answer of GetProtoOptions
	}
	blobs := slices.Clone(values.Blobs)
	found := false
	for i := range p.Count("Name") {
		if !strings.EqualFold(p.StrAt("Name", i), a["NAME"]) {
			continue
		}
		found = true
		v := a["VALUE"]
		switch p.IntAt("Type", i) {
		case optionString:
			blobs[i] = append([]byte(v), 0)
		case optionBool:
			blobs[i] = []byte{0}
			if paramYes(v) {
				blobs[i][0] = 1
			}
		case optionUint32:
			blobs[i] = binary.LittleEndian.AppendUint32(nil, toInt(v))
		default:
			return vpnerr.InternalError
		}
		break
	}
	if !found {
		return vpnerr.ObjectNotFound
	}
	p.AddElement(pack.Element{Name: "Value", Type: pack.TypeData, Blobs: blobs})
	_, err = s.call("SetProtoOptions", p)
	return err
}

// paramYes reads a yes/no value as vpncmd's GetParamYes: "y...", "t..."
// or a number other than 0 is yes.
func paramYes(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return strings.HasPrefix(v, "y") || strings.HasPrefix(v, "t") || toInt(v) != 0
}

// toInt reads the leading digits of v, as SoftEther's ToInt (0 when
// there are none; too large a number wraps as in C).
func toInt(v string) uint32 {
	v = strings.TrimSpace(v)
	var n uint32
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint32(c-'0')
	}
	return n
}

func openVpnSstpEnable(field string) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		cur, err := s.call("GetOpenVpnSstpConfig", pack.New())
		if err != nil {
			return err
		}
		in := pack.New()
		in.AddBool("EnableOpenVPN", cur.Bool("EnableOpenVPN"))
		in.AddBool("EnableSSTP", cur.Bool("EnableSSTP"))
		in.AddBool(field, paramYes(a[""]))
		_, err = s.call("SetOpenVpnSstpConfig", in)
		return err
	}
}

func openVpnSstpGet(field, title string) func(*Session, cmdArgs) error {
	return func(s *Session, _ cmdArgs) error {
		p, err := s.call("GetOpenVpnSstpConfig", pack.New())
		if err != nil {
			return err
		}
		t := newStandard()
		t.item(title, yesText(p.Bool(field)))
		s.show(t)
		return nil
	}
}

// openVpnMakeConfig saves the server's OpenVPN client files (a zip) as
// the file named, with ".zip" added when the name lacks it, as vpncmd's
// PsOpenVpnMakeConfig does.
func openVpnMakeConfig(s *Session, a cmdArgs) error {
	p, err := s.call("MakeOpenVpnConfigFile", pack.New())
	if err != nil {
		return err
	}
	name := a[""]
	if !strings.HasSuffix(name, ".zip") {
		name += ".zip"
	}
	if err := os.WriteFile(name, p.Data("Buffer"), 0o600); err != nil {
		fmt.Fprintf(s.out, "The sample setting files were unable to be saved as \"%s\". The filename might be invalid.\n", name)
		return vpnerr.InternalError
	}
	fmt.Fprintf(s.out, "The sample setting file was saved as \"%s\". You can unzip this file to extract setting files.\n", name)
	return nil
}

func yesText(on bool) string {
	if on {
		return "Yes"
	}
	return "No"
}

func wgkPack(key, hub, user string) *pack.Pack {
	p := pack.New()
	p.AddStrs("Key", []string{key})
	p.AddStrs("Hub", []string{hub})
	p.AddStrs("User", []string{user})
	return p
}

func wgkAdd(s *Session, a cmdArgs) error {
	_, err := s.call("AddWgk", wgkPack(a[""], a["HUB"], a["USER"]))
	return err
}

func wgkDelete(s *Session, a cmdArgs) error {
	_, err := s.call("DeleteWgk", wgkPack(a[""], "", ""))
	return err
}

func wgkEnum(s *Session, _ cmdArgs) error {
	p, err := s.call("EnumWgk", pack.New())
	if err != nil {
		return err
	}
	t := newList(col("Key"), col("Hub"), col("User"))
	for i := range p.Count("Key") {
		t.add(p.StrAt("Key", i), p.StrAt("Hub", i), p.StrAt("User", i))
	}
	s.show(t)
	return nil
}
