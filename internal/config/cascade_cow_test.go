package config

import (
	"strings"
	"testing"
)

// TestCascadeCopyOnWrite edits the cascades of a copy of a loaded
// configuration and expects the original untouched, and the copy written
// back with the unknown items of its kept cascades and without the
// removed ones.
func TestCascadeCopyOnWrite(t *testing.T) {
	root, err := Parse([]byte(cascadeFixture))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	orig := pub.Hub("HUB1")
	first := orig.Cascades[0]
	before := *first

	next := pub.Clone()
	h := next.EditHub("HUB1")
	h.AddCascade(NewCascade("second", "192.0.2.2", 443, "REMOTE", "bob"))
	c := h.EditCascade("LINK2")
	c.Hostname = "192.0.2.1"
	c.Policy.MaxUpload = 7
	if len(orig.Cascades) != 1 || orig.Cascades[0] != first || !first.Equal(&before) || first.Policy.MaxUpload != 1000000 {
		t.Fatalf("editing a copy changed the published cascades: %+v", orig.Cascades)
	}
	if orig.Equal(h) {
		t.Fatal("Hub.Equal does not see changed cascades")
	}

	again, err := FromTree(mustParse(t, next.ToTree().Encode()))
	if err != nil {
		t.Fatal(err)
	}
	got := again.Hub("HUB1").Cascades
	if len(got) != 2 || got[0].Hostname != "192.0.2.1" || got[0].Policy.MaxUpload != 7 || got[1].AccountName != "second" {
		t.Fatalf("written back: %+v", got)
	}
	list := next.Tree.Folder("VirtualHUB").Folder("HUB1").Folder("CascadeList")
	if list.Folder("Cascade0").Folder("ClientOption").GetString("BindLocalIP") != "0.0.0.0" {
		t.Error("an item the model does not know was lost")
	}

	// Removed: its folder goes, the other keeps its own.
	next2 := again.Clone()
	h2 := next2.EditHub("HUB1")
	if !h2.RemoveCascade("link2") || len(again.Hub("HUB1").Cascades) != 2 {
		t.Fatal("RemoveCascade changed the published list")
	}
	text := string(next2.ToTree().Encode())
	if strings.Contains(text, "declare Cascade0") || !strings.Contains(text, "declare Cascade1") {
		t.Errorf("after removal:\n%s", text)
	}
}

func mustParse(t *testing.T, b []byte) *Folder {
	t.Helper()
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
