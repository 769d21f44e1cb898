package farm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
)

// errStale is a save refused because another node changed the farm's
// configuration since this node last read it; the owner reads it again
// and makes the change on what it holds now (control.ErrStale).
var errStale = fmt.Errorf("another node changed the farm's configuration first: %w", control.ErrStale)

// maxOps is how many operations one transaction carries: etcd refuses
// more than --max-txn-ops (128 by default), and the commit takes two.
const maxOps = 120

// ConfigStore is a control.Store for a node of a farm: the parts of the
// configuration all nodes share live in etcd, one value per object
// (parts.go), and the node's file keeps its own parts and a copy of the
// rest.
//
// Consistency: a change is committed by writing the key config/rev, in
// the same transaction as the parts when they fit in one; readers read
// every part at the revision where config/rev was last written, so they
// never see a change half made. Writers hold a farm-wide lock (an etcd
// mutex on the node's lease) and refuse to write over a change they have
// not read (errStale); parts left behind by a writer that died between
// transactions are put back as they were before the writer started.
type ConfigStore struct {
	cli     *clientv3.Client
	prefix  string // the farm's configuration keys: <root>config/
	partKey string // where the parts are: <prefix>part/
	node    string
	file    control.Store
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	sess    *concurrency.Session // the writers' lock lives on its lease
	mutex   *concurrency.Mutex   // the writers' lock while it is held
	release *time.Timer          // gives up a lock kept after a stale save
	rev     int64                // revision of the configuration last read or written
	parts   map[string]stored    // what etcd holds at rev, by key under prefix
}

// stored is one part as etcd holds it: its encoding, and the folder it
// was encoded from (nil when read from etcd), which Save compares by
// identity to skip encoding parts the model did not touch.
type stored struct {
	folder *config.Folder
	enc    []byte
}

// StoreConfig says where a node's configuration is kept.
type StoreConfig struct {
	Client  *clientv3.Client
	Root    string        // the farm's keys start with it, say "/ethervpn/farm1/"
	Node    string        // this node's name, written with each change
	File    control.Store // the node's configuration file
	Timeout time.Duration // every etcd call gives up after it
	Log     *slog.Logger
}

// NewConfigStore returns the store of a node of a farm.
func NewConfigStore(c StoreConfig) *ConfigStore {
	prefix := c.Root + "config/"
	return &ConfigStore{cli: c.Client, prefix: prefix, partKey: prefix + "part/", node: c.Node,
		file: c.File, timeout: c.Timeout, log: c.Log}
}

// Revision is the etcd revision of the configuration last read or
// written: 0 before the first Load, negative while the node runs on its
// file's copy (Offline) and has not read etcd yet.
func (s *ConfigStore) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// Load returns the node's configuration: its own parts from its file and
// the shared ones from etcd. The first node of an empty farm seeds the
// farm with the shared parts of its file.
func (s *ConfigStore) Load() (*config.Folder, error) {
	local, err := s.file.Load()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	for range 3 {
		rev, err := s.cli.Get(ctx, s.prefix+"rev")
		if err != nil && s.rev > 0 {
			// The file holds what this node last read from etcd or wrote
			// there: the last saved configuration (the owner reads it back
			// after a change that could not be saved).
			s.log.Warn("etcd cannot be read: using the copy of the farm's configuration in the configuration file", "err", err)
			return local, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the farm's configuration from etcd: %w", err)
		}
		if len(rev.Kvs) == 0 {
			if err := s.seed(ctx, local); err != nil && !errors.Is(err, errStale) {
				return nil, err
			}
			continue // seeded, or another node seeded first: read what is there
		}
		at := rev.Kvs[0].ModRevision
		resp, err := s.cli.Get(ctx, s.partKey, clientv3.WithPrefix(), clientv3.WithRev(at))
		if err != nil {
			return nil, fmt.Errorf("reading the farm's configuration from etcd: %w", err)
		}
		shared := map[string]*config.Folder{}
		parts := map[string]stored{}
		for _, kv := range resp.Kvs {
			key := strings.TrimPrefix(string(kv.Key), s.partKey)
			f, err := config.Parse(kv.Value)
			if err == nil && len(f.Folders) != 1 {
				err = errors.New("its root does not hold one folder")
			}
			if err != nil {
				return nil, fmt.Errorf("the farm's configuration part %q is damaged: %w", key, err)
			}
			shared[key] = f.Folders[0]
			parts[key] = stored{enc: kv.Value}
		}
		root, err := joinShared(local, shared)
		if err != nil {
			return nil, err
		}
		s.rev, s.parts = at, parts
		// The file keeps a copy of the whole configuration, for the
		// administrator and for starting while etcd is away.
		if err := s.file.Save(root); err != nil {
			s.log.Warn("could not keep a copy of the farm's configuration in the configuration file", "err", err)
		}
		return root, nil
	}
	return nil, errors.New("the farm's configuration kept changing while it was read; try again")
}

// Offline makes root, the copy of the farm's configuration in the node's
// file, what this node takes etcd to hold until it can read etcd (a node
// that starts while etcd is away): saves that change nothing shared write
// the file only; a change waits for etcd, where it is made again on the
// farm's configuration (control.ErrStale).
func (s *ConfigStore) Offline(root *config.Folder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev, s.parts = offline, map[string]stored{}
	for _, p := range splitShared(root) {
		s.parts[p.key] = stored{enc: p.folder.EncodePart()}
	}
}

// offline is the revision of a configuration taken from the node's file
// (Offline), not read from etcd.
const offline = -1

// seed writes local's shared parts to an empty farm. The caller holds
// s.mu.
func (s *ConfigStore) seed(ctx context.Context, local *config.Folder) error {
	s.rev, s.parts = 0, map[string]stored{}
	return s.write(ctx, local)
}

// Save writes root: the shared parts that changed to etcd, then the
// whole tree to the node's file. It fails with errStale when another
// node changed the configuration since this one last read it.
func (s *ConfigStore) Save(root *config.Folder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.write(ctx, root); err != nil {
		return err
	}
	return s.file.Save(root)
}

// write commits root's shared parts. The caller holds s.mu.
func (s *ConfigStore) write(ctx context.Context, root *config.Folder) error {
	next := map[string]stored{}
	var ops []clientv3.Op
	for _, p := range splitShared(root) {
		prev, had := s.parts[p.key]
		if had && prev.folder == p.folder && p.folder.Final() {
			next[p.key] = prev // a written user the model has not touched
			continue
		}
		enc := p.folder.EncodePart()
		next[p.key] = stored{folder: p.folder, enc: enc}
		if !had || !bytes.Equal(prev.enc, enc) {
			ops = append(ops, clientv3.OpPut(s.partKey+p.key, string(enc)))
		}
	}
	for key := range s.parts {
		if _, ok := next[key]; !ok {
			ops = append(ops, clientv3.OpDelete(s.partKey+key))
		}
	}
	if len(ops) == 0 && s.rev != 0 {
		s.parts = next
		return nil
	}
	if s.rev == offline {
		return errStale // read etcd's configuration first
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	err := s.commit(ctx, ops, next)
	if errors.Is(err, errStale) {
		// The owner reads the configuration again and saves again at
		// once: keep the lock for that, or a node that changes the
		// configuration without pause could keep this one from ever
		// committing. If no save comes, the lock goes after a while.
		s.release = time.AfterFunc(s.timeout, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.unlock()
		})
	} else {
		s.unlock()
	}
	return err
}

// commit writes ops under the writer lock and commits them. The caller
// holds s.mu and the lock.
func (s *ConfigStore) commit(ctx context.Context, ops []clientv3.Op, next map[string]stored) error {
	if err := s.repair(ctx); err != nil {
		return err
	}
	// Parts that do not fit in the commit go first; readers do not see
	// them until config/rev moves past them.
	for len(ops) > maxOps {
		if _, err := s.cli.Txn(ctx).If(s.held()...).Then(ops[:maxOps]...).Commit(); err != nil {
			return fmt.Errorf("writing the farm's configuration to etcd: %w", err)
		}
		ops = ops[maxOps:]
	}
	cmp := append(s.held(), clientv3.Compare(clientv3.ModRevision(s.prefix+"rev"), "=", s.rev))
	ops = append(ops, clientv3.OpPut(s.prefix+"rev", s.node))
	resp, err := s.cli.Txn(ctx).If(cmp...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("writing the farm's configuration to etcd: %w", err)
	}
	if !resp.Succeeded {
		return errStale
	}
	s.rev, s.parts = resp.Header.Revision, next
	return nil
}

// lock takes the farm's writer lock, unless this node kept it after a
// stale save. The caller holds s.mu.
func (s *ConfigStore) lock(ctx context.Context) (err error) {
	if s.release != nil {
		s.release.Stop()
		s.release = nil
	}
	if s.mutex != nil {
		return nil
	}
	if s.sess != nil {
		select {
		case <-s.sess.Done(): // the lease expired (etcd was away): take a new one
			s.sess = nil
		default:
		}
	}
	if s.sess == nil {
		if s.sess, err = newSession(ctx, s.cli, 10*time.Second, s.timeout); err != nil {
			return fmt.Errorf("opening an etcd session for the configuration lock: %w", err)
		}
	}
	m := concurrency.NewMutex(s.sess, s.prefix+"lock/")
	if err := m.Lock(ctx); err != nil {
		return fmt.Errorf("waiting for the farm's configuration lock: %w", err)
	}
	s.mutex = m
	return nil
}

// unlock gives the writer lock up. The caller holds s.mu.
func (s *ConfigStore) unlock() {
	if s.release != nil {
		s.release.Stop()
		s.release = nil
	}
	if s.mutex == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	s.mutex.Unlock(ctx) // if it fails, the lock goes with the session's lease
	s.mutex = nil
}

// held is the condition that this node still holds the writer lock.
func (s *ConfigStore) held() []clientv3.Cmp {
	return []clientv3.Cmp{s.mutex.IsOwner()}
}

// repair checks, under the writer lock, that nothing changed since rev:
// a newer commit is errStale; parts written or deleted after rev by a
// writer that died before its commit are put back as they were at rev.
func (s *ConfigStore) repair(ctx context.Context) error {
	rev, err := s.cli.Get(ctx, s.prefix+"rev", clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("reading the farm's configuration from etcd: %w", err)
	}
	if s.rev == 0 {
		// Seeding an empty farm; a node that started from its file
		// while etcd was away has read nothing yet: stale.
		if len(rev.Kvs) != 0 {
			return errStale
		}
		return nil
	}
	if len(rev.Kvs) == 0 || rev.Kvs[0].ModRevision != s.rev {
		return errStale
	}
	// Written since rev, and how many parts there are now: a deletion
	// leaves no key to find, but fewer parts than rev had.
	changed, err := s.cli.Get(ctx, s.partKey, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithMinModRev(s.rev+1))
	if err != nil {
		return fmt.Errorf("reading the farm's configuration from etcd: %w", err)
	}
	count, err := s.cli.Get(ctx, s.partKey, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("reading the farm's configuration from etcd: %w", err)
	}
	var ops []clientv3.Op
	created := 0
	for _, kv := range changed.Kvs {
		key := strings.TrimPrefix(string(kv.Key), s.partKey)
		if p, ok := s.parts[key]; ok {
			ops = append(ops, clientv3.OpPut(string(kv.Key), string(p.enc)))
		} else {
			ops = append(ops, clientv3.OpDelete(string(kv.Key)))
			created++
		}
	}
	if int(count.Count)-created != len(s.parts) {
		all, err := s.cli.Get(ctx, s.partKey, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return fmt.Errorf("reading the farm's configuration from etcd: %w", err)
		}
		have := make(map[string]bool, len(all.Kvs))
		for _, kv := range all.Kvs {
			have[strings.TrimPrefix(string(kv.Key), s.partKey)] = true
		}
		for key, p := range s.parts {
			if !have[key] {
				ops = append(ops, clientv3.OpPut(s.partKey+key, string(p.enc)))
			}
		}
	}
	if len(ops) > 0 {
		s.log.Warn("putting back parts of the farm's configuration that a writer left unfinished", "parts", len(ops))
	}
	for len(ops) > 0 {
		n := min(len(ops), maxOps)
		if _, err := s.cli.Txn(ctx).If(s.held()...).Then(ops[:n]...).Commit(); err != nil {
			return fmt.Errorf("repairing the farm's configuration in etcd: %w", err)
		}
		ops = ops[n:]
	}
	return nil
}

// Watch calls changed whenever another node commits a change of the
// configuration, until ctx ends; the caller then reloads (control.Owner's
// Reload). Changes this node made itself are not reported. Missed events
// (a watch that lagged behind etcd's compaction) are reported as one
// change.
func (s *ConfigStore) Watch(ctx context.Context, changed func()) {
	for ctx.Err() == nil {
		// From the revision after the last one read: a change made while
		// the watch was down (etcd away) is not missed.
		opts := []clientv3.OpOption{}
		if rev := s.Revision(); rev > 0 {
			opts = append(opts, clientv3.WithRev(rev+1))
		}
		for resp := range s.cli.Watch(clientv3.WithRequireLeader(ctx), s.prefix+"rev", opts...) {
			if resp.CompactRevision != 0 || resp.Err() != nil {
				changed()
				break
			}
			for _, ev := range resp.Events {
				if ev.Kv.ModRevision > s.Revision() {
					changed()
					break
				}
			}
		}
		select { // the watch ended (etcd away): start another one
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
