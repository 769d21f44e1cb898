package control

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// unknownProxy is a cascade item the model does not know, which a change
// of the cascade must keep.
const unknownProxy = "proxy.example"

// cascadeOwner returns the owner of a configuration, loaded from a file
// written by hand, whose hub DEFAULT has the cascade "up" (with an item
// the model does not know) and whose hub LIMITED forbids its
// administrators to change cascades, and its store.
func cascadeOwner(t *testing.T) (*Owner, *memStore) {
	t.Helper()
	cfg := config.Default()
	cfg.Hub("DEFAULT").AddCascade(config.NewCascade("up", "192.0.2.1", 5555, "REMOTE", "bob"))
	limited := config.NewHub("LIMITED")
	limited.SetAdminOption("no_cascade", 1)
	limited.AddCascade(config.NewCascade("up", "192.0.2.1", 5555, "REMOTE", "bob"))
	cfg.Hubs = append(cfg.Hubs, limited)
	root := cfg.ToTree()
	root.Folder("VirtualHUB").Folder("DEFAULT").Folder("CascadeList").Folder("Cascade0").Folder("ClientOption").SetString("ProxyName", unknownProxy)
	return ownerOf(t, loadStore(t, &memStore{text: root.Encode()}))
}

func TestCascadeChangesAreSaved(t *testing.T) {
	o, st := cascadeOwner(t)
	before := o.Current()

	pol := config.DefaultPolicy()
	pol.NoBridge, pol.MaxUpload = true, 1000
	made, err := o.CreateCascade(serverAdmin, "default", config.Cascade{
		CascadeSettings: config.CascadeSettings{
			AccountName: "down", Hostname: "192.0.2.2", Port: 443, HubName: "R", Online: true,
			AuthType: config.CascadeAuthPassword, MaxConnection: 99,
		},
		HashedPassword: make([]byte, 20),
		Policy:         &pol,
	})
	if err != nil {
		t.Fatal(err)
	}
	if made.Online || made.MaxConnection != 32 || made.AdditionalConnectionInterval != 1 || made.Policy.NoBridge || made.Policy.MaxUpload != 1000 {
		t.Errorf("created cascade not normalised: %+v %+v", made, made.Policy)
	}
	if len(before.Hub("DEFAULT").Cascades) != 1 {
		t.Fatal("the published configuration changed")
	}
	if err := o.SetCascadeOnline(serverAdmin, "DEFAULT", "DOWN", true); err != nil {
		t.Fatal(err)
	}
	set := config.Cascade{CascadeSettings: config.CascadeSettings{AccountName: "up", Hostname: "192.0.2.9", Port: 5555, HubName: "REMOTE", Username: "carol"}}
	if _, err := o.SetCascade(serverAdmin, "DEFAULT", "up", set); err != nil {
		t.Fatal(err)
	}
	if err := o.RenameCascade(serverAdmin, "DEFAULT", "down", "sideways"); err != nil {
		t.Fatal(err)
	}

	saved := loadStore(t, st)
	if !saved.Equal(o.Current()) {
		t.Fatal("the store holds another configuration than the published one")
	}
	cs := saved.Hub("DEFAULT").Cascades
	if len(cs) != 2 || cs[0].Hostname != "192.0.2.9" || cs[0].Username != "carol" || cs[0].Policy == nil ||
		cs[1].AccountName != "sideways" || !cs[1].Online || cs[1].Policy.MaxUpload != 1000 {
		t.Fatalf("saved cascades: %+v", cs)
	}
	if !strings.Contains(string(st.text), unknownProxy) {
		t.Error("changing a cascade lost an item the model does not know")
	}

	if err := o.DeleteCascade(serverAdmin, "DEFAULT", "UP"); err != nil {
		t.Fatal(err)
	}
	if cs := loadStore(t, st).Hub("DEFAULT").Cascades; len(cs) != 1 || cs[0].AccountName != "sideways" {
		t.Fatalf("after DeleteCascade: %+v", cs)
	}
}

func TestCascadeRefusedChangesNothing(t *testing.T) {
	o, st := cascadeOwner(t)
	hubAdmin := Actor{Hub: "LIMITED"}
	good := config.Cascade{CascadeSettings: config.CascadeSettings{AccountName: "new", Hostname: "192.0.2.3", Port: 443}}
	with := func(f func(c *config.Cascade)) config.Cascade {
		c := good
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		op   func() error
		want error
	}{
		{"certificate auth", func() error {
			_, err := o.CreateCascade(serverAdmin, "DEFAULT", with(func(c *config.Cascade) { c.AuthType = config.CascadeAuthCert }))
			return err
		}, vpnerr.NotSupported},
		{"unknown auth", func() error {
			_, err := o.CreateCascade(serverAdmin, "DEFAULT", with(func(c *config.Cascade) { c.AuthType = 9 }))
			return err
		}, vpnerr.InternalError},
		{"no host", func() error {
			_, err := o.CreateCascade(serverAdmin, "DEFAULT", with(func(c *config.Cascade) { c.Hostname = "" }))
			return err
		}, vpnerr.InvalidParameter},
		{"port 0", func() error {
			_, err := o.SetCascade(serverAdmin, "DEFAULT", "up", with(func(c *config.Cascade) { c.Port = 0 }))
			return err
		}, vpnerr.InvalidParameter},
		{"no name", func() error {
			_, err := o.CreateCascade(serverAdmin, "DEFAULT", with(func(c *config.Cascade) { c.AccountName = "" }))
			return err
		}, vpnerr.InternalError},
		{"exists", func() error {
			_, err := o.CreateCascade(serverAdmin, "DEFAULT", with(func(c *config.Cascade) { c.AccountName = "UP" }))
			return err
		}, vpnerr.LinkAlreadyExists},
		{"no hub", func() error { _, err := o.CreateCascade(serverAdmin, "NONE", good); return err }, vpnerr.HubNotFound},
		{"hub admin create", func() error { _, err := o.CreateCascade(hubAdmin, "LIMITED", good); return err }, vpnerr.NotEnoughRight},
		{"hub admin online", func() error { return o.SetCascadeOnline(hubAdmin, "LIMITED", "up", true) }, vpnerr.NotEnoughRight},
		{"hub admin delete", func() error { return o.DeleteCascade(hubAdmin, "LIMITED", "up") }, vpnerr.NotEnoughRight},
		{"hub admin rename", func() error { return o.RenameCascade(hubAdmin, "LIMITED", "up", "x") }, vpnerr.NotEnoughRight},
		{"set missing", func() error { _, err := o.SetCascade(serverAdmin, "DEFAULT", "none", good); return err }, vpnerr.ObjectNotFound},
		{"online missing", func() error { return o.SetCascadeOnline(serverAdmin, "DEFAULT", "none", true) }, vpnerr.ObjectNotFound},
		{"online no name", func() error { return o.SetCascadeOnline(serverAdmin, "DEFAULT", "", true) }, vpnerr.InvalidParameter},
		{"delete missing", func() error { return o.DeleteCascade(serverAdmin, "DEFAULT", "none") }, vpnerr.ObjectNotFound},
		{"rename missing", func() error { return o.RenameCascade(serverAdmin, "DEFAULT", "none", "x") }, vpnerr.ObjectNotFound},
		{"rename no name", func() error { return o.RenameCascade(serverAdmin, "DEFAULT", "up", "") }, vpnerr.InvalidParameter},
		{"rename to itself", func() error { return o.RenameCascade(serverAdmin, "DEFAULT", "up", "UP") }, nil},
	} {
		before, text := o.Current(), string(st.text)
		if err := tc.op(); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if o.Current() != before || string(st.text) != text {
			t.Errorf("%s: a refused change was published or saved", tc.name)
		}
	}

	// The limit counts every cascade of the hub.
	if err := o.Update(func(next *config.Server) error {
		h := next.EditHub("DEFAULT")
		for len(h.Cascades) < MaxCascades {
			h.AddCascade(config.NewCascade("c"+strconv.Itoa(len(h.Cascades)), "192.0.2.1", 1, "R", "u"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := o.Current()
	if _, err := o.CreateCascade(serverAdmin, "DEFAULT", good); !errors.Is(err, vpnerr.InternalError) || o.Current() != before {
		t.Errorf("cascade %d: %v", MaxCascades+1, err)
	}
}

func TestCascadeFailedSaveChangesNothing(t *testing.T) {
	o, st := cascadeOwner(t)
	text := string(st.text)
	st.full = true
	_, err := o.CreateCascade(serverAdmin, "DEFAULT", config.Cascade{CascadeSettings: config.CascadeSettings{AccountName: "new", Hostname: "192.0.2.3", Port: 443}})
	var se *SaveError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a SaveError", err)
	}
	if err := o.SetCascadeOnline(serverAdmin, "DEFAULT", "up", true); !errors.As(err, &se) {
		t.Fatalf("error %v, want a SaveError", err)
	}
	if cs := o.Current().Hub("DEFAULT").Cascades; len(cs) != 1 || cs[0].Online {
		t.Fatalf("an unsaved change was published: %+v", cs)
	}
	st.full = false

	// The next change saves only itself: nothing of the failed ones
	// (which were written into the shared tree) comes back.
	if err := o.RenameCascade(serverAdmin, "DEFAULT", "up", "up2"); err != nil {
		t.Fatal(err)
	}
	cs := loadStore(t, st).Hub("DEFAULT").Cascades
	if len(cs) != 1 || cs[0].AccountName != "up2" || cs[0].Online || string(st.text) == text {
		t.Fatalf("after a failed save and a good one: %+v", cs)
	}
}
