package control

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// accSetAdminOption sets a hub admin option as the server admin.
func accSetAdminOption(t *testing.T, o *Owner, name string, v uint32) {
	t.Helper()
	if _, err := o.SetHubAdminOptions(serverAdmin, "DEFAULT", []config.AdminOption{{Name: name, Value: v}}); err != nil {
		t.Fatal(err)
	}
}

// fakeLists is a UserLists that refuses what its fields say and records
// the lists it checked.
type fakeLists struct {
	badField string // CheckField refuses it
	listErr  error  // CheckList answers it
	checked  [][]config.Access
}

func (f *fakeLists) CheckField(field string) error {
	if field != "" && field == f.badField {
		return vpnerr.InvalidParameter
	}
	return nil
}

func (f *fakeLists) CheckList(hub string, list []config.Access) error {
	f.checked = append(f.checked, slices.Clone(list))
	return f.listErr
}

var accHubAdmin = Actor{Hub: "DEFAULT"}

func TestAccessListOperations(t *testing.T) {
	o, st := ownerOf(t, config.Default())
	lists := &fakeLists{}
	add := func(r config.Access) {
		t.Helper()
		if err := o.AddAccess(accHubAdmin, "default", r, lists); err != nil {
			t.Fatal(err)
		}
	}
	add(config.Access{Note: "deny", Priority: 10, Discard: true, Active: true})
	add(config.Access{Note: "late", Priority: 20, Active: true})
	add(config.Access{Note: "pass", Priority: 10, Active: true,
		SrcIP: netip.MustParseAddr("10.0.0.0"), SrcMask: netip.MustParseAddr("255.0.0.0")})

	// sorted by priority, pass before discard; ids of their own
	list := o.Current().Hub("DEFAULT").AccessList
	notes := []string{}
	for _, r := range list {
		notes = append(notes, r.Note)
		if r.UniqueID < minUniqueID || slices.ContainsFunc(list, func(x config.Access) bool { return x != r && x.UniqueID == r.UniqueID }) {
			t.Errorf("rule %q: UniqueID %d", r.Note, r.UniqueID)
		}
	}
	if !slices.Equal(notes, []string{"pass", "deny", "late"}) {
		t.Fatalf("order %q", notes)
	}
	if len(lists.checked) != 3 || !slices.Equal(lists.checked[2], list) {
		t.Errorf("the user lists were not checked on the list saved: %d checks", len(lists.checked))
	}
	if saved := loadStore(t, st).Hub("DEFAULT").AccessList; !slices.Equal(saved, list) {
		t.Errorf("saved %+v, want %+v", saved, list)
	}

	// by position, then by UniqueID
	if err := o.DeleteAccess(accHubAdmin, "DEFAULT", 2); err != nil {
		t.Fatal(err)
	}
	if err := o.DeleteAccess(serverAdmin, "DEFAULT", list[2].UniqueID); err != nil {
		t.Fatal(err)
	}
	if left := loadStore(t, st).Hub("DEFAULT").AccessList; len(left) != 1 || left[0] != list[0] {
		t.Errorf("after two deletions: %+v", left)
	}
	refused(t, o, vpnerr.ObjectNotFound, func() error { return o.DeleteAccess(serverAdmin, "DEFAULT", 2) })
	refused(t, o, vpnerr.ObjectNotFound, func() error { return o.DeleteAccess(serverAdmin, "DEFAULT", list[1].UniqueID) })

	if err := o.SetAccessList(accHubAdmin, "DEFAULT", []config.Access{{Note: "b", Priority: 2}, {Note: "a", Priority: 1}}, lists); err != nil {
		t.Fatal(err)
	}
	if saved := loadStore(t, st).Hub("DEFAULT").AccessList; len(saved) != 2 || saved[0].Note != "a" || saved[1].Note != "b" {
		t.Errorf("after SetAccessList: %+v", saved)
	}
	if err := o.SetAccessList(accHubAdmin, "DEFAULT", nil, lists); err != nil {
		t.Fatal(err)
	}
	if saved := loadStore(t, st).Hub("DEFAULT").AccessList; len(saved) != 0 {
		t.Errorf("an empty SetAccessList left %+v", saved)
	}
}

func TestAccessListRefused(t *testing.T) {
	o, _ := ownerOf(t, config.Default())
	rule := config.Access{Active: true, SrcUsername: "include:users.txt"}
	refused(t, o, vpnerr.HubNotFound, func() error { return o.AddAccess(serverAdmin, "NONE", rule, nil) })

	// the user list files: a file where lists are not kept, a list beyond the bounds
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.AddAccess(serverAdmin, "DEFAULT", rule, &fakeLists{badField: rule.SrcUsername})
	})
	refused(t, o, vpnerr.InvalidParameter, func() error {
		return o.SetAccessList(serverAdmin, "DEFAULT", []config.Access{rule}, &fakeLists{listErr: vpnerr.InvalidParameter})
	})

	// max_accesslists binds hub admins only
	accSetAdminOption(t, o, "max_accesslists", 1)
	if err := o.AddAccess(accHubAdmin, "DEFAULT", config.Access{}, nil); err != nil {
		t.Fatal(err)
	}
	refused(t, o, vpnerr.TooManyAccessList, func() error { return o.AddAccess(accHubAdmin, "DEFAULT", config.Access{}, nil) })
	refused(t, o, vpnerr.TooManyAccessList, func() error {
		return o.SetAccessList(accHubAdmin, "DEFAULT", make([]config.Access, 2), nil)
	})
	if err := o.SetAccessList(accHubAdmin, "DEFAULT", make([]config.Access, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := o.AddAccess(serverAdmin, "DEFAULT", config.Access{}, nil); err != nil {
		t.Fatal(err)
	}
	refused(t, o, vpnerr.TooManyAccessList, func() error {
		return o.SetAccessList(serverAdmin, "DEFAULT", make([]config.Access, MaxAccessLists+1), nil)
	})

	accSetAdminOption(t, o, "no_change_access_list", 1)
	refused(t, o, vpnerr.NotEnoughRight, func() error { return o.AddAccess(accHubAdmin, "DEFAULT", config.Access{}, nil) })
	refused(t, o, vpnerr.NotEnoughRight, func() error { return o.DeleteAccess(accHubAdmin, "DEFAULT", 1) })
	refused(t, o, vpnerr.NotEnoughRight, func() error { return o.SetAccessList(accHubAdmin, "DEFAULT", nil, nil) })
	if err := o.DeleteAccess(serverAdmin, "DEFAULT", 1); err != nil {
		t.Fatal(err)
	}
}

// A rule added is clamped as SoftEther stores it, and the hub's admin
// options no_delay_jitter_packet_loss and no_access_list_include_file
// apply whoever adds it.
func TestAccessRulePrepared(t *testing.T) {
	o, _ := ownerOf(t, config.Default())
	in := config.Access{SrcPortStart: 80, SrcPortEnd: 10, DstPortStart: 5, Delay: 20000, Jitter: 200, Loss: 101,
		SrcUsername: "include:a.txt", DstUsername: "Exclude:b.txt"}
	last := func() config.Access { l := o.Current().Hub("DEFAULT").AccessList; return l[len(l)-1] }
	if err := o.AddAccess(accHubAdmin, "DEFAULT", in, nil); err != nil {
		t.Fatal(err)
	}
	got := last()
	if got.SrcPortEnd != 80 || got.DstPortEnd != 5 || got.Delay != 10000 || got.Jitter != 100 || got.Loss != 100 ||
		got.SrcUsername != in.SrcUsername || got.DstUsername != in.DstUsername {
		t.Errorf("stored %+v", got)
	}
	accSetAdminOption(t, o, "no_delay_jitter_packet_loss", 1)
	accSetAdminOption(t, o, "no_access_list_include_file", 1)
	for _, who := range []Actor{accHubAdmin, serverAdmin} {
		if err := o.SetAccessList(who, "DEFAULT", []config.Access{in}, &fakeLists{badField: in.SrcUsername}); err != nil {
			t.Fatal(err) // the field is cleared before it is checked
		}
		if got := last(); got.Delay != 0 || got.Jitter != 0 || got.Loss != 0 || got.SrcUsername != "" || got.DstUsername != "" {
			t.Errorf("%+v: stored %+v", who, got)
		}
	}
}

func TestAccessListFailedSave(t *testing.T) {
	o, st := ownerOf(t, config.Default())
	if err := o.AddAccess(serverAdmin, "DEFAULT", config.Access{Note: "kept"}, nil); err != nil {
		t.Fatal(err)
	}
	before := o.Current()
	st.full = true
	for name, op := range map[string]func() error{
		"AddAccess":     func() error { return o.AddAccess(serverAdmin, "DEFAULT", config.Access{Note: "new"}, nil) },
		"DeleteAccess":  func() error { return o.DeleteAccess(serverAdmin, "DEFAULT", 1) },
		"SetAccessList": func() error { return o.SetAccessList(serverAdmin, "DEFAULT", nil, nil) },
		"SetAcList": func() error {
			_, err := o.SetAcList(serverAdmin, "DEFAULT", []config.AcEntry{{IP: netip.MustParseAddr("192.0.2.1")}})
			return err
		},
	} {
		var se *SaveError
		if err := op(); !errors.As(err, &se) {
			t.Fatalf("%s: %v, want a SaveError", name, err)
		}
		if !o.Current().Equal(before) {
			t.Errorf("%s: the configuration changed although it was not saved", name)
		}
	}
	st.full = false
	if l := loadStore(t, st).Hub("DEFAULT").AccessList; len(l) != 1 || l[0].Note != "kept" {
		t.Errorf("saved: %+v", l)
	}
}

func TestSetAcList(t *testing.T) {
	o, st := ownerOf(t, config.Default())
	a := netip.MustParseAddr
	h, err := o.SetAcList(accHubAdmin, "DEFAULT", []config.AcEntry{
		{Deny: true, Priority: 10, IP: a("10.0.0.0"), Mask: a("255.0.0.0")},
		{Priority: 10, IP: a("10.1.2.3")},
		{Deny: true, Priority: 5, IP: a("fe80::1%eth0")},
		{Priority: 1, IP: a("2001:db8::"), Mask: a("0.0.0.0")}, // SoftEther's missing mask
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.AcEntry{
		{Priority: 1, IP: a("2001:db8::"), Mask: a("0.0.0.0")},
		{Deny: true, Priority: 5, IP: a("fe80::1")},
		{Priority: 10, IP: a("10.1.2.3")},
		{Deny: true, Priority: 10, IP: a("10.0.0.0"), Mask: a("255.0.0.0")},
	}
	if !slices.Equal(h.AcList, want) {
		t.Errorf("answered %+v", h.AcList)
	}
	if saved := loadStore(t, st).Hub("DEFAULT").AcList; !slices.Equal(saved, want) {
		t.Errorf("saved %+v", saved)
	}

	for name, list := range map[string][]config.AcEntry{
		"no address":               {{Priority: 1}},
		"mask of the other family": {{IP: a("10.0.0.0"), Mask: a("ffff::")}},
		"too many":                 make([]config.AcEntry, MaxAcEntries+1),
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, o, vpnerr.InvalidParameter, func() error { _, err := o.SetAcList(serverAdmin, "DEFAULT", list); return err })
		})
	}
	accSetAdminOption(t, o, "no_change_access_control_list", 1)
	refused(t, o, vpnerr.NotEnoughRight, func() error { _, err := o.SetAcList(accHubAdmin, "DEFAULT", nil); return err })
	if _, err := o.SetAcList(serverAdmin, "DEFAULT", nil); err != nil {
		t.Fatal(err)
	}
	if saved := loadStore(t, st).Hub("DEFAULT").AcList; len(saved) != 0 {
		t.Errorf("an empty list left %+v", saved)
	}
}

func TestIsUserListField(t *testing.T) {
	for field, want := range map[string]bool{
		"include:a.txt": true, "EXCLUDE:/x": true, "Include:": true, "alice": false, "": false, "includes:a": false,
	} {
		if got := IsUserListField(field); got != want {
			t.Errorf("%q: %v", field, got)
		}
	}
}
