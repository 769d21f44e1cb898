package server

import (
	"archive/zip"
	"bytes"
	"encoding/pem"
	"io"
	"maps"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/openvpn"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// The PACK shapes of the native protocols' methods, the rights, and what
// is saved.
func TestAdminProtocols(t *testing.T) {
	s, d, dir := openAdmin(t)
	if pk := s.ctl.Current().Proto.WireGuard.PrivateKey; pk == "" {
		t.Fatal("Open made no WireGuard key")
	} else if _, err := config.WireGuardPublicKey(pk); err != nil {
		t.Fatal(err)
	}
	hub := hubAdm("DEFAULT")

	got := call(t, d, hub, "GetPortsUDP", params())
	if e, _ := got.Lookup("Ports"); !slices.Equal(e.Ints, []uint64{443, 992, 1194, 5555}) {
		t.Fatalf("GetPortsUDP: %v", got.Elements())
	}
	in := pack.New()
	in.AddInts("Ports", []uint32{5555, 1194})
	wantCode(t, d, hub, "SetPortsUDP", in, vpnerr.NotEnoughRight)
	call(t, d, serverAdm, "SetPortsUDP", in)
	bad := pack.New()
	bad.AddInts("Ports", []uint32{1194, 0})
	wantCode(t, d, serverAdm, "SetPortsUDP", bad, vpnerr.InvalidParameter)
	if e, _ := call(t, d, hub, "GetPortsUDP", params()).Lookup("Ports"); !slices.Equal(e.Ints, []uint64{5555, 1194}) {
		t.Fatalf("GetPortsUDP after set: %v", e.Ints)
	}

	wantCode(t, d, hub, "GetProtoOptions", params("Protocol", "OpenVPN"), vpnerr.NotEnoughRight)
	wantCode(t, d, serverAdm, "GetProtoOptions", params("Protocol", "L2TP"), vpnerr.InvalidParameter)
	got = call(t, d, serverAdm, "GetProtoOptions", params("Protocol", "openvpn"))
	values, _ := got.Lookup("Value")
	if got.Str("Protocol") != "OpenVPN" || got.Count("Name") != 7 || got.StrAt("Name", 6) != "Timeout" ||
		got.IntAt("Type", 6) != config.OptionUint32 || !bytes.Equal(values.Blobs[6], []byte{0x30, 0x75, 0, 0}) ||
		!bytes.Equal(values.Blobs[1], []byte{1}) || values.Blobs[0][len(values.Blobs[0])-1] != 0 {
		t.Fatalf("GetProtoOptions: %v", got.Elements())
	}
	// vpncmd 5.01 does not know uint32 options: it gets the others only
	legacy := admin.Caller{ServerAdmin: true, Remote: loopback, Via: "rpc", Client: "SoftEther VPN Command-Line Admin Tool", ClientBuild: 9674}
	got = call(t, d, legacy, "GetProtoOptions", params("Protocol", "OpenVPN"))
	if got.Count("Name") != 5 || got.Count("Value") != 5 ||
		slices.Contains(got.Elements()[0].Strs, "Timeout") || got.IntAt("Type", 1) != config.OptionBool {
		t.Fatalf("GetProtoOptions for vpncmd 5.01: %v", got.Elements())
	}
	if v, _ := got.Lookup("Value"); !bytes.Equal(v.Blobs[1], []byte{1, 0, 0, 0}) { // Enabled, as 5.01's bool
		t.Fatalf("GetProtoOptions for vpncmd 5.01: %v", got.Elements())
	}
	legacy.Client = admin.ClientString
	if got := call(t, d, legacy, "GetProtoOptions", params("Protocol", "OpenVPN")); got.Count("Name") != 7 {
		t.Fatalf("GetProtoOptions for ethervpn cmd: %v", got.Elements())
	}
	set := func(name string, typ uint32, v []byte) *pack.Pack {
		p := params("Protocol", "OpenVPN")
		p.AddStrs("Name", []string{name})
		p.AddInts("Type", []uint32{typ})
		p.AddElement(pack.Element{Name: "Value", Type: pack.TypeData, Blobs: [][]byte{v}})
		return p
	}
	wantCode(t, d, serverAdm, "SetProtoOptions", set("Nope", config.OptionBool, []byte{1}), vpnerr.InvalidParameter)
	wantCode(t, d, serverAdm, "SetProtoOptions", set("Timeout", config.OptionUint32, []byte{1, 2}), vpnerr.InvalidParameter)
	wantCode(t, d, hub, "SetProtoOptions", set("Timeout", config.OptionUint32, []byte{1, 2, 3, 4}), vpnerr.NotEnoughRight)
	call(t, d, serverAdm, "SetProtoOptions", set("Timeout", config.OptionUint32, []byte{0x40, 0x9c, 0, 0}))
	call(t, d, serverAdm, "SetProtoOptions", set("ObfuscationMask", config.OptionString, []byte("mask\x00")))
	call(t, d, serverAdm, "SetProtoOptions", set("Obfuscation", config.OptionBool, []byte{1, 0, 0, 0})) // 5.01's bool

	call(t, d, serverAdm, "SetOpenVpnSstpConfig", params("EnableOpenVPN", false, "EnableSSTP", true))
	wantCode(t, d, hub, "SetOpenVpnSstpConfig", params("EnableOpenVPN", true), vpnerr.NotEnoughRight)
	if got := call(t, d, hub, "GetOpenVpnSstpConfig", params()); got.Bool("EnableOpenVPN") || !got.Bool("EnableSSTP") {
		t.Fatalf("GetOpenVpnSstpConfig: %v", got.Elements())
	}

	wgk := pack.New()
	wgk.AddStrs("Key", []string{"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="})
	wgk.AddStrs("Hub", []string{"DEFAULT"})
	wgk.AddStrs("User", []string{"alice"})
	wantCode(t, d, hub, "AddWgk", wgk, vpnerr.NotEnoughRight)
	call(t, d, serverAdm, "AddWgk", wgk)
	wantCode(t, d, serverAdm, "AddWgk", wgk, vpnerr.ObjectExists)
	got = call(t, d, serverAdm, "EnumWgk", params())
	if got.Count("Key") != 1 || got.StrAt("Hub", 0) != "DEFAULT" || got.StrAt("User", 0) != "alice" {
		t.Fatalf("EnumWgk: %v", got.Elements())
	}

	// all of it is on disk
	root, err := (&config.Store{Path: dir + "/" + ConfigFile}).Load()
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.PortsUDP, []uint16{1194, 5555}) || back.Proto.OpenVPN.Timeout != 40000 ||
		back.Proto.OpenVPN.ObfuscationMask != "mask" || !back.Proto.OpenVPN.Obfuscation || back.Proto.OpenVPN.Enabled || len(back.WireGuardKeys) != 1 ||
		back.Proto.WireGuard.PrivateKey != s.ctl.Current().Proto.WireGuard.PrivateKey {
		t.Fatalf("saved: %v %+v %v", back.PortsUDP, back.Proto, back.WireGuardKeys)
	}

	call(t, d, serverAdm, "DeleteWgk", wgk)
	wantCode(t, d, serverAdm, "DeleteWgk", wgk, vpnerr.ObjectNotFound)
	if got := call(t, d, serverAdm, "EnumWgk", params()); got.Count("Key") != 0 {
		t.Fatalf("EnumWgk after delete: %v", got.Elements())
	}
}

// FuzzProtoOptionValue: any Value of any type decodes to an option or
// InvalidParameter, and a decoded option encodes to a Value that decodes
// to the same option.
func FuzzProtoOptionValue(f *testing.F) {
	f.Add(uint32(config.OptionString), []byte("dev-type tun\x00"))
	f.Add(uint32(config.OptionBool), []byte{1})
	f.Add(uint32(config.OptionBool), []byte{0, 1, 0, 0})
	f.Add(uint32(config.OptionUint32), []byte{0x30, 0x75, 0, 0})
	f.Add(uint32(7), []byte{})
	f.Fuzz(func(t *testing.T, typ uint32, v []byte) {
		o, err := decodeProtoValue("X", typ, v)
		if err != nil {
			if err != vpnerr.InvalidParameter {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, wide := range []bool{false, true} {
			v := encodeProtoValue(o, wide)
			back, err := decodeProtoValue("X", typ, v)
			if err != nil || back != o {
				t.Fatalf("%+v encodes to %x, which decodes to %+v, %v", o, v, back, err)
			}
		}
	})
}

// MakeOpenVpnConfigFile: a zip with readme.txt and the tun and tap files
// named as SoftEther names them, each naming the port SoftEther would
// choose and embedding the server's certificate; server admins only; an
// error while OpenVPN is off.
func TestMakeOpenVpnConfigFile(t *testing.T) {
	s, d, _ := openAdmin(t)
	wantCode(t, d, hubAdm("DEFAULT"), "MakeOpenVpnConfigFile", params(), vpnerr.NotEnoughRight)

	files := func() map[string]string {
		t.Helper()
		got := call(t, d, serverAdm, "MakeOpenVpnConfigFile", params())
		if got.Int("Offset") != 0 || !got.Has("FilePath") || !got.Has("ServerName") {
			t.Fatalf("not an RPC_READ_LOG_FILE: %v", got.Elements())
		}
		// JSON-RPC shows it as SoftEther's documentation does
		if j, err := admin.MethodResultJSON("MakeOpenVpnConfigFile", got); err != nil ||
			!bytes.Contains(j, []byte(`"Buffer_bin":"UEsDB`)) || !bytes.Contains(j, []byte(`"Offset_u32":0`)) ||
			!bytes.Contains(j, []byte(`"FilePath_str":""`)) || !bytes.Contains(j, []byte(`"ServerName_str":""`)) {
			t.Fatalf("JSON-RPC result %.200s %v", j, err)
		}
		buf := got.Data("Buffer")
		zr, err := zip.NewReader(bytes.NewReader(buf), int64(len(buf)))
		if err != nil {
			t.Fatalf("Buffer is no zip: %v", err)
		}
		m := map[string]string{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			m[f.Name] = string(b)
		}
		return m
	}
	host, _ := os.Hostname()
	prefix := openvpn.FilePrefix(host)
	l3, l2 := prefix+"openvpn_remote_access_l3.ovpn", prefix+"openvpn_site_to_site_bridge_l2.ovpn"
	m := files()
	if len(m) != 3 || m["readme.txt"] == "" || m[l3] == "" || m[l2] == "" {
		t.Fatalf("zip holds %v, want readme.txt, %s, %s", slices.Sorted(maps.Keys(m)), l3, l2)
	}
	cert := s.ctl.Current().CertDER
	for name, dev := range map[string]string{l3: "tun", l2: "tap"} {
		f := m[name]
		for _, line := range []string{"client", "dev " + dev, "proto udp", "auth-user-pass",
			"data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305"} {
			if !hasLine(f, line) {
				t.Errorf("%s: no line %q:\n%s", name, line, f)
			}
		}
		if !regexp.MustCompile(`(?m)^remote \S+ 1194$`).MatchString(f) { // 1194 is among the default ports
			t.Errorf("%s: no remote on 1194:\n%s", name, f)
		}
		i, j := strings.Index(f, "<ca>\n"), strings.Index(f, "</ca>")
		if i < 0 || j < i {
			t.Fatalf("%s: no <ca> block", name)
		}
		blk, _ := pem.Decode([]byte(f[i+5 : j]))
		if blk == nil || !bytes.Equal(blk.Bytes, cert) {
			t.Errorf("%s: <ca> is not the server's certificate", name)
		}
	}

	// without 1194, the first UDP port
	ports := pack.New()
	ports.AddInts("Ports", []uint32{5555, 992})
	call(t, d, serverAdm, "SetPortsUDP", ports)
	if f := files()[l3]; !hasLine(f, "proto udp") || !regexp.MustCompile(`(?m)^remote \S+ 5555$`).MatchString(f) {
		t.Errorf("PortsUDP 5555, 992: want udp 5555:\n%s", f)
	}

	call(t, d, serverAdm, "SetOpenVpnSstpConfig", params("EnableOpenVPN", false))
	wantCode(t, d, serverAdm, "MakeOpenVpnConfigFile", params(), vpnerr.OpenVPNIsNotEnabled)
}

func hasLine(text, line string) bool {
	return slices.Contains(strings.Split(text, "\n"), line)
}

func TestPickServerAddress(t *testing.T) {
	a := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, x := range s {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	for _, c := range []struct {
		in   []netip.Addr
		want string
	}{
		{a("fe80::1", "10.0.0.5", "203.0.113.7", "2001:db8::1"), "203.0.113.7"},
		{a("fe80::1", "2001:db8::1", "192.168.1.2"), "192.168.1.2"},
		{a("fe80::1", "2001:db8::1"), "2001:db8::1"},
		{a("fe80::1", "169.254.1.1"), ""},
		{nil, ""},
	} {
		got, ok := pickServerAddress(c.in)
		if c.want == "" {
			if ok {
				t.Errorf("%v: got %v, want none", c.in, got)
			}
			continue
		}
		if !ok || got.String() != c.want {
			t.Errorf("%v: got %v, want %s", c.in, got, c.want)
		}
	}
}
