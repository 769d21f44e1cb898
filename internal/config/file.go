package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// eofMarker ends a "<file>.log" copy that the real server completed; a
// .log without it is an unfinished copy and is ignored.
const eofMarker = 0x1A

// ErrNewRejected is wrapped by the error Load returns when "<path>.new"
// could not be parsed. Load then moves it aside to "<path>.new.bad" and
// loads the usual file instead; the returned root is valid in that case.
var ErrNewRejected = errors.New("config: rejected .new file")

// Load reads the configuration at path the way SoftEther does (Cfg.c,
// CfgReadW):
//
//  1. "<path>.new" (a file handed over to a stopped server) wins.
//  2. Else "<path>.log" whose last byte is 0x1A, the previous good copy an
//     interrupted real-server save left behind, read without that byte.
//  3. Else path itself.
//
// Load writes nothing but the move of a .new that does not parse: the
// file that was read is installed as path by the next Save, which also
// removes the .new and .log, so a file the caller then refuses (see
// FromTree) leaves every file as it was.
//
// If path does not exist the error wraps fs.ErrNotExist, so the caller can
// start from Default. A file that does not parse gives an error naming it
// and, for text, the line (a *SyntaxError inside).
func Load(path string) (*Folder, error) {
	var rejected error
	if b, err := os.ReadFile(path + ".new"); err == nil {
		root, perr := Parse(b)
		if perr == nil {
			return root, nil
		}
		rejected = fmt.Errorf("%w %s.new (moved to %s.new.bad): %v", ErrNewRejected, path, path, perr)
		if err := os.Rename(path+".new", path+".new.bad"); err != nil {
			return nil, errors.Join(rejected, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config: %w", err)
	}

	if b, err := os.ReadFile(path + ".log"); err == nil && len(b) > 0 && b[len(b)-1] == eofMarker {
		if root, perr := Parse(b[:len(b)-1]); perr == nil {
			return root, rejected
		}
		// an unreadable backup is no better than no backup: use path
	}

	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Join(rejected, fmt.Errorf("config: %w", err))
	}
	root, err := Parse(b)
	if err != nil {
		return nil, errors.Join(rejected, fmt.Errorf("%s: %w", path, err))
	}
	return root, rejected
}

// Save writes root to path as text (see Encode) atomically: a temporary
// file in the same directory is written and fsynced, renamed over path,
// and the directory is fsynced. The file has mode 0600 since it holds
// password hashes and the server's private key; the temporary file is
// removed if anything fails. A "<path>.new" or "<path>.log" that Load
// read is removed afterwards, so that it cannot win over path later.
// Save keeps no backup: see Store.
func Save(path string, root *Folder) error {
	if err := writeAtomic(path, root.Encode()); err != nil {
		return err
	}
	return removeHandOver(path)
}

// removeHandOver deletes "<path>.new" and "<path>.log" (see Load).
func removeHandOver(path string) error {
	for _, ext := range []string{".new", ".log"} {
		if err := os.Remove(path + ext); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// writeAtomic replaces path by data so that a crash leaves either the old
// or the new content, never a mix.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("config: save %s: %w", path, err)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// tempInfix marks the temporary files writeAtomic creates: hidden, named
// after the file they will replace, "." + name + tempInfix + random.
const tempInfix = ".tmp"

// tempPrefix is the start of the names of path's temporary files.
func tempPrefix(path string) string { return "." + filepath.Base(path) + tempInfix }

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("config: sync %s: %w", dir, err)
	}
	return nil
}
