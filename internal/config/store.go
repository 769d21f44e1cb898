package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBackups is how many backups a Store keeps unless told
// otherwise: the newest ones; older ones are deleted. SoftEther keeps
// every backup forever.
const DefaultMaxBackups = 16

// Store is a configuration file with its backups, kept as SoftEther keeps
// them (Cfg.c, BackupCfgWEx): in the folder "backup.<file name>" beside
// the file, one copy per revision named "<8-digit number>_<file name>".
// Unlike SoftEther, the copy is written before the file is replaced (so
// a save that fails half-way cannot lose the last good configuration),
// only configurations that parse are kept, and at most MaxBackups of them.
//
// The newest backup is always the configuration last saved; the one
// before it is the previous version, and so on. A tree whose
// ServerConfiguration/DontBackupConfig is true is saved without backups,
// as on SoftEther.
//
// A Store's methods are not safe for concurrent use.
type Store struct {
	Path       string // the configuration file
	MaxBackups int    // 0 means DefaultMaxBackups; negative means none

	loadedFrom string   // the .new or .log Load read instead of Path
	newestPath string   // the newest backup as last seen ("" = not known)
	newestLen  int      // its length
	newestSum  [32]byte // SHA-256 of its content, when newestHashed
	// newestHashed: newestSum is known. A backup this Store writes is
	// hashed only when a later save has the same length: hashing a large
	// file at every save costs more than the rest of the backup.
	newestHashed bool
	// wrote is the file as this Store last wrote it (size and time), so
	// that a save need not read the file back to know it is its own,
	// which is already the newest backup.
	wrote       os.FileInfo
	wroteBackup string // the backup holding what was written
}

// Backup is one saved copy of the configuration.
type Backup struct {
	Path string    // the file in the backup folder
	Seq  uint64    // its number; a larger number is a newer copy
	Time time.Time // when that configuration was saved
}

// BackupDir is the folder holding the backups.
func (st *Store) BackupDir() string {
	return filepath.Join(filepath.Dir(st.Path), "backup."+filepath.Base(st.Path))
}

// Load reads the configuration (see the package function Load) and
// remembers whether it came from a hand-over file, which the next Save
// then removes.
func (st *Store) Load() (*Folder, error) {
	root, err := Load(st.Path)
	st.loadedFrom = ""
	if root != nil {
		for _, ext := range []string{".new", ".log"} {
			if _, serr := os.Stat(st.Path + ext); serr == nil {
				st.loadedFrom = st.Path + ext
				break
			}
		}
	}
	return root, err
}

// Save writes root to the file atomically with mode 0600 (see the package
// function Save), first adding it to the backups: the file it replaces
// too if that is not the newest backup already (a file from an older
// version or another program, or one changed by hand). When the file
// cannot be written, the backup just added is removed again, so that the
// newest backup stays the configuration actually in the file.
func (st *Store) Save(root *Folder) error {
	data := root.Encode()
	var added string
	if st.keep() && !root.Folder("ServerConfiguration").GetBool("DontBackupConfig") {
		var err error
		if added, err = st.backup(data); err != nil {
			return err
		}
	}
	st.wrote = nil
	if err := writeAtomic(st.Path, data); err != nil {
		if added != "" {
			os.Remove(added)
			st.newestPath = ""
		}
		return err
	}
	if added != "" {
		st.wrote, _ = os.Stat(st.Path) // the file is the newest backup
		st.wroteBackup = added
	}
	if st.loadedFrom != "" {
		if err := os.Remove(st.loadedFrom); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config: %w", err)
		}
		st.loadedFrom = ""
	}
	st.prune()
	return nil
}

func (st *Store) keep() bool { return st.MaxBackups >= 0 }

func (st *Store) max() int {
	if st.MaxBackups == 0 {
		return DefaultMaxBackups
	}
	return st.MaxBackups
}

// backup adds the current file (when it is not the newest backup and
// parses) and then data to the backups. It returns the path of data's
// copy, or "" when data is the newest backup already.
func (st *Store) backup(data []byte) (added string, err error) {
	list, err := st.Backups()
	if err != nil {
		return "", err
	}
	next := uint64(1)
	if len(list) > 0 {
		next = list[0].Seq + 1
		if list[0].Path != st.newestPath {
			b, err := os.ReadFile(list[0].Path)
			if err != nil {
				return "", fmt.Errorf("config: reading the newest backup: %w", err)
			}
			st.newestPath, st.newestLen, st.newestSum, st.newestHashed = list[0].Path, len(b), sha256.Sum256(b), true
		}
	} else {
		st.newestPath = ""
	}
	if !st.ownFile() {
		if cur, err := os.ReadFile(st.Path); err == nil && !bytes.Equal(cur, data) && !st.isNewest(cur) {
			if _, perr := Parse(cur); perr == nil {
				p, err := st.writeBackup(next, cur)
				if err != nil {
					return "", err
				}
				next++
				st.newestPath, st.newestLen, st.newestHashed = p, len(cur), false
				// date the copy by when that file was saved
				if fi, err := os.Stat(st.Path); err == nil {
					os.Chtimes(p, fi.ModTime(), fi.ModTime())
				}
			}
		}
	}
	if st.isNewest(data) {
		return "", nil
	}
	p, err := st.writeBackup(next, data)
	if err != nil {
		return "", err
	}
	st.newestPath, st.newestLen, st.newestHashed = p, len(data), false
	return p, nil
}

// isNewest reports whether data is the content of the newest backup.
func (st *Store) isNewest(data []byte) bool {
	if st.newestPath == "" || len(data) != st.newestLen {
		return false
	}
	if !st.newestHashed {
		b, err := os.ReadFile(st.newestPath)
		if err != nil {
			return false
		}
		st.newestSum, st.newestHashed = sha256.Sum256(b), true
	}
	return sha256.Sum256(data) == st.newestSum
}

// ownFile reports whether the file is the one this Store last wrote (same
// size and modification time) while that is still the newest backup.
func (st *Store) ownFile() bool {
	if st.wrote == nil || st.newestPath != st.wroteBackup {
		return false
	}
	fi, err := os.Stat(st.Path)
	return err == nil && fi.Size() == st.wrote.Size() && fi.ModTime().Equal(st.wrote.ModTime())
}

func (st *Store) writeBackup(seq uint64, data []byte) (string, error) {
	dir := st.BackupDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("config: backup folder: %w", err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%08d_%s", seq, filepath.Base(st.Path)))
	if err := writeAtomic(p, data); err != nil {
		return "", err
	}
	return p, nil
}

// Backups lists the backups, newest first. A missing backup folder is no
// backups.
func (st *Store) Backups() ([]Backup, error) {
	entries, err := os.ReadDir(st.BackupDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: backup folder: %w", err)
	}
	suffix := "_" + filepath.Base(st.Path)
	var out []Backup
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || !e.Type().IsRegular() || len(num) < 8 {
			continue
		}
		seq, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			continue
		}
		b := Backup{Path: filepath.Join(st.BackupDir(), e.Name()), Seq: seq}
		if fi, err := e.Info(); err == nil {
			b.Time = fi.ModTime()
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Backup) int {
		switch {
		case a.Seq > b.Seq:
			return -1
		case a.Seq < b.Seq:
			return 1
		}
		return 0
	})
	return out, nil
}

// prune deletes the oldest backups beyond the limit. A failure only
// leaves a file too many.
func (st *Store) prune() {
	list, err := st.Backups()
	if err != nil {
		return
	}
	for _, b := range list[min(len(list), st.max()):] {
		os.Remove(b.Path)
	}
}

// ErrNoBackup is returned by RestoreBackup when the backup folder holds
// no usable configuration.
var ErrNoBackup = errors.New("no usable backup")

// RestoreBackup puts the newest backup that parses and that usable
// accepts (nil accepts any) in place of the file. The file it replaces,
// if any, is kept as "<path>.damaged-<date>-<time>" for inspection; the
// hand-over files "<path>.new" and "<path>.log", which Load would prefer,
// are moved aside the same way. It returns the backup used and where the
// replaced file went ("" if there was none).
func (st *Store) RestoreBackup(usable func(*Folder) error) (Backup, string, error) {
	list, err := st.Backups()
	if err != nil {
		return Backup{}, "", err
	}
	var why []error
	for _, b := range list {
		data, err := os.ReadFile(b.Path)
		if err != nil {
			why = append(why, err)
			continue
		}
		root, err := Parse(data)
		if err == nil && usable != nil {
			err = usable(root)
		}
		if err != nil {
			why = append(why, fmt.Errorf("%s: %w", b.Path, err))
			continue
		}
		stamp := time.Now().Format("20060102-150405")
		kept := ""
		for _, ext := range []string{"", ".new", ".log"} {
			src := st.Path + ext
			if _, err := os.Lstat(src); err != nil {
				continue
			}
			dst := src + ".damaged-" + stamp
			if err := os.Rename(src, dst); err != nil {
				return Backup{}, "", fmt.Errorf("config: keeping the damaged file: %w", err)
			}
			if ext == "" {
				kept = dst
			}
		}
		if err := writeAtomic(st.Path, data); err != nil {
			return Backup{}, kept, err
		}
		return b, kept, nil
	}
	if len(list) == 0 {
		return Backup{}, "", fmt.Errorf("%w: %s holds no backup", ErrNoBackup, st.BackupDir())
	}
	return Backup{}, "", fmt.Errorf("%w in %s: %w", ErrNoBackup, st.BackupDir(), errors.Join(why...))
}

// RemoveStaleTemp deletes temporary files a save interrupted by a crash
// left beside the file and in the backup folder (they may hold the
// server's private key). It returns the files removed.
func (st *Store) RemoveStaleTemp() ([]string, error) {
	var removed []string
	var errs []error
	for _, pattern := range []string{
		filepath.Join(filepath.Dir(st.Path), tempPrefix(st.Path)+"*"),
		filepath.Join(st.BackupDir(), ".*"+tempInfix+"*"),
	} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, m)
		}
	}
	return removed, errors.Join(errs...)
}
