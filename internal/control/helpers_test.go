package control

import (
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
)

// memStore keeps the configuration's text in memory, as a file would;
// with full set its saves fail as on a full disk (syscall.ENOSPC).
type memStore struct {
	mu    sync.Mutex
	text  []byte
	saves int
	full  bool
}

func (m *memStore) Load() (*config.Folder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return config.Parse(m.text)
}

func (m *memStore) Save(root *config.Folder) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.full {
		return syscall.ENOSPC
	}
	m.text = root.Encode()
	m.saves++
	return nil
}

// ownerOf is the owner of cfg, saved once to the returned store.
func ownerOf(t *testing.T, cfg *config.Server) (*Owner, *memStore) {
	t.Helper()
	st := &memStore{}
	o := New(cfg, st, slog.New(slog.DiscardHandler))
	if err := o.Save(); err != nil {
		t.Fatal(err)
	}
	return o, st
}

// loadStore is the configuration a second owner would load from st.
func loadStore(t *testing.T, st *memStore) *config.Server {
	t.Helper()
	root, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// refused checks that op fails with want and publishes nothing: the
// published configuration is the very same pointer as before.
func refused(t *testing.T, o *Owner, want error, op func() error) {
	t.Helper()
	before := o.Current()
	if err := op(); !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if o.Current() != before {
		t.Fatal("a refused change published a new configuration")
	}
}

var serverAdmin = Actor{ServerAdmin: true}
