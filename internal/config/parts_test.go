package config

import (
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The parts compared with == must stay comparable: this does not compile
// when one of them gets a slice, map or function field.
var _ = []bool{
	AcEntry{} == AcEntry{}, Access{} == Access{}, AdminOption{} == AdminOption{}, HubOptions{} == HubOptions{},
	LogSetting{} == LogSetting{}, Syslog{} == Syslog{}, KeepConnect{} == KeepConnect{}, ServerOptions{} == ServerOptions{},
	L3SwitchSettings{} == L3SwitchSettings{}, L3Interface{} == L3Interface{}, L3Route{} == L3Route{},
	CascadeSettings{} == CascadeSettings{}, Policy{} == Policy{},
}

// mutate changes the field v (settable) to a value different from the one
// it has, for the kinds the model uses.
func mutate(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Slice:
		switch elem := v.Type().Elem(); {
		case elem.Kind() == reflect.Uint8:
			v.SetBytes(append(v.Bytes(), 1))
		case elem.Kind() == reflect.Pointer:
			v.Set(reflect.Append(v, reflect.New(elem.Elem())))
		default:
			v.Set(reflect.Append(v, reflect.New(elem).Elem()))
		}
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.Set(reflect.Zero(v.Type()))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		if v.Type() == reflect.TypeFor[netip.Addr]() {
			v.Set(reflect.ValueOf(netip.MustParseAddr("192.0.2.99")))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutate(t, v.Field(i), path+"."+v.Type().Field(i).Name)
				return
			}
		}
		t.Fatalf("%s: no exported field to change", path)
	default:
		t.Fatalf("%s: kind %s not handled by the test", path, v.Kind())
	}
}

// Equal methods that are not plain == cover every exported field: a field
// added to the struct but not to Equal makes this test fail.
func TestEqualCoversEveryField(t *testing.T) {
	check := func(name string, zero any, equal func(a, b any) bool) {
		typ := reflect.TypeOf(zero)
		var walk func(prefix string, idx []int, ft reflect.Type)
		walk = func(prefix string, idx []int, ft reflect.Type) {
			for i := range ft.NumField() {
				f := ft.Field(i)
				if !f.IsExported() || typ == reflect.TypeFor[Server]() && f.Name == "Tree" { // the file, not a setting
					continue
				}
				path := append(slices.Clone(idx), i)
				if f.Anonymous && f.Type.Kind() == reflect.Struct {
					walk(prefix+f.Name+".", path, f.Type)
					continue
				}
				b := reflect.New(typ).Elem()
				mutate(t, b.FieldByIndex(path), name+"."+prefix+f.Name)
				if equal(reflect.Zero(typ).Interface(), b.Interface()) {
					t.Errorf("%s.Equal ignores field %s%s", name, prefix, f.Name)
				}
			}
		}
		walk("", nil, typ)
	}
	check("L3Switch", L3Switch{}, func(a, b any) bool { return a.(L3Switch).Equal(b.(L3Switch)) })
	check("LocalBridge", LocalBridge{}, func(a, b any) bool { return a.(LocalBridge).Equal(b.(LocalBridge)) })
	check("Bridges", Bridges{}, func(a, b any) bool { return a.(Bridges).Equal(b.(Bridges)) })
	check("Cascade", Cascade{}, func(a, b any) bool { x, y := a.(Cascade), b.(Cascade); return x.Equal(&y) })
	check("SecureNAT", SecureNAT{}, func(a, b any) bool { return a.(SecureNAT).Equal(b.(SecureNAT)) })
	check("User", User{}, func(a, b any) bool { x, y := a.(User), b.(User); return x.Equal(&y) })
	check("Group", Group{}, func(a, b any) bool { x, y := a.(Group), b.(Group); return x.Equal(&y) })
	check("Hub", Hub{}, func(a, b any) bool { x, y := a.(Hub), b.(Hub); return x.Equal(&y) })
	check("Server", Server{}, func(a, b any) bool { x, y := a.(Server), b.(Server); return x.Equal(&y) })
}

// hubOptionItems names every field of HubOptions once, with the field's
// type, and the items are the struct's fields in order.
func TestHubOptionItemsCoverStruct(t *testing.T) {
	typ := reflect.TypeFor[HubOptions]()
	if typ.NumField() != len(hubOptionItems) {
		t.Fatalf("HubOptions has %d fields, hubOptionItems %d", typ.NumField(), len(hubOptionItems))
	}
	for i, it := range hubOptionItems {
		f := typ.Field(i)
		if f.Name != it.name || (f.Type.Kind() == reflect.Bool) != (it.b != nil) {
			t.Errorf("item %d: %s (%v), field %s (%s)", i, it.name, it.kind, f.Name, f.Type)
		}
		var o HubOptions
		it.set(&o, 1)
		if v := reflect.ValueOf(o).Field(i); v.IsZero() {
			t.Errorf("item %s sets another field", it.name)
		}
	}
	// a new hub's options are the defaults
	if got := NewHub("X").Options; got != DefaultHubOptions() {
		t.Errorf("new hub options %+v, want the defaults %+v", got, DefaultHubOptions())
	}
	o := DefaultHubOptions()
	if !o.ManageOnlyPrivateIP || o.VlanTypeId != 0x8100 || o.FloodingSendQueueBufferQuota != 33554432 || o.NoIpTable {
		t.Errorf("defaults: %+v", o)
	}
	if v, ok := o.Get("vlantypeid"); !ok || v != 0x8100 {
		t.Errorf("Get(vlantypeid) = %d, %v", v, ok)
	}
	if o.Set("NoSuchOption", 1) {
		t.Error("Set accepted an unknown name")
	}
}

// Editing a part through the model keeps the items the model does not
// know, and leaves the other parts (which the server may have edited in
// the tree directly) as the tree has them.
func TestPartsKeepUnknownItems(t *testing.T) {
	s := Default()
	h := s.Hub("DEFAULT")
	h.AccessList = []Access{{UniqueID: 40000, Note: "a", Active: true, Priority: 1, SrcIP: netip.MustParseAddr("10.0.0.0"), SrcMask: netip.MustParseAddr("255.0.0.0")}}
	s.L3Switches = []L3Switch{{L3SwitchSettings: L3SwitchSettings{Name: "SW"}}}
	s.LocalBridges.List = []LocalBridge{{HubName: "DEFAULT", DeviceName: "eth9", TapMode: true, TapMAC: net.HardwareAddr{0, 0xac, 1, 2, 3, 4}}}
	root := s.ToTree()
	hf := root.Folder("VirtualHUB").Folder("DEFAULT")
	hf.Folder("AccessList").Folder("1").SetString("FutureItem", "kept")
	root.Folder("VirtualLayer3SwitchList").Folder("SW").SetString("FutureItem", "kept")
	root.Folder("LocalBridgeList").Folders[0].SetString("FutureItem", "kept")
	hf.Folder("Option").SetString("FutureOption", "kept")
	hf.Folder("AdminOption").SetString("future_text", "kept")

	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	h = s.Hub("DEFAULT")
	h.AccessList[0].Note = "changed"
	h.AccessList = append(h.AccessList, Access{Note: "second", Active: true})
	s.L3Switches[0].Active = true
	s.LocalBridges.List[0].MonitorMode = true
	h.Options.NoIpTable = true
	h.SetAdminOption("max_users", 3)
	// what the server writes in the tree directly, behind the model's back
	root.Folder("ServerConfiguration").Ensure("SyslogSettings").SetString("HostName", "direct.example")
	root = s.ToTree()

	hf = root.Folder("VirtualHUB").Folder("DEFAULT")
	for what, f := range map[string]*Folder{
		"access rule": hf.Folder("AccessList").Folder("1"), "L3 switch": root.Folder("VirtualLayer3SwitchList").Folder("SW"),
		"local bridge": root.Folder("LocalBridgeList").Folders[0],
	} {
		if f.GetString("FutureItem") != "kept" {
			t.Errorf("%s lost an unknown item: %+v", what, f)
		}
	}
	if hf.Folder("Option").GetString("FutureOption") != "kept" || hf.Folder("AdminOption").GetString("future_text") != "kept" {
		t.Error("unknown Option or AdminOption items were lost")
	}
	if r := hf.Folder("AccessList"); r.Folder("1").GetString("Note") != "changed" || r.Folder("2").GetString("Note") != "second" ||
		r.Folder("2").Item("Delay") == nil {
		t.Errorf("access list written as %+v", r)
	}
	if !hf.Folder("Option").GetBool("NoIpTable") || hf.Folder("AdminOption").GetUint("max_users") != 3 {
		t.Error("option changes not written")
	}
	if !root.Folder("VirtualLayer3SwitchList").Folder("SW").GetBool("Active") || !root.Folder("LocalBridgeList").Folders[0].GetBool("MonitorMode") {
		t.Error("switch or bridge change not written")
	}
	if got := root.Folder("ServerConfiguration").Folder("SyslogSettings").GetString("HostName"); got != "direct.example" {
		t.Errorf("an unchanged model part overwrote the tree's syslog host with %q", got)
	}
	back, err := FromTree(root.Clone())
	if err != nil {
		t.Fatal(err)
	}
	// the model reads back as written (the syslog host is the tree's)
	s.Syslog.HostName = "direct.example"
	sameModel(t, "edited parts", s, back)
	if !strings.Contains(string(root.Encode()), "FutureItem") {
		t.Fatal("encode lost items")
	}
}

// Lists of more than ten entries keep their order through the file, which
// sorts folder names as text ("10" before "2").
func TestLongListsKeepOrder(t *testing.T) {
	s := Default()
	h := s.Hub("DEFAULT")
	sw := L3Switch{L3SwitchSettings: L3SwitchSettings{Name: "SW"}}
	for i := range 12 {
		ip := netip.AddrFrom4([4]byte{10, byte(i), 0, 0})
		h.AccessList = append(h.AccessList, Access{UniqueID: uint32(40000 + i), Priority: uint32(100 - i), SrcIP: ip})
		h.AcList = append(h.AcList, AcEntry{Priority: uint32(100 - i), IP: ip})
		sw.Interfaces = append(sw.Interfaces, L3Interface{HubName: "H" + strings.Repeat("x", i), IP: ip})
		sw.Routes = append(sw.Routes, L3Route{Network: ip, Metric: uint32(i)})
		s.LocalBridges.List = append(s.LocalBridges.List, LocalBridge{HubName: "DEFAULT", DeviceName: "eth" + string(rune('a'+i))})
	}
	s.L3Switches = []L3Switch{sw}
	root, err := Parse(s.ToTree().Encode())
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	sameModel(t, "12 entries each", s, back)
}
