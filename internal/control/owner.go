// Package control is the one owner of the VPN server's configuration.
//
// The configuration is a typed model (internal/config). The owner keeps
// the current one as a published snapshot that is never changed: every
// change is one typed operation (CreateUser, SetUser, DeleteGroup, ...)
// that runs through Update, which takes the owner's lock, lets the
// operation validate and edit a copy-on-write copy, saves the copy through
// the Store, publishes it and hands it to the runtime (internal/server)
// to bring what runs in line. A refused or unsaved change leaves the
// published configuration as it was. No caller ever takes the lock itself,
// so a failing operation cannot leave it held.
//
// The admin front-ends (binary RPC, JSON-RPC, `ethervpn cmd`) only
// translate requests into these operations and their results into
// answers. See docs/architecture.md, "Control plane".
package control

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Store is where the configuration lives between runs: the configuration
// file today (config.Store), a shared store in a server farm. Save must
// leave the previous configuration readable by Load when it fails.
type Store interface {
	Load() (*config.Folder, error)
	Save(root *config.Folder) error
}

// ErrStale is what a Store's Save returns (wrapped) when the store
// changed since the owner last read it (another node of a farm made a
// change first): the owner then reads the store again, publishes what it
// holds and makes the change again on it.
var ErrStale = errors.New("the stored configuration changed since it was read")

// staleRetries bounds how often a change is made again on a store that
// keeps changing under it.
const staleRetries = 5

// Owner holds the server's configuration. Its methods are safe for
// concurrent use.
//
// Lock order: Owner.mu is taken before the runtime's own locks (the
// runtime's apply function runs under it, so that changes reach what runs
// in the order they were made); the runtime never calls the owner while
// holding its lock.
type Owner struct {
	mu    sync.Mutex // serialises changes: validate, save, publish, apply
	cur   atomic.Pointer[config.Server]
	store Store
	apply ApplyFunc // brings what runs in line; set by SetApply
	log   *slog.Logger
}

// New returns the owner of cfg, which it saves to store. cfg must not be
// changed by anyone else from now on.
func New(cfg *config.Server, store Store, log *slog.Logger) *Owner {
	o := &Owner{store: store, log: log, apply: func(*config.Server, bool) {}}
	o.cur.Store(cfg)
	return o
}

// ApplyFunc brings what runs in line with a newly published
// configuration. It runs under the owner's lock, after the configuration
// was saved. replaced says that the configuration was replaced whole
// (SetConfig): what runs then restarts from it, every hub's sessions
// ending, as when SoftEther restarts its core.
type ApplyFunc func(cfg *config.Server, replaced bool)

// SetApply sets the function that brings what runs in line.
func (o *Owner) SetApply(apply ApplyFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.apply = apply
}

// SetStore makes the owner save to st from now on (tests that fill the
// disk; a node that joins a farm's shared store).
func (o *Owner) SetStore(st Store) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.store = st
}

// Current returns the published configuration, without waiting for a
// change under way. It must not be changed.
func (o *Owner) Current() *config.Server { return o.cur.Load() }

// SaveError is a change that could not be saved (a full disk, a lost
// store): the configuration stays as it was before the change.
type SaveError struct{ Err error }

func (e *SaveError) Error() string {
	return fmt.Sprintf("the change could not be saved, so it was not made: %v", e.Err)
}

func (e *SaveError) Unwrap() error { return e.Err }

// Is makes a SaveError answer as error 23 (internal error) to admins.
func (e *SaveError) Is(target error) bool { return target == vpnerr.InternalError }

// Update makes one change. edit gets a copy of the current configuration
// to change (config.Server.Clone: replace what changes with EditHub,
// EditUser, EditGroup, never change a shared part in place) and returns an
// error to refuse the change. The copy is then saved, published and
// applied. When edit fails or the save fails, nothing changes.
func (o *Owner) Update(edit func(next *config.Server) error) error {
	return o.update(edit, false)
}

// update is Update; replaced is passed on to the apply function.
func (o *Owner) update(edit func(next *config.Server) error, replaced bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for try := 0; ; try++ {
		cur := o.cur.Load()
		next := cur.Clone()
		if err := edit(next); err != nil {
			return err
		}
		err := o.store.Save(next.ToTree())
		if err == nil {
			o.cur.Store(next)
			o.apply(next, replaced)
			return nil
		}
		if !errors.Is(err, ErrStale) || try == staleRetries {
			o.reload(cur, err)
			return &SaveError{err}
		}
		// Another node changed the store: take its change, then make
		// this one on top of it.
		if err := o.reloadLocked(config.FromTree); err != nil {
			return &SaveError{err}
		}
	}
}

// reload undoes, after a failed save, what writing next into the tree
// did: the tree is shared by the copies of the model, so the last saved
// configuration is read back from the store and published (what runs
// then compares equal to it and is left alone). The caller holds o.mu.
func (o *Owner) reload(cur *config.Server, why error) {
	root, err := o.store.Load()
	var back *config.Server
	if err == nil {
		back, err = config.FromTree(root)
	}
	if err != nil {
		// The in-memory tree may keep the refused change in parts the
		// model writes only when they change, until the next save of
		// those parts; the model itself is as it was.
		o.log.Error("a change could not be saved and the last saved configuration cannot be read back", "save_err", why, "err", err)
		return
	}
	o.cur.Store(back)
	o.apply(back, false)
	o.log.Error("admin change rolled back", "reason", why.Error(), "hint", hint(why))
}

// Reload publishes the configuration the store holds now and brings what
// runs in line with it, for a change made elsewhere (another node of a
// farm sharing the store, an operator's edit): what did not change keeps
// running (see ApplyFunc). A configuration the store cannot give or the
// model cannot read changes nothing.
func (o *Owner) Reload(read func(root *config.Folder) (*config.Server, error)) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reloadLocked(read)
}

// reloadLocked is Reload; the caller holds o.mu.
func (o *Owner) reloadLocked(read func(root *config.Folder) (*config.Server, error)) error {
	root, err := o.store.Load()
	if err != nil {
		return fmt.Errorf("reading the configuration from the store: %w", err)
	}
	cfg, err := read(root)
	if err != nil {
		return fmt.Errorf("the configuration in the store cannot be used: %w", err)
	}
	o.cur.Store(cfg)
	o.apply(cfg, false)
	return nil
}

// Save writes the current configuration to the store (at start, at stop).
func (o *Owner) Save() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.store.Save(o.cur.Load().ToTree())
}

// View runs read with the current configuration under the owner's lock,
// for readers of the configuration tree behind the model (ConfigText),
// which only the owner touches; read must not change anything. Readers of
// the model use Current or ReadHub, which take no lock.
func (o *Owner) View(read func(cur *config.Server)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	read(o.cur.Load())
}

// hint tells an administrator what to do about a change that could not be
// kept.
func hint(why error) string {
	if errors.Is(why, syscall.ENOSPC) || errors.Is(why, syscall.EDQUOT) {
		return "the disk is full: free space where the configuration is kept, then repeat the change"
	}
	return "the server runs the configuration it had before the change"
}
