package farm

import (
	"os"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
)

// A configuration split into its shared parts, each encoded and parsed as
// etcd keeps it, and joined with the node's own parts is the same tree.
func TestSplitJoinKeepsEveryItem(t *testing.T) {
	text, err := os.ReadFile("../config/testdata/real-5.01.vpn_server.config")
	if err != nil {
		t.Fatal(err)
	}
	root, err := config.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	// A second hub with users and groups, so that every kind of part is there.
	hub := config.NewHub("SALES")
	hub.Users = append(hub.Users, config.NewUser("ann"), config.NewUser("Bob"))
	hub.Groups = append(hub.Groups, config.NewGroup("staff"))
	cfg.Hubs = append(cfg.Hubs, hub)
	root = cfg.ToTree()

	shared := map[string]*config.Folder{}
	for _, p := range splitShared(root) {
		if _, dup := shared[p.key]; dup {
			t.Fatalf("two parts have the key %q", p.key)
		}
		back, err := config.Parse(p.folder.EncodePart())
		if err != nil || len(back.Folders) != 1 {
			t.Fatalf("part %q does not read back: %v", p.key, err)
		}
		shared[p.key] = back.Folders[0]
	}
	for _, key := range []string{"server", "hub/SALES", "user/SALES/ANN", "user/SALES/BOB", "group/SALES/STAFF"} {
		if shared[key] == nil {
			t.Errorf("no part %q", key)
		}
	}
	joined, err := joinShared(root, shared)
	if err != nil {
		t.Fatal(err)
	}
	if !joined.Equal(root) {
		t.Fatalf("the joined tree differs:\n%s\nwant\n%s", joined.Encode(), root.Encode())
	}
	// The node's own parts come from its file alone.
	other := root.Clone()
	other.Folder("ServerConfiguration").SetString("ListenIP", "10.9.9.9")
	other.Folder("ListenerList").Folders = nil
	joined, err = joinShared(other, shared)
	if err != nil {
		t.Fatal(err)
	}
	if got := joined.Folder("ServerConfiguration").GetString("ListenIP"); got != "10.9.9.9" {
		t.Errorf("ListenIP = %q, want the node's own", got)
	}
	if n := len(joined.Folder("ListenerList").Folders); n != 0 {
		t.Errorf("the node has %d listeners from the farm, want its own (none)", n)
	}
}

func TestJoinRefusesUserOfMissingHub(t *testing.T) {
	shared := map[string]*config.Folder{
		"server":        config.NewFolder("root"),
		"user/GONE/ANN": config.NewFolder("ann"),
	}
	if _, err := joinShared(config.NewFolder("root"), shared); err == nil {
		t.Fatal("a user of a hub that is not there was accepted")
	}
}
