package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func rootWith(rev uint32) *Folder {
	f := NewFolder(RootName)
	f.SetUint("ConfigRevision", rev)
	return f
}

func revOf(t *testing.T, path string) uint32 {
	t.Helper()
	root, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return root.GetUint("ConfigRevision")
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vpn_server.config")
	for rev := uint32(1); rev <= 2; rev++ {
		if err := Save(path, rootWith(rev)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if got := revOf(t, path); got != 2 {
		t.Errorf("ConfigRevision %d, want 2", got)
	}
	// a save into a missing directory fails cleanly
	if err := Save(filepath.Join(dir, "nope", "x.config"), rootWith(1)); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "vpn_server.config"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vpn_server.config")
	if err := Save(path, rootWith(1)); err != nil {
		t.Fatal(err)
	}
	// a file handed over as <path>.new wins; Load changes no file (the
	// caller may still refuse it), the next Save installs it
	if err := os.WriteFile(path+".new", []byte("declare root\n{\nuint ConfigRevision 5\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	root, err := Load(path)
	if err != nil || root.GetUint("ConfigRevision") != 5 {
		t.Fatalf(".new not preferred: %v %v", root, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("Load changed the file")
	}
	if err := Save(path, root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".new"); !errors.Is(err, fs.ErrNotExist) {
		t.Error(".new still there after a save")
	}
	if got := revOf(t, path); got != 5 {
		t.Errorf(".new content was not installed as the file: revision %d", got)
	}

	// a broken .new is moved aside and the file is used
	if err := os.WriteFile(path+".new", []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err = Load(path)
	if !errors.Is(err, ErrNewRejected) || root == nil || root.GetUint("ConfigRevision") != 5 {
		t.Errorf("broken .new: root %v err %v", root, err)
	}
	if _, err := os.Stat(path + ".new.bad"); err != nil {
		t.Error("broken .new was not kept as .new.bad")
	}
	if got := revOf(t, path); got != 5 {
		t.Errorf("after a rejected .new: revision %d", got)
	}
}

func TestLoadLogFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vpn_server.config")
	good := rootWith(3).Encode()
	// an interrupted real-server save: half-written file, complete .log
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".log", append(good, eofMarker), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := Load(path)
	if err != nil || root.GetUint("ConfigRevision") != 3 {
		t.Fatalf(".log not used: %v %v", root, err)
	}
	if err := Save(path, root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".log"); !errors.Is(err, fs.ErrNotExist) {
		t.Error(".log still there after the save")
	}
	if b, _ := os.ReadFile(path); string(b) != string(good) {
		t.Error("the file was not restored from .log")
	}

	// a .log without the end marker is an unfinished copy: ignored
	if err := os.WriteFile(path+".log", rootWith(9).Encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := revOf(t, path); got != 3 {
		t.Errorf("unfinished .log used: revision %d", got)
	}
	// Save clears a stale .log so it cannot win later
	if err := os.WriteFile(path+".log", append(rootWith(7).Encode(), eofMarker), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, rootWith(4)); err != nil {
		t.Fatal(err)
	}
	if got := revOf(t, path); got != 4 {
		t.Errorf("stale .log survived Save: revision %d", got)
	}
}
