package control

import (
	"errors"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestSetHubAdminOptions(t *testing.T) {
	o, st := ownerOf(t, config.Default())
	set := []config.AdminOption{{Name: "max_users", Value: 5}, {Name: "no_such_option", Value: 1}}
	refused(t, o, vpnerr.NotEnoughRight, func() error { _, err := o.SetHubAdminOptions(accHubAdmin, "DEFAULT", set); return err })
	refused(t, o, vpnerr.HubNotFound, func() error { _, err := o.SetHubAdminOptions(serverAdmin, "NONE", set); return err })

	h, err := o.SetHubAdminOptions(serverAdmin, "DEFAULT", set)
	if err != nil {
		t.Fatal(err)
	}
	saved := loadStore(t, st).Hub("DEFAULT")
	for _, x := range []*config.Hub{h, saved} {
		if x.AdminOption("max_users") != 5 || x.AdminOption("no_such_option") != 0 {
			t.Errorf("admin options %+v", x.AdminOptions)
		}
	}

	// allow_hub_admin_change_option lets the hub's administrators change them
	accSetAdminOption(t, o, "allow_hub_admin_change_option", 1)
	if _, err := o.SetHubAdminOptions(accHubAdmin, "DEFAULT", []config.AdminOption{{Name: "max_users", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	if v := loadStore(t, st).Hub("DEFAULT").AdminOption("max_users"); v != 0 {
		t.Errorf("max_users = %d after the hub admin's change", v)
	}

	before := o.Current()
	st.full = true
	var se *SaveError
	if _, err := o.SetHubAdminOptions(serverAdmin, "DEFAULT", set); !errors.As(err, &se) {
		t.Fatalf("%v, want a SaveError", err)
	}
	if !o.Current().Equal(before) {
		t.Error("the configuration changed although it was not saved")
	}
}

func TestSetHubOptions(t *testing.T) {
	o, st := ownerOf(t, config.Default())
	set := []config.AdminOption{{Name: "FilterIPv6", Value: 1}, {Name: "VlanTypeId", Value: 0x88a8}, {Name: "NoSuchOption", Value: 1}}
	h, err := o.SetHubOptions(accHubAdmin, "DEFAULT", set)
	if err != nil {
		t.Fatal(err)
	}
	want := config.DefaultHubOptions()
	want.FilterIPv6, want.VlanTypeId = true, 0x88a8
	if h.Options != want {
		t.Errorf("answered %+v", h.Options)
	}
	if saved := loadStore(t, st).Hub("DEFAULT").Options; saved != want {
		t.Errorf("saved %+v", saved)
	}

	refused(t, o, vpnerr.HubNotFound, func() error { _, err := o.SetHubOptions(serverAdmin, "NONE", set); return err })
	accSetAdminOption(t, o, "deny_hub_admin_change_ext_option", 1)
	refused(t, o, vpnerr.NotEnoughRight, func() error { _, err := o.SetHubOptions(accHubAdmin, "DEFAULT", nil); return err })
	if _, err := o.SetHubOptions(serverAdmin, "DEFAULT", []config.AdminOption{{Name: "FilterIPv6", Value: 0}}); err != nil {
		t.Fatal(err)
	}

	before := o.Current()
	st.full = true
	var se *SaveError
	if _, err := o.SetHubOptions(serverAdmin, "DEFAULT", set); !errors.As(err, &se) {
		t.Fatalf("%v, want a SaveError", err)
	}
	if !o.Current().Equal(before) {
		t.Error("the configuration changed although it was not saved")
	}
}
