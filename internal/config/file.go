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

// Load reads the configuration at path the way SoftEther does (§6.3):
//
//  1. "<path>.new" (written by SetConfig) wins. Once it parses it is
//     renamed over path, so the handed-over file is never lost.
//  2. Else "<path>.log" whose last byte is 0x1A, the previous good copy an
//     interrupted real-server save left behind. It is loaded without that
//     byte, written back to path atomically and removed.
//  3. Else path itself.
//
// If path does not exist the error wraps fs.ErrNotExist, so the caller can
// start from Default.
func Load(path string) (*Folder, error) {
	var rejected error
	if b, err := os.ReadFile(path + ".new"); err == nil {
		root, perr := Parse(b)
		if perr == nil {
			if err := os.Rename(path+".new", path); err != nil {
				return nil, fmt.Errorf("config: install %s.new: %w", path, err)
			}
			return root, syncDir(filepath.Dir(path))
		}
		rejected = fmt.Errorf("%w %s.new (moved to %s.new.bad): %v", ErrNewRejected, path, path, perr)
		if err := os.Rename(path+".new", path+".new.bad"); err != nil {
			return nil, errors.Join(rejected, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config: %w", err)
	}

	if b, err := os.ReadFile(path + ".log"); err == nil && len(b) > 0 && b[len(b)-1] == eofMarker {
		b = b[:len(b)-1]
		root, perr := Parse(b)
		if perr == nil {
			if err := writeAtomic(path, b); err != nil {
				return nil, err
			}
			if err := os.Remove(path + ".log"); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
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
// password hashes and the server's private key. A stale "<path>.log" is
// removed afterwards so that Load does not prefer it.
func Save(path string, root *Folder) error {
	if err := writeAtomic(path, root.Encode()); err != nil {
		return err
	}
	if err := os.Remove(path + ".log"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// writeAtomic replaces path by data so that a crash leaves either the old
// or the new content, never a mix.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
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
