package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// writeUserList writes a user list file into the user-list directory of
// the data directory and returns its path.
func writeUserList(t testing.TB, dataDir, name, text string) string {
	t.Helper()
	path := filepath.Join(dataDir, userListDir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// addUserRule has DEFAULT's hub admin add a discard rule whose source user
// field is field.
func addUserRule(d admin.Dispatcher, field string) error {
	_, err := d.Call(context.Background(), hubAdm("DEFAULT"), "AddAccess",
		params("HubName", "DEFAULT", "Active", true, "Discard", true, "Priority", 1, "SrcUsername", field))
	return err
}

// firstRuleList returns the user list of DEFAULT's first rule in effect.
func firstRuleList(t *testing.T, s *Server) []string {
	t.Helper()
	rules := s.LookupHub("DEFAULT").AccessList()
	if len(rules) == 0 {
		t.Fatal("no access rule in effect")
	}
	return rules[0].SrcUserList
}

func setAdminOption(t *testing.T, d admin.Dispatcher, hubName, name string, v int) {
	t.Helper()
	call(t, d, serverAdm, "SetHubAdminOptions", params("HubName", hubName, "Name", name, "Value", v))
}

// A user list file must lie in the user-list directory: other paths are
// refused when an administrator sets them.
func TestUserListFileConfined(t *testing.T) {
	s, d, dir := openAdmin(t)
	inside := writeUserList(t, dir, "users.txt", "alice\n")
	writeUserList(t, dir, "sub/more.txt", "bob\n")
	outside := filepath.Join(dir, "outside.txt")
	if err := os.WriteFile(outside, []byte("alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"include:../outside.txt", "include:" + outside, "exclude:/etc/passwd",
		"include:/proc/kmsg", "include:sub/../../outside.txt", "exclude:", "include: ",
		"include:" + filepath.Join(dir, userListDir, "..", "outside.txt")} {
		err := addUserRule(d, field)
		if vpnerr.Code(err) != vpnerr.InvalidParameter {
			t.Errorf("AddAccess %q: %v, want code 38", field, err)
		}
		if err != nil && !strings.Contains(err.Error(), userListDir) {
			t.Errorf("AddAccess %q: the error does not say where the file belongs: %v", field, err)
		}
	}
	if n := len(s.LookupHub("DEFAULT").AccessList()); n != 0 {
		t.Fatalf("%d refused rules in effect", n)
	}
	_, err := d.Call(context.Background(), hubAdm("DEFAULT"), "SetAccessList", params("HubName", "DEFAULT", "Protocol", 0, "DestUsername", "exclude:"+outside))
	if vpnerr.Code(err) != vpnerr.InvalidParameter {
		t.Errorf("SetAccessList with a file outside: %v, want code 38", err)
	}
	for field, want := range map[string][]string{
		"include:users.txt": {"alice"}, "EXCLUDE: users.txt ": {"alice"}, "include:" + inside: {"alice"},
		"include:sub/more.txt": {"bob"}, "include:sub/../users.txt": {"alice"},
	} {
		call(t, d, serverAdm, "SetAccessList", params("HubName", "DEFAULT"))
		if err := addUserRule(d, field); err != nil {
			t.Errorf("AddAccess %q: %v", field, err)
			continue
		}
		if got := firstRuleList(t, s); !slices.Equal(got, want) {
			t.Errorf("AddAccess %q: list %q, want %q", field, got, want)
		}
	}
}

// A configuration that names a file outside the directory (written by
// hand, or by SoftEther, which reads any path) loads; the file is not read.
func TestUserListOutsideFromConfigIgnored(t *testing.T) {
	s, _, dir := openAdmin(t)
	outside := filepath.Join(dir, "outside.txt")
	if err := os.WriteFile(outside, []byte("alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setAccessListByHand(t, s, config.Access{Active: true, SrcUsername: "include:" + outside})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rules := s2.LookupHub("DEFAULT").AccessList()
	if len(rules) != 1 || rules[0].SrcUsername != "include:"+outside {
		t.Fatalf("rules in effect: %+v", rules)
	}
	if rules[0].SrcUserList != nil {
		t.Errorf("a file outside %s was read: %q", userListDir, rules[0].SrcUserList)
	}
}

// mkfifo makes a FIFO at path. At cleanup it opens the FIFO for writing
// once, which lets a reader blocked on it go.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("cannot make a FIFO: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// within runs f and fails the test if it does not return in time.
func within(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: still running after %v", what, d)
	}
}

// A FIFO named as a user list hung the server (it was read under the
// server lock), at the change and at every start after it.
func TestUserListFIFO(t *testing.T) {
	s, d, dir := openAdmin(t)
	fifo := filepath.Join(dir, userListDir, "fifo")
	mkfifo(t, fifo)
	within(t, "AddAccess with a FIFO", 5*time.Second, func() error { return addUserRule(d, "include:"+fifo) })
	if got := firstRuleList(t, s); got != nil {
		t.Errorf("FIFO listed %q", got)
	}
	within(t, "start with a FIFO in the access list", 5*time.Second, func() error {
		s2, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil && len(s2.LookupHub("DEFAULT").AccessList()) != 1 {
			t.Error("the rule is not in effect after the start")
		}
		return err
	})
}

// A symbolic link in the directory is followed only as far as the
// directory: a link out of it lists nobody.
func TestUserListSymlinkOutOfDirectory(t *testing.T) {
	s, d, dir := openAdmin(t)
	writeUserList(t, dir, "users.txt", "alice\n")
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listDir := filepath.Join(dir, userListDir)
	for name, target := range map[string]string{"out": secret, "outdir": dir, "in": "users.txt", "kmsg": "/proc/kmsg"} {
		if err := os.Symlink(target, filepath.Join(listDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for field, want := range map[string][]string{
		"include:" + filepath.Join(listDir, "out"):               nil,
		"include:" + filepath.Join(listDir, "outdir/secret.txt"): nil,
		"include:" + filepath.Join(listDir, "kmsg"):              nil,
		"include:in": {"alice"},
	} {
		call(t, d, serverAdm, "SetAccessList", params("HubName", "DEFAULT"))
		within(t, "AddAccess "+field, 5*time.Second, func() error { return addUserRule(d, field) })
		if got := firstRuleList(t, s); !slices.Equal(got, want) {
			t.Errorf("%s: list %q, want %q", field, got, want)
		}
	}
}

// A file over the size limit lists nobody (SoftEther would read its first
// MiB, which can end in half a name); one at the limit is read.
func TestUserListTooBig(t *testing.T) {
	s, d, dir := openAdmin(t)
	line := "alice\n"
	atLimit := strings.Repeat("#", maxUserListFile-len(line)) + "\n" + line[:len(line)-1]
	for text, want := range map[string][]string{
		strings.Repeat(line, maxUserListFile/len(line)+1): nil,
		atLimit: {"alice"},
	} {
		path := writeUserList(t, dir, "big.txt", text)
		call(t, d, serverAdm, "SetAccessList", params("HubName", "DEFAULT"))
		if err := addUserRule(d, "include:"+path); err != nil {
			t.Fatal(err)
		}
		if got := firstRuleList(t, s); !slices.Equal(got, want) {
			t.Errorf("file of %d bytes: %d names, want %d", len(text), len(got), len(want))
		}
	}
}

// User list files are read without the server lock: logins and sessions
// go on while a slow file is read.
func TestUserListReadWithoutServerLock(t *testing.T) {
	s, d, dir := openAdmin(t)
	writeUserList(t, dir, "users.txt", "alice\n")
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	read := readUserListFile
	readUserListFile = func(dir, rel string) ([]string, error) {
		once.Do(func() { close(started) })
		<-release
		return read(dir, rel)
	}
	defer func() { readUserListFile = read }()
	done := make(chan error, 1)
	go func() { done <- addUserRule(d, "include:users.txt") }()
	defer func() { <-done }() // before readUserListFile is restored
	defer close(release)
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the user list file was not read")
	}
	locked := make(chan struct{})
	go func() {
		s.LookupHub("DEFAULT") // what every login does first
		s.Sessions()
		close(locked)
	}()
	select {
	case <-locked:
	case <-time.After(2 * time.Second):
		t.Fatal("the server lock is held while a user list file is read")
	}
}

// no_access_list_include_file: include:/exclude: user fields are cleared
// from rules any administrator adds (SoftEther Admin.c, StAddAccess).
func TestNoAccessListIncludeFile(t *testing.T) {
	s, d, dir := openAdmin(t)
	writeUserList(t, dir, "users.txt", "alice\n")
	setAdminOption(t, d, "DEFAULT", "no_access_list_include_file", 1)
	for _, c := range []admin.Caller{hubAdm("DEFAULT"), serverAdm} {
		call(t, d, serverAdm, "SetAccessList", params("HubName", "DEFAULT"))
		call(t, d, c, "AddAccess", params("HubName", "DEFAULT", "Active", true, "SrcUsername", "include:users.txt", "DestUsername", "Exclude:users.txt"))
		call(t, d, c, "SetAccessList", params("HubName", "DEFAULT", "Protocol", 0, "Active", true, "SrcUsername", "alice", "DestUsername", "include:users.txt"))
		call(t, d, c, "AddAccess", params("HubName", "DEFAULT", "Active", true, "SrcUsername", "include:users.txt", "DestUsername", "bob"))
		list := call(t, d, c, "EnumAccess", params("HubName", "DEFAULT"))
		src, dst := []string{list.StrAt("SrcUsername", 0), list.StrAt("SrcUsername", 1)}, []string{list.StrAt("DestUsername", 0), list.StrAt("DestUsername", 1)}
		slices.Sort(src)
		slices.Sort(dst)
		if !slices.Equal(src, []string{"", "alice"}) || !slices.Equal(dst, []string{"", "bob"}) {
			t.Errorf("%+v: stored user fields %q %q", c, src, dst)
		}
		for _, r := range s.LookupHub("DEFAULT").AccessList() {
			if r.SrcUserList != nil || r.DstUserList != nil || control.IsUserListField(r.SrcUsername) || control.IsUserListField(r.DstUsername) {
				t.Errorf("%+v: rule in effect names a user list: %+v", c, r)
			}
		}
	}
}

// no_delay_jitter_packet_loss: Delay, Jitter and Loss are zeroed in rules
// any administrator adds (SoftEther Admin.c, StAddAccess).
func TestNoDelayJitterPacketLoss(t *testing.T) {
	s, d, _ := openAdmin(t)
	setAdminOption(t, d, "DEFAULT", "no_delay_jitter_packet_loss", 1)
	rule := func(c admin.Caller, method string) {
		call(t, d, c, method, params("HubName", "DEFAULT", "Protocol", 0, "Active", true, "Delay", 100, "Jitter", 10, "Loss", 5))
	}
	rule(hubAdm("DEFAULT"), "AddAccess")
	rule(serverAdm, "AddAccess")
	check := func(what string, n int) {
		l := call(t, d, serverAdm, "EnumAccess", params("HubName", "DEFAULT"))
		if l.Count("Id") != n {
			t.Fatalf("%s: %d rules, want %d", what, l.Count("Id"), n)
		}
		for i := range l.Count("Id") {
			if l.IntAt("Delay", i) != 0 || l.IntAt("Jitter", i) != 0 || l.IntAt("Loss", i) != 0 {
				t.Errorf("%s: stored rule %d: delay %d jitter %d loss %d", what, i+1, l.IntAt("Delay", i), l.IntAt("Jitter", i), l.IntAt("Loss", i))
			}
		}
	}
	check("AddAccess", 2)
	rule(hubAdm("DEFAULT"), "SetAccessList")
	check("SetAccessList", 1)
	for _, r := range s.LookupHub("DEFAULT").AccessList() {
		if r.Delay != 0 || r.Jitter != 0 || r.Loss != 0 {
			t.Errorf("rule in effect: %+v", r)
		}
	}
}

// aclPack is a SetAccessList request with one active discard rule per
// source user field, at ascending priorities.
func aclPack(fields ...string) *pack.Pack {
	p := params("HubName", "DEFAULT")
	n := len(fields)
	prio, active := make([]uint32, n), make([]uint32, n)
	for i := range n {
		prio[i], active[i] = uint32(i+1), 1
	}
	p.AddInts("Protocol", make([]uint32, n))
	p.AddInts("Priority", prio)
	p.AddInts("Active", active)
	p.AddInts("Discard", active)
	p.AddStrs("SrcUsername", fields)
	return p
}

// Many rules naming one big user list (red team F2: 400 rules on a
// 100,000-name file took 2.86 GB): the file is read once, every rule gets
// the same names, and the list in effect costs about what one rule costs.
func TestUserListSharedByRules(t *testing.T) {
	s, d, dir := openAdmin(t)
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, "u%06d\n", i) // 800 KB
	}
	writeUserList(t, dir, "big.txt", b.String())
	var reads atomic.Int32
	read := readUserListFile
	readUserListFile = func(dir, rel string) ([]string, error) {
		reads.Add(1)
		return read(dir, rel)
	}
	defer func() { readUserListFile = read }()
	cost := func(n int) int64 {
		call(t, d, hubAdm("DEFAULT"), "SetAccessList", params("HubName", "DEFAULT"))
		req := aclPack(slices.Repeat([]string{"include:big.txt"}, n)...)
		base := heapInUse()
		reads.Store(0)
		start := time.Now()
		call(t, d, hubAdm("DEFAULT"), "SetAccessList", req)
		took := time.Since(start)
		c := heapInUse() - base
		t.Logf("%d rules: %d bytes, %v", n, c, took)
		if r := reads.Load(); r != 1 {
			t.Errorf("%d rules: the file was read %d times", n, r)
		}
		rules := s.LookupHub("DEFAULT").AccessList()
		if len(rules) != n {
			t.Fatalf("%d rules in effect, want %d", len(rules), n)
		}
		for _, r := range rules {
			if len(r.SrcUserList) != 100_000 || &r.SrcUserList[0] != &rules[0].SrcUserList[0] {
				t.Fatalf("a rule has its own list of %d names", len(r.SrcUserList))
			}
		}
		return c
	}
	one, many := cost(1), cost(400)
	if one < 1<<20 {
		t.Fatalf("one rule on 100,000 names costs %d bytes: the measure is wrong", one)
	}
	// A list of its own per rule would cost about one's share 400 times
	// over (1.7 GB before the fix); what each rule itself holds is a few
	// kilobytes, so 32 MiB beyond one rule is a bound with room for noise.
	if many > one+32<<20 {
		t.Errorf("400 rules on one file cost %d bytes, one rule %d", many, one)
	}
}

// heapInUse returns the live heap after a collection.
// heapInUse is the live heap once it has settled: the goroutines of
// earlier tests (servers, devices and sessions winding down) may still be
// letting go of memory, which would count against the measurement (CI
// once saw one rule "cost" -52 MB).
func heapInUse() int64 {
	last := int64(-1)
	for range 20 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cur := int64(ms.HeapAlloc)
		if last >= 0 && cur-last < 1<<20 && last-cur < 1<<20 {
			return cur
		}
		last = cur
		time.Sleep(20 * time.Millisecond)
	}
	return last
}

// The user list files of one hub's access list are bounded: an
// administrator's change beyond the bounds is refused with code 38 and the
// list in effect stays; a configuration beyond them loads, and the rules
// over the bounds list nobody.
func TestUserListBounds(t *testing.T) {
	s, d, dir := openAdmin(t)
	fields := make([]string, maxUserListFiles+1)
	for i := range fields {
		name := fmt.Sprintf("u%02d.txt", i)
		writeUserList(t, dir, name, fmt.Sprintf("user%d\n", i))
		fields[i] = "include:" + name
	}
	inEffect := func(want int) []hub.AccessRule {
		t.Helper()
		rules := s.LookupHub("DEFAULT").AccessList()
		if len(rules) != want {
			t.Fatalf("%d rules in effect, want %d", len(rules), want)
		}
		if n := call(t, d, serverAdm, "EnumAccess", params("HubName", "DEFAULT")).Count("Id"); n != want {
			t.Fatalf("%d rules configured, want %d", n, want)
		}
		return rules
	}
	refused := func(what string, err error, bound int) {
		t.Helper()
		if vpnerr.Code(err) != vpnerr.InvalidParameter || !strings.Contains(err.Error(), strconv.Itoa(bound)) {
			t.Errorf("%s: %v, want code 38 naming the bound %d", what, err, bound)
		}
	}

	call(t, d, hubAdm("DEFAULT"), "SetAccessList", aclPack(fields[:maxUserListFiles]...))
	for i, r := range inEffect(maxUserListFiles) {
		if len(r.SrcUserList) != 1 {
			t.Errorf("rule %d lists %q", i, r.SrcUserList)
		}
	}
	_, err := d.Call(context.Background(), hubAdm("DEFAULT"), "SetAccessList", aclPack(fields...))
	refused("SetAccessList, one file too many", err, maxUserListFiles)
	inEffect(maxUserListFiles)
	refused("AddAccess, one file too many", addUserRule(d, fields[maxUserListFiles]), maxUserListFiles)
	inEffect(maxUserListFiles)

	// 524,288 names a file: one file fits, two do not.
	half := strings.Repeat("a\n", maxUserListFile/2)
	writeUserList(t, dir, "big1.txt", half)
	writeUserList(t, dir, "big2.txt", half)
	call(t, d, hubAdm("DEFAULT"), "SetAccessList", aclPack("include:big1.txt", "exclude:big1.txt", "include:./big1.txt"))
	inEffect(3)
	_, err = d.Call(context.Background(), hubAdm("DEFAULT"), "SetAccessList", aclPack("include:big1.txt", "include:big2.txt"))
	refused("SetAccessList, too many names", err, maxUserListNames)
	inEffect(3)

	// A configuration beyond the bounds (written by hand) loads.
	rules := make([]config.Access, len(fields))
	for i, f := range fields {
		rules[i] = config.Access{Active: true, Priority: uint32(i + 1), SrcUsername: f}
	}
	setAccessListByHand(t, s, rules...)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	loaded := s2.LookupHub("DEFAULT").AccessList()
	if len(loaded) != len(fields) {
		t.Fatalf("%d rules loaded, want %d", len(loaded), len(fields))
	}
	nobody := 0
	for _, r := range loaded {
		var i int
		fmt.Sscanf(r.SrcUsername, "include:u%02d.txt", &i)
		switch {
		case r.SrcUserList == nil:
			nobody++
		case !slices.Equal(r.SrcUserList, []string{fmt.Sprintf("user%d", i)}):
			t.Errorf("loaded rule %s lists %q", r.SrcUsername, r.SrcUserList)
		}
	}
	if nobody != len(fields)-maxUserListFiles {
		t.Errorf("%d loaded rules list nobody, want %d", nobody, len(fields)-maxUserListFiles)
	}
}

// setAccessListByHand makes rules the access list of the hub DEFAULT, as
// a hand-written configuration would: past the administrators' checks.
func setAccessListByHand(t *testing.T, s *Server, rules ...config.Access) {
	t.Helper()
	err := s.ctl.Update(func(next *config.Server) error {
		next.EditHub("DEFAULT").AccessList = rules
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
