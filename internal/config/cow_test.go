package config

import (
	"bytes"
	"testing"
)

// A user is written into the tree once; a change made through EditUser
// (a new copy) is written at the next ToTree, and the user it replaced is
// left as published.
func TestEditedUserIsWritten(t *testing.T) {
	s := Default()
	s.Hub("DEFAULT").Users = append(s.Hub("DEFAULT").Users, NewUser("alice"), NewUser("bob"))
	s.ToTree()
	next := s.Clone()
	next.EditHub("DEFAULT").EditUser("alice").Note = "changed"
	root := next.ToTree()
	ul := root.Folder("VirtualHUB").Folder("DEFAULT").Folder("SecurityAccountDatabase").Folder("UserList")
	if got := ul.Folder("alice").GetString("Note"); got != "changed" {
		t.Fatalf("the edited user's Note in the tree is %q", got)
	}
	if s.Hub("DEFAULT").User("alice").Note != "" {
		t.Fatal("EditUser changed the published user")
	}
	if ul.Folder("bob") == nil {
		t.Fatal("an unchanged user left the tree")
	}
}

// The encoding Encode keeps of a user's folder (see Folder.final) is
// dropped when the user changes: the text always equals that of a fresh
// copy of the tree, which keeps nothing.
func TestEncodeKeepsOnlyUnchangedUsers(t *testing.T) {
	s := Default()
	s.Hub("DEFAULT").Users = append(s.Hub("DEFAULT").Users, NewUser("alice"), NewUser("bob"))
	cur := s
	for i, note := range []string{"one", "two", "two", "three"} {
		next := cur.Clone()
		next.EditHub("DEFAULT").EditUser("alice").Note = note
		root := next.ToTree()
		got, want := root.Encode(), root.Clone().Encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("change %d: the encoding differs from a fresh copy's", i)
		}
		if !bytes.Contains(got, []byte("string Note "+note+"\r\n")) {
			t.Fatalf("change %d: the encoding lacks the new Note %q", i, note)
		}
		cur = next
	}
}
