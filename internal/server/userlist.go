package server

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ethervpn/ethervpn/internal/control"
)

// userListDir is the directory, inside the data directory, that holds the
// files an access list's "include:FILE" and "exclude:FILE" user fields
// name. SoftEther reads any path the field gives; ethervpn reads only
// regular files inside this directory, so that a hub administrator cannot
// make the server read a FIFO, a device or another file of the machine.
const userListDir = "access_list_include"

// maxUserListFile bounds a user list file (SoftEther Hub.h,
// ACCESS_LIST_INCLUDE_FILE_MAX_SIZE). SoftEther reads the first MiB of a
// bigger file; ethervpn refuses it, since a cut could end in half a name.
const maxUserListFile = 1 << 20

// userListFile returns the FILE of an include:/exclude: user field as a
// path relative to the user-list directory. FILE may be relative to that
// directory or an absolute path inside it; anything else is an error that
// says where the file belongs. ok is false for a plain user name.
func (s *Server) userListFile(field string) (rel string, ok bool, err error) {
	if !control.IsUserListField(field) {
		return "", false, nil
	}
	dir := filepath.Join(s.dir, userListDir)
	name := strings.TrimSpace(field[len("include:"):])
	if name == "" {
		return "", true, fmt.Errorf("access-list user field %q names no file; give a file in %s", field, dir)
	}
	rel = name
	if filepath.IsAbs(name) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", true, fmt.Errorf("access-list user file %q: %w", name, err)
		}
		if rel, err = filepath.Rel(abs, name); err != nil {
			rel = ".." // not under abs
		}
	}
	if !filepath.IsLocal(rel) {
		return "", true, fmt.Errorf("access-list user file %q is outside %s; put the file in that directory and name it relative to it", name, dir)
	}
	return filepath.Clean(rel), true, nil
}

// readUserListFile reads a user list file; tests replace it to observe
// when files are read.
var readUserListFile = readUserList

// readUserList reads the user list file rel inside dir. It opens the file
// without blocking and without following a symbolic link out of dir, and
// reads it only if it is a regular file of at most maxUserListFile bytes:
// a FIFO or a device would block or never end.
func readUserList(dir, rel string) ([]string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (%v)", rel, st.Mode().Type())
	case st.Size() > maxUserListFile:
		return nil, fmt.Errorf("%s has %d bytes, more than the %d a user list may have", rel, st.Size(), maxUserListFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxUserListFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxUserListFile {
		return nil, fmt.Errorf("%s grew beyond %d bytes while being read", rel, maxUserListFile)
	}
	return parseUserList(data), nil
}

// Bounds on the user list files one hub's access list names, so that a hub
// administrator cannot make the server take its memory with many big
// files (a hub at both bounds, with 63-byte names, takes about 220 MB).
// They are chosen so that no real access list comes near them.
const (
	// maxUserListFiles is the most distinct user list files one hub's
	// access list may name.
	maxUserListFiles = 64
	// maxUserListNames is the most names those files may list together.
	maxUserListNames = 1_000_000
)

// userListLoader reads the user list files of one access list, each once:
// every rule that names a file gets the same slice of its names, which the
// hub compiles into one name set that all of them share.
type userListLoader struct {
	s    *Server
	hub  string
	read map[string][]string // by path relative to the directory
	// names counts the names of the files read.
	names int
	// strict refuses an access list beyond the bounds (an administrator
	// sets it) instead of ignoring the rules over them (it was loaded).
	strict bool
	// err is the first bound the access list went beyond, when strict.
	err error
}

// list returns the names an include:/exclude: field lists, or nil for a
// plain user name. A file that cannot be used lists nobody, with a
// warning: as on SoftEther, an include: rule then matches no one and an
// exclude: rule everyone. So does a file beyond the bounds on user list
// files, unless the loader is strict: then it records the error.
func (l *userListLoader) list(field string) []string {
	rel, ok, err := l.s.userListFile(field)
	if !ok {
		return nil
	}
	if err != nil {
		l.s.log.Warn("access list: user list file ignored; the rule lists nobody", "hub", l.hub, "field", field, "err", err)
		return nil
	}
	if names, done := l.read[rel]; done || l.err != nil {
		return names // nothing more is read once a strict loader refused the list
	}
	if l.read == nil {
		l.read = map[string][]string{}
	}
	dir := filepath.Join(l.s.dir, userListDir)
	if len(l.read) >= maxUserListFiles {
		l.read[rel] = nil
		l.overBound(fmt.Errorf("the access list names more than %d distinct user list files (%s is one too many); "+
			"merge the lists into fewer files", maxUserListFiles, filepath.Join(dir, rel)))
		return nil
	}
	names, err := readUserListFile(dir, rel)
	if err != nil {
		l.s.log.Warn("access list: cannot read the user list file; the rule lists nobody", "hub", l.hub, "file", filepath.Join(dir, rel), "err", err)
	}
	if l.names+len(names) > maxUserListNames {
		names = nil
		l.overBound(fmt.Errorf("the user list files of the access list list more than %d names together (with %s); "+
			"use groups instead of long user lists", maxUserListNames, filepath.Join(dir, rel)))
	}
	l.names += len(names)
	l.read[rel] = names
	return names
}

// overBound records or logs that the access list went beyond a bound on
// its user list files.
func (l *userListLoader) overBound(err error) {
	if l.strict {
		if l.err == nil {
			l.err = err
		}
		return
	}
	l.s.log.Warn("access list: user list file ignored; the rule lists nobody", "hub", l.hub, "err", err)
}

// parseUserList splits a user list file's contents into names: one a
// line (a line ends at CR or LF, as SoftEther's CfgReadNextLine reads it),
// trimmed, without blank lines and comments (#, // or ;). A name ends at a
// NUL byte, as the C string it is on SoftEther; a UTF-8 byte order mark
// at the start is skipped.
func parseUserList(data []byte) []string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var names []string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if i := bytes.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		name := strings.TrimSpace(string(line))
		if name == "" || strings.HasPrefix(name, "#") || strings.HasPrefix(name, "//") || strings.HasPrefix(name, ";") {
			continue
		}
		names = append(names, name)
	}
	return names
}
