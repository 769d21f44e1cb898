package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newStore(t *testing.T, max int) *Store {
	t.Helper()
	return &Store{Path: filepath.Join(t.TempDir(), "vpn_server.config"), MaxBackups: max}
}

func readOrFail(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each save adds the configuration to SoftEther's backup folder before it
// replaces the file; the newest backup is the file; at most MaxBackups are
// kept; saving the same content adds nothing.
func TestStoreBackups(t *testing.T) {
	st := newStore(t, 3)
	if got := filepath.Base(st.BackupDir()); got != "backup.vpn_server.config" {
		t.Fatalf("backup folder %q", got)
	}
	for rev := uint32(1); rev <= 5; rev++ {
		if err := st.Save(rootWith(rev)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Save(rootWith(5)); err != nil { // unchanged
		t.Fatal(err)
	}
	list, err := st.Backups()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d backups, want 3: %v", len(list), list)
	}
	for i, b := range list {
		wantName := []string{"00000005_vpn_server.config", "00000004_vpn_server.config", "00000003_vpn_server.config"}[i]
		if filepath.Base(b.Path) != wantName {
			t.Errorf("backup %d is %s, want %s", i, filepath.Base(b.Path), wantName)
		}
		root, err := Parse(readOrFail(t, b.Path))
		if err != nil || root.GetUint("ConfigRevision") != uint32(5-i) {
			t.Errorf("backup %s: %v %v", b.Path, root, err)
		}
		if fi, _ := os.Stat(b.Path); fi.Mode().Perm() != 0o600 {
			t.Errorf("backup mode %v, want 0600 (it holds the private key)", fi.Mode().Perm())
		}
		if time.Since(b.Time) > time.Minute {
			t.Errorf("backup time %v", b.Time)
		}
	}
	if !bytes.Equal(readOrFail(t, list[0].Path), readOrFail(t, st.Path)) {
		t.Error("the newest backup is not the file")
	}
	if fi, _ := os.Stat(st.BackupDir()); fi.Mode().Perm() != 0o700 {
		t.Errorf("backup folder mode %v", fi.Mode().Perm())
	}
	// a tree with DontBackupConfig set adds none, as on SoftEther
	r := rootWith(6)
	r.Ensure("ServerConfiguration").SetBool("DontBackupConfig", true)
	if err := st.Save(r); err != nil {
		t.Fatal(err)
	}
	if l, _ := st.Backups(); len(l) != 3 || l[0].Seq != 5 {
		t.Errorf("DontBackupConfig: backups %v", l)
	}
}

// A file the Store did not write (imported from SoftEther, or edited) is
// kept as a backup, with its date, before the first save replaces it.
func TestStoreKeepsForeignFile(t *testing.T) {
	st := newStore(t, 0)
	foreign := []byte("declare root\r\n{\r\n\tuint ConfigRevision 10\r\n}\r\n")
	if err := os.WriteFile(st.Path, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2025, 3, 4, 5, 6, 7, 0, time.Local)
	os.Chtimes(st.Path, old, old)
	root, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	root.SetUint("ConfigRevision", 11)
	if err := st.Save(root); err != nil {
		t.Fatal(err)
	}
	list, _ := st.Backups()
	if len(list) != 2 || !bytes.Equal(readOrFail(t, list[1].Path), foreign) || !list[1].Time.Equal(old) {
		t.Fatalf("foreign file not kept byte for byte with its date: %v", list)
	}
	// edited by hand, then the server saves what it had: both are kept and
	// the newest backup is again the file
	before := readOrFail(t, st.Path)
	edited := []byte("declare root\r\n{\r\n\tuint ConfigRevision 99\r\n}\r\n")
	if err := os.WriteFile(st.Path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(root); err != nil {
		t.Fatal(err)
	}
	list = mustBackups(t, st)
	if len(list) != 4 || !bytes.Equal(readOrFail(t, list[1].Path), edited) ||
		!bytes.Equal(readOrFail(t, list[0].Path), before) || !bytes.Equal(readOrFail(t, st.Path), before) {
		t.Fatalf("after a hand edit: %v", list)
	}
	// a file that does not parse is not a good configuration: not kept
	if err := os.WriteFile(st.Path, foreign[:20], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(rootWith(12)); err != nil {
		t.Fatal(err)
	}
	for _, b := range mustBackups(t, st) {
		if bytes.Equal(readOrFail(t, b.Path), foreign[:20]) {
			t.Error("a damaged file was kept as a backup")
		}
	}
}

func mustBackups(t *testing.T, st *Store) []Backup {
	t.Helper()
	l, err := st.Backups()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A save that cannot replace the file leaves no temporary file and no
// backup of the configuration that was not saved.
func TestStoreFailedSave(t *testing.T) {
	st := newStore(t, 0)
	if err := st.Save(rootWith(1)); err != nil {
		t.Fatal(err)
	}
	// a directory where the file should be: the rename fails
	if err := os.Remove(st.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(st.Path, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(st.Path, "x"), nil, 0o600) // not empty: rename cannot replace it
	if err := st.Save(rootWith(2)); err == nil {
		t.Fatal("save over a directory succeeded")
	}
	list := mustBackups(t, st)
	if len(list) != 1 || list[0].Seq != 1 {
		t.Errorf("backups after a failed save: %v", list)
	}
	entries, _ := os.ReadDir(filepath.Dir(st.Path))
	for _, e := range entries {
		if strings.Contains(e.Name(), tempInfix) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// RestoreBackup installs the newest usable backup and keeps the damaged
// file; without a backup it says so.
func TestStoreRestoreBackup(t *testing.T) {
	st := newStore(t, 0)
	if _, _, err := st.RestoreBackup(nil); !errors.Is(err, ErrNoBackup) {
		t.Fatalf("restore without backups = %v, want ErrNoBackup", err)
	}
	for rev := uint32(1); rev <= 3; rev++ {
		if err := st.Save(rootWith(rev)); err != nil {
			t.Fatal(err)
		}
	}
	good := readOrFail(t, st.Path)
	damaged := good[:len(good)/2]
	if err := os.WriteFile(st.Path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	// the caller's check refuses revision 3: revision 2 comes back
	b, kept, err := st.RestoreBackup(func(r *Folder) error {
		if r.GetUint("ConfigRevision") == 3 {
			return errors.New("refused")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != 2 {
		t.Errorf("restored backup %d, want 2", b.Seq)
	}
	root, err := Load(st.Path)
	if err != nil || root.GetUint("ConfigRevision") != 2 {
		t.Errorf("file after restore: %v %v", root, err)
	}
	if kept == "" || !bytes.Equal(readOrFail(t, kept), damaged) {
		t.Errorf("damaged file not kept: %q", kept)
	}
	if fi, _ := os.Stat(st.Path); fi.Mode().Perm() != 0o600 {
		t.Errorf("restored file mode %v", fi.Mode().Perm())
	}
	// nothing usable
	if _, _, err := st.RestoreBackup(func(*Folder) error { return errors.New("no") }); !errors.Is(err, ErrNoBackup) {
		t.Errorf("restore with no usable backup = %v", err)
	}
}

// A backup with zeros written into it is damaged: RestoreBackup passes
// over it to the next one, and a save does not copy such a file into the
// backups (before, --restore-backup restored it as good: issue 9, red team
// F5).
func TestStoreRestoreSkipsZeroedBackup(t *testing.T) {
	st := newStore(t, 0)
	for rev := uint32(1); rev <= 2; rev++ {
		if err := st.Save(rootWith(rev)); err != nil {
			t.Fatal(err)
		}
	}
	list := mustBackups(t, st)
	newest := readOrFail(t, list[0].Path)
	zeroed := bytes.Clone(newest)
	copy(zeroed[len(zeroed)/2:], make([]byte, 16))
	for _, p := range []string{list[0].Path, st.Path} {
		if err := os.WriteFile(p, zeroed, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, _, err := st.RestoreBackup(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != 1 {
		t.Errorf("restored backup %d, want 1 (2 has zeros in it)", b.Seq)
	}
	// the zeroed file is not kept as a backup by the next save
	if err := os.WriteFile(st.Path, zeroed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(rootWith(3)); err != nil {
		t.Fatal(err)
	}
	for _, b := range mustBackups(t, st) {
		if b.Seq != 2 && bytes.Equal(readOrFail(t, b.Path), zeroed) {
			t.Errorf("the zeroed file was kept as backup %s", b.Path)
		}
	}
}

// Temporary files a crash left (they may hold the private key) are removed.
func TestStoreRemoveStaleTemp(t *testing.T) {
	st := newStore(t, 0)
	if err := st.Save(rootWith(1)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(st.Path)
	stale := []string{
		filepath.Join(dir, ".vpn_server.config.tmp12345"),
		filepath.Join(st.BackupDir(), ".00000002_vpn_server.config.tmp999"),
	}
	keep := filepath.Join(dir, "other.tmp1")
	for _, p := range append(stale, keep) {
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := st.RemoveStaleTemp()
	if err != nil || len(removed) != 2 {
		t.Errorf("removed %v, %v", removed, err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s still there", p)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Error("an unrelated file was removed")
	}
	if _, err := os.Stat(st.Path); err != nil {
		t.Error("the configuration was removed")
	}
}
