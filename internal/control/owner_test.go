package control

import (
	"errors"
	"sync"
	"syscall"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// newOwner is the owner of a default configuration with hubs DEFAULT
// (user alice, group staff) and OTHER, saved to the returned store; it
// records what it applies.
func newOwner(t *testing.T) (*Owner, *memStore, *[]*config.Server) {
	t.Helper()
	cfg := config.Default()
	def := cfg.Hub("DEFAULT")
	hash := sha0.HashPassword("alice", "pw")
	def.Users = append(def.Users, &config.User{Name: "alice", AuthType: AuthPassword, PasswordHash: hash[:]})
	def.Groups = append(def.Groups, config.NewGroup("staff"))
	cfg.Hubs = append(cfg.Hubs, config.NewHub("OTHER"))
	o, st := ownerOf(t, cfg)
	var applied []*config.Server
	o.SetApply(func(c *config.Server, full bool) { applied = append(applied, c) })
	return o, st, &applied
}

// A change publishes a new configuration and leaves the one readers hold
// as it was; hubs it did not touch are shared, not copied.
func TestUpdateCopiesOnWrite(t *testing.T) {
	o, _, applied := newOwner(t)
	before := o.Current()
	oldAlice := before.Hub("DEFAULT").User("alice")
	oldHash := string(oldAlice.PasswordHash)
	newHash := sha0.HashPassword("alice", "new")
	if _, err := o.SetUser(serverAdmin, "default", "ALICE", UserSettings{AuthType: AuthPassword, PasswordHash: newHash[:], Note: "n"}); err != nil {
		t.Fatal(err)
	}
	after := o.Current()
	switch {
	case after == before:
		t.Fatal("SetUser did not publish a new configuration")
	case string(oldAlice.PasswordHash) != oldHash || oldAlice.Note != "" || before.Hub("DEFAULT").User("alice") != oldAlice:
		t.Fatal("SetUser changed the configuration a reader holds")
	case string(after.Hub("DEFAULT").User("alice").PasswordHash) != string(newHash[:]):
		t.Fatal("the new configuration lacks the change")
	case after.Hub("OTHER") != before.Hub("OTHER"):
		t.Fatal("an untouched hub was copied")
	case len(*applied) != 1 || (*applied)[0] != after:
		t.Fatalf("applied %d configurations, want the new one once", len(*applied))
	}
}

// A refused change publishes, saves and applies nothing.
func TestRefusedChangeChangesNothing(t *testing.T) {
	o, st, applied := newOwner(t)
	before, saves := o.Current(), st.saves
	hubAdmin := Actor{Hub: "DEFAULT"}
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"unknown user", func() error { _, err := o.SetUser(serverAdmin, "DEFAULT", "bob", UserSettings{}); return err }, vpnerr.ObjectNotFound},
		{"unknown hub", func() error { return o.DeleteUser(serverAdmin, "NOPE", "alice") }, vpnerr.HubNotFound},
		{"unknown group", func() error {
			_, err := o.CreateUser(serverAdmin, "DEFAULT", "bob", UserSettings{GroupName: "nope"})
			return err
		}, vpnerr.GroupNotFound},
		{"password user without password", func() error {
			_, err := o.CreateUser(serverAdmin, "DEFAULT", "bob", UserSettings{AuthType: AuthPassword})
			return err
		}, vpnerr.InvalidParameter},
		{"certificate auth", func() error {
			_, err := o.CreateUser(serverAdmin, "DEFAULT", "bob", UserSettings{AuthType: 2})
			return err
		}, vpnerr.NotSupportedAuthOnOpensource},
		{"existing user", func() error { _, err := o.CreateUser(serverAdmin, "DEFAULT", "ALICE", UserSettings{}); return err }, vpnerr.UserAlreadyExists},
		{"existing group", func() error { _, err := o.CreateGroup(hubAdmin, "DEFAULT", "Staff", GroupSettings{}); return err }, vpnerr.GroupAlreadyExists},
	}
	for _, c := range cases {
		if err := c.run(); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if o.Current() != before || st.saves != saves || len(*applied) != 0 {
		t.Fatalf("refused changes published, saved or applied something (saves %d -> %d, applied %d)", saves, st.saves, len(*applied))
	}
}

// The hub's administration options bind its administrator, not the
// server's.
func TestHubAdminOptions(t *testing.T) {
	o, _, _ := newOwner(t)
	if err := o.Update(func(next *config.Server) error {
		h := next.EditHub("DEFAULT")
		h.SetAdminOption("no_change_users", 1)
		h.SetAdminOption("max_groups", 1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	hubAdmin := Actor{Hub: "DEFAULT"}
	if _, err := o.CreateUser(hubAdmin, "DEFAULT", "bob", UserSettings{}); !errors.Is(err, vpnerr.NotEnoughRight) {
		t.Errorf("hub admin under no_change_users: %v, want NotEnoughRight", err)
	}
	if _, err := o.CreateUser(serverAdmin, "DEFAULT", "bob", UserSettings{}); err != nil {
		t.Errorf("server admin under no_change_users: %v", err)
	}
	if _, err := o.CreateGroup(hubAdmin, "DEFAULT", "more", GroupSettings{}); !errors.Is(err, vpnerr.TooManyGroup) {
		t.Errorf("hub admin beyond max_groups: %v, want TooManyGroup", err)
	}
	if _, err := o.CreateGroup(serverAdmin, "DEFAULT", "more", GroupSettings{}); err != nil {
		t.Errorf("server admin beyond max_groups: %v", err)
	}
}

// A change that cannot be saved is not made: the caller learns it as
// error 23, and the next successful save does not carry it either.
func TestFailedSaveChangesNothing(t *testing.T) {
	o, st, _ := newOwner(t)
	before := o.Current()
	st.full = true
	_, err := o.CreateUser(serverAdmin, "DEFAULT", "bob", UserSettings{})
	var se *SaveError
	if !errors.As(err, &se) || !errors.Is(err, vpnerr.InternalError) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("CreateUser on a full disk: %v", err)
	}
	if o.Current().Hub("DEFAULT").User("bob") != nil || !o.Current().Equal(before) {
		t.Fatal("the refused change is in the configuration")
	}
	st.full = false
	if _, err := o.SetGroup(serverAdmin, "DEFAULT", "staff", GroupSettings{Note: "x"}); err != nil {
		t.Fatal(err)
	}
	saved := loadStore(t, st)
	if saved.Hub("DEFAULT").User("bob") != nil || saved.Hub("DEFAULT").Group("staff").Note != "x" {
		t.Fatal("the file holds the change that could not be saved, or lacks the one that could")
	}
}

// What one owner saved, another loads: the store is the configuration.
func TestChangesAreSaved(t *testing.T) {
	o, st, _ := newOwner(t)
	if _, err := o.CreateUser(serverAdmin, "OTHER", "carol", UserSettings{RealName: "Carol", GroupName: ""}); err != nil {
		t.Fatal(err)
	}
	if err := o.DeleteGroup(serverAdmin, "DEFAULT", "staff"); err != nil {
		t.Fatal(err)
	}
	if saved := loadStore(t, st); !saved.Equal(o.Current()) {
		t.Fatal("the saved configuration differs from the published one")
	}
}

// Deleting a group leaves its members without a group, in the new
// configuration only.
func TestDeleteGroupClearsMembers(t *testing.T) {
	o, _, _ := newOwner(t)
	if _, err := o.SetUser(serverAdmin, "DEFAULT", "alice", UserSettings{AuthType: AuthPassword, GroupName: "STAFF"}); err != nil {
		t.Fatal(err)
	}
	before := o.Current()
	if g := before.Hub("DEFAULT").User("alice").GroupName; g != "staff" {
		t.Fatalf("group name %q, want the group's own spelling", g)
	}
	if err := o.DeleteGroup(serverAdmin, "DEFAULT", "staff"); err != nil {
		t.Fatal(err)
	}
	if before.Hub("DEFAULT").User("alice").GroupName != "staff" {
		t.Fatal("DeleteGroup changed a published user")
	}
	if o.Current().Hub("DEFAULT").User("alice").GroupName != "" || o.Current().Hub("DEFAULT").Group("staff") != nil {
		t.Fatal("DeleteGroup left the group or its membership")
	}
}

// Readers of published configurations never see a change being made
// (run with -race).
func TestReadersDuringChanges(t *testing.T) {
	o, _, _ := newOwner(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, h := range o.Current().Hubs {
					for _, u := range h.Users {
						_ = u.Note + u.GroupName + string(u.PasswordHash)
					}
				}
			}
		}()
	}
	for i := range 200 {
		set := UserSettings{AuthType: AuthPassword, Note: string(rune('a' + i%26))}
		if _, err := o.SetUser(serverAdmin, "DEFAULT", "alice", set); err != nil {
			t.Fatal(err)
		}
		if _, err := o.CreateUser(serverAdmin, "OTHER", "u"+string(rune('a'+i%26))+string(rune('a'+i/26)), UserSettings{}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// A change one owner saves reaches another owner of the same store by
// Reload, as a farm's nodes will share theirs; a store that holds
// something unreadable changes nothing.
func TestReloadAppliesChangesMadeElsewhere(t *testing.T) {
	a, st, _ := newOwner(t)
	b := New(loadStore(t, st), st, a.log)
	var applied []*config.Server
	b.SetApply(func(c *config.Server, replaced bool) { applied = append(applied, c) })
	if _, err := a.CreateUser(serverAdmin, "OTHER", "carol", UserSettings{Note: "from a"}); err != nil {
		t.Fatal(err)
	}
	if b.Current().Hub("OTHER").User("carol") != nil {
		t.Fatal("the other owner saw the change before Reload")
	}
	if err := b.Reload(config.FromTree); err != nil {
		t.Fatal(err)
	}
	if u := b.Current().Hub("OTHER").User("carol"); u == nil || u.Note != "from a" || len(applied) != 1 || applied[0] != b.Current() {
		t.Fatal("Reload did not publish and apply the change made elsewhere")
	}
	before := b.Current()
	st.text = []byte("declare root\r\n{\r\n")
	if err := b.Reload(config.FromTree); err == nil || b.Current() != before || len(applied) != 1 {
		t.Fatalf("Reload of a damaged store: err %v, and it published or applied something", err)
	}
}
