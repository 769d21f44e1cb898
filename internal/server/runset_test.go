package server

import (
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
)

// TestCascadeRestartsOnAnyChangedSetting changes a cascade setting that no
// code lists for comparison (the client certificate; the old reconciler
// compared a hand-kept field list without it) and expects the link to
// restart, while the same settings read again from a copy of the tree
// leave it running.
func TestCascadeRestartsOnAnyChangedSetting(t *testing.T) {
	s, _ := servingServer(t, t.TempDir())
	for range 100 { // Serve starts the cascades just after it serves
		s.links.mu.Lock()
		ok := s.links.serving
		s.links.mu.Unlock()
		if ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	h := s.LookupHub("DEFAULT")
	s.mu.Lock()
	c := config.NewCascade("peer", "127.0.0.1", 9, "REMOTE", "u")
	c.Online = true
	h.cfg.PutCascade(c)
	s.mu.Unlock()
	s.ApplyCascades(h)
	first := s.links.link(h, "peer")
	if first == nil {
		t.Fatal("the online cascade does not run")
	}

	// The whole configuration again, from a copy: same values, new memory.
	cfg, err := config.FromTree(s.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	s.reconcile(cfg)
	if got := s.links.link(h, "peer"); got != first {
		t.Fatal("an unchanged cascade restarted when the configuration was read again")
	}

	s.mu.Lock()
	c = h.cfg.Cascades()[0]
	c.ClientCert = []byte{0x30, 0x00}
	h.cfg.PutCascade(c)
	s.mu.Unlock()
	s.ApplyCascades(h)
	if got := s.links.link(h, "peer"); got == nil || got == first {
		t.Fatal("a cascade whose client certificate changed kept running with the old settings")
	}
}
