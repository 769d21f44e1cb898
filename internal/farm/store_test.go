package farm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
)

// fileStore keeps a node's configuration file in memory.
type fileStore struct {
	mu   sync.Mutex
	text []byte
}

func (f *fileStore) Load() (*config.Folder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return config.Parse(f.text)
}

func (f *fileStore) Save(root *config.Folder) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.text = root.Encode()
	return nil
}

// node is one farm node's configuration owner and store.
type node struct {
	o    *control.Owner
	st   *ConfigStore
	file *fileStore
}

var admin = control.Actor{ServerAdmin: true}

// newNode starts a node whose own file holds cfg, in the farm at cli.
func newNode(t *testing.T, cli *clientv3.Client, name string, cfg *config.Server) *node {
	t.Helper()
	file := &fileStore{text: cfg.ToTree().Encode()}
	st := NewConfigStore(StoreConfig{Client: cli, Root: "/test/", Node: name, File: file,
		Timeout: 5 * time.Second, Log: slog.New(slog.DiscardHandler)})
	root, err := st.Load()
	if err != nil {
		t.Fatalf("%s: loading: %v", name, err)
	}
	loaded, err := config.FromTree(root)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &node{o: control.New(loaded, st, slog.New(slog.DiscardHandler)), st: st, file: file}
}

// withListener is the default configuration listening on port alone.
func withListener(port uint16) *config.Server {
	cfg := config.Default()
	cfg.Listeners = []config.Listener{{Port: port, Enabled: true}}
	return cfg
}

func password(string) control.UserSettings {
	return control.UserSettings{AuthType: control.AuthPassword, PasswordHash: make([]byte, 20)}
}

func TestSecondNodeTakesSharedPartsKeepsItsOwn(t *testing.T) {
	cli := etcdtest.Start(t)
	seed := withListener(5555)
	a := newNode(t, cli, "a", seed)
	if _, err := a.o.CreateUser(admin, "DEFAULT", "alice", password("alice")); err != nil {
		t.Fatal(err)
	}
	b := newNode(t, cli, "b", withListener(443))
	cur := b.o.Current()
	if cur.Hub("DEFAULT").User("alice") == nil {
		t.Fatal("node b does not have the user node a created")
	}
	if len(cur.Listeners) != 1 || cur.Listeners[0].Port != 443 {
		t.Fatalf("node b's listeners = %+v, want its own (443)", cur.Listeners)
	}
	if a.o.Current().Listeners[0].Port != 5555 {
		t.Fatal("node a lost its own listener")
	}
	// Each node's file holds the whole configuration, its own listener.
	root, _ := b.file.Load()
	fromFile, err := config.FromTree(root)
	if err != nil || fromFile.Hub("DEFAULT").User("alice") == nil || fromFile.Listeners[0].Port != 443 {
		t.Fatalf("node b's file: %v, %+v", err, fromFile)
	}
}

func TestChangeReachesOtherNodeByWatch(t *testing.T) {
	cli := etcdtest.Start(t)
	a := newNode(t, cli, "a", withListener(5555))
	b := newNode(t, cli, "b", withListener(443))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloaded := make(chan error, 16)
	go b.st.Watch(ctx, func() { reloaded <- b.o.Reload(config.FromTree) })
	time.Sleep(100 * time.Millisecond) // let the watch start
	if _, err := a.o.CreateUser(admin, "DEFAULT", "bob", password("bob")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node b was not told of node a's change within 5 s")
	}
	if b.o.Current().Hub("DEFAULT").User("bob") == nil {
		t.Fatal("node b reloaded without the new user")
	}
	// b's own change is not reported back to b.
	if _, err := b.o.CreateUser(admin, "DEFAULT", "carol", password("carol")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloaded:
		t.Fatal("node b was told of its own change")
	case <-time.After(300 * time.Millisecond):
	}
}

func TestStaleNodeRedoesItsChangeOnTheNewest(t *testing.T) {
	cli := etcdtest.Start(t)
	a := newNode(t, cli, "a", withListener(5555))
	b := newNode(t, cli, "b", withListener(443))
	if _, err := a.o.CreateUser(admin, "DEFAULT", "u1", password("u1")); err != nil {
		t.Fatal(err)
	}
	// b has not seen u1 (no watch); its change must not erase it.
	if _, err := b.o.CreateUser(admin, "DEFAULT", "u2", password("u2")); err != nil {
		t.Fatal(err)
	}
	c := newNode(t, cli, "c", withListener(992))
	for _, u := range []string{"u1", "u2"} {
		if c.o.Current().Hub("DEFAULT").User(u) == nil {
			t.Errorf("the farm lost %s", u)
		}
	}
	if b.o.Current().Hub("DEFAULT").User("u1") == nil {
		t.Error("node b did not take node a's change when it redid its own")
	}
}

func TestConcurrentChangesFromTwoNodesAllKept(t *testing.T) {
	cli := etcdtest.Start(t)
	a := newNode(t, cli, "a", withListener(5555))
	b := newNode(t, cli, "b", withListener(443))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i, n := range []*node{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				name := fmt.Sprintf("n%d-%d", i, j)
				if _, err := n.o.CreateUser(admin, "DEFAULT", name, password(name)); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := newNode(t, cli, "c", withListener(992))
	if got := len(c.o.Current().Hub("DEFAULT").Users); got != 20 {
		t.Fatalf("the farm has %d users, want 20", got)
	}
}

func TestLargeChangeSpansTransactionsAndReadersSeeItWhole(t *testing.T) {
	cli := etcdtest.Start(t)
	seed := withListener(5555)
	hub := seed.Hub("DEFAULT")
	for i := range 3 * maxOps {
		u := config.NewUser(fmt.Sprintf("user%04d", i))
		hub.Users = append(hub.Users, u)
	}
	a := newNode(t, cli, "a", seed) // seeds the farm in several transactions
	b := newNode(t, cli, "b", withListener(443))
	if got := len(b.o.Current().Hub("DEFAULT").Users); got != 3*maxOps {
		t.Fatalf("node b has %d users, want %d", got, 3*maxOps)
	}
	// A change of one user writes that user alone (and the commit).
	before := a.st.Revision()
	if _, err := a.o.SetUser(admin, "DEFAULT", "user0007", control.UserSettings{RealName: "Seven"}); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(context.Background(), "/test/config/part/", clientv3.WithPrefix(),
		clientv3.WithKeysOnly(), clientv3.WithMinModRev(before+1))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	if len(keys) != 1 || keys[0] != "/test/config/part/user/DEFAULT/USER0007" {
		t.Fatalf("a one-user change wrote %v", keys)
	}
}

func TestUnfinishedWriterIsInvisibleAndRepaired(t *testing.T) {
	cli := etcdtest.Start(t)
	a := newNode(t, cli, "a", withListener(5555))
	if _, err := a.o.CreateUser(admin, "DEFAULT", "kept", password("kept")); err != nil {
		t.Fatal(err)
	}
	// A writer that died between its transactions left a new user and
	// deleted one, without committing.
	ctx := context.Background()
	kept, err := cli.Get(ctx, "/test/config/part/user/DEFAULT/KEPT")
	if err != nil || len(kept.Kvs) != 1 {
		t.Fatalf("the user's part: %v", err)
	}
	ghost, err := config.Parse(kept.Kvs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	ghost.Folders[0].Name = "ghost"
	if _, err := cli.Put(ctx, "/test/config/part/user/DEFAULT/GHOST", string(ghost.Folders[0].EncodePart())); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "/test/config/part/user/DEFAULT/KEPT"); err != nil {
		t.Fatal(err)
	}
	b := newNode(t, cli, "b", withListener(443))
	if b.o.Current().Hub("DEFAULT").User("ghost") != nil || b.o.Current().Hub("DEFAULT").User("kept") == nil {
		t.Fatal("a reader saw an uncommitted change")
	}
	// The next change repairs the parts before it commits.
	if _, err := b.o.CreateUser(admin, "DEFAULT", "next", password("next")); err != nil {
		t.Fatal(err)
	}
	c := newNode(t, cli, "c", withListener(992))
	h := c.o.Current().Hub("DEFAULT")
	if h.User("ghost") != nil || h.User("kept") == nil || h.User("next") == nil {
		t.Fatalf("after the repair: ghost %v kept %v next %v", h.User("ghost") != nil, h.User("kept") != nil, h.User("next") != nil)
	}
}

func TestLostEtcdRefusesChangesAndKeepsConfiguration(t *testing.T) {
	cli := etcdtest.Start(t)
	a := newNode(t, cli, "a", withListener(5555))
	cli.Close()
	_, err := a.o.CreateUser(admin, "DEFAULT", "late", password("late"))
	var se *control.SaveError
	if !errors.As(err, &se) {
		t.Fatalf("a change without etcd: %v, want a SaveError", err)
	}
	if a.o.Current().Hub("DEFAULT").User("late") != nil {
		t.Fatal("a change that was not saved was published")
	}
}

// A user changed after it was written (a new password) reaches etcd: the
// model's copy of the user must not look like the user already stored.
func TestChangedUserReachesEtcd(t *testing.T) {
	cli := etcdtest.Start(t)
	a := newNode(t, cli, "a", withListener(5555))
	if _, err := a.o.CreateUser(admin, "DEFAULT", "alice", password("alice")); err != nil {
		t.Fatal(err)
	}
	s := password("alice")
	s.PasswordHash = []byte("01234567890123456789")
	if _, err := a.o.SetUser(admin, "DEFAULT", "alice", s); err != nil {
		t.Fatal(err)
	}
	b := newNode(t, cli, "b", withListener(443))
	if u := b.o.Current().Hub("DEFAULT").User("alice"); u == nil || string(u.PasswordHash) != string(s.PasswordHash) {
		t.Fatalf("node b has alice as %+v, want the password node a set last", u)
	}
}
