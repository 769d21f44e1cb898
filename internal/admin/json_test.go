package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
)

// sameJSON fails unless got and want hold the same JSON value (key order
// and white space aside).
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

func mustPack(t *testing.T, js string) *pack.Pack {
	t.Helper()
	p, err := JSONToPack([]byte(js))
	if err != nil {
		t.Fatalf("JSONToPack(%s): %v", js, err)
	}
	return p
}

func seTime(t *testing.T, rfc string) uint64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, rfc)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(tm.UnixMilli() - seTimeOffset)
}

// docs/protocol/admin.md#json-examples: CreateHub request and the real server's answer.
func TestGoldenCreateHub(t *testing.T) {
	in := mustPack(t, `{"HubName_str":"HUB1","AdminPasswordPlainText_str":"hubpass","Online_bool":true,
		"MaxSession_u32":0,"NoEnum_bool":false,"HubType_u32":0}`)
	if in.Str("HubName") != "HUB1" || in.Str("AdminPasswordPlainText") != "hubpass" || in.Int("Online") != 1 {
		t.Fatalf("request pack: %+v", in.Elements())
	}
	for _, n := range []string{"MaxSession", "NoEnum", "HubType"} {
		if e, ok := in.Lookup(n); !ok || e.Type != pack.TypeInt || e.Ints[0] != 0 {
			t.Errorf("%s: %+v", n, e)
		}
	}
	// The handler adds the hashes and echoes the structure.
	hashed := sha0.Sum([]byte("hubpass"))
	secure := sha0.HashPassword("administrator", "hubpass")
	in.AddData("HashedPassword", hashed[:])
	in.AddData("SecurePassword", secure[:])
	out, err := MethodResultJSON("CreateHub", in)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, out, `{
        "AdminPasswordPlainText_str": "hubpass",
        "HashedPassword_bin": "oR\/HhTVRxuqrSh2+ZCGkagCbOX8=",
        "HubName_str": "HUB1",
        "HubType_u32": 0,
        "MaxSession_u32": 0,
        "NoEnum_bool": false,
        "Online_bool": true,
        "SecurePassword_bin": "SHNP2odGhD4nmYgOa101Ru41DUE="
    }`)
}

// docs/protocol/admin.md#json-examples: the SetSecureNATOption request maps to a PACK whose echo (with
// ApplyDhcpPushRoutes forced to 1) renders as the real response.
func TestGoldenSecureNATOption(t *testing.T) {
	in := mustPack(t, `{
  "RpcHubName_str":"HUB2","MacAddress_bin":"AAy3AAAB",
  "Ip_ip":"10.20.0.1","Mask_ip":"255.255.255.0",
  "UseNat_bool":true,"Mtu_u32":1500,"NatTcpTimeout_u32":1800,"NatUdpTimeout_u32":60,
  "UseDhcp_bool":true,"DhcpLeaseIPStart_ip":"10.20.0.100","DhcpLeaseIPEnd_ip":"10.20.0.199",
  "DhcpSubnetMask_ip":"255.255.255.0","DhcpExpireTimeSpan_u32":7200,
  "DhcpGatewayAddress_ip":"10.20.0.1","DhcpDnsServerAddress_ip":"10.20.0.1",
  "DhcpDnsServerAddress2_ip":"0.0.0.0","DhcpDomainName_str":"vpn.example",
  "SaveLog_bool":true,"ApplyDhcpPushRoutes_bool":false,"DhcpPushRoutes_str":""}`)
	if got := in.Int("Ip"); got != 0x0100140a {
		t.Errorf("Ip INT = %#x, want the octets in memory order 0x0100140a", got)
	}
	if got := in.Int("Mask"); got != 16777215 {
		t.Errorf("Mask INT = %d, want 16777215", got)
	}
	if !bytes.Equal(in.Data("MacAddress"), []byte{0x00, 0x0c, 0xb7, 0x00, 0x00, 0x01}) {
		t.Errorf("MacAddress = %x", in.Data("MacAddress"))
	}
	if in.IP("DhcpLeaseIPEnd") != netip.MustParseAddr("10.20.0.199") || len(in.Data("Ip@ipv6_array")) != 16 {
		t.Errorf("IP quartet not written: %+v", in.Elements())
	}
	in.AddBool("ApplyDhcpPushRoutes", true)
	out, err := MethodResultJSON("GetSecureNATOption", in)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, out, `{
        "ApplyDhcpPushRoutes_bool": true,
        "DhcpDnsServerAddress_ip": "10.20.0.1",
        "DhcpDnsServerAddress2_ip": "0.0.0.0",
        "DhcpDomainName_str": "vpn.example",
        "DhcpExpireTimeSpan_u32": 7200,
        "DhcpGatewayAddress_ip": "10.20.0.1",
        "DhcpLeaseIPEnd_ip": "10.20.0.199",
        "DhcpLeaseIPStart_ip": "10.20.0.100",
        "DhcpPushRoutes_str": "",
        "DhcpSubnetMask_ip": "255.255.255.0",
        "Ip_ip": "10.20.0.1",
        "MacAddress_bin": "AAy3AAAB",
        "Mask_ip": "255.255.255.0",
        "Mtu_u32": 1500,
        "NatTcpTimeout_u32": 1800,
        "NatUdpTimeout_u32": 60,
        "RpcHubName_str": "HUB2",
        "SaveLog_bool": true,
        "UseDhcp_bool": true,
        "UseNat_bool": true
    }`)
}

// addIPs writes an array of IP fields the way the real server does.
func addIPs(p *pack.Pack, name string, ips ...string) {
	v4 := make([]uint64, len(ips))
	zero := make([]uint64, len(ips))
	arr := make([][]byte, len(ips))
	for i, s := range ips {
		a := netip.MustParseAddr(s).As4()
		v4[i] = uint64(a[0]) | uint64(a[1])<<8 | uint64(a[2])<<16 | uint64(a[3])<<24
		arr[i] = make([]byte, 16)
	}
	p.AddElement(pack.Element{Name: name, Type: pack.TypeInt, Ints: v4})
	p.AddElement(pack.Element{Name: name + "@ipv6_bool", Type: pack.TypeInt, Ints: zero})
	p.AddElement(pack.Element{Name: name + "@ipv6_array", Type: pack.TypeData, Blobs: arr})
	p.AddElement(pack.Element{Name: name + "@ipv6_scope_id", Type: pack.TypeInt, Ints: zero})
}

// docs/protocol/admin.md#json-examples: EnumNAT, empty (real) and with one session (illustrative).
func TestGoldenEnumNAT(t *testing.T) {
	empty := pack.New()
	empty.AddStr("HubName", "")
	empty.AddInt("NumItem", 0)
	out, _ := MethodResultJSON("EnumNAT", empty)
	sameJSON(t, out, `{"NatTable": [], "HubName_str": "", "NumItem_u32": 0}`)
	if !bytes.HasPrefix(out, []byte(`{"NatTable":[]`)) {
		t.Errorf("group list not first: %s", out)
	}

	p := pack.New()
	p.AddStr("HubName", "")
	p.AddInt("NumItem", 1)
	p.AddInts("Id", []uint32{7})
	p.AddInts("Protocol", []uint32{0})
	addIPs(p, "SrcIp", "192.168.30.10")
	addIPs(p, "DestIp", "93.184.216.34")
	p.AddStrs("SrcHost", []string{"192.168.30.10"})
	p.AddStrs("DestHost", []string{"www.example.com"})
	p.AddInts("SrcPort", []uint32{51234})
	p.AddInts("DestPort", []uint32{443})
	p.AddElement(pack.Element{Name: "CreatedTime", Type: pack.TypeInt64, Ints: []uint64{seTime(t, "2026-11-21T05:22:10.120Z")}})
	p.AddElement(pack.Element{Name: "LastCommTime", Type: pack.TypeInt64, Ints: []uint64{seTime(t, "2026-11-21T05:22:14.311Z")}})
	p.AddElement(pack.Element{Name: "SendSize", Type: pack.TypeInt64, Ints: []uint64{734}})
	p.AddElement(pack.Element{Name: "RecvSize", Type: pack.TypeInt64, Ints: []uint64{5120}})
	p.AddInts("TcpStatus", []uint32{3})
	out, _ = MethodResultJSON("enumnat", p)
	sameJSON(t, out, `{
        "NatTable": [
            {
                "CreatedTime_dt": "2026-11-21T05:22:10.120Z",
                "DestHost_str": "www.example.com",
                "DestIp_ip": "93.184.216.34",
                "DestPort_u32": 443,
                "Id_u32": 7,
                "LastCommTime_dt": "2026-11-21T05:22:14.311Z",
                "Protocol_u32": 0,
                "RecvSize_u64": 5120,
                "SendSize_u64": 734,
                "SrcHost_str": "192.168.30.10",
                "SrcIp_ip": "192.168.30.10",
                "SrcPort_u32": 51234,
                "TcpStatus_u32": 3
            }
        ],
        "HubName_str": "",
        "NumItem_u32": 1
    }`)
}

// docs/protocol/admin.md#json-examples: EnumDHCP with one lease; Mask is a plain INT (no IP quartet).
func TestGoldenEnumDHCP(t *testing.T) {
	p := pack.New()
	p.AddStr("HubName", "")
	p.AddInt("NumItem", 1)
	p.AddInts("Id", []uint32{1})
	p.AddElement(pack.Element{Name: "LeasedTime", Type: pack.TypeInt64, Ints: []uint64{seTime(t, "2026-11-21T05:21:00.485Z")}})
	p.AddElement(pack.Element{Name: "ExpireTime", Type: pack.TypeInt64, Ints: []uint64{seTime(t, "2026-11-21T06:21:00.485Z")}})
	p.AddElement(pack.Element{Name: "MacAddress", Type: pack.TypeData, Blobs: [][]byte{{0x5e, 0xe2, 0x51, 0xe5, 0xca, 0x93}}})
	addIPs(p, "IpAddress", "192.168.40.10")
	p.AddInts("Mask", []uint32{16777215})
	p.AddStrs("Hostname", []string{"alicebox"})
	out, _ := MethodResultJSON("EnumDHCP", p)
	sameJSON(t, out, `{
        "DhcpTable": [
            {
                "ExpireTime_dt": "2026-11-21T06:21:00.485Z",
                "Hostname_str": "alicebox",
                "Id_u32": 1,
                "IpAddress_ip": "192.168.40.10",
                "LeasedTime_dt": "2026-11-21T05:21:00.485Z",
                "MacAddress_bin": "XuJR5cqT",
                "Mask_u32": 16777215
            }
        ],
        "HubName_str": "",
        "NumItem_u32": 1
    }`)
}

// GetAcList: the answer of the real vpnserver (captured from it) after
// SoftEther's JSON-RPC sample client set its three entries.
func TestGoldenGetAcList(t *testing.T) {
	p := pack.New()
	p.AddStr("HubName", "DEFAULT")
	p.AddInt("NumItem", 3)
	p.AddInts("Id", []uint32{1, 2, 3})
	p.AddInts("Deny", []uint32{1, 0, 1})
	a := netip.MustParseAddr
	p.AddIPs("IpAddress", []netip.Addr{a("192.168.100.2"), a("192.168.100.3"), a("fe80::")})
	p.AddInts("Masked", []uint32{0, 1, 1})
	p.AddIPs("SubnetMask", []netip.Addr{a("0.0.0.0"), a("255.255.255.0"), a("0.0.0.0")})
	p.AddInts("Priority", []uint32{100, 200, 300})
	for _, m := range []string{"GetAcList", "SetAcList"} {
		out, _ := MethodResultJSON(m, p)
		sameJSON(t, out, `{"ACList":[
		{"Deny_bool":true,"Id_u32":1,"IpAddress_ip":"192.168.100.2","Masked_bool":false,"Priority_u32":100,"SubnetMask_ip":"0.0.0.0"},
		{"Deny_bool":false,"Id_u32":2,"IpAddress_ip":"192.168.100.3","Masked_bool":true,"Priority_u32":200,"SubnetMask_ip":"255.255.255.0"},
		{"Deny_bool":true,"Id_u32":3,"IpAddress_ip":"fe80::","Masked_bool":true,"Priority_u32":300,"SubnetMask_ip":"0.0.0.0"}],
		"HubName_str":"DEFAULT","NumItem_u32":3}`)
	}
}

// docs/protocol/admin.md#json-examples: EnumListener and Test.
func TestGoldenListenerAndTest(t *testing.T) {
	p := pack.New()
	p.AddInts("Ports", []uint32{443, 992})
	p.AddInts("Enables", []uint32{1, 1})
	p.AddInts("Errors", []uint32{0, 0})
	out, _ := MethodResultJSON("EnumListener", p)
	sameJSON(t, out, `{"ListenerList":[{"Enables_bool":true,"Errors_bool":false,"Ports_u32":443},
		{"Enables_bool":true,"Errors_bool":false,"Ports_u32":992}]}`)

	in := mustPack(t, `{"IntValue_u32":"77"}`)
	if in.Int("IntValue") != 77 {
		t.Fatalf("IntValue = %d", in.Int("IntValue"))
	}
	res := pack.New()
	res.AddInt("IntValue", 77)
	res.AddInt64("Int64Value", 0)
	res.AddStr("StrValue", "77")
	res.AddUniStr("UniStrValue", "")
	out, _ = PackToJSON(res)
	sameJSON(t, out, `{"Int64Value_u64":0,"IntValue_u32":77,"StrValue_str":"77","UniStrValue_utf":""}`)
}

// docs/protocol/admin.md#se-time: SE-time is Unix ms minus 9 h; zero renders as 09:00 and parses back.
func TestSETime(t *testing.T) {
	if got := formatSETime(1795205740841); got != "2026-11-21T05:15:40.841Z" {
		t.Errorf("formatSETime = %s", got)
	}
	if got := formatSETime(0); got != "1970-01-01T09:00:00.000Z" {
		t.Errorf("zero time = %s", got)
	}
	for in, want := range map[string]uint64{
		"2026-11-21T05:15:40.841Z":      1795205740841,
		"2026-11-21T05:15:40.841+09:00": 1795205740841, // offsets are not applied
		"2026-11-21T05:15:40.8412345Z":  1795205740841,
		"2026-11-21T05:15:40Z":          1795205740000,
		"1970-01-01T09:00:00.000Z":      0,
		"1970-01-01T00:00:00.000Z":      0, // before SE-time 0
		"yesterday":                     0,
	} {
		if got := parseSETime(in); got != want {
			t.Errorf("parseSETime(%q) = %d, want %d", in, got, want)
		}
	}
	p := mustPack(t, `{"CreatedTime_dt":"2026-11-21T05:15:40.841Z","Raw_dt":12}`)
	if p.Int64("CreatedTime") != 1795205740841 || p.Int64("Raw") != 12 {
		t.Errorf("_dt: %+v", p.Elements())
	}
}

// docs/protocol/admin.md#json-to-pack coercions, arrays and lists of records.
func TestJSONToPackCoercions(t *testing.T) {
	p := mustPack(t, `{
		"A_bool":"yes", "B_bool":"0", "C_bool":"t", "D_bool":5, "E_bool":"no",
		"F_u32":true, "G_u32":4294967301, "H_u32":"12abc",
		"I_u64":"18446744073709551615", "J_str":12, "K_utf":false, "L_bin":"AAy3AAAB",
		"NoSuffix":1, "M_ip":"not an ip", "N_ip":"fe80::1", "O_u32":null, "P_u32":{"x_u32":1},
		"Q_U32":7, "Ports_u32":[443,992], "Empty_u32":[]
	}`)
	ints := map[string]uint32{"A": 1, "B": 0, "C": 1, "D": 1, "E": 0, "F": 1, "G": 5, "H": 12, "Q": 7}
	for n, want := range ints {
		if e, ok := p.Lookup(n); !ok || e.Type != pack.TypeInt || uint32(e.Ints[0]) != want {
			t.Errorf("%s = %+v, want INT %d", n, e, want)
		}
	}
	if p.Int64("I") != 1<<64-1 || p.Str("J") != "12" || p.UniStr("K") != "false" {
		t.Errorf("I/J/K: %+v", p.Elements())
	}
	for _, n := range []string{"NoSuffix", "M", "O", "P", "x", "Empty"} {
		if p.Has(n) {
			t.Errorf("%s should be ignored", n)
		}
	}
	if p.IP("N") != netip.MustParseAddr("fe80::1") {
		t.Errorf("N = %v", p.IP("N"))
	}
	if e, _ := p.Lookup("Ports"); len(e.Ints) != 2 || e.Ints[1] != 992 {
		t.Errorf("Ports = %+v", e)
	}

	// A list of records: value j of each column comes from object j, and
	// a key missing from a record leaves that value zero.
	p = mustPack(t, `{"HubName_str":"H","AccessListSingle":[
		{"Note_utf":"web","Priority_u32":10,"SrcIpAddress_ip":"10.0.0.0"},
		{"Priority_u32":20,"SrcIpAddress_ip":"10.0.0.1"}]}`)
	if e, _ := p.Lookup("Priority"); !reflect.DeepEqual(e.Ints, []uint64{10, 20}) {
		t.Errorf("Priority = %+v", e)
	}
	if e, _ := p.Lookup("Note"); !reflect.DeepEqual(e.Strs, []string{"web", ""}) {
		t.Errorf("Note = %+v", e)
	}
	if ipAt(p, "SrcIpAddress", 1) != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("SrcIpAddress[1] = %v", ipAt(p, "SrcIpAddress", 1))
	}
	if _, err := pack.Decode(p.Encode(nil)); err != nil {
		t.Errorf("the PACK does not survive encoding: %v", err)
	}
}

func TestJSONToPackRejects(t *testing.T) {
	for _, in := range []string{
		`{"IntValue_u32":-1}`, `{"IntValue_u32":1.5}`, `{"IntValue_u32":1e3}`,
		`{"a_u32":1} x`, `{"a_u32":`, `[{"a_u32":1}]`, `"str"`, ``, `{"a_u32":18446744073709551616}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		_, err := JSONToPack([]byte(in))
		var je *JSONError
		if !errors.As(err, &je) {
			t.Errorf("JSONToPack(%.40q) = %v, want a JSONError", in, err)
		}
	}
}

func TestIPv6AndGenericArrays(t *testing.T) {
	p := pack.New()
	p.AddIP("ClientIP", netip.MustParseAddr("fe80::5ce2:51ff:fee5:ca93"))
	p.AddIP("Zero", netip.IPv6Unspecified())
	p.AddInts("Port", []uint32{1, 2})
	p.AddElement(pack.Element{Name: "PacketLogConfig", Type: pack.TypeInt, Ints: []uint64{1}})
	out, _ := PackToJSON(p)
	sameJSON(t, out, `{"ClientIP_ip":"fe80::5ce2:51ff:fee5:ca93","Zero_ip":"::","Port_u32":[1,2],"PacketLogConfig_u32":[1]}`)
}

func FuzzJSONToPack(f *testing.F) {
	f.Add([]byte(`{"HubName_str":"HUB1","Online_bool":true,"Ip_ip":"10.0.0.1"}`))
	f.Add([]byte(`{"AccessListSingle":[{"Note_utf":"x","Priority_u32":1,"DestIpAddress_ip":"::1"}]}`))
	f.Add([]byte(`{"A_dt":"2026-11-21T05:15:40.841Z","B_bin":"AAy3AAAB","C_u64":[1,2,3]}`))
	f.Add([]byte(`{"IntValue_u32":-1}`))
	f.Add([]byte(`[[[[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := JSONToPack(b)
		if err != nil {
			var je *JSONError
			if !errors.As(err, &je) || err.Error() == "" {
				t.Fatalf("error %v is not a clear JSONError", err)
			}
			return
		}
		if _, err := pack.Decode(p.Encode(nil)); err != nil {
			t.Fatalf("JSONToPack made a PACK the decoder rejects: %v", err)
		}
		if _, err := PackToJSON(p); err != nil {
			t.Fatalf("PackToJSON: %v", err)
		}
	})
}

// The native protocols' methods: the option and WireGuard key columns are
// top-level arrays even with one value (SoftEther adds them with
// PackAdd*Ex and no group), and EnableOpenVPN/EnableSSTP are bools.
func TestGoldenProtocols(t *testing.T) {
	p := pack.New()
	p.AddStr("Protocol", "SSTP")
	p.AddStrs("Name", []string{"Enabled"})
	p.AddInts("Type", []uint32{2})
	p.AddElement(pack.Element{Name: "Value", Type: pack.TypeData, Blobs: [][]byte{{1}}})
	out, _ := MethodResultJSON("GetProtoOptions", p)
	sameJSON(t, out, `{"Name_str":["Enabled"],"Protocol_str":"SSTP","Type_u32":[2],"Value_bin":["AQ=="]}`)
	w := pack.New()
	w.AddStrs("Key", []string{"k"})
	w.AddStrs("Hub", []string{"h"})
	w.AddStrs("User", []string{"u"})
	out, _ = MethodResultJSON("EnumWgk", w)
	sameJSON(t, out, `{"Hub_str":["h"],"Key_str":["k"],"User_str":["u"]}`)
	o := pack.New()
	o.AddBool("EnableOpenVPN", true)
	o.AddBool("EnableSSTP", false)
	out, _ = MethodResultJSON("GetOpenVpnSstpConfig", o)
	sameJSON(t, out, `{"EnableOpenVPN_bool":true,"EnableSSTP_bool":false}`)
	// the same names stay scalars in other methods
	out, _ = MethodResultJSON("GetHub", w)
	sameJSON(t, out, `{"Hub_str":"h","Key_str":"k","User_str":"u"}`)
}
