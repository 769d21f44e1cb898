package config

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// A 5.01-style file: PortsUDP in an odd spelling, OpenVPN options without
// the HEAD-only PingSendInterval and Timeout, an item nobody knows, and a
// WireGuard key list.
const protoFile = `declare root
{
	declare ServerConfiguration
	{
		string PortsUDP 1194;$20500,$2500
		declare Proto
		{
			declare OpenVPN
			{
				string DefaultClientOption dev-type$20tun
				bool Enabled false
				string FutureOption abc
				bool PushDummyIPv4AddressOnL2Mode true
			}
		}
		string UsernameHubSeparator \
	}
	declare WireGuardKeyList
	{
		declare 2c8Ftd6C1ev9lTvsYnxQUEQ1kbpxiM3wcNWtOFNnmGk=
		{
			string Hub DEFAULT
			string User alice
			uint Unknown 7
		}
	}
}
`

func loadProtoFile(t *testing.T) *Server {
	t.Helper()
	root, err := Parse([]byte(protoFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProtocolsRead(t *testing.T) {
	s := loadProtoFile(t)
	if !slices.Equal(s.PortsUDP, []uint16{500, 1194}) {
		t.Errorf("PortsUDP %v", s.PortsUDP)
	}
	if s.UsernameHubSeparator != `\` {
		t.Errorf("separator %q", s.UsernameHubSeparator)
	}
	want := DefaultProtoOptions()
	want.OpenVPN.Enabled, want.OpenVPN.DefaultClientOption = false, "dev-type tun"
	if s.Proto != want {
		t.Errorf("Proto %+v\nwant %+v", s.Proto, want)
	}
	if len(s.WireGuardKeys) != 1 || s.WireGuardKeys[0] != (WireGuardKey{"2c8Ftd6C1ev9lTvsYnxQUEQ1kbpxiM3wcNWtOFNnmGk=", "DEFAULT", "alice"}) {
		t.Errorf("keys %+v", s.WireGuardKeys)
	}
	// a file without any of it has SoftEther's defaults
	d, err := FromTree(&Folder{Folders: []*Folder{NewFolder("ServerConfiguration")}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.PortsUDP, DefaultPortsUDP) || d.UsernameHubSeparator != "@" || d.Proto != DefaultProtoOptions() || d.WireGuardKeys != nil {
		t.Errorf("defaults: %v %q %+v %v", d.PortsUDP, d.UsernameHubSeparator, d.Proto, d.WireGuardKeys)
	}
	if def := Default(); !slices.Equal(def.PortsUDP, DefaultPortsUDP) || def.Proto.OpenVPN != DefaultProtoOptions().OpenVPN {
		t.Errorf("Default(): %v %+v", def.PortsUDP, def.Proto)
	}
}

// An unchanged model leaves the file byte for byte; a change writes the
// part that changed and keeps what the model does not know.
func TestProtocolsRoundTrip(t *testing.T) {
	s := loadProtoFile(t)
	orig := string(s.Tree.Encode())
	if got := string(s.ToTree().Encode()); got != orig {
		t.Fatalf("unchanged model rewrote the file:\n%s\nwas\n%s", got, orig)
	}
	c := s.Clone()
	c.PortsUDP = []uint16{443, 1194}
	c.Proto.OpenVPN.Timeout = 12345
	c.Proto.OpenVPN.PushDummyIPv4AddressOnL2Mode = false
	c.Proto.WireGuard.PrivateKey = "k"
	c.UsernameHubSeparator = "#"
	c.WireGuardKeys = append(c.WireGuardKeys, WireGuardKey{Key: "bmV3", Hub: "H", User: "u"})
	text := c.ToTree().Encode()
	for _, w := range []string{"string PortsUDP 443,$201194", "uint Timeout 12345", "string FutureOption abc",
		"uint Unknown 7", "string UsernameHubSeparator #", "declare bmV3", "string PrivateKey k"} {
		if !bytes.Contains(text, []byte(w)) {
			t.Errorf("the saved file lacks %q:\n%s", w, text)
		}
	}
	if bytes.Contains(text, []byte("declare SSTP")) {
		t.Errorf("an unchanged protocol was written:\n%s", text)
	}
	root, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(c) {
		t.Fatalf("read back %+v %v %q %v\nwant %+v %v %q %v", back.Proto, back.PortsUDP, back.UsernameHubSeparator, back.WireGuardKeys,
			c.Proto, c.PortsUDP, c.UsernameHubSeparator, c.WireGuardKeys)
	}
	// the published model was not touched by the edit of its clone
	if s.Proto.OpenVPN.Timeout != 30000 || len(s.WireGuardKeys) != 1 || !slices.Equal(s.PortsUDP, []uint16{500, 1194}) {
		t.Fatalf("Clone shares memory: %+v %v %v", s.Proto, s.WireGuardKeys, s.PortsUDP)
	}
	// removing a key removes its folder
	back.WireGuardKeys = back.WireGuardKeys[:1]
	if text := back.ToTree().Encode(); bytes.Contains(text, []byte("bmV3")) || !bytes.Contains(text, []byte("uint Unknown 7")) {
		t.Fatalf("after removing a key:\n%s", text)
	}
}

func TestParsePortsUDP(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []uint16
		bad  bool
	}{
		{"443, 992, 1194, 5555", []uint16{443, 992, 1194, 5555}, false},
		{"5555 443/443;x\t1", []uint16{1, 443, 5555}, false},
		{"", nil, false},
		{"0, 80", []uint16{80}, true},
		{"65536", nil, true},
		{"99999999999999999999", nil, true},
	} {
		got, err := ParsePortsUDP(c.in)
		if !slices.Equal(got, c.want) || (err != nil) != c.bad {
			t.Errorf("ParsePortsUDP(%q) = %v, %v; want %v, bad %v", c.in, got, err, c.want, c.bad)
		}
	}
	if got := FormatPortsUDP(DefaultPortsUDP); got != "443, 992, 1194, 5555" {
		t.Errorf("FormatPortsUDP = %q", got)
	}
}

// FuzzParsePortsUDP: any text gives sorted distinct ports 1-65535 that
// format and parse back to themselves.
func FuzzParsePortsUDP(f *testing.F) {
	for _, s := range []string{"443, 992, 1194, 5555", "0", "1;2/3\t4 x", "65536,65535", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ports, _ := ParsePortsUDP(s)
		for i, p := range ports {
			if p == 0 || i > 0 && ports[i-1] >= p {
				t.Fatalf("ParsePortsUDP(%q) = %v", s, ports)
			}
		}
		back, err := ParsePortsUDP(FormatPortsUDP(ports))
		if err != nil || !slices.Equal(back, ports) {
			t.Fatalf("round trip of %v: %v, %v", ports, back, err)
		}
	})
}

func TestWireGuardKeys(t *testing.T) {
	// RFC 7748 section 6.1, Alice's key pair
	priv := "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
	pub, err := WireGuardPublicKey(priv)
	if err != nil || pub != "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" {
		t.Fatalf("public key %q, %v", pub, err)
	}
	if _, err := WireGuardPublicKey("c2hvcnQ="); err == nil {
		t.Fatal("a short key was accepted")
	}
	s := Default()
	made, err := s.EnsureWireGuardKey()
	if err != nil || !made {
		t.Fatalf("EnsureWireGuardKey = %v, %v", made, err)
	}
	k, err := ParseWireGuardKey(s.Proto.WireGuard.PrivateKey)
	if err != nil || k[0]&7 != 0 || k[31]&0xc0 != 0x40 {
		t.Fatalf("generated key %x, %v: not a clamped Curve25519 key", k, err)
	}
	if made, _ := s.EnsureWireGuardKey(); made {
		t.Fatal("a second key was made")
	}
	if text := s.ToTree().Encode(); !strings.Contains(string(text), "string PrivateKey "+s.Proto.WireGuard.PrivateKey) {
		t.Fatalf("the key is not saved:\n%s", text)
	}
}
