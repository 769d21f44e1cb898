package config

import (
	"net/netip"
	"slices"
	"testing"
)

// The AC list is read from where SoftEther keeps it, written back there,
// and a list that ethervpn once wrote one level too high moves to the
// right place on the next save.
func TestAcList(t *testing.T) {
	a := netip.MustParseAddr
	want := []AcEntry{
		{Deny: true, Priority: 5, IP: a("10.250.0.0"), Mask: a("255.255.0.0")},
		{Priority: 7, IP: a("2001:db8::"), Mask: a("ffff:ffff::")},
		{Deny: true, Priority: 9, IP: a("192.0.2.1")},
	}
	s := Default()
	s.Hub("DEFAULT").AcList = want
	root := s.ToTree()
	acl := root.Folder("VirtualHUB").Folder("DEFAULT").Folder("SecurityAccountDatabase").Folder("IPAccessControlList")
	if f := acl.Folder("Acl1"); f == nil || f.GetString("NetMask") != "255.255.0.0" || !f.GetBool("Deny") || f.GetUint("Priority") != 5 {
		t.Fatalf("Acl1 written as %+v", f)
	}
	if f := acl.Folder("Acl3"); f == nil || f.Item("NetMask") != nil {
		t.Fatalf("a single address got a mask: %+v", f)
	}
	back, err := FromTree(root.Clone())
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Hub("DEFAULT").AcList; !slices.Equal(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}

	// the legacy place: VirtualHUB/<hub>/IPAccessControlList
	legacy := root.Clone()
	hub := legacy.Folder("VirtualHUB").Folder("DEFAULT")
	db := hub.Folder("SecurityAccountDatabase")
	moved := db.Folder("IPAccessControlList")
	db.Remove("IPAccessControlList")
	db.Ensure("IPAccessControlList")
	hub.Folders = append(hub.Folders, moved)
	old, err := FromTree(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if got := old.Hub("DEFAULT").AcList; !slices.Equal(got, want) {
		t.Fatalf("legacy place read as %v, want %v", got, want)
	}
	out := old.ToTree()
	if h := out.Folder("VirtualHUB").Folder("DEFAULT"); h.Folder("IPAccessControlList") != nil ||
		len(h.Folder("SecurityAccountDatabase").Folder("IPAccessControlList").Folders) != 3 {
		t.Fatal("the legacy list was not moved to SecurityAccountDatabase")
	}
}
