package farm

import (
	"strings"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
)

// The node's farm settings (root/EtherVPNFarm, with the paths of its etcd
// client key) never go to etcd, and a node keeps its own when it joins.
func TestFarmFolderStaysOnTheNode(t *testing.T) {
	root := config.Default().ToTree()
	config.Farm{Endpoints: []string{"https://10.0.0.1:2379"}, Address: "10.0.0.2", KeyFile: "/etc/ethervpn/node.key"}.Put(root)
	shared := map[string]*config.Folder{}
	for _, p := range splitShared(root) {
		if enc := string(p.folder.EncodePart()); strings.Contains(enc, config.FarmFolder) || strings.Contains(enc, "node.key") {
			t.Fatalf("part %q carries the node's farm settings:\n%s", p.key, enc)
		}
		shared[p.key] = p.folder
	}
	other := config.Default().ToTree()
	config.Farm{Endpoints: []string{"https://10.0.0.1:2379"}, Address: "10.0.0.3"}.Put(other)
	joined, err := joinShared(other, shared)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := config.ReadFarm(joined); !ok || f.Address != "10.0.0.3" || f.KeyFile != "" {
		t.Fatalf("the joined tree's farm settings: %+v %v, want the node's own", f, ok)
	}
}
