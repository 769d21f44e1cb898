package server

import (
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
)

// TestCascadeRestartsOnAnyChangedSetting changes a cascade setting that no
// code lists for comparison (the client certificate; the old reconciler
// compared a hand-kept field list without it) and expects the link to
// restart, while the same settings read again from a copy of the tree
// leave it running.
func TestCascadeRestartsOnAnyChangedSetting(t *testing.T) {
	s, _ := servingServer(t, t.TempDir())
	h := s.LookupHub("DEFAULT")
	c := config.NewCascade("peer", "127.0.0.1", 9, "REMOTE", "u")
	c.Online = true
	addCascade(t, s, c)
	first := link(h)
	if first == nil {
		t.Fatal("the online cascade does not run")
	}

	// The whole configuration again, from a copy: same values, new memory.
	var snap *config.Folder
	s.ctl.View(func(cur *config.Server) { snap = cur.ToTree().Clone() })
	cfg, err := config.FromTree(snap)
	if err != nil {
		t.Fatal(err)
	}
	s.reconcile(cfg, false)
	if got := link(h); got != first {
		t.Fatal("an unchanged cascade restarted when the configuration was read again")
	}

	c = cascadeOf(t, s, "peer")
	c.ClientCert = []byte{0x30, 0x00}
	addCascade(t, s, c)
	if got := link(h); got == nil || got == first {
		t.Fatal("a cascade whose client certificate changed kept running with the old settings")
	}
}

// link is the running link of the cascade "peer", or nil.
func link(h *Hub) *runningLink {
	r, _, _ := h.links.Get("PEER")
	return r
}
